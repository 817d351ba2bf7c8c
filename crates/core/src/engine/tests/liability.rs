//! Vouching, slashing and quarantine with their real effects on σ, rings and the ledger.

use super::fixtures::*;
use crate::engine::{Command, DenyCode, EngineError, Reply};
use crate::event::EventType;
use crate::id::{AgentDid, SessionId};
use crate::liability::LedgerEntryType;
use crate::ring::Ring;

fn vouch(
    w: &mut World,
    sid: &SessionId,
    voucher: &AgentDid,
    vouchee: &AgentDid,
    pct: Option<f64>,
) -> crate::engine::Result<Reply> {
    w.apply(
        &agent(voucher),
        Command::Vouch {
            session_id: sid.clone(),
            voucher: voucher.clone(),
            vouchee: vouchee.clone(),
            bond_pct: pct.map(s),
            expiry: None,
        },
    )
}

#[test]
fn vouching_raises_sigma_eff_and_the_ring() {
    let mut w = World::new();
    let (alice, bob) = (did("alice"), did("bob"));
    let sid = w.active_session(&alice, &[(&alice, 0.9), (&bob, 0.5)]);
    assert_eq!(w.ring(&sid, &bob), Ring::Sandbox);
    let Reply::Vouch(rec) = vouch(&mut w, &sid, &alice, &bob, Some(0.4)).unwrap() else {
        panic!()
    };
    assert!((rec.bonded_amount - 0.36).abs() < 1e-12);
    // σ_eff = 0.5 + 0.5 × 0.36 = 0.68 → ring 2, at once.
    assert!((w.sigma_eff(&sid, &bob) - 0.68).abs() < 1e-9);
    assert_eq!(w.ring(&sid, &bob), Ring::Standard);
    assert!(!w.events_of(EventType::RingAssigned).is_empty());
    w.write(&sid, &bob, "a.txt", "now allowed").unwrap();
    // Releasing the bond demotes again.
    w.ok(
        &agent(&alice),
        Command::ReleaseVouch {
            vouch_id: rec.vouch_id,
        },
    );
    assert_eq!(w.ring(&sid, &bob), Ring::Sandbox);
    assert!(!w.events_of(EventType::RingDemoted).is_empty());
    // Ledger: given, received, released.
    let l = w.engine.books().ledger();
    assert_eq!(l.risk_profile(&alice).total_entries, 2);
    assert_eq!(l.risk_profile(&bob).total_entries, 1);
    w.assert_replays();
}

#[test]
fn a_vouch_uses_the_hypervisor_held_sigma_of_the_voucher() {
    let mut w = World::new();
    let (alice, bob, carl) = (did("alice"), did("bob"), did("carl"));
    w.ok(
        &admin(),
        Command::SetTrust {
            agent: carl.clone(),
            sigma_raw: s(0.3),
        },
    );
    let sid = w.active_session(&alice, &[(&alice, 0.9), (&bob, 0.5)]);
    // carl claims 0.99 on joining but the hypervisor holds 0.3.
    w.join(&sid, &carl, 0.99);
    let r = vouch(&mut w, &sid, &carl, &bob, None);
    assert_denied(
        &w,
        &sid,
        r,
        DenyCode::SigmaInsufficient,
        "voucher σ (0.30) below minimum (0.50)",
    );
    // The bonded amount is computed from the held σ too.
    let Reply::Vouch(rec) = vouch(&mut w, &sid, &alice, &bob, Some(0.5)).unwrap() else {
        panic!()
    };
    assert!((rec.bonded_amount - 0.45).abs() < 1e-12);
    w.assert_replays();
}

#[test]
fn exposure_is_capped_across_sessions() {
    let mut w = World::new();
    let (alice, bob, carl) = (did("alice"), did("bob"), did("carl"));
    let s1 = w.active_session(&alice, &[(&alice, 0.9), (&bob, 0.5)]);
    let s2 = w.active_session(&alice, &[(&alice, 0.9), (&carl, 0.5)]);
    vouch(&mut w, &s1, &alice, &bob, Some(0.5)).unwrap();
    // 0.45 + 0.36 > 0.9 × 0.8 = 0.72.
    let r = vouch(&mut w, &s2, &alice, &carl, Some(0.4));
    assert_denied(&w, &s2, r, DenyCode::ExposureCap, "exposure");
    vouch(&mut w, &s2, &alice, &carl, Some(0.3)).unwrap();
    w.assert_replays();
}

