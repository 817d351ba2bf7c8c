//! The authorisation matrix: for every protected endpoint, no token → 401, the wrong
//! principal's token → 403 (where an agent token applies), the right token → success. One
//! table drives it; the same table is checked against the OpenAPI document.

use serde_json::Value;

use crate::common::{ADMIN, Fx, call, fixture};

#[derive(Clone, Copy, Debug)]
pub(crate) enum Who {
    Admin,
    Alpha,
    Beta,
    Gamma,
    Mallory,
}

/// (method, OpenAPI path, concrete uri, body, right principal, wrong principal, success status)
pub(crate) type Row = (
    &'static str,
    &'static str,
    &'static str,
    Option<&'static str>,
    Who,
    Option<Who>,
    u16,
);

const DSL: &str = "DSL";

pub(crate) const ROWS: &[Row] = {
    use Who::*;
    &[
        (
            "GET",
            "/api/v1/stats",
            "/api/v1/stats",
            None,
            Admin,
            Some(Alpha),
            200,
        ),
        (
            "POST",
            "/api/v1/sessions",
            "/api/v1/sessions",
            Some(r#"{"creator_did":"did:mesh:admin"}"#),
            Admin,
            Some(Alpha),
            201,
        ),
        (
            "GET",
            "/api/v1/sessions",
            "/api/v1/sessions",
            None,
            Alpha,
            None,
            200,
        ),
        (
            "GET",
            "/api/v1/sessions/{session_id}",
            "/api/v1/sessions/{sid}",
            None,
            Alpha,
            Some(Mallory),
            200,
        ),
        (
            "POST",
            "/api/v1/sessions/{session_id}/join",
            "/api/v1/sessions/{sid}/join",
            Some(r#"{"agent_did":"did:mesh:new","sigma_raw":0.7}"#),
            Admin,
            Some(Alpha),
            200,
        ),
        (
            "POST",
            "/api/v1/sessions/{session_id}/activate",
            "/api/v1/sessions/{waiting}/activate",
            None,
            Admin,
            Some(Alpha),
            200,
        ),
        (
            "POST",
            "/api/v1/sessions/{session_id}/terminate",
            "/api/v1/sessions/{sid}/terminate",
            None,
            Admin,
            Some(Alpha),
            200,
        ),
        (
            "GET",
            "/api/v1/sessions/{session_id}/rings",
            "/api/v1/sessions/{sid}/rings",
            None,
            Alpha,
            Some(Mallory),
            200,
        ),
        (
            "POST",
            "/api/v1/sessions/{session_id}/leave",
            "/api/v1/sessions/{sid}/leave",
            Some(r#"{"agent_did":"did:mesh:beta"}"#),
            Beta,
            Some(Mallory),
            200,
        ),
        (
            "GET",
            "/api/v1/agents/{agent_did}/ring",
            "/api/v1/agents/did:mesh:alpha/ring",
            None,
            Alpha,
            Some(Beta),
            200,
        ),
        (
            "PUT",
            "/api/v1/agents/{agent_did}/trust",
            "/api/v1/agents/did:mesh:alpha/trust",
            Some(r#"{"sigma_raw":0.9}"#),
            Admin,
            Some(Alpha),
            200,
        ),
        (
            "GET",
            "/api/v1/agents/{agent_did}/ledger",
            "/api/v1/agents/did:mesh:alpha/ledger",
            None,
            Alpha,
            Some(Beta),
            200,
        ),
        (
            "POST",
            "/api/v1/rings/check",
            "/api/v1/rings/check",
            Some(
                r#"{"agent_ring":2,"action":{"action_id":"d","name":"D","execute_api":"/d","reversibility":"full"},"sigma_eff":0.7}"#,
            ),
            Alpha,
            None,
            200,
        ),
        (
            "POST",
            "/api/v1/sessions/{session_id}/consensus",
            "/api/v1/sessions/{sid}/consensus",
            Some(r#"{"agent_did":"did:mesh:gamma"}"#),
            Admin,
            Some(Beta),
            200,
        ),
        (
            "POST",
            "/api/v1/sessions/{session_id}/root",
            "/api/v1/sessions/{sid}/root",
            Some(r#"{"agent_did":"did:mesh:chief","witness":"sre on call"}"#),
            Admin,
            Some(Alpha),
            200,
        ),
        (
            "POST",
            "/api/v1/sessions/{session_id}/children",
            "/api/v1/sessions/{sid}/children",
            Some(r#"{"child_did":"did:mesh:child"}"#),
            Alpha,
            Some(Mallory),
            200,
        ),
        (
            "POST",
            "/api/v1/sessions/{session_id}/sagas",
            "/api/v1/sessions/{sid}/sagas",
            None,
            Alpha,
            Some(Mallory),
            201,
        ),
        (
            "GET",
            "/api/v1/sessions/{session_id}/sagas",
            "/api/v1/sessions/{sid}/sagas",
            None,
            Alpha,
            Some(Mallory),
            200,
        ),
        (
            "GET",
            "/api/v1/sagas",
            "/api/v1/sagas?state=running",
            None,
            Alpha,
            None,
            200,
        ),
        (
            "POST",
            "/api/v1/sagas",
            "/api/v1/sagas",
            Some(DSL),
            Alpha,
            Some(Mallory),
            201,
        ),
        (
            "GET",
            "/api/v1/sagas/{saga_id}",
            "/api/v1/sagas/{saga}",
            None,
            Alpha,
            Some(Mallory),
            200,
        ),
        (
            "POST",
            "/api/v1/sagas/{saga_id}/steps",
            "/api/v1/sagas/{saga}/steps",
            Some(
                r#"{"action_id":"draft","agent_did":"did:mesh:alpha","execute_api":"/api/draft"}"#,
            ),
            Alpha,
            Some(Mallory),
            201,
        ),
        (
            "POST",
            "/api/v1/sagas/{saga_id}/steps/{step_id}/execute",
            "/api/v1/sagas/{saga}/steps/{step}/execute",
            None,
            Alpha,
            Some(Beta),
            200,
        ),
        (
            "POST",
            "/api/v1/sagas/{saga_id}/complete",
            "/api/v1/sagas/{done_saga}/complete",
            None,
            Alpha,
            Some(Mallory),
            200,
        ),
        (
            "POST",
            "/api/v1/sagas/{saga_id}/compensate",
            "/api/v1/sagas/{done_saga}/compensate",
            None,
            Alpha,
            Some(Mallory),
            200,
        ),
        (
            "POST",
            "/api/v1/sessions/{session_id}/vouch",
            "/api/v1/sessions/{sid}/vouch",
            Some(
                r#"{"voucher_did":"did:mesh:gamma","vouchee_did":"did:mesh:beta","voucher_sigma":0.99}"#,
            ),
            Gamma,
            Some(Mallory),
            201,
        ),
        (
            "GET",
            "/api/v1/sessions/{session_id}/vouches",
            "/api/v1/sessions/{sid}/vouches",
            None,
            Alpha,
            Some(Mallory),
            200,
        ),
        (
            "GET",
            "/api/v1/agents/{agent_did}/liability",
            "/api/v1/agents/did:mesh:alpha/liability",
            None,
            Alpha,
            Some(Beta),
            200,
        ),
        (
            "POST",
            "/api/v1/vouches/{vouch_id}/release",
            "/api/v1/vouches/{vouch}/release",
            None,
            Alpha,
            Some(Beta),
            200,
        ),
        (
            "POST",
            "/api/v1/sessions/{session_id}/slash",
            "/api/v1/sessions/{sid}/slash",
            Some(r#"{"agent_did":"did:mesh:beta","omega":0.5,"reason":"drift"}"#),
            Admin,
            Some(Alpha),
            200,
        ),
        (
            "POST",
            "/api/v1/sessions/{session_id}/quarantine",
            "/api/v1/sessions/{sid}/quarantine",
            Some(r#"{"agent_did":"did:mesh:beta","duration_seconds":60}"#),
            Admin,
            Some(Alpha),
            200,
        ),
        (
            "GET",
            "/api/v1/sessions/{session_id}/quarantine",
            "/api/v1/sessions/{sid}/quarantine",
            None,
            Alpha,
            Some(Mallory),
            200,
        ),
        (
            "POST",
            "/api/v1/sessions/{session_id}/quarantine/release",
            "/api/v1/sessions/{sid}/quarantine/release",
            Some(r#"{"agent_did":"did:mesh:beta"}"#),
            Admin,
            Some(Alpha),
            200,
        ),
        (
            "GET",
            "/api/v1/sessions/{session_id}/vfs",
            "/api/v1/sessions/{sid}/vfs",
            None,
            Alpha,
            Some(Mallory),
            200,
        ),
        (
            "GET",
            "/api/v1/sessions/{session_id}/vfs/file",
            "/api/v1/sessions/{sid}/vfs/file?path=/notes.txt",
            None,
            Alpha,
            Some(Mallory),
            200,
        ),
        (
            "PUT",
            "/api/v1/sessions/{session_id}/vfs/file",
            "/api/v1/sessions/{sid}/vfs/file",
            Some(r#"{"path":"/b.txt","content":"x"}"#),
            Alpha,
            Some(Mallory),
            200,
        ),
        (
            "DELETE",
            "/api/v1/sessions/{session_id}/vfs/file",
            "/api/v1/sessions/{sid}/vfs/file?path=/notes.txt",
            None,
            Alpha,
            Some(Mallory),
            200,
        ),
        (
            "PUT",
            "/api/v1/sessions/{session_id}/acl",
            "/api/v1/sessions/{sid}/acl",
            Some(r#"{"path":"/notes.txt","allowed":["did:mesh:alpha"]}"#),
            Alpha,
            Some(Beta),
            200,
        ),
        (
            "DELETE",
            "/api/v1/sessions/{session_id}/acl",
            "/api/v1/sessions/{sid}/acl?path=/notes.txt",
            None,
            Alpha,
            Some(Beta),
            200,
        ),
        (
            "POST",
            "/api/v1/sessions/{session_id}/snapshots",
            "/api/v1/sessions/{sid}/snapshots",
            None,
            Alpha,
            Some(Mallory),
            201,
        ),
        (
            "POST",
            "/api/v1/sessions/{session_id}/snapshots/{snapshot_id}/restore",
            "/api/v1/sessions/{sid}/snapshots/snap1/restore",
            None,
            Alpha,
            Some(Mallory),
            200,
        ),
        (
            "GET",
            "/api/v1/sessions/{session_id}/clocks/path",
            "/api/v1/sessions/{sid}/clocks/path?path=/notes.txt",
            None,
            Alpha,
            Some(Mallory),
            200,
        ),
        (
            "GET",
            "/api/v1/sessions/{session_id}/clocks/agents/{agent_did}",
            "/api/v1/sessions/{sid}/clocks/agents/did:mesh:alpha",
            None,
            Alpha,
            Some(Mallory),
            200,
        ),
        (
            "POST",
            "/api/v1/sessions/{session_id}/locks",
            "/api/v1/sessions/{sid}/locks",
            Some(r#"{"path":"/other","intent":"write"}"#),
            Alpha,
            Some(Mallory),
            200,
        ),
        (
            "GET",
            "/api/v1/sessions/{session_id}/locks",
            "/api/v1/sessions/{sid}/locks",
            None,
            Alpha,
            Some(Mallory),
            200,
        ),
        (
            "DELETE",
            "/api/v1/sessions/{session_id}/locks/{lock_id}",
            "/api/v1/sessions/{sid}/locks/{lock}",
            None,
            Alpha,
            Some(Mallory),
            200,
        ),
        (
            "POST",
            "/api/v1/sessions/{session_id}/elevations",
            "/api/v1/sessions/{sid}/elevations",
            Some(r#"{"target_ring":1,"reason":"deploy"}"#),
            Gamma,
            Some(Mallory),
            201,
        ),
        (
            "GET",
            "/api/v1/elevations",
            "/api/v1/elevations",
            None,
            Alpha,
            None,
            200,
        ),
        (
            "POST",
            "/api/v1/elevations/{elevation_id}/approve",
            "/api/v1/elevations/{elev}/approve",
            None,
            Admin,
            Some(Beta),
            200,
        ),
        (
            "POST",
            "/api/v1/elevations/{elevation_id}/revoke",
            "/api/v1/elevations/{elev}/revoke",
            None,
            Admin,
            Some(Alpha),
            200,
        ),
        (
            "POST",
            "/api/v1/sessions/{session_id}/actions",
            "/api/v1/sessions/{sid}/actions",
            Some(r#"{"action_id":"draft"}"#),
            Alpha,
            Some(Mallory),
            200,
        ),
        (
            "POST",
            "/api/v1/sessions/{session_id}/kill",
            "/api/v1/sessions/{sid}/kill",
            Some(r#"{"agent_did":"did:mesh:beta"}"#),
            Admin,
            Some(Alpha),
            200,
        ),
        (
            "POST",
            "/api/v1/sessions/{session_id}/substitutes",
            "/api/v1/sessions/{sid}/substitutes",
            Some(r#"{"agent_did":"did:mesh:gamma"}"#),
            Admin,
            Some(Alpha),
            200,
        ),
        (
            "GET",
            "/api/v1/sessions/{session_id}/agents/{agent_did}/rate-limit",
            "/api/v1/sessions/{sid}/agents/did:mesh:alpha/rate-limit",
            None,
            Alpha,
            Some(Beta),
            200,
        ),
        (
            "GET",
            "/api/v1/sessions/{session_id}/agents/{agent_did}/breach",
            "/api/v1/sessions/{sid}/agents/did:mesh:alpha/breach",
            None,
            Alpha,
            Some(Beta),
            200,
        ),
        (
            "POST",
            "/api/v1/sessions/{session_id}/agents/{agent_did}/breaker/reset",
            "/api/v1/sessions/{sid}/agents/did:mesh:alpha/breaker/reset",
            None,
            Admin,
            Some(Alpha),
            200,
        ),
        (
            "GET",
            "/api/v1/sessions/{session_id}/audit",
            "/api/v1/sessions/{sid}/audit?limit=5",
            None,
            Alpha,
            Some(Mallory),
            200,
        ),
        (
            "GET",
            "/api/v1/sessions/{session_id}/audit/{seq}/proof",
            "/api/v1/sessions/{sid}/audit/0/proof",
            None,
            Alpha,
            Some(Mallory),
            200,
        ),
        (
            "GET",
            "/api/v1/sessions/{session_id}/audit/consistency",
            "/api/v1/sessions/{sid}/audit/consistency?old=1",
            None,
            Alpha,
            Some(Mallory),
            200,
        ),
        (
            "GET",
            "/api/v1/audit/checkpoints",
            "/api/v1/audit/checkpoints",
            None,
            Alpha,
            None,
            200,
        ),
        (
            "GET",
            "/api/v1/audit/public-key",
            "/api/v1/audit/public-key",
            None,
            Alpha,
            None,
            200,
        ),
        (
            "GET",
            "/api/v1/audit/consistency",
            "/api/v1/audit/consistency?old=0",
            None,
            Alpha,
            None,
            200,
        ),
        (
            "GET",
            "/api/v1/dashboard/summary",
            "/api/v1/dashboard/summary",
            None,
            Admin,
            Some(Alpha),
            200,
        ),
        (
            "GET",
            "/api/v1/dashboard/rings",
            "/api/v1/dashboard/rings",
            None,
            Admin,
            Some(Alpha),
            200,
        ),
        (
            "GET",
            "/api/v1/dashboard/liability",
            "/api/v1/dashboard/liability",
            None,
            Admin,
            Some(Alpha),
            200,
        ),
        (
            "GET",
            "/api/v1/dashboard/sessions/{session_id}/files",
            "/api/v1/dashboard/sessions/{sid}/files",
            None,
            Admin,
            Some(Alpha),
            200,
        ),
        (
            "GET",
            "/api/v1/dashboard/sagas/{saga_id}",
            "/api/v1/dashboard/sagas/{saga}",
            None,
            Admin,
            Some(Alpha),
            200,
        ),
        (
            "POST",
            "/api/v1/audit/export",
            "/api/v1/audit/export",
            Some(r#"{"session_ids":["{sid}"]}"#),
            Alpha,
            Some(Mallory),
            200,
        ),
        (
            "GET",
            "/api/v1/events",
            "/api/v1/events?limit=5",
            None,
            Alpha,
            None,
            200,
        ),
        (
            "GET",
            "/api/v1/events/stats",
            "/api/v1/events/stats",
            None,
            Admin,
            Some(Alpha),
            200,
        ),
        (
            "GET",
            "/api/v1/events/stream",
            "/api/v1/events/stream?session_id={sid}",
            None,
            Alpha,
            Some(Mallory),
            200,
        ),
        (
            "POST",
            "/api/v1/admin/tick",
            "/api/v1/admin/tick",
            None,
            Admin,
            Some(Alpha),
            200,
        ),
        (
            "POST",
            "/api/v1/admin/checkpoint",
            "/api/v1/admin/checkpoint",
            None,
            Admin,
            Some(Alpha),
            200,
        ),
        ("GET", "/metrics", "/metrics", None, Admin, Some(Alpha), 200),
    ]
};

fn fill(fx: &Fx, t: &str) -> String {
    t.replace("{sid}", fx.sid.as_str())
        .replace("{other}", fx.other.as_str())
        .replace("{waiting}", fx.waiting.as_str())
        .replace("{saga}", fx.saga.as_str())
        .replace("{step}", fx.step.as_str())
        .replace("{done_saga}", fx.done_saga.as_str())
        .replace("{vouch}", &fx.vouch)
        .replace("{lock}", &fx.lock)
        .replace("{elev}", &fx.elevation)
}

fn token(fx: &Fx, w: Who) -> String {
    match w {
        Who::Admin => ADMIN.to_string(),
        Who::Alpha => fx.alpha.clone(),
        Who::Beta => fx.beta.clone(),
        Who::Gamma => fx.gamma.clone(),
        Who::Mallory => fx.mallory.clone(),
    }
}

fn body(fx: &Fx, b: Option<&str>) -> Option<Value> {
    let b = b?;
    if b == DSL {
        let yaml = format!(
            "name: deploy\nsession_id: {}\nsteps:\n  - id: s1\n    action_id: draft\n    agent: did:mesh:alpha\n    execute_api: api/draft\n",
            fx.sid
        );
        return Some(Value::String(yaml));
    }
    Some(serde_json::from_str(&fill(fx, b)).unwrap())
}

async fn send_row(fx: &Fx, row: &Row, who: Option<Who>) -> crate::common::Resp {
    let (method, _, uri, b, ..) = *row;
    let tok = who.map(|w| token(fx, w));
    let uri = fill(fx, uri);
    match body(fx, b) {
        Some(Value::String(text)) => {
            crate::common::send(
                &fx.app,
                crate::common::req(method, &uri, tok.as_deref(), Some(&text)),
            )
            .await
        }
        other => call(&fx.app, method, &uri, tok.as_deref(), other).await,
    }
}

#[tokio::test]
async fn every_endpoint_refuses_no_token_and_wrong_token_and_serves_the_right_one() {
    let mut failures = Vec::new();
    for row in ROWS {
        let fx = fixture().await;
        let (method, path, ..) = *row;
        let r = send_row(&fx, row, None).await;
        if r.status != 401
            || r.headers.get("www-authenticate").is_none()
            || r.body["code"] != "unauthorized"
        {
            failures.push(format!(
                "{method} {path} without token: {} {}",
                r.status, r.body
            ));
        }
        if let Some(w) = row.5 {
            let r = send_row(&fx, row, Some(w)).await;
            if r.status != 403 || r.body["detail"].as_str().is_none() {
                failures.push(format!("{method} {path} as {w:?}: {} {}", r.status, r.body));
            }
        }
        let r = send_row(&fx, row, Some(row.4)).await;
        if r.status.as_u16() != row.6 {
            failures.push(format!(
                "{method} {path} as {:?}: {} {}",
                row.4, r.status, r.body
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
