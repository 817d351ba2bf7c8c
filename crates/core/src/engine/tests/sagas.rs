//! Sagas in the engine: step-by-step building, governance of every step, compensation in
//! reverse order, escalation into attribution and slashing, and DSL sagas that run by themselves.

use super::fixtures::*;
use crate::action::Reversibility;
use crate::engine::{Command, EngineError, Reply};
use crate::event::EventType;
use crate::id::{AgentDid, SagaId, SessionId, StepId};
use crate::liability::LedgerEntryType;
use crate::ring::Ring;
use crate::saga::{ErrorClass, SagaCommand, SagaInput, SagaState, StepState};

fn create(w: &mut World, sid: &SessionId) -> SagaId {
    match w.ok(
        &admin(),
        Command::CreateSaga {
            session_id: sid.clone(),
        },
    ) {
        Reply::Saga(v) => v.saga_id,
        other => panic!("{other:?}"),
    }
}

fn add(w: &mut World, saga: &SagaId, id: &str, action_name: &str, a: &AgentDid) {
    w.ok(
        &agent(a),
        Command::AddStep {
            saga_id: saga.clone(),
            step: step(id, action_name, a),
        },
    );
}

fn execute(w: &mut World, saga: &SagaId, id: &str) -> crate::engine::Result<Reply> {
    w.apply(
        &admin(),
        Command::ExecuteStep {
            saga_id: saga.clone(),
            step_id: stid(id),
        },
    )
}

/// The `ExecuteStep` work items of the last command.
fn executes(w: &World) -> Vec<(StepId, u32, AgentDid)> {
    w.work
        .iter()
        .filter_map(|(_, c)| match c {
            SagaCommand::ExecuteStep {
                step_id,
                attempt,
                agent,
                ..
            } => Some((step_id.clone(), *attempt, agent.clone())),
            _ => None,
        })
        .collect()
}

/// The `CompensateStep` work items of the last command.
fn compensations(w: &World) -> Vec<(StepId, u32)> {
    w.work
        .iter()
        .filter_map(|(_, c)| match c {
            SagaCommand::CompensateStep {
                step_id, attempt, ..
            } => Some((step_id.clone(), *attempt)),
            _ => None,
        })
        .collect()
}

fn input(w: &mut World, saga: &SagaId, input: SagaInput) -> Reply {
    w.ok(
        &system(),
        Command::SagaInput {
            saga_id: saga.clone(),
            input,
        },
    )
}

fn succeed(w: &mut World, saga: &SagaId, id: &str) {
    input(
        w,
        saga,
        SagaInput::StepSucceeded {
            step_id: stid(id),
            attempt: 1,
            output: serde_json::json!({ "ok": id }),
        },
    );
}

fn state(w: &World, saga: &SagaId) -> SagaState {
    w.engine.saga_view(saga).unwrap().state
}

fn step_state(w: &World, saga: &SagaId, id: &str) -> StepState {
    w.engine
        .saga_view(saga)
        .unwrap()
        .steps
        .iter()
        .find(|s| s.step_id == stid(id))
        .unwrap()
        .state
}

fn team() -> (World, SessionId, AgentDid, AgentDid) {
    let mut w = World::new();
    let (alice, bob) = (did("alice"), did("bob"));
    let sid = w.session(&alice);
    w.join_with(
        &sid,
        &alice,
        0.9,
        vec![
            action("reserve", Reversibility::Full),
            action("deploy", Reversibility::Partial),
        ],
    );
    w.join(&sid, &bob, 0.8);
    w.activate(&sid);
    (w, sid, alice, bob)
}

