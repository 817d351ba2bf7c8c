//! The `[engine]` section of the configuration file reaches the running engine: a stricter
//! ring-2 rate limit throttles the second of two quick writes, a restart without the section
//! goes back to the defaults (both changes recorded, replayed from the log), and a bad value
//! stops `serve` with one line naming the key.

use std::time::Duration;

use serde_json::{Value, json};

use crate::util::{Server, ahv, one_line_error, scratch, serve_command};

const TOKEN: &str = "engine-config-test-admin-token";

/// Sends `req` with `token`: status and JSON body.
async fn send(req: reqwest::RequestBuilder, token: &str) -> (u16, Value) {
    let r = req.bearer_auth(token).send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// An active session with one ring-2 agent; returns (session id, agent token).
async fn session_with_agent(http: &reqwest::Client, base: &str) -> (String, String) {
    let api = format!("{base}/api/v1");
    let (_, s) = send(
        http.post(format!("{api}/sessions"))
            .json(&json!({ "creator_did": "did:mesh:admin" })),
        TOKEN,
    )
    .await;
    let sid = s["session_id"].as_str().unwrap().to_string();
    let (_, j) = send(
        http.post(format!("{api}/sessions/{sid}/join"))
            .json(&json!({ "agent_did": "did:mesh:alpha", "sigma_raw": 0.85 })),
        TOKEN,
    )
    .await;
    let token = j["agent_token"].as_str().unwrap().to_string();
    let (st, _) = send(http.post(format!("{api}/sessions/{sid}/activate")), TOKEN).await;
    assert_eq!(st, 200);
    (sid, token)
}

/// Two writes as fast as possible: their statuses.
async fn two_writes(http: &reqwest::Client, base: &str, sid: &str, token: &str) -> Vec<u16> {
    let mut out = Vec::new();
    for n in 0..2 {
        let (st, _) = send(
            http.put(format!("{base}/api/v1/sessions/{sid}/vfs/file"))
                .json(&json!({ "path": format!("/w{n}"), "content": "x" })),
            token,
        )
        .await;
        out.push(st);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_engine_section_sets_rate_limits_and_a_restart_without_it_restores_the_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = dir.path().join("ahv.toml");
    std::fs::write(
        &config,
        "[engine]\nrate_limits.ring2 = { rate_per_sec = 1, burst = 1 }\n",
    )
    .unwrap();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();

    let mut strict = serve_command(&data, TOKEN, &[]);
    strict.env("AHV_CONFIG", &config);
    let server = Server::start_with(strict).await;
    let (sid, agent) = session_with_agent(&http, &server.base).await;
    assert_eq!(
        two_writes(&http, &server.base, &sid, &agent).await,
        [200, 429]
    );
    drop(server);

    // Without the section the defaults (ring 2: burst 40) are back.
    let server = Server::start(&data, TOKEN, &[]).await;
    let (sid, agent) = session_with_agent(&http, &server.base).await;
    assert_eq!(
        two_writes(&http, &server.base, &sid, &agent).await,
        [200, 200]
    );
    // Both changes are in the hypervisor log: to the strict quota, then back to the defaults.
    let (st, bundle) = send(
        http.post(format!("{}/api/v1/audit/export", server.base))
            .json(&json!({ "hypervisor_log": true })),
        TOKEN,
    )
    .await;
    assert_eq!(st, 200, "{bundle}");
    let hv = &bundle["logs"][0];
    assert_eq!(hv["log_id"], "hypervisor");
    let changes: Vec<&Value> = hv["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "hypervisor.configure")
        .collect();
    assert_eq!(changes.len(), 2, "{hv}");
    let ring2 = |e: &Value| e["detail"]["config"]["rate"]["ring2"]["burst"].clone();
    assert_eq!(ring2(changes[0]), 1);
    assert_eq!(ring2(changes[1]), 40);
}

#[test]
fn a_bad_engine_value_stops_serve_with_one_line_naming_the_key() {
    let config = scratch().join("bad-engine.toml");
    std::fs::write(&config, "[engine]\nbond_weight = 1.5\n").unwrap();
    let data = scratch().join("bad-engine-data");
    let o = ahv(&[
        "--config",
        config.to_str().unwrap(),
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        data.to_str().unwrap(),
    ]);
    let line = one_line_error(&o, 2);
    assert!(line.contains("engine.bond_weight"), "{line}");
    assert!(!data.exists(), "nothing was created");
}

/// Creates a session: its status and body.
async fn create_session(http: &reqwest::Client, base: &str) -> (u16, Value) {
    send(
        http.post(format!("{base}/api/v1/sessions"))
            .json(&json!({ "creator_did": "did:mesh:admin" })),
        TOKEN,
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_hypervisor_log_refuses_sessions_until_its_capacity_is_raised() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = dir.path().join("ahv.toml");
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let start = |capacity: u64| {
        std::fs::write(
            &config,
            format!("[engine]\nmax_hypervisor_log_leaves = {capacity}\n"),
        )
        .unwrap();
        let mut cmd = serve_command(&data, TOKEN, &[]);
        cmd.env("AHV_CONFIG", &config);
        Server::start_with(cmd)
    };

    // 16 entries: the configuration change itself, then room for 15 sessions' roots.
    let server = start(16).await;
    for n in 0..15 {
        let (st, body) = create_session(&http, &server.base).await;
        assert_eq!(st, 201, "session {n}: {body}");
    }
    let (st, body) = create_session(&http, &server.base).await;
    assert_eq!(
        (st, body["code"].as_str()),
        (409, Some("conflict")),
        "{body}"
    );
    let detail = body["detail"].as_str().unwrap();
    assert!(detail.contains("max_hypervisor_log_leaves"), "{detail}");
    drop(server);

    // Raised in the file: after a restart sessions are created again.
    let server = start(64).await;
    let (st, body) = create_session(&http, &server.base).await;
    assert_eq!(st, 201, "{body}");
    let (st, metrics) = {
        let r = http
            .get(format!("{}/metrics", server.base))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    };
    assert_eq!(st, 200);
    assert!(
        metrics.contains("ahv_audit_hypervisor_log_capacity 64"),
        "{metrics}"
    );
}
