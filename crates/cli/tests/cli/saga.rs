//! `ahv saga validate`: a good file is summarised; a bad one lists `FILE:line:column: message`.

use crate::util::{ahv, code, one_line_error, scratch, stderr, stdout};

const GOOD: &str = "\
name: deploy-model
session_id: session:1
steps:
  - id: reserve
    action_id: reserve_gpu
    agent: did:mesh:alpha
    execute_api: https://gpu.example/reserve
    undo_api: gpu.release
  - id: shard-a
    action_id: train
    agent: did:mesh:alpha
    execute_api: train.a
  - id: shard-b
    action_id: train
    agent: did:mesh:beta
    execute_api: train.b
fan_out:
  - policy: majority_must_succeed
    branches: [shard-a, shard-b]
";

const BAD: &str = "\
name: deploy-model
session_id: session:1
steps:
  - id: reserve
    action_id: reserve_gpu
    agent: did:mesh:alpha
    execute_api: https://gpu.example/reserve
    colour: blue
";

fn write(name: &str, text: &str) -> String {
    let p = scratch().join(name);
    std::fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_string()
}

#[test]
fn a_valid_saga_is_summarised() {
    let path = write("good-saga.yaml", GOOD);
    let o = ahv(&["saga", "validate", &path]);
    let out = stdout(&o);
    assert_eq!(code(&o), 0, "{out}{}", stderr(&o));
    assert!(out.contains("valid saga `deploy-model`"), "{out}");
    assert!(out.contains("3 steps, 1 fan-out"), "{out}");
    assert!(out.contains("majority_must_succeed"), "{out}");
}

#[test]
fn an_invalid_saga_reports_file_line_and_column() {
    let path = write("bad-saga.yaml", BAD);
    let o = ahv(&["saga", "validate", &path]);
    let out = stdout(&o);
    assert_eq!(code(&o), 1, "{out}");
    let first = out.lines().next().unwrap();
    assert!(first.starts_with(&format!("{path}:8:")), "{first}");
    assert!(first.contains("colour"), "{first}");
    assert!(
        stderr(&o).starts_with("error: invalid saga definition"),
        "{}",
        stderr(&o)
    );
    assert!(!stderr(&o).contains("panicked"));
}

#[test]
fn a_rule_violation_is_located_too() {
    let text = GOOD.replace("execute_api: train.b", "execute_api: ''");
    let path = write("rule-saga.yaml", &text);
    let o = ahv(&["saga", "validate", &path]);
    assert_eq!(code(&o), 1);
    let out = stdout(&o);
    assert!(
        out.lines().all(|l| l.starts_with(&format!("{path}:"))),
        "{out}"
    );
    assert!(out.contains(&format!("{path}:16:")), "{out}");
}

#[test]
fn a_missing_file_is_a_one_line_error() {
    let line = one_line_error(&ahv(&["saga", "validate", "/nonexistent/saga.yaml"]), 2);
    assert!(
        line.contains("cannot read `/nonexistent/saga.yaml`"),
        "{line}"
    );
}
