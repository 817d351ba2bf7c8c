//! Every control of the governed path denies with its code and its reason, audits the denial
//! and emits `governance.denied`.

use std::time::Duration;

use super::fixtures::*;
use crate::action::Reversibility;
use crate::engine::{ActOutcome, Command, DenyCode, EngineError};
use crate::event::EventType;
use crate::liability::QuarantineReason;
use crate::ring::Ring;

#[test]
fn low_sigma_cannot_write_sigma_insufficient() {
    let mut w = World::new();
    let (alice, sam) = (did("alice"), did("sam"));
    let sid = w.active_session(&alice, &[(&alice, 0.9), (&sam, 0.3)]);
    assert_eq!(w.ring(&sid, &sam), Ring::Sandbox);
    let r = w.write(&sid, &sam, "a.txt", "x");
    assert_denied(
        &w,
        &sid,
        r,
        DenyCode::SigmaInsufficient,
        "Ring 2 requires σ_eff ≥ 0.60, got 0.300",
    );
    // The denial is in the audit trail as `vfs.write`, with the path.
    let e = w.last_denied(&sid);
    assert_eq!(e.kind, "vfs.write");
    assert_eq!(e.agent_did.as_ref(), Some(&sam));
    assert_eq!(e.detail.to_value()["path"], "/a.txt");
    assert_eq!(
        w.engine.counters().denied.get("sigma_insufficient"),
        Some(&1)
    );
    // Reads are ring 3 and allowed.
    w.write(&sid, &alice, "a.txt", "x").unwrap();
    w.read(&sid, &sam, "a.txt").unwrap();
    w.assert_replays();
}

#[test]
fn ring_rule_for_registered_actions() {
    let mut w = World::new();
    let (alice, bob, carl) = (did("alice"), did("bob"), did("carl"));
    let sid = w.session(&alice);
    let actions = vec![
        read_action("lookup"),
        action("edit", Reversibility::Partial),
        action("wire_money", Reversibility::None),
        admin_action("reboot"),
    ];
    w.join_with(&sid, &alice, 0.97, actions);
    w.join(&sid, &bob, 0.8);
    w.join(&sid, &carl, 0.4);
    w.activate(&sid);
    assert_eq!(
        w.ring(&sid, &alice),
        Ring::Standard,
        "σ ≥ 0.95 without consensus stays ring 2"
    );
    // Ring 3 action for everyone.
    assert!(matches!(
        w.tool(&sid, &carl, "lookup").unwrap(),
        ActOutcome::Allowed {
            ring: Ring::Sandbox,
            ..
        }
    ));
    // Ring 2 action: carl's σ is too low.
    let r = w.tool(&sid, &carl, "edit");
    assert_denied(
        &w,
        &sid,
        r,
        DenyCode::SigmaInsufficient,
        "Ring 2 requires σ_eff ≥ 0.60, got 0.400",
    );
    w.tool(&sid, &bob, "edit").unwrap();
    // Ring 1: bob's σ is too low, alice lacks consensus.
    let r = w.tool(&sid, &bob, "wire_money");
    assert_denied(
        &w,
        &sid,
        r,
        DenyCode::SigmaInsufficient,
        "Ring 1 requires σ_eff ≥ 0.95, got 0.800",
    );
    let r = w.tool(&sid, &alice, "wire_money");
    assert_denied(
        &w,
        &sid,
        r,
        DenyCode::ConsensusRequired,
        "Ring 1 non-reversible actions require consensus",
    );
    // Ring 0 needs the witness.
    let r = w.tool(&sid, &alice, "reboot");
    assert_denied(
        &w,
        &sid,
        r,
        DenyCode::WitnessRequired,
        "Ring 0 actions require SRE Witness co-sign",
    );
    // Consensus (an admin approval suffices) → ring 1 → allowed.
    w.ok(
        &admin(),
        Command::ApproveConsensus {
            session_id: sid.clone(),
            agent: alice.clone(),
        },
    );
    assert_eq!(w.ring(&sid, &alice), Ring::Privileged);
    assert!(matches!(
        w.tool(&sid, &alice, "wire_money").unwrap(),
        ActOutcome::Allowed {
            ring: Ring::Privileged,
            ..
        }
    ));
    // Ring 0 still needs the witness; with it alice is ring 0.
    let r = w.tool(&sid, &alice, "reboot");
    assert_denied(&w, &sid, r, DenyCode::WitnessRequired, "SRE Witness");
    w.ok(
        &admin(),
        Command::GrantRoot {
            session_id: sid.clone(),
            agent: alice.clone(),
            witness: "sre on call: ok".into(),
        },
    );
    assert_eq!(w.ring(&sid, &alice), Ring::Root);
    assert!(matches!(
        w.tool(&sid, &alice, "reboot").unwrap(),
        ActOutcome::Allowed {
            ring: Ring::Root,
            ..
        }
    ));
    // A witness cannot lift an agent below σ 0.95.
    let r = w.apply(
        &admin(),
        Command::GrantRoot {
            session_id: sid.clone(),
            agent: bob.clone(),
            witness: "w".into(),
        },
    );
    assert!(
        matches!(r, Err(EngineError::Conflict(ref m)) if m.contains("ring 0 needs σ_eff")),
        "{r:?}"
    );
    w.assert_replays();
}

