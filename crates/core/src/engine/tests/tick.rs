//! Time-driven expiry through `Tick`.

use super::fixtures::*;
use crate::engine::{Command, DenyCode};
use crate::event::EventType;
use crate::liability::QuarantineReason;
use crate::locks::LockIntent;
use crate::ring::Ring;
use crate::session::{SessionConfig, SessionState};
use crate::time::Timestamp;
use crate::vclock::IsolationLevel;

#[test]
fn tick_terminates_a_session_past_its_max_duration() {
    let mut w = World::new();
    let alice = did("alice");
    let cfg = SessionConfig {
        max_duration_seconds: 60,
        ..open_config()
    };
    let sid = w.session_with(&alice, cfg, IsolationLevel::ReadCommitted);
    w.join(&sid, &alice, 0.9);
    w.activate(&sid);
    w.write(&sid, &alice, "a.txt", "x").unwrap();
    w.advance(30);
    assert_eq!(w.tick().sessions, 0);
    w.advance(31);
    // Past the deadline but before the tick: actions are refused as expired.
    let r = w.read(&sid, &alice, "a.txt");
    assert_denied(&w, &sid, r, DenyCode::SessionExpired, "expired at");
    let t = w.tick();
    assert_eq!(t.sessions, 1);
    assert_eq!(w.events_of(EventType::SessionExpired).len(), 1);
    assert_eq!(w.events_of(EventType::AuditCommitted).len(), 1);
    let v = w.engine.session_view(&sid).unwrap();
    assert_eq!(v.state, SessionState::Archived);
    assert_eq!(v.merkle_root.as_ref().map(String::len), Some(64));
    assert_eq!(w.engine.hypervisor_log().len(), 1);
    // A second tick finds nothing to do.
    assert_eq!(w.tick().sessions, 0);
    w.assert_replays();
}

#[test]
fn tick_terminates_a_handshaking_session_past_its_max_duration() {
    let mut w = World::new();
    let alice = did("alice");
    let cfg = SessionConfig {
        max_duration_seconds: 10,
        ..open_config()
    };
    let sid = w.session_with(&alice, cfg, IsolationLevel::ReadCommitted);
    w.join(&sid, &alice, 0.9);
    w.advance(11);
    assert_eq!(w.tick().sessions, 1);
    assert_eq!(
        w.engine.session_view(&sid).unwrap().state,
        SessionState::Archived
    );
    w.assert_replays();
}

#[test]
fn tick_expires_quarantines_bonds_and_locks() {
    let mut w = World::new();
    let (alice, bob) = (did("alice"), did("bob"));
    let sid = w.active_session(&alice, &[(&alice, 0.9), (&bob, 0.5)]);
    w.ok(
        &admin(),
        Command::Quarantine {
            session_id: sid.clone(),
            agent: alice.clone(),
            reason: QuarantineReason::Manual,
            details: "cool down".into(),
            duration_seconds: Some(30),
        },
    );
    w.ok(
        &admin(),
        Command::ReleaseQuarantine {
            session_id: sid.clone(),
            agent: alice.clone(),
        },
    );
    w.ok(
        &agent(&alice),
        Command::Vouch {
            session_id: sid.clone(),
            voucher: alice.clone(),
            vouchee: bob.clone(),
            bond_pct: Some(s(0.5)),
            expiry: Some(Timestamp::from_millis(w.now.as_millis() + 40_000)),
        },
    );
    assert_eq!(w.ring(&sid, &bob), Ring::Standard);
    w.act(
        &sid,
        &bob,
        crate::engine::ActionRequest::LockAcquire {
            path: "a".into(),
            intent: LockIntent::Write,
            ttl_seconds: Some(20),
            wait: false,
        },
    )
    .unwrap();
    w.ok(
        &admin(),
        Command::Quarantine {
            session_id: sid.clone(),
            agent: bob.clone(),
            reason: QuarantineReason::Manual,
            details: "cool down".into(),
            duration_seconds: Some(30),
        },
    );
    w.advance(21);
    let t = w.tick();
    assert_eq!((t.locks, t.quarantines, t.vouches), (1, 0, 0));
    w.advance(10);
    let t = w.tick();
    assert_eq!((t.locks, t.quarantines, t.vouches), (0, 1, 0));
    assert!(!w.participant(&sid, &bob).quarantined);
    w.advance(10);
    let t = w.tick();
    assert_eq!((t.locks, t.quarantines, t.vouches), (0, 0, 1));
    // The expired bond no longer lifts bob.
    assert_eq!(w.ring(&sid, &bob), Ring::Sandbox);
    assert!(!w.events_of(EventType::RingDemoted).is_empty());
    w.assert_replays();
}
