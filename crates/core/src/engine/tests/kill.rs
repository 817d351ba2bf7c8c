//! The kill switch: the agent is removed, its locks freed, its elevation revoked, and its
//! pending saga steps handed to a substitute or rolled back.

use super::fixtures::*;
use crate::action::Reversibility;
use crate::engine::{ActOutcome, Command, DenyCode, EngineError, Reply};
use crate::event::EventType;
use crate::id::SessionId;
use crate::locks::LockIntent;
use crate::ring::Ring;
use crate::saga::{SagaCommand, SagaInput, SagaState};
use crate::security::kill::{HandoffStatus, KillReason};

const DSL: &str = r#"
name: two-agents
session_id: SESSION
steps:
  - id: s1
    action_id: work
    agent: did:mesh:alice
    execute_api: work.run
    undo_api: work.undo
  - id: s2
    action_id: work
    agent: did:mesh:bob
    execute_api: work.run
    undo_api: work.undo
"#;

fn setup() -> (World, SessionId) {
    let mut w = World::new();
    let (alice, bob, carol) = (did("alice"), did("bob"), did("carol"));
    let sid = w.session(&alice);
    w.join_with(&sid, &alice, 0.9, vec![action("work", Reversibility::Full)]);
    w.join(&sid, &bob, 0.8);
    w.join(&sid, &carol, 0.8);
    w.activate(&sid);
    (w, sid)
}

fn kill(
    w: &mut World,
    sid: &SessionId,
    who: &crate::id::AgentDid,
) -> crate::security::kill::KillRecord {
    match w.ok(
        &admin(),
        Command::Kill {
            session_id: sid.clone(),
            agent: who.clone(),
            reason: KillReason::Manual,
            substitute: None,
        },
    ) {
        Reply::Killed(k) => k,
        other => panic!("{other:?}"),
    }
}

#[test]
fn kill_hands_a_pending_step_to_a_registered_substitute() {
    let (mut w, sid) = setup();
    let (alice, bob, carol) = (did("alice"), did("bob"), did("carol"));
    w.ok(
        &admin(),
        Command::RegisterSubstitute {
            session_id: sid.clone(),
            agent: carol.clone(),
        },
    );
    let def = crate::saga::parse_saga(&DSL.replace("SESSION", sid.as_str())).unwrap();
    let Reply::Saga(v) = w.ok(&admin(), Command::SubmitSaga { definition: def }) else {
        panic!()
    };
    let saga = v.saga_id;
    let k = kill(&mut w, &sid, &bob);
    assert_eq!(k.handoffs.len(), 1);
    assert_eq!(k.handoffs[0].status, HandoffStatus::HandedOff);
    assert_eq!(k.handoffs[0].to.as_ref(), Some(&carol));
    assert!(!w.events_of(EventType::SecuritySagaHandoff).is_empty());
    assert!(!w.events_of(EventType::SecurityAgentKilled).is_empty());
    // The killed agent cannot act.
    let r = w.read(&sid, &bob, "a.txt");
    assert_denied(
        &w,
        &sid,
        r,
        DenyCode::NotMember,
        "was killed in this session",
    );
    // When s1 commits, s2 runs for carol.
    w.ok(
        &system(),
        Command::SagaInput {
            saga_id: saga.clone(),
            input: SagaInput::StepSucceeded {
                step_id: stid("s1"),
                attempt: 1,
                output: serde_json::json!(1),
            },
        },
    );
    let calls: Vec<_> = w
        .work
        .iter()
        .filter_map(|(_, c)| match c {
            SagaCommand::ExecuteStep { step_id, agent, .. } => {
                Some((step_id.clone(), agent.clone()))
            }
            _ => None,
        })
        .collect();
    assert_eq!(calls, vec![(stid("s2"), carol)]);
    w.ok(
        &system(),
        Command::SagaInput {
            saga_id: saga.clone(),
            input: SagaInput::StepSucceeded {
                step_id: stid("s2"),
                attempt: 1,
                output: serde_json::json!(2),
            },
        },
    );
    assert_eq!(
        w.engine.saga_view(&saga).unwrap().state,
        SagaState::Completed
    );
    let _ = alice;
    w.assert_replays();
}