#[test]
fn step_by_step_saga_runs_each_step_through_governance() {
    let (mut w, sid, alice, bob) = team();
    let saga = create(&mut w, &sid);
    add(&mut w, &saga, "s1", "reserve", &alice);
    assert_eq!(step_state(&w, &saga, "s1"), StepState::Pending);
    execute(&mut w, &saga, "s1").unwrap();
    assert_eq!(executes(&w), vec![(stid("s1"), 1, alice.clone())]);
    // The allowed step is audited as the agent's action.
    let last = w
        .audit(&sid)
        .into_iter()
        .rev()
        .find(|e| e.kind == "saga.step")
        .unwrap();
    assert_eq!(last.agent_did.as_ref(), Some(&alice));
    succeed(&mut w, &saga, "s1");
    assert_eq!(step_state(&w, &saga, "s1"), StepState::Committed);
    add(&mut w, &saga, "s2", "deploy", &bob);
    execute(&mut w, &saga, "s2").unwrap();
    assert_eq!(executes(&w), vec![(stid("s2"), 1, bob.clone())]);
    succeed(&mut w, &saga, "s2");
    // A step cannot be executed twice; an agent cannot add a step for another.
    let r = execute(&mut w, &saga, "s2");
    assert!(matches!(r, Err(EngineError::Conflict(_))), "{r:?}");
    let r = w.apply(
        &agent(&bob),
        Command::AddStep {
            saga_id: saga.clone(),
            step: step("s3", "reserve", &alice),
        },
    );
    assert!(matches!(r, Err(EngineError::Forbidden(_))), "{r:?}");
    w.ok(
        &admin(),
        Command::CompleteSaga {
            saga_id: saga.clone(),
        },
    );
    assert_eq!(state(&w, &saga), SagaState::Completed);
    assert!(w.work.iter().any(|(_, c)| matches!(
        c,
        SagaCommand::Finished {
            state: SagaState::Completed
        }
    )));
    w.assert_replays();
}

#[test]
fn a_step_of_a_sandboxed_agent_is_denied_and_fails_without_any_call() {
    let (mut w, sid, alice, _) = team();
    let sam = did("sam");
    w.join(&sid, &sam, 0.3);
    let saga = create(&mut w, &sid);
    add(&mut w, &saga, "s1", "reserve", &alice);
    execute(&mut w, &saga, "s1").unwrap();
    succeed(&mut w, &saga, "s1");
    add(&mut w, &saga, "s2", "deploy", &sam);
    execute(&mut w, &saga, "s2").unwrap();
    assert!(
        executes(&w).is_empty(),
        "no outside call for a denied step: {:?}",
        w.work
    );
    assert!(!w.events_of(EventType::GovernanceDenied).is_empty());
    let e = w.last_denied(&sid);
    assert_eq!(
        (e.kind.as_ref(), e.agent_did.as_ref()),
        ("saga.step", Some(&sam))
    );
    assert_eq!(e.detail.to_value()["code"], "sigma_insufficient");
    let v = w.engine.saga_view(&saga).unwrap();
    let s2 = v.steps.iter().find(|s| s.step_id == stid("s2")).unwrap();
    assert_eq!(s2.state, StepState::Failed);
    assert!(
        s2.error
            .as_deref()
            .unwrap_or("")
            .contains("denied by governance"),
        "{:?}",
        s2.error
    );
    // The committed step is compensated.
    assert_eq!(v.state, SagaState::Compensating);
    assert_eq!(compensations(&w), vec![(stid("s1"), 1)]);
    w.assert_replays();
}

#[test]
fn a_failing_step_compensates_committed_steps_in_reverse() {
    let (mut w, sid, alice, bob) = team();
    let saga = create(&mut w, &sid);
    for (id, a) in [("s1", &alice), ("s2", &bob)] {
        add(&mut w, &saga, id, "reserve", a);
        execute(&mut w, &saga, id).unwrap();
        succeed(&mut w, &saga, id);
    }
    add(&mut w, &saga, "s3", "deploy", &alice);
    execute(&mut w, &saga, "s3").unwrap();
    input(
        &mut w,
        &saga,
        SagaInput::StepFailed {
            step_id: stid("s3"),
            attempt: 1,
            error: "HTTP 400".into(),
            class: ErrorClass::Final,
        },
    );
    assert_eq!(
        compensations(&w),
        vec![(stid("s2"), 1)],
        "newest first, one at a time"
    );
    input(
        &mut w,
        &saga,
        SagaInput::CompensationSucceeded {
            step_id: stid("s2"),
            attempt: 1,
        },
    );
    assert_eq!(compensations(&w), vec![(stid("s1"), 1)]);
    input(
        &mut w,
        &saga,
        SagaInput::CompensationSucceeded {
            step_id: stid("s1"),
            attempt: 1,
        },
    );
    let v = w.engine.saga_view(&saga).unwrap();
    assert_eq!(v.state, SagaState::Compensated);
    assert_eq!(v.compensation_order, vec![stid("s2"), stid("s1")]);
    // Stale inputs are refused and change nothing.
    let r = w.apply(
        &system(),
        Command::SagaInput {
            saga_id: saga.clone(),
            input: SagaInput::CompensationSucceeded {
                step_id: stid("s1"),
                attempt: 1,
            },
        },
    );
    assert!(matches!(r, Err(EngineError::Conflict(_))), "{r:?}");
    // Only the system reports outcomes.
    let r = w.apply(
        &agent(&alice),
        Command::SagaInput {
            saga_id: saga.clone(),
            input: SagaInput::SagaTimedOut,
        },
    );
    assert!(matches!(r, Err(EngineError::Forbidden(_))), "{r:?}");
    w.assert_replays();
}

