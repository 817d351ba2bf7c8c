//! `ahv demo`: every step of the narrative happened, with the facts it claims.

use serde_json::Value;

use crate::util::{ahv, code, demo_run, stdout};

fn events(step: &str) -> Vec<&'static Value> {
    demo_run().0.iter().filter(|e| e["step"] == step).collect()
}

fn one(step: &str) -> &'static Value {
    let v = events(step);
    assert_eq!(v.len(), 1, "exactly one `{step}` event expected, got {v:?}");
    v[0]
}

fn f(v: &Value, k: &str) -> f64 {
    v[k].as_f64()
        .unwrap_or_else(|| panic!("`{k}` is not a number in {v}"))
}

#[test]
fn narrative_steps_come_in_order() {
    let order: Vec<&str> = demo_run()
        .0
        .iter()
        .filter_map(|e| e["step"].as_str())
        .filter(|s| *s != "check")
        .collect();
    let expected = [
        "setup",
        "session_created",
        "agent_joined",
        "agent_joined",
        "agent_joined",
        "consensus",
        "vouched",
        "denied",
        "elevation_requested",
        "elevation_approved",
        "elevation_used",
        "elevation_expired",
        "denied_after_expiry",
        "saga_compensated",
        "saga_escalated",
        "attribution",
        "slashed",
        "breach",
        "quarantine_enforced",
        "terminated",
        "checkpoint",
        "inclusion_proof",
        "bundle_verified",
        "tamper_detected",
        "bundle_exported",
        "summary",
    ];
    assert_eq!(order, expected);
}

#[test]
fn every_self_check_passed() {
    let checks = events("check");
    assert!(checks.len() >= 15, "{checks:?}");
    assert!(checks.iter().all(|c| c["ok"] == true), "{checks:?}");
    let s = one("summary");
    assert_eq!(s["ok"], true);
    assert_eq!(s["failed"].as_array().map(Vec::len), Some(0));
    assert_eq!(s["checks"].as_u64(), Some(checks.len() as u64));
}

#[test]
fn agents_get_rings_and_vouching_raises_one() {
    let rings: Vec<u64> = events("agent_joined")
        .iter()
        .map(|e| e["ring"].as_u64().unwrap())
        .collect();
    assert_eq!(rings, [2, 3, 3]);
    assert_eq!(one("consensus")["ring"], 1);
    let v = one("vouched");
    assert_eq!(
        (v["ring_before"].as_u64(), v["ring_after"].as_u64()),
        (Some(3), Some(2))
    );
    let expected = 0.55 + 0.5 * f(v, "bonded_amount");
    assert!((f(v, "sigma_eff_after") - expected).abs() < 1e-9, "{v}");
    assert!((f(v, "bonded_amount") - 0.97 * 0.25).abs() < 1e-9);
}

#[test]
fn denials_carry_code_and_reason() {
    let d = one("denied");
    assert_eq!(d["agent"], "did:mesh:carol");
    assert_eq!(d["code"], "sigma_insufficient");
    assert!(
        d["reason"]
            .as_str()
            .unwrap()
            .contains("Ring 1 requires σ_eff ≥ 0.95"),
        "{d}"
    );
    let again = one("denied_after_expiry");
    assert_eq!(again["agent"], "did:mesh:bob");
    assert_eq!(again["code"], "sigma_insufficient");
    assert!(!again["reason"].as_str().unwrap().is_empty());
}

#[test]
fn elevation_is_granted_used_and_expires() {
    let r = one("elevation_requested");
    assert_eq!(
        (
            r["from_ring"].as_u64(),
            r["to_ring"].as_u64(),
            r["ttl_seconds"].as_u64()
        ),
        (Some(2), Some(1), Some(2))
    );
    assert!(
        one("elevation_approved")["expires_at"]
            .as_str()
            .is_some_and(|s| !s.is_empty())
    );
    let used = one("elevation_used");
    assert_eq!(
        (used["outcome"].as_str(), used["ring"].as_u64()),
        (Some("allowed"), Some(1))
    );
    assert_eq!(one("elevation_expired")["expired"], 1);
}