#[test]
fn a_three_cycle_of_vouches_is_refused() {
    let mut w = World::new();
    let (a, b, c) = (did("a"), did("b"), did("c"));
    let sid = w.active_session(&a, &[(&a, 0.9), (&b, 0.9), (&c, 0.9)]);
    vouch(&mut w, &sid, &a, &b, None).unwrap();
    vouch(&mut w, &sid, &b, &c, None).unwrap();
    let r = vouch(&mut w, &sid, &c, &a, None);
    assert_denied(
        &w,
        &sid,
        r,
        DenyCode::VouchCycle,
        "circular vouching detected",
    );
    // Self-vouching and duplicates are refused too.
    let r = vouch(&mut w, &sid, &a, &a, None);
    assert_denied(
        &w,
        &sid,
        r,
        DenyCode::VouchRefused,
        "cannot vouch for yourself",
    );
    let r = vouch(&mut w, &sid, &a, &b, None);
    assert_denied(
        &w,
        &sid,
        r,
        DenyCode::VouchRefused,
        "already has active bond",
    );
    w.assert_replays();
}

#[test]
fn vouching_for_a_non_member_conflicts() {
    let mut w = World::new();
    let (a, b) = (did("a"), did("b"));
    let sid = w.active_session(&a, &[(&a, 0.9)]);
    let r = vouch(&mut w, &sid, &a, &b, None);
    assert!(matches!(r, Err(EngineError::Conflict(_))), "{r:?}");
}

#[test]
fn slash_cascades_to_vouchers_and_rederives_their_rings_at_once() {
    let mut w = World::new();
    let (alice, bob, carl, dave) = (did("alice"), did("bob"), did("carl"), did("dave"));
    let sid = w.active_session(
        &alice,
        &[(&alice, 0.9), (&bob, 0.7), (&carl, 0.62), (&dave, 0.9)],
    );
    // A second session where bob is also a member: rings change there too.
    let s2 = w.active_session(&alice, &[(&bob, 0.7)]);
    vouch(&mut w, &sid, &bob, &carl, Some(0.2)).unwrap();
    vouch(&mut w, &sid, &dave, &bob, Some(0.1)).unwrap();
    assert_eq!(w.ring(&sid, &bob), Ring::Standard);
    // Bob gets an approved elevation, which a demotion must revoke.
    let Reply::Elevation(e) = w.ok(
        &agent(&bob),
        Command::RequestElevation {
            session_id: sid.clone(),
            agent: bob.clone(),
            target: Ring::Privileged,
            ttl_seconds: Some(600),
            reason: "deploy".into(),
        },
    ) else {
        panic!()
    };
    w.ok(
        &admin(),
        Command::ApproveElevation {
            elevation_id: e.elevation_id,
        },
    );
    assert!(w.participant(&sid, &bob).elevated);
    // Slash carl with ω = 0.9: carl → 0, bob (voucher) 0.7 → 0.07, which is ≥ the 0.06 cascade
    // threshold, so bob is not slashed in turn; dave's bond into bob stays.
    let Reply::Slashed(out) = w.ok(
        &admin(),
        Command::Slash {
            session_id: sid.clone(),
            agent: carl.clone(),
            omega: s(0.9),
            reason: "exfiltration".into(),
        },
    ) else {
        panic!()
    };
    assert_eq!(out.results.len(), 1);
    assert_eq!(w.engine.trust_of(&carl).unwrap().get(), 0.0);
    let bob_sigma = w.engine.trust_of(&bob).unwrap().get();
    assert!((bob_sigma - 0.07).abs() < 1e-9, "{bob_sigma}");
    assert_eq!(w.ring(&sid, &carl), Ring::Sandbox);
    assert_eq!(w.ring(&sid, &bob), Ring::Sandbox);
    assert_eq!(
        w.ring(&s2, &bob),
        Ring::Sandbox,
        "rings are re-derived in every session"
    );
    assert!(
        !w.participant(&sid, &bob).elevated,
        "demotion revokes the elevation"
    );
    assert!(!w.events_of(EventType::RingElevationRevoked).is_empty());
    assert!(!w.events_of(EventType::RingDemoted).is_empty());
    assert!(!w.events_of(EventType::LiabilitySlashExecuted).is_empty());
    let r = w.write(&sid, &bob, "a.txt", "x");
    assert_denied(&w, &sid, r, DenyCode::SigmaInsufficient, "Ring 2 requires");
    // Ledger: carl received a slash, bob a cascaded one.
    let l = w.engine.books().ledger();
    assert_eq!(l.risk_profile(&carl).slash_count, 1);
    assert_eq!(l.risk_profile(&bob).slash_count, 1);
    let kinds: Vec<LedgerEntryType> = l.history(&bob).iter().map(|e| e.entry_type).collect();
    assert!(kinds.contains(&LedgerEntryType::SlashCascaded), "{kinds:?}");
    w.assert_replays();
}