#[test]
fn a_failing_compensation_escalates_into_attribution_and_slashing() {
    let mut w = World::new();
    let (alice, bob, vic) = (did("alice"), did("bob"), did("vic"));
    let sid = w.session(&alice);
    w.join_with(
        &sid,
        &alice,
        0.9,
        vec![
            action("reserve", Reversibility::Full),
            action("deploy", Reversibility::Partial),
        ],
    );
    w.join(&sid, &bob, 0.8);
    w.join(&sid, &vic, 0.9);
    w.activate(&sid);
    // vic vouches for bob: bob's slash cascades to vic.
    w.ok(
        &agent(&vic),
        Command::Vouch {
            session_id: sid.clone(),
            voucher: vic.clone(),
            vouchee: bob.clone(),
            bond_pct: Some(s(0.5)),
            expiry: None,
        },
    );
    let saga = create(&mut w, &sid);
    add(&mut w, &saga, "s1", "reserve", &alice);
    execute(&mut w, &saga, "s1").unwrap();
    succeed(&mut w, &saga, "s1");
    add(&mut w, &saga, "s2", "deploy", &bob);
    execute(&mut w, &saga, "s2").unwrap();
    succeed(&mut w, &saga, "s2");
    // bob's next step fails: the saga rolls back.
    add(&mut w, &saga, "s3", "reserve", &bob);
    execute(&mut w, &saga, "s3").unwrap();
    input(
        &mut w,
        &saga,
        SagaInput::StepFailed {
            step_id: stid("s3"),
            attempt: 1,
            error: "boom".into(),
            class: ErrorClass::Final,
        },
    );
    assert_eq!(compensations(&w), vec![(stid("s2"), 1)]);
    // bob's undo fails for good.
    input(
        &mut w,
        &saga,
        SagaInput::CompensationFailed {
            step_id: stid("s2"),
            attempt: 1,
            error: "undo refused".into(),
            class: ErrorClass::Final,
        },
    );
    // The machine still undoes s1.
    assert_eq!(compensations(&w), vec![(stid("s1"), 1)]);
    input(
        &mut w,
        &saga,
        SagaInput::CompensationSucceeded {
            step_id: stid("s1"),
            attempt: 1,
        },
    );
    assert_eq!(state(&w, &saga), SagaState::Escalated);
    // Attribution: bob's failed step is the direct cause (and his undo failed too); the most
    // liable agent is slashed with its vouchers.
    assert_eq!(w.events_of(EventType::LiabilityFaultAttributed).len(), 1);
    assert!(!w.events_of(EventType::LiabilitySlashExecuted).is_empty());
    let attr = w.engine.books().attributions().last().cloned().unwrap();
    let top = attr.attributions.first().unwrap().agent.clone();
    assert_eq!(top, bob, "{attr:?}");
    assert_eq!(w.engine.trust_of(&bob).unwrap().get(), 0.0);
    assert!(
        w.engine.trust_of(&vic).unwrap().get() < 0.9,
        "the voucher was clipped"
    );
    assert_eq!(
        w.ring(&sid, &bob),
        Ring::Sandbox,
        "rings re-derived at once"
    );
    let l = w.engine.books().ledger();
    let kinds: Vec<LedgerEntryType> = l.history(&bob).iter().map(|e| e.entry_type).collect();
    assert!(
        kinds.contains(&LedgerEntryType::FaultAttributed),
        "{kinds:?}"
    );
    assert!(kinds.contains(&LedgerEntryType::SlashReceived), "{kinds:?}");
    let kinds: Vec<LedgerEntryType> = l.history(&vic).iter().map(|e| e.entry_type).collect();
    assert!(kinds.contains(&LedgerEntryType::SlashCascaded), "{kinds:?}");
    w.assert_replays();
}

