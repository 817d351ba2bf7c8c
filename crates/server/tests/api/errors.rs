//! Error paths: every failure is JSON `{detail, code}` with the documented status.

use ahv_server::ServerConfig;
use ed25519_dalek::{Signer as _, SigningKey};
use serde_json::{Value, json};

use crate::common::{ADMIN, Fx, Resp, call, fixture, fixture_with, get, post, put, req, send};

#[track_caller]
fn assert_json_error(r: &Resp, status: u16, code: &str) {
    assert_eq!(r.status.as_u16(), status, "{}", r.body);
    assert_eq!(r.body["code"].as_str(), Some(code), "{}", r.body);
    assert!(
        r.body["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "{}",
        r.body
    );
}

/// `GET /health` without a token and with one header (an origin, a request id).
async fn health_with(app: &axum::Router, name: &str, value: &str) -> Resp {
    let req = axum::http::Request::builder()
        .uri("/health")
        .header(name, value)
        .body(axum::body::Body::empty())
        .unwrap();
    send(app, req).await
}

#[tokio::test]
async fn malformed_json_wrong_types_missing_and_unknown_keys() {
    let fx = fixture().await;
    let r = send(
        &fx.app,
        req("POST", "/api/v1/sessions", Some(ADMIN), Some("{not json")),
    )
    .await;
    assert_json_error(&r, 400, "malformed_json");
    let create = async |body: Value| post(&fx.app, "/api/v1/sessions", Some(ADMIN), body).await;
    let r = create(json!({"creator_did": 5})).await;
    assert_json_error(&r, 422, "validation_error");
    let r = create(json!({})).await;
    assert_json_error(&r, 422, "validation_error");
    let r = create(json!({"creator_did":"did:mesh:a","colour":"red"})).await;
    assert_json_error(&r, 422, "validation_error");
    let r = create(json!({"creator_did":"did:mesh:a","max_participants":-1})).await;
    assert_json_error(&r, 422, "validation_error");
    let r = create(json!({"creator_did":"did:mesh:a","max_participants":0})).await;
    assert_json_error(&r, 400, "invalid_input");
    let long = "x".repeat(300);
    let r = create(json!({"creator_did": long})).await;
    assert_json_error(&r, 422, "validation_error");
    let join = format!("/api/v1/sessions/{}/join", fx.sid);
    let body = json!({"agent_did":"did:mesh:q","sigma_raw":1.5});
    let r = post(&fx.app, &join, Some(ADMIN), body).await;
    assert_json_error(&r, 422, "validation_error");
    let r = get(&fx.app, "/api/v1/sessions?colour=red", Some(ADMIN)).await;
    assert_json_error(&r, 400, "invalid_input");
}

#[tokio::test]
async fn unknown_routes_methods_and_bad_path_params_are_json() {
    let fx = fixture().await;
    let r = get(&fx.app, "/api/v1/nothing", Some(ADMIN)).await;
    assert_json_error(&r, 404, "not_found");
    let r = call(&fx.app, "DELETE", "/api/v1/stats", Some(ADMIN), None).await;
    assert_json_error(&r, 405, "method_not_allowed");
    let r = get(&fx.app, "/api/v1/sessions/bad%20id", Some(ADMIN)).await;
    assert_json_error(&r, 400, "invalid_input");
    let r = get(&fx.app, "/api/v1/sessions/session:nope", Some(ADMIN)).await;
    assert_json_error(&r, 404, "not_found");
}

#[tokio::test]
async fn body_over_the_limit_is_413() {
    let fx = fixture().await;
    let big = format!("{{\"creator_did\":\"{}\"}}", "a".repeat(2 << 20));
    let r = send(
        &fx.app,
        req("POST", "/api/v1/sessions", Some(ADMIN), Some(&big)),
    )
    .await;
    assert_json_error(&r, 413, "payload_too_large");
    let r = send(
        &fx.app,
        req("POST", "/api/v1/sagas", Some(ADMIN), Some(&big)),
    )
    .await;
    assert_json_error(&r, 413, "payload_too_large");
}

#[tokio::test]
async fn bursting_a_sandboxed_agent_gives_429_with_retry_after() {
    let fx = fixture().await;
    let url = format!("/api/v1/sessions/{}/actions", fx.sid);
    let mut limited = None;
    for _ in 0..50 {
        let r = post(&fx.app, &url, Some(&fx.beta), json!({"action_id":"peek"})).await;
        if r.status == 429 {
            limited = Some(r);
            break;
        }
        assert_eq!(r.body["allowed"], true, "{}", r.body);
    }
    let r = limited.expect("a ring-3 agent is rate limited");
    assert_json_error(&r, 429, "rate_limited");
    let secs: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(secs >= 1);
}

#[tokio::test]
async fn governance_denials_say_why() {
    let fx = fixture().await;
    // Beta (ring 3) may not run a ring-2 action: 200 with allowed=false and the deny code.
    let actions = format!("/api/v1/sessions/{}/actions", fx.sid);
    let draft = json!({"action_id":"draft"});
    let commands_before = command_count(&fx).await;
    let r = post(&fx.app, &actions, Some(&fx.beta), draft).await;
    // The decision went through the engine and is counted like every other command.
    assert_eq!(command_count(&fx).await, commands_before + 1);
    assert_eq!(
        (
            r.status.as_u16(),
            r.body["allowed"].as_bool(),
            r.body["code"].as_str()
        ),
        (200, Some(false), Some("sigma_insufficient"))
    );
    assert!(
        r.body["reason"].as_str().unwrap().contains("σ_eff"),
        "{}",
        r.body
    );
    // A governed VFS write by a ring-3 agent: 403 with the deny code.
    let file = format!("/api/v1/sessions/{}/vfs/file", fx.sid);
    let write = json!({"path":"/x","content":"y"});
    let r = put(&fx.app, &file, Some(&fx.beta), write.clone()).await;
    assert_json_error(&r, 403, "sigma_insufficient");
    // Acting as another DID is refused.
    let as_alpha = json!({"path":"/x","content":"y","agent_did":"did:mesh:alpha"});
    let r = put(&fx.app, &file, Some(&fx.beta), as_alpha).await;
    assert_json_error(&r, 403, "forbidden");
    // The admin must say which agent acts.
    let r = put(&fx.app, &file, Some(ADMIN), write).await;
    assert_json_error(&r, 400, "invalid_input");
    // Steps run only as their own agent.
    let steps = format!("/api/v1/sagas/{}/steps", fx.saga);
    let step = json!({"action_id":"draft","agent_did":"did:mesh:alpha","execute_api":"api/x"});
    let r = post(&fx.app, &steps, Some(&fx.beta), step).await;
    assert_json_error(&r, 403, "forbidden");
}

#[tokio::test]
async fn agents_see_only_their_sessions() {
    let fx = fixture().await;
    let r = get(&fx.app, "/api/v1/sessions", Some(&fx.mallory)).await;
    let ids: Vec<&str> = r
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["session_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![fx.other.as_str()]);
    let r = get(&fx.app, "/api/v1/events?limit=1000", Some(&fx.mallory)).await;
    assert!(
        r.body
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["session_id"] == fx.other.as_str()),
        "{}",
        r.body
    );
    // The limit counts only what the caller may see: newer events of sessions mallory is not
    // in do not crowd its own out.
    for _ in 0..5 {
        let body = json!({"creator_did":"did:mesh:admin"});
        assert_eq!(
            post(&fx.app, "/api/v1/sessions", Some(ADMIN), body)
                .await
                .status,
            201
        );
    }
    let r = get(&fx.app, "/api/v1/events?limit=1", Some(&fx.mallory)).await;
    let rows = r.body.as_array().unwrap();
    assert_eq!(rows.len(), 1, "{}", r.body);
    assert_eq!(rows[0]["session_id"], fx.other.as_str());
    let events = format!("/api/v1/events?session_id={}", fx.sid);
    let r = get(&fx.app, &events, Some(&fx.mallory)).await;
    assert_json_error(&r, 403, "not_member");
    let r = get(&fx.app, "/api/v1/sagas", Some(&fx.mallory)).await;
    assert_eq!(r.body, json!([]));
}

#[tokio::test]
async fn bad_and_expired_tokens_are_401() {
    let fx = fixture().await;
    for t in ["nope", "ahv1.abc.def", &fx.alpha[..fx.alpha.len() - 2]] {
        let r = get(&fx.app, "/api/v1/sessions", Some(t)).await;
        assert_json_error(&r, 401, "unauthorized");
        assert_eq!(r.headers["www-authenticate"], "Bearer");
    }
    let expired = fx
        .state
        .auth
        .issue(
            &crate::common::did("did:mesh:alpha"),
            ahv_core::time::Timestamp::from_secs(10),
            std::time::Duration::from_secs(1),
        )
        .unwrap();
    let r = get(&fx.app, "/api/v1/sessions", Some(&expired.token)).await;
    assert_json_error(&r, 401, "unauthorized");
}

#[tokio::test]
async fn did_key_login_over_http() {
    let fx = fixture().await;
    let sk = SigningKey::from_bytes(&[9; 32]);
    let d = ahv_core::did::agent_did(&sk.verifying_key()).unwrap();
    let challenge = async |body: Value| post(&fx.app, "/api/v1/auth/challenge", None, body).await;
    let r = challenge(json!({"did": d})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let nonce = r.body["nonce"].as_str().unwrap().to_string();
    let sig = hex::encode(sk.sign(nonce.as_bytes()).to_bytes());
    let signed = json!({"did": d, "nonce": nonce, "signature": sig});
    let r = post(&fx.app, "/api/v1/auth/token", None, signed.clone()).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let tok = r.body["agent_token"].as_str().unwrap().to_string();
    let liability = format!("/api/v1/agents/{d}/liability");
    let r = get(&fx.app, &liability, Some(&tok)).await;
    assert_eq!(r.status, 200);
    // The nonce is spent.
    let r = post(&fx.app, "/api/v1/auth/token", None, signed).await;
    assert_json_error(&r, 401, "unauthorized");
    let r = challenge(json!({"did": "did:mesh:alpha"})).await;
    assert_json_error(&r, 400, "invalid_input");
}

#[tokio::test]
async fn dsl_errors_carry_line_and_column() {
    let fx = fixture().await;
    let text = format!(
        "name: x\nsession_id: {}\nsteps:\n  - id: s1\n    action_id: draft\n    agent: did:mesh:alpha\n    execute_api: api/x\n    bogus: 1\n",
        fx.sid
    );
    let r = send(
        &fx.app,
        req("POST", "/api/v1/sagas", Some(ADMIN), Some(&text)),
    )
    .await;
    assert_json_error(&r, 400, "invalid_saga");
    assert!(r.body["line"].as_u64().is_some(), "{}", r.body);
    assert!(r.body["column"].as_u64().is_some(), "{}", r.body);
}

#[tokio::test]
async fn waiting_lock_times_out_with_409() {
    let fx = fixture().await;
    let body = json!({"path":"/locked","intent":"write","wait":true,"timeout_seconds":1});
    let locks = format!("/api/v1/sessions/{}/locks", fx.sid);
    let r = post(&fx.app, &locks, Some(&fx.gamma), body).await;
    assert_json_error(&r, 409, "lock_timeout");
}

#[tokio::test]
async fn metrics_need_admin_unless_public_and_cors_is_off_by_default() {
    let fx = fixture().await;
    assert_eq!(get(&fx.app, "/metrics", None).await.status, 401);
    assert_metrics_contain(
        &metrics_text(&fx).await,
        &[
            "ahv_http_requests_total",
            "ahv_decisions_total{outcome=\"allowed\"",
            "ahv_sessions{state=\"active\"} 2",
            "ahv_participants{ring=\"RING_2_STANDARD\"}",
            "ahv_sagas{state=",
            "ahv_audit_appends_total",
            "ahv_audit_hypervisor_log_entries 0",
            "ahv_audit_hypervisor_log_capacity 1048576",
            "ahv_events_total",
            "ahv_command_seconds_count",
        ],
    );
    let r = health_with(&fx.app, "origin", "http://evil.example").await;
    assert!(r.headers.get("access-control-allow-origin").is_none());

    let config = ServerConfig {
        metrics_public: true,
        cors_origins: vec!["http://ui.example".into()],
        ..ServerConfig::default()
    };
    let fx = fixture_with(config).await;
    assert_eq!(get(&fx.app, "/metrics", None).await.status, 200);
    let r = health_with(&fx.app, "origin", "http://ui.example").await;
    assert_eq!(
        r.headers["access-control-allow-origin"],
        "http://ui.example"
    );
    assert!(r.headers.get("access-control-allow-credentials").is_none());
    assert!(r.headers.get("x-request-id").is_some());
}

#[tokio::test]
async fn slow_requests_time_out_with_408_and_every_answer_is_counted_and_has_an_id() {
    let fx = fixture_with(ServerConfig {
        request_timeout: std::time::Duration::from_millis(100),
        ..ServerConfig::default()
    })
    .await;
    // A lock request queued behind a holder outlives the request timeout.
    let body = json!({"path":"/locked","intent":"write","wait":true,"timeout_seconds":5});
    let locks = format!("/api/v1/sessions/{}/locks", fx.sid);
    let r = post(&fx.app, &locks, Some(&fx.gamma), body).await;
    assert_json_error(&r, 408, "timeout");
    let first = r.headers["x-request-id"].clone();
    let r = get(&fx.app, "/no/such/thing", Some(ADMIN)).await;
    assert_json_error(&r, 404, "not_found");
    assert_ne!(r.headers["x-request-id"], first, "ids are unique");
    // An id the client sent is kept.
    let r = health_with(&fx.app, "x-request-id", "client-chosen-1").await;
    assert_eq!(r.headers["x-request-id"], "client-chosen-1");
    assert_metrics_contain(
        &metrics_text(&fx).await,
        &[
            "ahv_http_requests_total{method=\"POST\",route=\"/api/v1/sessions/{session_id}/locks\",status=\"408\"} 1",
            "ahv_http_requests_total{method=\"GET\",route=\"unmatched\",status=\"404\"} 1",
            "ahv_http_requests_total{method=\"GET\",route=\"/health\",status=\"200\"} 1",
            "ahv_http_request_seconds_sum{method=\"POST\",route=\"/api/v1/sessions/{session_id}/locks\",status=\"408\"} 0.1",
        ],
    );
}

/// The `/metrics` text as the admin reads it.
async fn metrics_text(fx: &Fx) -> String {
    let r = get(&fx.app, "/metrics", Some(ADMIN)).await;
    r.body.as_str().unwrap().to_string()
}

/// Asserts that every fragment of `want` appears in the metrics `text`.
#[track_caller]
fn assert_metrics_contain(text: &str, want: &[&str]) {
    for m in want {
        assert!(text.contains(m), "missing {m} in\n{text}");
    }
}

/// `ahv_command_seconds_count` from `/metrics`.
async fn command_count(fx: &Fx) -> u64 {
    let text = metrics_text(fx).await;
    text.lines()
        .find_map(|l| l.strip_prefix("ahv_command_seconds_count "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no ahv_command_seconds_count in\n{text}"))
}
