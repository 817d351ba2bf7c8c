//! Crash recovery relies on this: applying the logged `(actor, command, now, seed)` list to a
//! fresh engine rebuilds exactly the same state, and the state survives a JSON round trip.

use super::fixtures::*;
use crate::action::Reversibility;
use crate::engine::{ActOutcome, ActionRequest, Command, Engine, LoggedCommand, Reply};
use crate::id::SagaId;
use crate::liability::QuarantineReason;
use crate::locks::LockIntent;
use crate::ring::Ring;
use crate::saga::{ErrorClass, SagaInput};
use crate::security::kill::KillReason;
use crate::session::SessionConfig;
use crate::vclock::IsolationLevel;

/// A scenario touching every kind of command, successes and refusals alike.
fn scenario() -> World {
    let mut w = World::new();
    let (alice, bob, carol, dave, sam) = (
        did("alice"),
        did("bob"),
        did("carol"),
        did("dave"),
        did("sam"),
    );
    w.ok(
        &admin(),
        Command::SetTrust {
            agent: dave.clone(),
            sigma_raw: s(0.97),
        },
    );
    let sid = w.session(&alice);
    w.join_with(
        &sid,
        &alice,
        0.9,
        vec![
            action("reserve", Reversibility::Full),
            action("wire", Reversibility::None),
            read_action("look"),
        ],
    );
    w.join(&sid, &bob, 0.7);
    w.join(&sid, &carol, 0.8);
    w.join(&sid, &dave, 0.99);
    w.join(&sid, &sam, 0.3);
    w.activate(&sid);
    w.advance(1);
    // VFS, clocks, locks, ACLs, snapshots.
    w.write(&sid, &alice, "docs/a.txt", "v1").unwrap();
    let _ = w.write(&sid, &bob, "docs/a.txt", "stale");
    w.read(&sid, &bob, "docs/a.txt").unwrap();
    w.write(&sid, &bob, "docs/a.txt", "v2").unwrap();
    let _ = w.write(&sid, &sam, "docs/b.txt", "denied");
    w.ok(
        &agent(&alice),
        Command::SetAcl {
            session_id: sid.clone(),
            path: "private".into(),
            allowed: Some(dids(&[&alice])),
        },
    );
    w.write(&sid, &alice, "private/p.txt", "secret").unwrap();
    let _ = w.read(&sid, &bob, "private/p.txt");
    let _ = w.apply(
        &agent(&bob),
        Command::SetAcl {
            session_id: sid.clone(),
            path: "private".into(),
            allowed: None,
        },
    );
    w.act(
        &sid,
        &alice,
        ActionRequest::VfsSnapshot { snapshot_id: None },
    )
    .unwrap();
    let ActOutcome::Locked { lock } = w
        .lock(&sid, &carol, "docs", LockIntent::Exclusive, false)
        .unwrap()
    else {
        panic!()
    };
    let _ = w.write(&sid, &alice, "docs/a.txt", "blocked");
    let _ = w.lock(&sid, &bob, "docs/a.txt", LockIntent::Write, true);
    w.act(
        &sid,
        &carol,
        ActionRequest::LockRelease {
            lock_id: lock.lock_id,
        },
    )
    .unwrap();
    let _ = w.write(&sid, &alice, "../escape", "bad");
    w.advance(1);
    // Rings: consensus, elevation, tools.
    let _ = w.tool(&sid, &alice, "wire");
    w.ok(
        &admin(),
        Command::ApproveConsensus {
            session_id: sid.clone(),
            agent: dave.clone(),
        },
    );
    let Reply::Elevation(e) = w.ok(
        &agent(&carol),
        Command::RequestElevation {
            session_id: sid.clone(),
            agent: carol.clone(),
            target: Ring::Privileged,
            ttl_seconds: Some(30),
            reason: "r".into(),
        },
    ) else {
        panic!()
    };
    w.ok(
        &agent(&dave),
        Command::ApproveElevation {
            elevation_id: e.elevation_id,
        },
    );
    w.tool(&sid, &alice, "reserve").unwrap();
    w.tool(&sid, &sam, "look").unwrap();
    w.ok(
        &agent(&alice),
        Command::RegisterChild {
            session_id: sid.clone(),
            parent: alice.clone(),
            child: did("kid"),
        },
    );
    // Liability.
    w.ok(
        &agent(&alice),
        Command::Vouch {
            session_id: sid.clone(),
            voucher: alice.clone(),
            vouchee: bob.clone(),
            bond_pct: None,
            expiry: None,
        },
    );
    let _ = w.apply(
        &agent(&bob),
        Command::Vouch {
            session_id: sid.clone(),
            voucher: bob.clone(),
            vouchee: alice.clone(),
            bond_pct: None,
            expiry: None,
        },
    );
    w.ok(
        &admin(),
        Command::Quarantine {
            session_id: sid.clone(),
            agent: carol.clone(),
            reason: QuarantineReason::Manual,
            details: "d".into(),
            duration_seconds: Some(5),
        },
    );
    let _ = w.write(&sid, &carol, "c.txt", "quarantined");
    // Breaker: sam hammers ring-2 actions.
    for i in 0..6 {
        let _ = w.write(&sid, &sam, &format!("x{i}"), "x");
    }
    w.ok(
        &admin(),
        Command::ResetBreaker {
            session_id: sid.clone(),
            agent: sam.clone(),
        },
    );
    // Rate limit.
    for _ in 0..12 {
        let _ = w.read(&sid, &sam, "docs/a.txt");
    }
    // Sagas: step by step with a failed undo (escalation), and a DSL saga.
    let Reply::Saga(v) = w.ok(
        &admin(),
        Command::CreateSaga {
            session_id: sid.clone(),
        },
    ) else {
        panic!()
    };
    let saga: SagaId = v.saga_id;
    w.ok(
        &agent(&alice),
        Command::AddStep {
            saga_id: saga.clone(),
            step: step("s1", "reserve", &alice),
        },
    );
    w.ok(
        &admin(),
        Command::ExecuteStep {
            saga_id: saga.clone(),
            step_id: stid("s1"),
        },
    );
    w.ok(
        &system(),
        Command::SagaInput {
            saga_id: saga.clone(),
            input: SagaInput::StepSucceeded {
                step_id: stid("s1"),
                attempt: 1,
                output: serde_json::json!({}),
            },
        },
    );
    w.ok(
        &agent(&bob),
        Command::AddStep {
            saga_id: saga.clone(),
            step: step("s2", "reserve", &bob),
        },
    );
    w.ok(
        &admin(),
        Command::ExecuteStep {
            saga_id: saga.clone(),
            step_id: stid("s2"),
        },
    );
    w.ok(
        &system(),
        Command::SagaInput {
            saga_id: saga.clone(),
            input: SagaInput::StepFailed {
                step_id: stid("s2"),
                attempt: 1,
                error: "e".into(),
                class: ErrorClass::Final,
            },
        },
    );
    w.ok(
        &system(),
        Command::SagaInput {
            saga_id: saga,
            input: SagaInput::CompensationFailed {
                step_id: stid("s1"),
                attempt: 1,
                error: "e".into(),
                class: ErrorClass::Final,
            },
        },
    );
    let dsl = format!(
        "name: d\nsession_id: {sid}\nsteps:\n  - id: a\n    action_id: reserve\n    agent: did:mesh:carol\n    execute_api: r.run\n    undo_api: r.undo\n  - id: b\n    action_id: reserve\n    agent: did:mesh:dave\n    execute_api: r.run\n"
    );
    let def = crate::saga::parse_saga(&dsl).unwrap();
    w.ok(&admin(), Command::SubmitSaga { definition: def });
    w.ok(
        &admin(),
        Command::RegisterSubstitute {
            session_id: sid.clone(),
            agent: alice.clone(),
        },
    );
    w.ok(
        &admin(),
        Command::Kill {
            session_id: sid.clone(),
            agent: dave.clone(),
            reason: KillReason::BehavioralDrift,
            substitute: None,
        },
    );
    // A second, short session that expires.
    let s2 = w.session_with(
        &alice,
        SessionConfig {
            max_duration_seconds: 5,
            ..open_config()
        },
        IsolationLevel::Serializable,
    );
    w.join(&s2, &alice, 0.9);
    w.activate(&s2);
    w.lock(&s2, &alice, "f", LockIntent::Write, false).unwrap();
    w.write(&s2, &alice, "f", "content").unwrap();
    w.advance(60);
    w.tick();
    w.ok(
        &agent(&bob),
        Command::Leave {
            session_id: sid.clone(),
            agent: bob.clone(),
        },
    );
    w.ok(
        &admin(),
        Command::Slash {
            session_id: sid.clone(),
            agent: carol.clone(),
            omega: s(0.5),
            reason: "late".into(),
        },
    );
    w.ok(
        &admin(),
        Command::Terminate {
            session_id: sid.clone(),
        },
    );
    let (size, _) = w.engine.hv_head();
    w.ok(
        &system(),
        Command::RecordCheckpoint {
            size,
            note: "signed note".into(),
        },
    );
    w
}