const DSL: &str = r#"
name: deploy-model
session_id: SESSION
steps:
  - id: reserve
    action_id: reserve
    agent: did:mesh:alice
    execute_api: https://gpu.example/reserve
    undo_api: gpu.release
  - id: deploy
    action_id: deploy
    agent: did:mesh:alice
    execute_api: deploy.run
    undo_api: deploy.undo
"#;

#[test]
fn a_dsl_saga_runs_by_itself() {
    let (mut w, sid, alice, _) = team();
    let def = crate::saga::parse_saga(&DSL.replace("SESSION", sid.as_str())).unwrap();
    let Reply::Saga(v) = w.ok(&agent(&alice), Command::SubmitSaga { definition: def }) else {
        panic!()
    };
    let saga = v.saga_id;
    assert_eq!(executes(&w), vec![(stid("reserve"), 1, alice.clone())]);
    succeed(&mut w, &saga, "reserve");
    assert_eq!(executes(&w), vec![(stid("deploy"), 1, alice)]);
    succeed(&mut w, &saga, "deploy");
    assert_eq!(state(&w, &saga), SagaState::Completed);
    w.assert_replays();
}

#[test]
fn an_agent_may_only_submit_sagas_it_runs_itself() {
    let (mut w, sid, _, bob) = team();
    let def = crate::saga::parse_saga(&DSL.replace("SESSION", sid.as_str())).unwrap();
    let before = w.json();
    let r = w.apply(&agent(&bob), Command::SubmitSaga { definition: def });
    assert!(matches!(r, Err(EngineError::Forbidden(_))), "{r:?}");
    assert_same(&w.json(), &before);
}

#[test]
fn terminating_a_session_rolls_back_its_running_sagas() {
    let (mut w, sid, alice, _) = team();
    let saga = create(&mut w, &sid);
    add(&mut w, &saga, "s1", "reserve", &alice);
    execute(&mut w, &saga, "s1").unwrap();
    succeed(&mut w, &saga, "s1");
    w.ok(
        &admin(),
        Command::Terminate {
            session_id: sid.clone(),
        },
    );
    assert_eq!(state(&w, &saga), SagaState::Compensating);
    assert_eq!(compensations(&w), vec![(stid("s1"), 1)]);
    w.assert_replays();
}

#[test]
fn on_an_attribution_tie_the_direct_cause_is_slashed_not_the_first_did() {
    // alice's committed step cannot be undone after bob's step fails: alice and bob share the
    // liability equally. The slash must hit bob (the direct cause), not alice, who merely
    // sorts first by DID.
    let (mut w, sid, alice, bob) = team();
    let saga = create(&mut w, &sid);
    add(&mut w, &saga, "s1", "reserve", &alice);
    execute(&mut w, &saga, "s1").unwrap();
    succeed(&mut w, &saga, "s1");
    add(&mut w, &saga, "s2", "reserve", &bob);
    execute(&mut w, &saga, "s2").unwrap();
    input(
        &mut w,
        &saga,
        SagaInput::StepFailed {
            step_id: stid("s2"),
            attempt: 1,
            error: "boom".into(),
            class: ErrorClass::Final,
        },
    );
    input(
        &mut w,
        &saga,
        SagaInput::CompensationFailed {
            step_id: stid("s1"),
            attempt: 1,
            error: "gone".into(),
            class: ErrorClass::Final,
        },
    );
    assert_eq!(state(&w, &saga), SagaState::Escalated);
    let attr = w.engine.books().attributions().last().cloned().unwrap();
    let shares: Vec<f64> = attr.attributions.iter().map(|a| a.share_exact).collect();
    assert_eq!(shares[0], shares[1], "a tie: {attr:?}");
    assert_eq!(attr.root_cause_agent, bob);
    assert_eq!(w.engine.trust_of(&bob).unwrap().get(), 0.0);
    assert_eq!(
        w.engine.trust_of(&alice).unwrap().get(),
        0.9,
        "alice is not slashed"
    );
    w.assert_replays();
}