#[test]
fn slash_below_the_cascade_threshold_blacklists_the_chain() {
    let mut w = World::new();
    let (a, b, c) = (did("a"), did("b"), did("c"));
    let sid = w.active_session(&a, &[(&a, 0.9), (&b, 0.9), (&c, 0.6)]);
    vouch(&mut w, &sid, &a, &b, None).unwrap();
    vouch(&mut w, &sid, &b, &c, None).unwrap();
    // ω = 1: b is clipped to the floor 0.05 < 0.06 and, being backed by a, is slashed in turn.
    let Reply::Slashed(out) = w.ok(
        &admin(),
        Command::Slash {
            session_id: sid.clone(),
            agent: c.clone(),
            omega: s(1.0),
            reason: "fraud".into(),
        },
    ) else {
        panic!()
    };
    assert_eq!(out.results.len(), 2);
    assert_eq!(w.engine.trust_of(&b).unwrap().get(), 0.0);
    assert!((w.engine.trust_of(&a).unwrap().get() - 0.05).abs() < 1e-12);
    for x in [&a, &b, &c] {
        assert_eq!(w.ring(&sid, x), Ring::Sandbox, "{x}");
    }
    w.assert_replays();
}

#[test]
fn quarantine_and_release_are_recorded() {
    let mut w = World::new();
    let (a, b) = (did("a"), did("b"));
    let sid = w.active_session(&a, &[(&a, 0.9), (&b, 0.9)]);
    let r = w.apply(
        &agent(&a),
        Command::Quarantine {
            session_id: sid.clone(),
            agent: b.clone(),
            reason: crate::liability::QuarantineReason::Manual,
            details: "x".into(),
            duration_seconds: None,
        },
    );
    assert!(matches!(r, Err(EngineError::Forbidden(_))), "{r:?}");
    let r = w.apply(
        &admin(),
        Command::Quarantine {
            session_id: sid.clone(),
            agent: b.clone(),
            reason: crate::liability::QuarantineReason::Manual,
            details: "x".into(),
            duration_seconds: Some(0),
        },
    );
    assert!(matches!(r, Err(EngineError::Invalid(_))), "{r:?}");
    w.ok(
        &admin(),
        Command::Quarantine {
            session_id: sid.clone(),
            agent: b.clone(),
            reason: crate::liability::QuarantineReason::Manual,
            details: "x".into(),
            duration_seconds: None,
        },
    );
    assert_eq!(w.events_of(EventType::LiabilityQuarantineEntered).len(), 1);
    let Reply::Quarantine(Some(_)) = w.ok(
        &admin(),
        Command::ReleaseQuarantine {
            session_id: sid.clone(),
            agent: b.clone(),
        },
    ) else {
        panic!()
    };
    let Reply::Quarantine(None) = w.ok(
        &admin(),
        Command::ReleaseQuarantine {
            session_id: sid.clone(),
            agent: b.clone(),
        },
    ) else {
        panic!()
    };
    // An incident means no clean-session entry at termination.
    w.ok(&admin(), Command::Terminate { session_id: sid });
    let l = w.engine.books().ledger();
    assert_eq!(l.risk_profile(&b).clean_session_count, 0);
    assert_eq!(l.risk_profile(&a).clean_session_count, 1);
    w.assert_replays();
}
