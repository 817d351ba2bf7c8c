//! `ahv audit witness` against real servers: the first run pins the key and the newest signed
//! checkpoint, a later run accepts a grown log only with a verified consistency proof, a bundle
//! exported with `--witness` proves its hypervisor head extends the witnessed checkpoint (and
//! `verify --witness` refuses one without that proof), and a server whose log forked from, or
//! shrank below, what was witnessed is reported (exit 1) while the state file keeps the last
//! good checkpoint. A fork is made for real: two servers started
//! from copies of one data directory (same signing key) that then record different sessions.

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};

use crate::util::{Server, ahv, code, one_line_error, stdout};

const TOKEN: &str = "witness-test-admin-token";

async fn admin(req: reqwest::RequestBuilder) -> Value {
    let r = req.bearer_auth(TOKEN).send().await.unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    r.json().await.unwrap()
}

/// Creates, activates and terminates `n` sessions, then has the server sign a checkpoint.
/// Returns the sessions' ids.
async fn end_sessions(http: &reqwest::Client, base: &str, n: usize) -> Vec<String> {
    let api = format!("{base}/api/v1");
    let mut ended = Vec::new();
    for _ in 0..n {
        let s = admin(
            http.post(format!("{api}/sessions"))
                .json(&json!({ "creator_did": "did:mesh:admin" })),
        )
        .await;
        let sid = s["session_id"].as_str().unwrap().to_string();
        admin(
            http.post(format!("{api}/sessions/{sid}/join"))
                .json(&json!({ "agent_did": "did:mesh:alpha", "sigma_raw": 0.85 })),
        )
        .await;
        admin(http.post(format!("{api}/sessions/{sid}/activate"))).await;
        admin(http.post(format!("{api}/sessions/{sid}/terminate"))).await;
        ended.push(sid);
    }
    let c = admin(http.post(format!("{api}/admin/checkpoint"))).await;
    assert_eq!(c["signed"], true, "{c}");
    ended
}

fn witness(base: &str, state: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "audit",
        "witness",
        "--server",
        base,
        "--token",
        TOKEN,
        "--state",
        state.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    ahv(&args)
}

fn ok_line(o: &std::process::Output) -> String {
    assert_eq!(code(o), 0, "{}", String::from_utf8_lossy(&o.stderr));
    stdout(o)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_witness_accepts_only_a_log_that_grew_consistently() {
    let dir = tempfile::tempdir().unwrap();
    let (data_a, data_b) = (dir.path().join("a"), dir.path().join("b"));
    let state = dir.path().join("witness.json");
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    // One data directory, hence one signing key, for both servers.
    drop(Server::start(&data_a, TOKEN, &[]).await);
    copy_dir(&data_a, &data_b);
    let a = Server::start(&data_a, TOKEN, &[]).await;
    let b = Server::start(&data_b, TOKEN, &[]).await;

    assert!(ok_line(&witness(&a.base, &state, &[])).contains("nothing to witness yet"));
    assert!(!state.exists());

    end_sessions(&http, &a.base, 1).await;
    assert!(ok_line(&witness(&a.base, &state, &[])).contains("at size 1 (first checkpoint)"));
    assert!(ok_line(&witness(&a.base, &state, &[])).contains("at size 1 (unchanged)"));
    end_sessions(&http, &a.base, 2).await;
    let out = ok_line(&witness(&a.base, &state, &[]));
    assert!(out.contains("at size 3, proven to extend size 1"), "{out}");
    let good = std::fs::read_to_string(&state).unwrap();

    // A bundle of a later session proves that its hypervisor head extends what was witnessed;
    // one exported without that proof is refused by `verify --witness`.
    let sid = end_sessions(&http, &a.base, 1).await.remove(0);
    let (with, without) = (
        dir.path().join("with.json"),
        dir.path().join("without.json"),
    );
    for (out, extra) in [
        (&with, vec!["--witness", state.to_str().unwrap()]),
        (&without, vec![]),
    ] {
        let mut args = vec!["audit", "export", "--server", &a.base, "--token", TOKEN];
        args.extend(["--session", &sid, "--out", out.to_str().unwrap()]);
        args.extend(extra);
        let o = ahv(&args);
        assert_eq!(code(&o), 0, "{}", String::from_utf8_lossy(&o.stderr));
    }
    let verify = |bundle: &Path| {
        ahv(&[
            "audit",
            "verify",
            bundle.to_str().unwrap(),
            "--witness",
            state.to_str().unwrap(),
        ])
    };
    let out = ok_line(&verify(&with));
    assert!(
        out.contains("proven to extend the checkpoint witnessed at size 3"),
        "{out}"
    );
    let line = one_line_error(&verify(&without), 1);
    assert!(
        line.contains("does not prove that its hypervisor log extends"),
        "{line}"
    );

    // B shares A's key and past (none) but recorded other sessions: at size 3 its root differs.
    end_sessions(&http, &b.base, 3).await;
    let line = one_line_error(&witness(&b.base, &state, &[]), 1);
    assert!(
        line.contains("fork: two different signed roots at size 3"),
        "{line}"
    );
    assert_eq!(std::fs::read_to_string(&state).unwrap(), good);
    // Grown past it, B still does not extend what was witnessed.
    end_sessions(&http, &b.base, 2).await;
    let line = one_line_error(&witness(&b.base, &state, &[]), 1);
    assert!(
        line.contains("does not extend the log witnessed at size 3"),
        "{line}"
    );
    assert_eq!(std::fs::read_to_string(&state).unwrap(), good);

    // A log that shrank below what was witnessed.
    let state_b = dir.path().join("witness-b.json");
    ok_line(&witness(&b.base, &state_b, &[]));
    let line = one_line_error(&witness(&a.base, &state_b, &[]), 1);
    assert!(line.contains("shrank: size 5 was witnessed"), "{line}");

    // Another key than the one witnessed.
    let wrong = ahv_core::audit::note::NoteVerifier::new(
        "agent-hypervisor",
        ed25519_dalek::SigningKey::from_bytes(&[7; 32]).verifying_key(),
    )
    .unwrap()
    .to_vkey();
    let line = one_line_error(&witness(&a.base, &state, &["--key", &wrong]), 1);
    assert!(line.contains("another key"), "{line}");
    // A fresh witness pinned to a key the server does not sign with.
    let fresh = dir.path().join("fresh.json");
    let line = one_line_error(&witness(&a.base, &fresh, &["--key", &wrong]), 1);
    assert!(line.contains("not signed by the witnessed key"), "{line}");
    assert!(!fresh.exists());
}