#[test]
fn replaying_the_log_on_a_fresh_engine_gives_identical_state() {
    let w = scenario();
    assert!(
        w.log.len() > 60,
        "the scenario logs many commands: {}",
        w.log.len()
    );
    let kinds: std::collections::BTreeSet<String> = w
        .log
        .iter()
        .map(|l| {
            serde_json::to_value(&l.command).unwrap()["command"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert!(kinds.len() >= 25, "{kinds:?}");
    w.assert_replays();
}

#[test]
fn replay_returns_the_original_outcomes() {
    // Re-run the scenario's log twice, through `Engine::replay`, comparing every outcome.
    let w = scenario();
    let mut a = Engine::new(w.config.clone()).unwrap();
    let mut b = Engine::new(w.config.clone()).unwrap();
    for l in &w.log {
        let (ra, ca) = a.replay(l);
        let (rb, cb) = b.replay(l);
        assert_eq!(format!("{ra:?}"), format!("{rb:?}"));
        assert_eq!(
            serde_json::to_value(&ca.events).unwrap(),
            serde_json::to_value(&cb.events).unwrap()
        );
        assert_eq!(format!("{:?}", ca.saga_work), format!("{:?}", cb.saga_work));
    }
}

#[test]
fn the_log_itself_round_trips_through_json() {
    let w = scenario();
    let text = serde_json::to_string(&w.log).unwrap();
    let back: Vec<LoggedCommand> = serde_json::from_str(&text).unwrap();
    assert_eq!(back, w.log);
}

#[test]
fn engine_state_round_trips_through_json() {
    let w = scenario();
    let a = w.json();
    let text = serde_json::to_string(&w.engine).unwrap();
    let e: Engine = serde_json::from_str(&text).unwrap();
    assert_same(&serde_json::to_value(&e).unwrap(), &a);
}

#[test]
fn a_deserialized_engine_continues_like_the_original() {
    // Snapshot half way, restore, and apply the rest: same state as applying everything.
    let w = scenario();
    let half = w.log.len() / 2;
    let mut first = Engine::new(w.config.clone()).unwrap();
    for l in &w.log[..half] {
        let _ = first.replay(l);
    }
    let mut restored: Engine =
        serde_json::from_value(serde_json::to_value(&first).unwrap()).unwrap();
    for l in &w.log[half..] {
        let _ = restored.replay(l);
    }
    assert_same(&serde_json::to_value(&restored).unwrap(), &w.json());
}

#[test]
fn floats_survive_a_json_round_trip_bit_for_bit() {
    // Without serde_json's `float_roundtrip` this value came back one ULP off, so a restored
    // snapshot differed from the live state (and exact threshold comparisons could flip).
    for x in [
        -0.012_500_000_000_000_013_f64,
        0.1 + 0.2,
        0.9 * 0.4 + 0.9 * 0.4,
        1e-300,
        0.7200000000000001,
    ] {
        let back: f64 = serde_json::from_str(&serde_json::to_string(&x).unwrap()).unwrap();
        assert_eq!(back.to_bits(), x.to_bits(), "{x}");
    }
}
