//! The reference's quick-start flow over HTTP, checking its field names and status codes, and
//! the reference bugs this server fixes (spec §13, §17.3).

use serde_json::{Value, json};

use crate::common::{ADMIN, enc, fixture, get, hv, post, state_with};

fn keys(v: &Value) -> Vec<&str> {
    let mut k: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    k.sort_unstable();
    k
}

fn has(v: &Value, fields: &[&str]) {
    for f in fields {
        assert!(v.get(*f).is_some(), "missing `{f}` in {v}");
    }
}

#[tokio::test]
async fn reference_quick_start_flow_over_http() {
    let app = ahv_server::router(state_with(hv(), Default::default()));
    let a = Some(ADMIN);
    let r = get(&app, "/health", None).await;
    assert_eq!(
        (r.status.as_u16(), r.body["status"].as_str()),
        (200, Some("ok"))
    );

    let body = json!({"creator_did":"did:mesh:admin","max_participants":3,"min_sigma_eff":0.4});
    let r = post(&app, "/api/v1/sessions", a, body).await;
    assert_eq!(r.status, 201, "{}", r.body);
    has(
        &r.body,
        &["session_id", "state", "consistency_mode", "created_at"],
    );
    assert_eq!(r.body["state"], "handshaking");
    assert_eq!(r.body["consistency_mode"], "eventual");
    let sid = r.body["session_id"].as_str().unwrap().to_string();
    assert!(sid.starts_with("session:"));

    let join =
        async |body: Value| post(&app, &format!("/api/v1/sessions/{sid}/join"), a, body).await;
    let r = join(json!({"agent_did":"did:mesh:alpha","sigma_raw":0.85})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    has(
        &r.body,
        &[
            "agent_did",
            "session_id",
            "assigned_ring",
            "ring_name",
            "agent_token",
            "token_expires_at",
            "sigma_eff",
        ],
    );
    assert_eq!(
        (
            r.body["assigned_ring"].as_u64(),
            r.body["ring_name"].as_str()
        ),
        (Some(2), Some("RING_2_STANDARD"))
    );
    let alpha = r.body["agent_token"].as_str().unwrap().to_string();
    let r = join(json!({"agent_did":"did:mesh:beta","sigma_raw":0.45})).await;
    assert_eq!(
        (
            r.body["assigned_ring"].as_u64(),
            r.body["ring_name"].as_str()
        ),
        (Some(3), Some("RING_3_SANDBOX"))
    );
    // Duplicate join: 409 (the reference said 400).
    let r = join(json!({"agent_did":"did:mesh:alpha","sigma_raw":0.85})).await;
    assert_eq!(r.status, 409);
    let body = json!({"agent_did":"did:mesh:x","sigma_raw":0.9});
    let r = post(&app, "/api/v1/sessions/does-not-exist/join", a, body).await;
    assert_eq!(r.status, 404);

    let r = post(&app, &format!("/api/v1/sessions/{sid}/activate"), a, None).await;
    assert_eq!(
        (r.status.as_u16(), &r.body),
        (200, &json!({"session_id": sid, "state": "active"}))
    );

    let r = get(&app, &format!("/api/v1/sessions/{sid}"), Some(&alpha)).await;
    assert_eq!(r.status, 200);
    has(
        &r.body,
        &[
            "session_id",
            "state",
            "consistency_mode",
            "creator_did",
            "participant_count",
            "participants",
            "created_at",
            "terminated_at",
            "sagas",
        ],
    );
    has(
        &r.body["participants"][0],
        &[
            "agent_did",
            "ring",
            "sigma_raw",
            "sigma_eff",
            "joined_at",
            "is_active",
        ],
    );
    assert_eq!(r.body["participant_count"], 2);

    let r = get(&app, "/api/v1/sessions?state=active", a).await;
    assert_eq!(
        keys(&r.body[0]),
        vec![
            "consistency_mode",
            "created_at",
            "participant_count",
            "session_id",
            "state"
        ]
    );
    let r = get(&app, "/api/v1/sessions?state=bogus", a).await;
    assert_eq!(r.body, json!([]));

    let r = get(&app, &format!("/api/v1/sessions/{sid}/rings"), a).await;
    assert_eq!(
        r.body["distribution"],
        json!({"RING_2_STANDARD":["did:mesh:alpha"],"RING_3_SANDBOX":["did:mesh:beta"]})
    );
    let r = get(&app, "/api/v1/agents/did:mesh:alpha/ring", Some(&alpha)).await;
    has(&r.body, &["agent_did", "ring", "ring_name", "session_id"]);
    assert_eq!(r.body["session_id"], sid.as_str());

    let check = |action: Value, ring: u8, sigma: f64| json!({"agent_ring": ring, "action": action, "sigma_eff": sigma});
    let r = post(&app, "/api/v1/rings/check", a, check(json!({"action_id":"draft","name":"Draft","execute_api":"/draft","undo_api":"/undo","reversibility":"full"}), 2, 0.7)).await;
    assert_eq!(
        keys(&r.body),
        vec![
            "agent_ring",
            "allowed",
            "reason",
            "required_ring",
            "requires_consensus",
            "requires_sre_witness",
            "sigma_eff"
        ]
    );
    assert_eq!(
        (r.body["allowed"].as_bool(), r.body["reason"].as_str()),
        (Some(true), Some("Access granted"))
    );
    let del =
        json!({"action_id":"del","name":"Delete","execute_api":"/del","reversibility":"none"});
    let r = post(&app, "/api/v1/rings/check", a, check(del, 2, 0.97)).await;
    assert_eq!(
        (
            r.body["allowed"].as_bool(),
            r.body["requires_consensus"].as_bool(),
            r.body["required_ring"].as_u64()
        ),
        (Some(false), Some(true), Some(1))
    );
    let cfg = json!({"action_id":"cfg","name":"Cfg","execute_api":"/cfg","is_admin":true});
    let r = post(&app, "/api/v1/rings/check", a, check(cfg, 0, 1.0)).await;
    assert_eq!(
        (
            r.body["requires_sre_witness"].as_bool(),
            r.body["reason"].as_str()
        ),
        (
            Some(true),
            Some("Ring 0 actions require SRE Witness co-sign")
        )
    );

    let r = post(&app, &format!("/api/v1/sessions/{sid}/sagas"), a, None).await;
    assert_eq!(r.status, 201);
    assert_eq!(
        keys(&r.body),
        vec!["created_at", "saga_id", "session_id", "state"]
    );
    assert_eq!(r.body["state"], "running");
    let saga = r.body["saga_id"].as_str().unwrap().to_string();
    let step_body = json!({"action_id":"draft","agent_did":"did:mesh:alpha","execute_api":"/api/draft","undo_api":"/api/undo-draft","timeout_seconds":30,"max_retries":1});
    let r = post(&app, &format!("/api/v1/sagas/{saga}/steps"), a, step_body).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(
        keys(&r.body),
        vec!["action_id", "saga_id", "state", "step_id"]
    );
    assert_eq!(r.body["state"], "pending");
    let step = r.body["step_id"].as_str().unwrap().to_string();
    assert!(step.starts_with("step:"));
    let execute = format!("/api/v1/sagas/{saga}/steps/{step}/execute");
    let r = post(&app, &execute, Some(&alpha), None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.body,
        json!({"step_id": step, "saga_id": saga, "state": "committed", "error": null})
    );
    // Re-executing: 409 (the reference said 400).
    let r = post(&app, &execute, a, None).await;
    assert_eq!(r.status, 409);
    let r = get(&app, &format!("/api/v1/sagas/{saga}"), a).await;
    has(
        &r.body,
        &[
            "saga_id",
            "session_id",
            "state",
            "created_at",
            "completed_at",
            "error",
            "steps",
        ],
    );
    has(
        &r.body["steps"][0],
        &["step_id", "action_id", "agent_did", "state", "error"],
    );
    let r = get(&app, &format!("/api/v1/sessions/{sid}/sagas"), a).await;
    assert_eq!(r.body.as_array().unwrap().len(), 1);

    // Vouch: the caller's voucher_sigma is ignored; the held σ (0.85) is bonded.
    let r = post(&app, &format!("/api/v1/sessions/{sid}/vouch"), Some(&alpha), json!({"voucher_did":"did:mesh:alpha","vouchee_did":"did:mesh:beta","voucher_sigma":0.1,"bond_pct":0.3})).await;
    assert_eq!(r.status, 201, "{}", r.body);
    has(
        &r.body,
        &[
            "vouch_id",
            "voucher_did",
            "vouchee_did",
            "session_id",
            "bonded_amount",
            "bonded_sigma_pct",
            "is_active",
        ],
    );
    assert!((r.body["bonded_amount"].as_f64().unwrap() - 0.255).abs() < 1e-9);
    let r = get(&app, &format!("/api/v1/sessions/{sid}/vouches"), a).await;
    assert_eq!(r.body.as_array().unwrap().len(), 1);
    let liability = "/api/v1/agents/did:mesh:alpha/liability";
    let r = get(&app, liability, Some(&alpha)).await;
    has(
        &r.body,
        &[
            "agent_did",
            "vouches_given",
            "vouches_received",
            "total_exposure",
        ],
    );

    let r = get(&app, "/api/v1/events?event_type=session.created&limit=5", a).await;
    assert_eq!(r.body.as_array().unwrap().len(), 1);
    has(
        &r.body[0],
        &[
            "event_id",
            "event_type",
            "timestamp",
            "session_id",
            "agent_did",
            "causal_trace_id",
            "payload",
        ],
    );
    let r = get(&app, "/api/v1/events?event_type=bogus", a).await;
    assert_eq!(
        (r.status.as_u16(), r.body["detail"].as_str()),
        (400, Some("Unknown event type: bogus"))
    );
    let r = get(&app, "/api/v1/events?limit=0", a).await;
    assert_eq!(r.body, json!([]), "limit=0 is honoured");
    let r = get(&app, "/api/v1/events/stats", a).await;
    assert!(r.body["total_events"].as_u64().unwrap() > 0);
    let r = get(&app, "/api/v1/stats", a).await;
    has(
        &r.body,
        &[
            "version",
            "total_sessions",
            "active_sessions",
            "total_participants",
            "active_sagas",
            "total_vouches",
            "event_count",
        ],
    );

    let r = post(&app, &format!("/api/v1/sessions/{sid}/terminate"), a, None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["state"], "archived");
    let root = r.body["merkle_root"].as_str().unwrap();
    assert!(
        root.len() == 64 && root.bytes().all(|b| b.is_ascii_hexdigit()),
        "{root}"
    );
    let r = post(&app, &format!("/api/v1/sessions/{sid}/terminate"), a, None).await;
    assert_eq!(r.status, 409);
    // Sagas cannot be created in an archived session (the reference accepted it).
    let r = post(&app, &format!("/api/v1/sessions/{sid}/sagas"), a, None).await;
    assert_eq!(r.status, 409);
}

#[tokio::test]
async fn explicit_reversibility_in_join_actions_works_unlike_reference() {
    let fx = fixture().await;
    let body = json!({"agent_did":"did:mesh:new","sigma_raw":0.97,"actions":[{"action_id":"wire","name":"Wire","execute_api":"/wire","reversibility":"partial"}]});
    let join = format!("/api/v1/sessions/{}/join", fx.sid);
    let r = post(&fx.app, &join, Some(ADMIN), body).await;
    assert_eq!(r.status, 200, "{}", r.body);
}

#[tokio::test]
async fn unknown_action_keys_and_bad_rings_are_4xx_not_500() {
    let fx = fixture().await;
    let body = json!({"agent_did":"did:mesh:z","actions":[{"bogus_field":1}]});
    let join = format!("/api/v1/sessions/{}/join", fx.sid);
    let r = post(&fx.app, &join, Some(ADMIN), body).await;
    assert_eq!(
        (r.status.as_u16(), r.body["code"].as_str()),
        (422, Some("validation_error"))
    );
    let body = json!({"agent_ring":7,"action":{"action_id":"x","name":"x","execute_api":"/x"},"sigma_eff":0.5});
    let r = post(&fx.app, "/api/v1/rings/check", Some(ADMIN), body).await;
    assert_eq!(r.status, 422, "{}", r.body);
    let body = json!({"max_participants":3});
    let r = post(&fx.app, "/api/v1/sessions", Some(ADMIN), body).await;
    assert_eq!(r.status, 422);
    assert!(r.body["detail"].as_str().unwrap().contains("creator_did"));
}

#[tokio::test]
async fn unknown_saga_and_step_are_404() {
    let fx = fixture().await;
    let execute = format!("/api/v1/sagas/{}/steps/step:nope/execute", fx.saga);
    let r = post(&fx.app, &execute, Some(ADMIN), None).await;
    assert_eq!(r.status, 404, "unknown step in a known saga: {}", r.body);
    let execute = "/api/v1/sagas/saga:nope/steps/step:nope/execute";
    let r = post(&fx.app, execute, Some(ADMIN), None).await;
    assert_eq!(r.status, 404);
    let r = get(&fx.app, "/api/v1/sagas/saga:nope", Some(ADMIN)).await;
    assert_eq!(
        (r.status.as_u16(), r.body["code"].as_str()),
        (404, Some("not_found"))
    );
}

#[tokio::test]
async fn dids_containing_a_slash_are_addressable() {
    let fx = fixture().await;
    let d = "did:web:example.com/a";
    let join = format!("/api/v1/sessions/{}/join", fx.sid);
    let body = json!({"agent_did": d, "sigma_raw": 0.7});
    let r = post(&fx.app, &join, Some(ADMIN), body).await;
    assert_eq!(r.status, 200);
    let tok = r.body["agent_token"].as_str().unwrap().to_string();
    let agent = format!("/api/v1/agents/{}", enc(d));
    let r = get(&fx.app, &format!("{agent}/ring"), Some(&tok)).await;
    assert_eq!(
        (r.status.as_u16(), r.body["agent_did"].as_str()),
        (200, Some(d)),
        "{}",
        r.body
    );
    let r = get(&fx.app, &format!("{agent}/liability"), Some(ADMIN)).await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn vouch_expiry_is_honoured() {
    let fx = fixture().await;
    let url = format!("/api/v1/sessions/{}/vouch", fx.sid);
    let past = json!({"voucher_did":"did:mesh:gamma","vouchee_did":"did:mesh:beta","expiry":"2000-01-01T00:00:00Z"});
    let r = post(&fx.app, &url, Some(&fx.gamma), past).await;
    assert!(
        r.status.is_client_error(),
        "an already-expired bond is refused: {} {}",
        r.status,
        r.body
    );
    let bad =
        json!({"voucher_did":"did:mesh:gamma","vouchee_did":"did:mesh:beta","expiry":"tomorrow"});
    assert_eq!(post(&fx.app, &url, Some(&fx.gamma), bad).await.status, 422);
    let future = json!({"voucher_did":"did:mesh:gamma","vouchee_did":"did:mesh:beta","expiry":"2999-01-01T00:00:00Z"});
    let r = post(&fx.app, &url, Some(&fx.gamma), future).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["expiry"], "2999-01-01T00:00:00.000000+00:00");
}