#[test]
fn a_ring_2_agent_is_insufficient_for_a_ring_0_action_even_with_witness_sigma() {
    let mut w = World::new();
    let (alice, bob) = (did("alice"), did("bob"));
    let sid = w.session(&alice);
    w.join_with(&sid, &alice, 0.9, vec![admin_action("reboot")]);
    w.join(&sid, &bob, 0.9);
    w.activate(&sid);
    let r = w.tool(&sid, &bob, "reboot");
    assert_denied(&w, &sid, r, DenyCode::WitnessRequired, "SRE Witness");
}

#[test]
fn unknown_action_is_denied() {
    let mut w = World::new();
    let alice = did("alice");
    let sid = w.active_session(&alice, &[(&alice, 0.9)]);
    let r = w.tool(&sid, &alice, "nope");
    assert_denied(
        &w,
        &sid,
        r,
        DenyCode::UnknownAction,
        "action `nope` is not registered",
    );
    w.assert_replays();
}

#[test]
fn quarantine_allows_reads_only() {
    let mut w = World::new();
    let (alice, bob) = (did("alice"), did("bob"));
    let sid = w.active_session(&alice, &[(&alice, 0.9), (&bob, 0.8)]);
    w.write(&sid, &alice, "a.txt", "x").unwrap();
    w.ok(
        &admin(),
        Command::Quarantine {
            session_id: sid.clone(),
            agent: bob.clone(),
            reason: QuarantineReason::Manual,
            details: "suspicious".into(),
            duration_seconds: Some(60),
        },
    );
    assert!(w.participant(&sid, &bob).quarantined);
    let r = w.write(&sid, &bob, "b.txt", "y");
    assert_denied(
        &w,
        &sid,
        r,
        DenyCode::Quarantined,
        "is quarantined: only reads are allowed",
    );
    let r = w.act(
        &sid,
        &bob,
        crate::engine::ActionRequest::VfsDelete {
            path: "a.txt".into(),
        },
    );
    assert_denied(&w, &sid, r, DenyCode::Quarantined, "only reads");
    let r = w.apply(
        &agent(&bob),
        Command::Vouch {
            session_id: sid.clone(),
            voucher: bob.clone(),
            vouchee: alice.clone(),
            bond_pct: None,
            expiry: None,
        },
    );
    assert_denied(&w, &sid, r, DenyCode::Quarantined, "only reads");
    // Reads still pass.
    assert!(matches!(
        w.read(&sid, &bob, "a.txt").unwrap(),
        ActOutcome::Read { .. }
    ));
    // Release (or expiry) lifts it.
    w.ok(
        &admin(),
        Command::ReleaseQuarantine {
            session_id: sid.clone(),
            agent: bob.clone(),
        },
    );
    w.write(&sid, &bob, "b.txt", "y").unwrap();
    w.assert_replays();
}

