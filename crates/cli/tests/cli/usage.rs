//! Usage errors, help, stubs and configuration: one-line errors, exit 2, never a panic.

use crate::util::{ahv, code, one_line_error, scratch, stdout};

#[test]
fn unknown_flags_and_subcommands_are_one_line_errors() {
    let line = one_line_error(&ahv(&["demo", "--bogus"]), 2);
    assert!(line.contains("--bogus"), "{line}");
    let line = one_line_error(&ahv(&["frobnicate"]), 2);
    assert!(line.contains("frobnicate"), "{line}");
    one_line_error(&ahv(&["audit", "verify"]), 2);
}

#[test]
fn help_works_on_every_subcommand() {
    let o = ahv(&["--help"]);
    assert_eq!(code(&o), 0);
    let top = stdout(&o);
    assert!(
        top.contains("AHV_*") && top.contains("--config FILE"),
        "{top}"
    );
    for sub in [
        vec!["serve"],
        vec!["demo"],
        vec!["audit"],
        vec!["audit", "verify"],
        vec!["audit", "export"],
        vec!["saga"],
        vec!["saga", "validate"],
        vec!["saga", "run"],
        vec!["bench"],
        vec!["status"],
    ] {
        let mut args = sub.clone();
        args.push("--help");
        let o = ahv(&args);
        assert_eq!(code(&o), 0, "{sub:?}");
        assert!(stdout(&o).contains("Usage: ahv"), "{sub:?}");
    }
}

#[test]
fn a_server_that_is_down_is_one_line_with_the_url() {
    let down = "http://127.0.0.1:9";
    for args in [
        vec!["status", "--server", down],
        vec![
            "audit",
            "export",
            "--server",
            down,
            "--session",
            "session:1",
        ],
    ] {
        let line = one_line_error(&ahv(&args), 2);
        assert!(line.contains("cannot reach the server"), "{line}");
        assert!(line.contains("127.0.0.1:9"), "{line}");
    }
    let line = one_line_error(&ahv(&["saga", "run", "missing.yaml", "--server", down]), 2);
    assert!(line.contains("cannot read"), "{line}");
}

#[test]
fn serve_refuses_a_bad_listen_address() {
    let line = one_line_error(&ahv(&["serve", "--listen", "nonsense"]), 2);
    assert!(line.contains("is not an address"), "{line}");
}

#[test]
fn a_bad_configuration_file_is_a_located_error() {
    let p = scratch().join("bad.toml");
    std::fs::write(&p, "no_color = true\nbogus = 1\n").unwrap();
    let path = p.to_str().unwrap();
    let line = one_line_error(
        &ahv(&["--config", path, "saga", "validate", "/nonexistent"]),
        2,
    );
    assert!(
        line.contains("bogus") && line.contains(&format!("{path}:2:1")),
        "{line}"
    );
    let line = one_line_error(
        &ahv(&["--config", "/nonexistent/ahv.toml", "saga", "validate", "x"]),
        2,
    );
    assert!(
        line.contains("cannot read `/nonexistent/ahv.toml`"),
        "{line}"
    );
}

#[test]
fn a_good_configuration_file_is_accepted() {
    let p = scratch().join("good.toml");
    std::fs::write(&p, "no_color = true\nserver = \"http://127.0.0.1:1\"\n").unwrap();
    let good = scratch().join("cfg-saga.yaml");
    std::fs::write(&good, "name: n\nsession_id: s\nsteps:\n  - id: a\n    action_id: x\n    agent: did:mesh:a\n    execute_api: api.x\n").unwrap();
    let o = ahv(&[
        "--config",
        p.to_str().unwrap(),
        "saga",
        "validate",
        good.to_str().unwrap(),
    ]);
    assert_eq!(code(&o), 0, "{}", stdout(&o));
}