#[test]
fn kill_without_a_substitute_rolls_the_saga_back() {
    let (mut w, sid) = setup();
    let bob = did("bob");
    let def = crate::saga::parse_saga(&DSL.replace("SESSION", sid.as_str())).unwrap();
    let Reply::Saga(v) = w.ok(&admin(), Command::SubmitSaga { definition: def }) else {
        panic!()
    };
    let saga = v.saga_id;
    let k = kill(&mut w, &sid, &bob);
    assert_eq!(k.handoffs[0].status, HandoffStatus::Compensate);
    // s1 is still executing: the rollback waits for it, then undoes it.
    w.ok(
        &system(),
        Command::SagaInput {
            saga_id: saga.clone(),
            input: SagaInput::StepSucceeded {
                step_id: stid("s1"),
                attempt: 1,
                output: serde_json::json!(1),
            },
        },
    );
    assert!(w.work.iter().any(|(_, c)| matches!(c, SagaCommand::CompensateStep { step_id, .. } if *step_id == stid("s1"))), "{:?}", w.work);
    w.ok(
        &system(),
        Command::SagaInput {
            saga_id: saga.clone(),
            input: SagaInput::CompensationSucceeded {
                step_id: stid("s1"),
                attempt: 1,
            },
        },
    );
    assert_eq!(
        w.engine.saga_view(&saga).unwrap().state,
        SagaState::Compensated
    );
    w.assert_replays();
}

#[test]
fn kill_releases_locks_and_revokes_the_elevation() {
    let (mut w, sid) = setup();
    let (alice, bob) = (did("alice"), did("bob"));
    w.lock(&sid, &bob, "a.txt", LockIntent::Exclusive, false)
        .unwrap();
    let ActOutcome::LockQueued { ticket } = w
        .lock(&sid, &alice, "a.txt", LockIntent::Write, true)
        .unwrap()
    else {
        panic!()
    };
    let Reply::Elevation(e) = w.ok(
        &agent(&bob),
        Command::RequestElevation {
            session_id: sid.clone(),
            agent: bob.clone(),
            target: Ring::Privileged,
            ttl_seconds: None,
            reason: "x".into(),
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
    kill(&mut w, &sid, &bob);
    let slot = w.engine.books().slot(&sid).unwrap();
    assert!(slot.locks.locks_of(&bob).is_empty());
    assert!(matches!(
        slot.locks.ticket_status(&ticket),
        Some(crate::locks::TicketState::Granted(_))
    ));
    assert!(w.engine.books().elevations().open_for(&bob, &sid).is_none());
    assert!(!w.events_of(EventType::RingElevationRevoked).is_empty());
    assert!(w.engine.sessions_of(&bob).is_empty());
    // Alice may now write under her granted lock.
    w.write(&sid, &alice, "a.txt", "x").unwrap();
    // Killing again: bob is no longer a member.
    let r = w.apply(
        &admin(),
        Command::Kill {
            session_id: sid.clone(),
            agent: bob.clone(),
            reason: KillReason::Manual,
            substitute: None,
        },
    );
    assert!(matches!(r, Err(EngineError::Conflict(_))), "{r:?}");
    // An admin may readmit a killed agent.
    w.join(&sid, &bob, 0.8);
    w.read(&sid, &bob, "a.txt").unwrap();
    w.assert_replays();
}

#[test]
fn only_an_admin_kills() {
    let (mut w, sid) = setup();
    let (alice, bob) = (did("alice"), did("bob"));
    let r = w.apply(
        &agent(&alice),
        Command::Kill {
            session_id: sid.clone(),
            agent: bob.clone(),
            reason: KillReason::Manual,
            substitute: None,
        },
    );
    assert!(matches!(r, Err(EngineError::Forbidden(_))), "{r:?}");
    let r = w.apply(
        &admin(),
        Command::Kill {
            session_id: sid.clone(),
            agent: bob.clone(),
            reason: KillReason::Manual,
            substitute: Some(bob.clone()),
        },
    );
    assert!(matches!(r, Err(EngineError::Invalid(_))), "{r:?}");
    assert!(w.is_member(&sid, &bob));
}