#[test]
fn a_finished_saga_submitted_again_reruns_from_its_checkpoints() {
    let (mut w, sid, alice, _) = team();
    let yaml = |s2_agent: &str| {
        format!(
            "name: rerun\nsession_id: {sid}\nsaga_id: saga:rerun-1\nsteps:\n  - id: s1\n    action_id: reserve\n    agent: did:mesh:alice\n    execute_api: r.run\n    checkpoint_goal: reserved\n  - id: s2\n    action_id: deploy\n    agent: {s2_agent}\n    execute_api: d.run\n"
        )
    };
    let def = crate::saga::parse_saga(&yaml("did:mesh:bob")).unwrap();
    let Reply::Saga(v) = w.ok(
        &admin(),
        Command::SubmitSaga {
            definition: def.clone(),
        },
    ) else {
        panic!()
    };
    let saga = v.saga_id;
    // A running saga cannot be submitted again.
    let r = w.apply(&admin(), Command::SubmitSaga { definition: def });
    assert!(matches!(r, Err(EngineError::Conflict(_))), "{r:?}");
    succeed(&mut w, &saga, "s1");
    input(
        &mut w,
        &saga,
        SagaInput::StepFailed {
            step_id: stid("s2"),
            attempt: 1,
            error: "down".into(),
            class: ErrorClass::Final,
        },
    );
    // s1 has no undo: the rollback escalates (slashing bob, whose step failed) and s1's
    // checkpoint stays valid. The re-run gives s2 to alice.
    assert_eq!(state(&w, &saga), SagaState::Escalated);
    let def = crate::saga::parse_saga(&yaml("did:mesh:alice")).unwrap();
    let Reply::Saga(v) = w.ok(&admin(), Command::SubmitSaga { definition: def }) else {
        panic!()
    };
    assert_eq!(v.saga_id, saga);
    assert_eq!(executes(&w), vec![(stid("s2"), 1, alice)], "s1 is skipped");
    assert_eq!(
        w.engine.saga_ids(Some(&sid), None),
        vec![saga.clone()],
        "one record per saga id"
    );
    succeed(&mut w, &saga, "s2");
    assert_eq!(state(&w, &saga), SagaState::Completed);
    w.assert_replays();
}

#[test]
fn at_the_saga_limit_the_oldest_finished_saga_is_evicted_everywhere_and_running_ones_never() {
    let mut w = World::with_config(crate::engine::EngineConfig {
        max_sagas: 2,
        ..crate::engine::EngineConfig::default()
    });
    let alice = did("alice");
    let sid = w.active_session(&alice, &[(&alice, 0.9)]);
    let first = create(&mut w, &sid);
    let second = create(&mut w, &sid);
    // Both running: nothing may be evicted, so a third is refused.
    let r = w.apply(
        &admin(),
        Command::CreateSaga {
            session_id: sid.clone(),
        },
    );
    assert!(
        matches!(&r, Err(EngineError::Conflict(m)) if m.contains("saga limit reached")),
        "{r:?}"
    );
    w.ok(
        &admin(),
        Command::CompleteSaga {
            saga_id: first.clone(),
        },
    );
    assert_eq!(state(&w, &first), SagaState::Completed);
    let third = create(&mut w, &sid);
    // The finished one is gone from the map, the session's list and the global order.
    assert!(w.engine.saga_view(&first).is_err());
    let slot = w.engine.sessions.get(&sid).unwrap();
    assert_eq!(
        slot.sagas.iter().cloned().collect::<Vec<_>>(),
        vec![second.clone(), third.clone()]
    );
    assert_eq!(
        w.engine.saga_order.iter().cloned().collect::<Vec<_>>(),
        vec![second, third]
    );
    w.assert_replays();
}