#[test]
fn burst_of_calls_above_the_ring_trips_the_breaker_and_quarantines() {
    let mut w = World::new();
    let (alice, sam) = (did("alice"), did("sam"));
    let sid = w.active_session(&alice, &[(&alice, 0.9), (&sam, 0.3)]);
    w.write(&sid, &alice, "a.txt", "x").unwrap();
    for i in 0..4 {
        let r = w.write(&sid, &sam, &format!("f{i}"), "x");
        assert_denied(&w, &sid, r, DenyCode::SigmaInsufficient, "Ring 2 requires");
        w.advance_ms(100);
    }
    // Fifth call in the window: 5/5 calls above ring 3 → critical → breaker trips.
    let r = w.write(&sid, &sam, "f4", "x");
    let reason = assert_denied(
        &w,
        &sid,
        r,
        DenyCode::BreakerTripped,
        "ring breach detected",
    );
    assert!(reason.contains("quarantined"), "{reason}");
    assert_eq!(w.events_of(EventType::RingBreakerTripped).len(), 1);
    assert_eq!(w.events_of(EventType::RingBreachDetected).len(), 1);
    assert_eq!(w.events_of(EventType::LiabilityQuarantineEntered).len(), 1);
    let p = w.participant(&sid, &sam);
    assert!(p.breaker_tripped && p.quarantined);
    // Now even a read is refused by the breaker until an admin resets it.
    let r = w.read(&sid, &sam, "a.txt");
    assert_denied(
        &w,
        &sid,
        r,
        DenyCode::BreakerTripped,
        "breach breaker tripped for agent `did:mesh:sam`; an admin must reset it",
    );
    // The quarantine was entered in the ledger.
    assert_eq!(
        w.engine
            .books()
            .ledger()
            .risk_profile(&sam)
            .quarantine_count,
        1
    );
    w.ok(
        &admin(),
        Command::ResetBreaker {
            session_id: sid.clone(),
            agent: sam.clone(),
        },
    );
    assert!(!w.participant(&sid, &sam).breaker_tripped);
    // Still quarantined: reads only.
    w.read(&sid, &sam, "a.txt").unwrap();
    w.assert_replays();
}

#[test]
fn rate_limit_at_the_current_ring_returns_retry_after() {
    let mut w = World::new();
    let (alice, sam) = (did("alice"), did("sam"));
    let sid = w.active_session(&alice, &[(&alice, 0.9), (&sam, 0.3)]);
    w.write(&sid, &alice, "a.txt", "x").unwrap();
    // Ring 3: burst 10.
    for _ in 0..10 {
        w.read(&sid, &sam, "a.txt").unwrap();
    }
    let before = w.audit_len(&sid);
    let r = w.read(&sid, &sam, "a.txt");
    let Err(EngineError::RateLimited {
        retry_after,
        reason,
    }) = r
    else {
        panic!("{r:?}")
    };
    assert!(retry_after > Duration::ZERO);
    assert!(
        reason.contains("exceeded the rate limit of ring 3"),
        "{reason}"
    );
    // Audited as a denial with its code, and an event.
    assert_eq!(w.audit_len(&sid), before + 1);
    let e = w.last_denied(&sid);
    assert_eq!(e.reason, reason);
    assert_eq!(e.detail.to_value()["code"], "rate_limited");
    assert_eq!(w.events_of(EventType::SecurityRateLimited).len(), 1);
    // The limit is per (agent, session): alice is not affected; another session is not either.
    w.read(&sid, &alice, "a.txt").unwrap();
    let s2 = w.active_session(&alice, &[(&sam, 0.3)]);
    w.act(
        &s2,
        &sam,
        crate::engine::ActionRequest::VfsList { prefix: None },
    )
    .unwrap();
    // After retry_after, sam may call again.
    w.advance_ms(retry_after.as_millis() as u64);
    w.read(&sid, &sam, "a.txt").unwrap();
    w.assert_replays();
}

#[test]
fn ring_2_quota_is_larger_than_ring_3() {
    let mut w = World::new();
    let (alice, bob) = (did("alice"), did("bob"));
    let sid = w.active_session(&alice, &[(&alice, 0.9), (&bob, 0.8)]);
    w.write(&sid, &alice, "a.txt", "x").unwrap();
    for _ in 0..40 {
        w.read(&sid, &bob, "a.txt").unwrap();
    }
    let r = w.read(&sid, &bob, "a.txt");
    assert!(
        matches!(r, Err(EngineError::RateLimited { ref reason, .. }) if reason.contains("ring 2")),
        "{r:?}"
    );
}