#[test]
fn failed_saga_compensates_in_reverse_over_http() {
    let s = one("saga_compensated");
    assert_eq!(s["state"], "compensated");
    assert_eq!(s["failed_step"], "migrate");
    assert!(s["error"].as_str().unwrap().contains("HTTP 500"), "{s}");
    assert_eq!(
        s["compensation_order"],
        serde_json::json!(["provision", "reserve"])
    );
    assert_eq!(
        s["service_calls"],
        serde_json::json!([
            "exec reserve",
            "exec provision",
            "exec migrate",
            "undo provision",
            "undo reserve"
        ])
    );
    assert_eq!(s["idempotency_keys"], true);
}

#[test]
fn escalation_blames_bob_and_slashes_his_voucher() {
    let e = one("saga_escalated");
    assert_eq!(e["state"], "escalated");
    assert_eq!(e["failed_compensations"], serde_json::json!(["transfer"]));
    let a = one("attribution");
    assert_eq!(a["blamed"], "did:mesh:bob");
    let shares = a["shares"].as_array().unwrap();
    let total: f64 = shares.iter().map(|s| f(s, "share")).sum();
    assert!((total - 1.0).abs() < 1e-3, "{a}");
    let bob = shares
        .iter()
        .find(|s| s["agent"] == "did:mesh:bob")
        .unwrap();
    assert!(f(bob, "share") > 0.5, "{a}");
    let s = one("slashed");
    assert_eq!(s["agent"], "did:mesh:bob");
    assert!((f(s, "sigma_before") - 0.55).abs() < 1e-9);
    assert_eq!(f(s, "sigma_after"), 0.0);
    assert_eq!(
        (s["ring_before"].as_u64(), s["ring_after"].as_u64()),
        (Some(2), Some(3))
    );
    assert_eq!(s["voucher"], "did:mesh:alice");
    assert!((f(s, "voucher_sigma_before") - 0.97).abs() < 1e-9);
    let omega = f(s, "omega");
    assert!(
        (f(s, "voucher_sigma_after") - 0.97 * (1.0 - omega)).abs() < 1e-9,
        "{s}"
    );
    assert!(
        (omega - 0.2).abs() < 1e-9,
        "fully reversible step → ω 0.2: {s}"
    );
    assert_eq!(
        (
            s["voucher_ring_before"].as_u64(),
            s["voucher_ring_after"].as_u64()
        ),
        (Some(1), Some(2))
    );
}

#[test]
fn breach_trips_the_breaker_and_quarantine_is_enforced() {
    let b = one("breach");
    assert_eq!(b["code"], "breaker_tripped");
    assert_eq!(b["quarantined"], true);
    assert_eq!(b["breaker_tripped"], true);
    assert!(b["reason"].as_str().unwrap().contains("quarantined"), "{b}");
    let q = one("quarantine_enforced");
    assert_eq!(q["code"], "quarantined");
}

#[test]
fn session_ends_with_a_root_a_checkpoint_and_a_verified_proof() {
    let t = one("terminated");
    let root = t["merkle_root"].as_str().unwrap();
    assert_eq!(root.len(), 64);
    assert!(t["hv_index"].as_u64().is_some());
    assert!(one("checkpoint")["note"].as_str().unwrap().contains("\n— "));
    let p = one("inclusion_proof");
    assert_eq!(p["verified"], true);
    assert_eq!(p["root"].as_str(), Some(root));
    assert!(p["proof_len"].as_u64().unwrap() > 0);
    let b = one("bundle_verified");
    assert!(b["entries"].as_u64().unwrap() >= t["tree_size"].as_u64().unwrap());
    assert_eq!(b["inclusion_proofs"], 1);
    assert_eq!(one("tamper_detected")["detected"], true);
}

#[test]
fn plain_narration_has_no_colour_when_piped_or_disabled() {
    for args in [
        vec!["demo"],
        vec!["demo", "--no-color", "--data-dir", "/nonexistent/ahv-data"],
    ] {
        let o = ahv(&args);
        let out = stdout(&o);
        assert_eq!(code(&o), 0, "{out}");
        assert!(!out.contains('\x1b'), "escape codes in piped output");
        assert!(out.contains("▸ 1. Agents join"), "{out}");
        assert!(out.contains("checks passed."), "{out}");
    }
    let o = ahv(&["demo", "--data-dir", "/tmp/ahv-demo-data"]);
    assert!(stdout(&o).contains("durable store arrives with `ahv serve`"));
}
