//! Scenario tests of the saga machine with explicit timestamps.

use std::time::Duration;

use serde_json::json;

use super::*;
use crate::id::ActionId;
use crate::saga::model::{FanOutDefinition, FanOutPolicy};
use crate::saga::retry::RetryPolicy;

fn sid(s: &str) -> StepId {
    StepId::new(s).unwrap()
}

fn agent(s: &str) -> AgentDid {
    AgentDid::new(format!("did:mesh:{s}")).unwrap()
}

fn t(secs: u64) -> Timestamp {
    Timestamp::from_secs(1_000 + secs)
}

fn step(id: &str) -> StepDefinition {
    StepDefinition::new(
        sid(id),
        ActionId::new("act").unwrap(),
        agent(id),
        format!("https://svc.example/do/{id}"),
    )
    .with_undo(format!("https://svc.example/undo/{id}"))
}

fn retrying(id: &str, attempts: u32) -> StepDefinition {
    step(id).with_retry(
        RetryPolicy::new(
            attempts,
            Duration::from_secs(1),
            2.0,
            Duration::from_secs(60),
            0.0,
        )
        .unwrap(),
    )
}

fn def(steps: Vec<StepDefinition>) -> SagaDefinition {
    let mut d = SagaDefinition::new("test", SessionId::new("session:1").unwrap());
    d.steps = steps;
    d
}

fn saga_of(d: SagaDefinition) -> Saga {
    Saga::new(SagaId::new("saga:t").unwrap(), d, SagaMode::Defined, t(0)).unwrap()
}

fn saga(steps: Vec<StepDefinition>) -> Saga {
    saga_of(def(steps))
}

fn group(id: &str, policy: FanOutPolicy, branches: &[&str]) -> FanOutDefinition {
    FanOutDefinition {
        group_id: RecordId::new(id).unwrap(),
        policy,
        branches: branches.iter().map(|b| sid(b)).collect(),
    }
}

fn start() -> SagaInput {
    SagaInput::Start { skip: vec![] }
}

fn ok(id: &str, attempt: u32) -> SagaInput {
    SagaInput::StepSucceeded {
        step_id: sid(id),
        attempt,
        output: json!({ "done": id }),
    }
}

fn fail(id: &str, attempt: u32, class: ErrorClass) -> SagaInput {
    SagaInput::StepFailed {
        step_id: sid(id),
        attempt,
        error: format!("{id} broke"),
        class,
    }
}

fn timeout(id: &str, attempt: u32) -> SagaInput {
    SagaInput::StepTimedOut {
        step_id: sid(id),
        attempt,
    }
}

fn undone(id: &str, attempt: u32) -> SagaInput {
    SagaInput::CompensationSucceeded {
        step_id: sid(id),
        attempt,
    }
}

fn undo_failed(id: &str, attempt: u32, class: ErrorClass) -> SagaInput {
    SagaInput::CompensationFailed {
        step_id: sid(id),
        attempt,
        error: "undo broke".into(),
        class,
    }
}

fn executes(cmds: &[SagaCommand]) -> Vec<(String, u32)> {
    cmds.iter()
        .filter_map(|c| match c {
            SagaCommand::ExecuteStep {
                step_id, attempt, ..
            } => Some((step_id.to_string(), *attempt)),
            _ => None,
        })
        .collect()
}

fn compensates(cmds: &[SagaCommand]) -> Vec<(String, u32)> {
    cmds.iter()
        .filter_map(|c| match c {
            SagaCommand::CompensateStep {
                step_id, attempt, ..
            } => Some((step_id.to_string(), *attempt)),
            _ => None,
        })
        .collect()
}

fn finished(cmds: &[SagaCommand]) -> Option<SagaState> {
    cmds.iter().find_map(|c| match c {
        SagaCommand::Finished { state } => Some(*state),
        _ => None,
    })
}

fn retries(cmds: &[SagaCommand]) -> Vec<(String, Phase, u32, Timestamp)> {
    cmds.iter()
        .filter_map(|c| match c {
            SagaCommand::ScheduleRetry {
                step_id,
                phase,
                attempt,
                at,
            } => Some((step_id.to_string(), *phase, *attempt, *at)),
            _ => None,
        })
        .collect()
}

fn keys(cmds: &[SagaCommand]) -> Vec<String> {
    cmds.iter()
        .filter_map(|c| match c {
            SagaCommand::ExecuteStep {
                idempotency_key, ..
            }
            | SagaCommand::CompensateStep {
                idempotency_key, ..
            } => Some(idempotency_key.clone()),
            _ => None,
        })
        .collect()
}

fn s(id: &str) -> (String, u32) {
    (id.to_string(), 1)
}

fn state_of(saga: &Saga, id: &str) -> StepState {
    saga.step(&sid(id)).unwrap().state()
}

#[test]
fn success_path_runs_in_order_and_completes() {
    let mut g = saga(vec![step("s1"), step("s2"), step("s3")]);
    let c = g.handle(start(), t(0)).unwrap();
    assert_eq!(c.first(), Some(&SagaCommand::Emit(SagaEventKind::Started)));
    assert_eq!(executes(&c), vec![s("s1")]);
    let SagaCommand::ExecuteStep {
        idempotency_key,
        agent: a,
        execute_api,
        deadline,
        ..
    } = c
        .iter()
        .find(|c| matches!(c, SagaCommand::ExecuteStep { .. }))
        .unwrap()
    else {
        unreachable!()
    };
    assert_eq!(idempotency_key, "saga:t/s1/execute");
    assert_eq!(a, &agent("s1"));
    assert_eq!(execute_api, "https://svc.example/do/s1");
    assert_eq!(*deadline, t(300));

    assert_eq!(
        executes(&g.handle(ok("s1", 1), t(1)).unwrap()),
        vec![s("s2")]
    );
    assert_eq!(
        executes(&g.handle(ok("s2", 1), t(2)).unwrap()),
        vec![s("s3")]
    );
    let c = g.handle(ok("s3", 1), t(3)).unwrap();
    assert_eq!(
        c,
        vec![
            SagaCommand::Emit(SagaEventKind::StepCommitted {
                step_id: sid("s3"),
                attempt: 1
            }),
            SagaCommand::Emit(SagaEventKind::Completed),
            SagaCommand::Finished {
                state: SagaState::Completed
            },
        ]
    );
    assert_eq!(g.state(), SagaState::Completed);
    assert_eq!(g.completed_at(), Some(t(3)));
    assert_eq!(
        g.step(&sid("s2")).unwrap().output(),
        Some(&json!({"done": "s2"}))
    );
    assert_eq!(g.step(&sid("s2")).unwrap().ended_at(), Some(t(2)));
}

#[test]
fn failure_at_step_three_compensates_two_then_one() {
    let mut g = saga(vec![step("s1"), step("s2"), step("s3"), step("s4")]);
    g.handle(start(), t(0)).unwrap();
    g.handle(ok("s1", 1), t(1)).unwrap();
    g.handle(ok("s2", 1), t(2)).unwrap();
    let c = g.handle(fail("s3", 1, ErrorClass::Final), t(3)).unwrap();
    assert_eq!(compensates(&c), vec![s("s2")]);
    assert!(c.contains(&SagaCommand::Emit(SagaEventKind::Compensating {
        reason: "step `s3` failed: s3 broke".into(),
        steps: vec![sid("s2"), sid("s1")],
    })));
    assert_eq!(keys(&c), vec!["saga:t/s2/undo"]);
    assert_eq!(g.state(), SagaState::Compensating);
    assert_eq!(state_of(&g, "s3"), StepState::Failed);

    let c = g.handle(undone("s2", 1), t(4)).unwrap();
    assert_eq!(compensates(&c), vec![s("s1")]);
    let c = g.handle(undone("s1", 1), t(5)).unwrap();
    assert_eq!(finished(&c), Some(SagaState::Compensated));
    assert_eq!(g.state(), SagaState::Compensated);
    assert_eq!(state_of(&g, "s1"), StepState::Compensated);
    assert_eq!(state_of(&g, "s4"), StepState::Pending, "s4 never started");
    assert_eq!(g.error(), Some("step `s3` failed: s3 broke"));
}

#[test]
fn failing_compensator_does_not_stop_the_others_and_escalates() {
    let mut g = saga(vec![step("s1"), step("s2"), step("s3"), step("s4")]);
    g.handle(start(), t(0)).unwrap();
    for (i, id) in ["s1", "s2", "s3"].iter().enumerate() {
        g.handle(ok(id, 1), t(i as u64 + 1)).unwrap();
    }
    let c = g.handle(fail("s4", 1, ErrorClass::Final), t(4)).unwrap();
    assert_eq!(compensates(&c), vec![s("s3")]);
    let c = g.handle(undone("s3", 1), t(5)).unwrap();
    assert_eq!(compensates(&c), vec![s("s2")]);
    let c = g
        .handle(undo_failed("s2", 1, ErrorClass::Final), t(6))
        .unwrap();
    assert_eq!(compensates(&c), vec![s("s1")], "s1 is still undone");
    assert_eq!(state_of(&g, "s2"), StepState::CompensationFailed);
    let c = g.handle(undone("s1", 1), t(7)).unwrap();
    assert!(c.contains(&SagaCommand::Escalate {
        failed_compensations: vec![sid("s2")],
        agents: vec![agent("s2")],
        reason: "step `s4` failed: s4 broke".into(),
    }));
    assert_eq!(finished(&c), Some(SagaState::Escalated));
    assert_eq!(g.state(), SagaState::Escalated);
    assert_eq!(state_of(&g, "s1"), StepState::Compensated);
    assert!(
        g.error()
            .unwrap()
            .ends_with("1 step(s) failed compensation: `s2`")
    );
}

#[test]
fn retries_back_off_exponentially_with_the_same_idempotency_key() {
    let mut g = saga(vec![retrying("s1", 4)]);
    let mut all = g.handle(start(), t(0)).unwrap();
    let c = g
        .handle(fail("s1", 1, ErrorClass::Retryable), t(10))
        .unwrap();
    assert_eq!(retries(&c), vec![("s1".into(), Phase::Execute, 2, t(11))]);
    assert_eq!(state_of(&g, "s1"), StepState::Executing);
    all.extend(
        g.handle(
            SagaInput::RetryTimerFired {
                step_id: sid("s1"),
                phase: Phase::Execute,
                attempt: 2,
            },
            t(11),
        )
        .unwrap(),
    );
    let c = g.handle(timeout("s1", 2), t(20)).unwrap();
    assert_eq!(retries(&c), vec![("s1".into(), Phase::Execute, 3, t(22))]);
    all.extend(
        g.handle(
            SagaInput::RetryTimerFired {
                step_id: sid("s1"),
                phase: Phase::Execute,
                attempt: 3,
            },
            t(22),
        )
        .unwrap(),
    );
    let c = g
        .handle(fail("s1", 3, ErrorClass::Retryable), t(30))
        .unwrap();
    assert_eq!(retries(&c), vec![("s1".into(), Phase::Execute, 4, t(34))]);
    all.extend(
        g.handle(
            SagaInput::RetryTimerFired {
                step_id: sid("s1"),
                phase: Phase::Execute,
                attempt: 4,
            },
            t(34),
        )
        .unwrap(),
    );
    assert_eq!(
        executes(&all),
        vec![
            ("s1".into(), 1),
            ("s1".into(), 2),
            ("s1".into(), 3),
            ("s1".into(), 4)
        ]
    );
    assert!(keys(&all).iter().all(|k| k == "saga:t/s1/execute"));
    // The fourth and last attempt fails: no retry; attempt 2 timed out, so the outcome is
    // unknown and the step is compensated.
    let c = g
        .handle(fail("s1", 4, ErrorClass::Retryable), t(40))
        .unwrap();
    assert!(retries(&c).is_empty());
    assert_eq!(compensates(&c), vec![s("s1")]);
    assert_eq!(g.step(&sid("s1")).unwrap().attempts().len(), 4);
}

#[test]
fn final_error_is_not_retried() {
    let mut g = saga(vec![retrying("s1", 5)]);
    g.handle(start(), t(0)).unwrap();
    let c = g
        .handle(fail("s1", 1, crate::saga::classify_http_status(404)), t(1))
        .unwrap();
    assert!(retries(&c).is_empty());
    assert_eq!(state_of(&g, "s1"), StepState::Failed);
    // Nothing committed, nothing to undo: the saga failed without compensation.
    assert_eq!(finished(&c), Some(SagaState::Failed));
    assert!(c.contains(&SagaCommand::Emit(SagaEventKind::Failed {
        reason: "step `s1` failed: s1 broke".into()
    })));
}

#[test]
fn timed_out_step_is_unknown_and_compensated_unlike_reference() {
    let mut g = saga(vec![step("s1"), step("s2")]);
    g.handle(start(), t(0)).unwrap();
    g.handle(ok("s1", 1), t(1)).unwrap();
    let c = g.handle(timeout("s2", 1), t(301)).unwrap();
    assert_eq!(state_of(&g, "s2"), StepState::Compensating);
    assert_eq!(
        compensates(&c),
        vec![s("s2")],
        "the unknown step is undone first"
    );
    assert!(
        g.step(&sid("s2"))
            .unwrap()
            .error()
            .unwrap()
            .contains("step timed out after 300 s (attempt 1/1)")
    );
    assert_eq!(
        compensates(&g.handle(undone("s2", 1), t(302)).unwrap()),
        vec![s("s1")]
    );
    let c = g.handle(undone("s1", 1), t(303)).unwrap();
    assert_eq!(finished(&c), Some(SagaState::Compensated));
}

#[test]
fn retry_delays_respect_the_saga_deadline() {
    let mut d = def(vec![retrying("s1", 5)]);
    d.timeout = Some(Duration::from_secs(10));
    let mut g = saga_of(d);
    let c = g.handle(start(), t(0)).unwrap();
    assert!(c.contains(&SagaCommand::ScheduleSagaTimeout { at: t(10) }));
    // A retry at t(9) + 1 s would start at the deadline: no retry.
    let c = g
        .handle(fail("s1", 1, ErrorClass::Retryable), t(9))
        .unwrap();
    assert!(retries(&c).is_empty());
    assert_eq!(finished(&c), Some(SagaState::Failed));
}

#[test]
fn saga_deadline_stops_new_steps_waits_for_in_flight_and_compensates() {
    let mut d = def(vec![step("s1"), step("s2"), step("s3")]);
    d.timeout = Some(Duration::from_secs(60));
    let mut g = saga_of(d);
    g.handle(start(), t(0)).unwrap();
    g.handle(ok("s1", 1), t(10)).unwrap();
    let early = g.handle(SagaInput::SagaTimedOut, t(59)).unwrap_err();
    assert_eq!(
        early.to_string(),
        format!(
            "saga timeout fired at {} before the deadline {}",
            t(59),
            t(60)
        )
    );
    let c = g.handle(SagaInput::SagaTimedOut, t(60)).unwrap();
    assert_eq!(c, vec![SagaCommand::Emit(SagaEventKind::TimedOut)]);
    assert_eq!(g.state(), SagaState::Running, "s2 is still in flight");
    // s2 answers late but successfully: it joins the compensation list; s3 never starts.
    let c = g.handle(ok("s2", 1), t(70)).unwrap();
    assert!(executes(&c).is_empty());
    assert_eq!(compensates(&c), vec![s("s2")]);
    assert_eq!(g.error(), Some("saga timed out after 60 s"));
    g.handle(undone("s2", 1), t(71)).unwrap();
    let c = g.handle(undone("s1", 1), t(72)).unwrap();
    assert_eq!(finished(&c), Some(SagaState::Compensated));
    assert_eq!(state_of(&g, "s3"), StepState::Pending);
}

#[test]
fn compensator_retries_then_succeeds_with_a_stable_undo_key() {
    let mut g = saga(vec![retrying("s1", 3), step("s2")]);
    g.handle(start(), t(0)).unwrap();
    g.handle(ok("s1", 1), t(1)).unwrap();
    g.handle(fail("s2", 1, ErrorClass::Final), t(2)).unwrap();
    let c = g
        .handle(
            SagaInput::CompensationTimedOut {
                step_id: sid("s1"),
                attempt: 1,
            },
            t(400),
        )
        .unwrap();
    assert_eq!(
        retries(&c),
        vec![("s1".into(), Phase::Compensate, 2, t(401))]
    );
    let c = g
        .handle(
            SagaInput::RetryTimerFired {
                step_id: sid("s1"),
                phase: Phase::Compensate,
                attempt: 2,
            },
            t(401),
        )
        .unwrap();
    assert_eq!(compensates(&c), vec![("s1".into(), 2)]);
    assert_eq!(keys(&c), vec!["saga:t/s1/undo"]);
    let c = g.handle(undone("s1", 2), t(402)).unwrap();
    assert_eq!(finished(&c), Some(SagaState::Compensated));
    assert_eq!(g.step(&sid("s1")).unwrap().compensation_attempts().len(), 2);
}

#[test]
fn compensator_exhausting_retries_escalates() {
    let mut g = saga(vec![retrying("s1", 2), step("s2")]);
    g.handle(start(), t(0)).unwrap();
    g.handle(ok("s1", 1), t(1)).unwrap();
    g.handle(fail("s2", 1, ErrorClass::Final), t(2)).unwrap();
    g.handle(undo_failed("s1", 1, ErrorClass::Retryable), t(3))
        .unwrap();
    g.handle(
        SagaInput::RetryTimerFired {
            step_id: sid("s1"),
            phase: Phase::Compensate,
            attempt: 2,
        },
        t(4),
    )
    .unwrap();
    let c = g
        .handle(undo_failed("s1", 2, ErrorClass::Retryable), t(5))
        .unwrap();
    assert!(retries(&c).is_empty());
    assert_eq!(finished(&c), Some(SagaState::Escalated));
}

#[test]
fn step_without_undo_api_cannot_be_compensated_and_escalates() {
    let mut bare = step("s1");
    bare.undo_api = None;
    let mut g = saga(vec![bare, step("s2")]);
    g.handle(start(), t(0)).unwrap();
    g.handle(ok("s1", 1), t(1)).unwrap();
    let c = g.handle(fail("s2", 1, ErrorClass::Final), t(2)).unwrap();
    assert!(compensates(&c).is_empty());
    assert_eq!(finished(&c), Some(SagaState::Escalated));
    assert_eq!(
        g.step(&sid("s1")).unwrap().error(),
        Some("step has no undo api; its effect remains")
    );
}

fn fan_saga(policy: FanOutPolicy, branches: &[&str]) -> Saga {
    let mut steps = vec![step("pre")];
    steps.extend(branches.iter().map(|b| step(b)));
    steps.push(step("post"));
    let mut d = def(steps);
    d.fan_outs = vec![group("g", policy, branches)];
    let mut g = saga_of(d);
    g.handle(start(), t(0)).unwrap();
    let c = g.handle(ok("pre", 1), t(1)).unwrap();
    let issued: Vec<(String, u32)> = branches.iter().map(|b| s(b)).collect();
    assert_eq!(executes(&c), issued, "all branches are issued at once");
    assert!(c.contains(&SagaCommand::Emit(SagaEventKind::FanoutStarted {
        group_id: RecordId::new("g").unwrap(),
        policy,
        branches: branches.iter().map(|b| sid(b)).collect(),
    })));
    g
}

#[test]
fn fan_out_all_passes_when_every_branch_commits() {
    let mut g = fan_saga(FanOutPolicy::AllMustSucceed, &["a", "b", "c"]);
    assert!(executes(&g.handle(ok("b", 1), t(2)).unwrap()).is_empty());
    assert!(executes(&g.handle(ok("a", 1), t(3)).unwrap()).is_empty());
    let c = g.handle(ok("c", 1), t(4)).unwrap();
    assert_eq!(executes(&c), vec![s("post")]);
    assert!(g.fan_out_results()[0].satisfied);
}

#[test]
fn fan_out_all_fails_and_compensates_the_winners() {
    let mut g = fan_saga(FanOutPolicy::AllMustSucceed, &["a", "b", "c"]);
    g.handle(ok("a", 1), t(2)).unwrap();
    g.handle(fail("b", 1, ErrorClass::Final), t(3)).unwrap();
    let c = g.handle(ok("c", 1), t(4)).unwrap();
    assert!(
        c.contains(&SagaCommand::Emit(SagaEventKind::FanoutResolved {
            group_id: RecordId::new("g").unwrap(),
            satisfied: false,
            succeeded: vec![sid("a"), sid("c")],
            failed: vec![sid("b")],
        }))
    );
    // Newest commit first: c (t4), a (t2), then pre.
    assert_eq!(g.compensation_order(), &[sid("c"), sid("a"), sid("pre")]);
    assert_eq!(compensates(&c), vec![s("c")]);
    assert_eq!(
        compensates(&g.handle(undone("c", 1), t(5)).unwrap()),
        vec![s("a")]
    );
    assert_eq!(
        compensates(&g.handle(undone("a", 1), t(6)).unwrap()),
        vec![s("pre")]
    );
    let c = g.handle(undone("pre", 1), t(7)).unwrap();
    assert_eq!(finished(&c), Some(SagaState::Compensated));
    assert_eq!(state_of(&g, "post"), StepState::Pending);
}

#[test]
fn fan_out_majority_is_strict() {
    let mut g = fan_saga(FanOutPolicy::MajorityMustSucceed, &["a", "b", "c", "d"]);
    g.handle(ok("a", 1), t(2)).unwrap();
    g.handle(ok("b", 1), t(2)).unwrap();
    g.handle(fail("c", 1, ErrorClass::Final), t(3)).unwrap();
    let c = g.handle(fail("d", 1, ErrorClass::Final), t(3)).unwrap();
    assert_eq!(
        g.state(),
        SagaState::Compensating,
        "2 of 4 is not a majority"
    );
    assert_eq!(compensates(&c), vec![s("b")]);

    let mut g = fan_saga(FanOutPolicy::MajorityMustSucceed, &["a", "b", "c", "d"]);
    g.handle(ok("a", 1), t(2)).unwrap();
    g.handle(ok("b", 1), t(2)).unwrap();
    g.handle(ok("c", 1), t(3)).unwrap();
    let c = g.handle(fail("d", 1, ErrorClass::Final), t(3)).unwrap();
    assert_eq!(executes(&c), vec![s("post")], "3 of 4 passes");
}

#[test]
fn fan_out_any_passes_with_one_and_fails_with_none() {
    let mut g = fan_saga(FanOutPolicy::AnyMustSucceed, &["a", "b"]);
    g.handle(fail("a", 1, ErrorClass::Final), t(2)).unwrap();
    let c = g.handle(ok("b", 1), t(3)).unwrap();
    assert_eq!(executes(&c), vec![s("post")]);
    g.handle(ok("post", 1), t(4)).unwrap();
    assert_eq!(g.state(), SagaState::Completed);

    let mut g = fan_saga(FanOutPolicy::AnyMustSucceed, &["a", "b"]);
    g.handle(fail("a", 1, ErrorClass::Final), t(2)).unwrap();
    let c = g.handle(fail("b", 1, ErrorClass::Final), t(3)).unwrap();
    assert_eq!(compensates(&c), vec![s("pre")]);
    assert!(
        g.error()
            .unwrap()
            .contains("missed its policy any_must_succeed: 0 of 2")
    );
}

#[test]
fn fan_out_timeout_counts_as_failure_unlike_reference() {
    let mut g = fan_saga(FanOutPolicy::AllMustSucceed, &["a", "b"]);
    g.handle(ok("a", 1), t(2)).unwrap();
    let c = g.handle(timeout("b", 1), t(301)).unwrap();
    assert!(
        c.contains(&SagaCommand::Emit(SagaEventKind::FanoutResolved {
            group_id: RecordId::new("g").unwrap(),
            satisfied: false,
            succeeded: vec![sid("a")],
            failed: vec![sid("b")],
        }))
    );
    // The timed-out branch may have acted: it is compensated too (started before a committed).
    assert_eq!(g.compensation_order(), &[sid("a"), sid("b"), sid("pre")]);
}

#[test]
fn checkpoint_replay_skips_steps() {
    let mut g = saga(vec![step("s1"), step("s2"), step("s3")]);
    let c = g
        .handle(
            SagaInput::Start {
                skip: vec![sid("s1"), sid("s3")],
            },
            t(0),
        )
        .unwrap();
    assert_eq!(executes(&c), vec![s("s2")]);
    assert!(c.contains(&SagaCommand::Emit(SagaEventKind::StepSkipped {
        step_id: sid("s1")
    })));
    assert_eq!(state_of(&g, "s1"), StepState::Skipped);
    let c = g.handle(ok("s2", 1), t(1)).unwrap();
    assert!(executes(&c).is_empty(), "s3 is skipped too");
    assert_eq!(finished(&c), Some(SagaState::Completed));

    let unknown = saga(vec![step("s1")])
        .handle(
            SagaInput::Start {
                skip: vec![sid("zz")],
            },
            t(0),
        )
        .unwrap_err();
    assert_eq!(unknown.to_string(), "step `zz` not found in saga `saga:t`");
}

#[test]
fn skipped_steps_are_compensated_when_the_replay_fails() {
    let mut g = saga(vec![step("s1"), step("s2")]);
    g.handle(
        SagaInput::Start {
            skip: vec![sid("s1")],
        },
        t(0),
    )
    .unwrap();
    let c = g.handle(fail("s2", 1, ErrorClass::Final), t(1)).unwrap();
    assert_eq!(compensates(&c), vec![s("s1")]);
}

#[test]
fn commit_with_goal_asks_for_a_checkpoint() {
    let mut g = saga(vec![step("s1").with_checkpoint("db migrated"), step("s2")]);
    g.handle(start(), t(0)).unwrap();
    let c = g.handle(ok("s1", 1), t(1)).unwrap();
    assert!(c.contains(&SagaCommand::SaveCheckpoint {
        step_id: sid("s1"),
        goal: "db migrated".into()
    }));
    let c = g
        .handle(SagaInput::StepCheckpointed { step_id: sid("s1") }, t(2))
        .unwrap();
    assert_eq!(
        c,
        vec![SagaCommand::Emit(SagaEventKind::CheckpointSaved {
            step_id: sid("s1"),
            goal: "db migrated".into()
        })]
    );
    let e = g
        .handle(SagaInput::StepCheckpointed { step_id: sid("s2") }, t(2))
        .unwrap_err();
    assert_eq!(e.to_string(), "step `s2` has no checkpoint goal");
}

#[test]
fn adding_a_step_to_a_finished_saga_is_refused() {
    let mut g = saga(vec![step("s1")]);
    g.handle(start(), t(0)).unwrap();
    g.handle(ok("s1", 1), t(1)).unwrap();
    let before = g.clone();
    let e = g
        .handle(SagaInput::StepAdded(Box::new(step("s2"))), t(2))
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "saga `saga:t` is completed; steps can no longer be added"
    );
    assert_eq!(g, before);
}

#[test]
fn step_by_step_saga_completes_only_when_asked_unlike_reference() {
    let d = def(vec![]);
    let mut g = Saga::new(
        SagaId::new("saga:t").unwrap(),
        d,
        SagaMode::StepByStep,
        t(0),
    )
    .unwrap();
    assert!(
        g.handle(start(), t(0))
            .unwrap()
            .iter()
            .all(|c| matches!(c, SagaCommand::Emit(_)))
    );
    let c = g
        .handle(SagaInput::StepAdded(Box::new(step("s1"))), t(1))
        .unwrap();
    assert_eq!(executes(&c), vec![s("s1")]);
    let c = g.handle(ok("s1", 1), t(2)).unwrap();
    assert_eq!(finished(&c), None, "waits for more steps");
    let c = g
        .handle(SagaInput::StepAdded(Box::new(step("s2"))), t(3))
        .unwrap();
    assert_eq!(executes(&c), vec![s("s2")]);
    assert!(
        g.handle(SagaInput::CompleteRequested, t(4))
            .unwrap()
            .is_empty(),
        "s2 still runs"
    );
    let e = g
        .handle(SagaInput::StepAdded(Box::new(step("s3"))), t(4))
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "saga `saga:t` is closing; steps can no longer be added"
    );
    let c = g.handle(ok("s2", 1), t(5)).unwrap();
    assert_eq!(finished(&c), Some(SagaState::Completed));
    let dup = Saga::new(
        SagaId::new("saga:u").unwrap(),
        def(vec![]),
        SagaMode::StepByStep,
        t(0),
    )
    .unwrap()
    .handle(SagaInput::StepAdded(Box::new(step("s1"))), t(0));
    assert!(
        dup.is_ok_and(|c| executes(&c).is_empty()),
        "steps may be queued before Start"
    );
}

#[test]
fn added_step_is_validated() {
    let d = def(vec![]);
    let mut g = Saga::new(
        SagaId::new("saga:t").unwrap(),
        d,
        SagaMode::StepByStep,
        t(0),
    )
    .unwrap();
    g.handle(SagaInput::StepAdded(Box::new(step("s1"))), t(0))
        .unwrap();
    let e = g
        .handle(SagaInput::StepAdded(Box::new(step("s1"))), t(0))
        .unwrap_err();
    assert_eq!(e.to_string(), "step `s1` already exists in saga `saga:t`");
    let mut bad = step("s2");
    bad.execute_api = "ftp://x".into();
    let e = g
        .handle(SagaInput::StepAdded(Box::new(bad)), t(0))
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid saga definition: steps[1].execute_api: `ftp://x` is not an http(s) url; other schemes are refused"
    );
}

#[test]
fn stale_and_duplicate_inputs_are_refused_without_changing_state() {
    let mut g = saga(vec![retrying("s1", 3), step("s2")]);
    g.handle(start(), t(0)).unwrap();
    let before = g.clone();
    let e = g.handle(ok("s1", 2), t(1)).unwrap_err();
    assert_eq!(
        e.to_string(),
        "stale execute input for step `s1`: attempt 2 is not the current attempt 1"
    );
    assert!(e.is_stale());
    let e = g.handle(ok("s2", 1), t(1)).unwrap_err();
    assert_eq!(
        e.to_string(),
        "step `s2` is pending; no execute attempt is in flight"
    );
    let e = g
        .handle(
            SagaInput::RetryTimerFired {
                step_id: sid("s1"),
                phase: Phase::Execute,
                attempt: 2,
            },
            t(1),
        )
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "step `s1` is already running execute attempt 1; it cannot run twice"
    );
    let e = g.handle(ok("nope", 1), t(1)).unwrap_err();
    assert!(!e.is_stale());
    assert_eq!(g, before);

    g.handle(fail("s1", 1, ErrorClass::Retryable), t(2))
        .unwrap();
    let e = g.handle(ok("s1", 1), t(3)).unwrap_err();
    assert_eq!(
        e.to_string(),
        "step `s1` is waiting to retry (execute attempt 2); no attempt is in flight"
    );
    g.handle(
        SagaInput::RetryTimerFired {
            step_id: sid("s1"),
            phase: Phase::Execute,
            attempt: 2,
        },
        t(3),
    )
    .unwrap();
    g.handle(ok("s1", 2), t(4)).unwrap();
    let e = g.handle(ok("s1", 2), t(5)).unwrap_err();
    assert_eq!(
        e.to_string(),
        "step `s1` was already committed; a second result for attempt 2 is ignored"
    );
    assert!(e.is_stale());
    let e = g.handle(start(), t(5)).unwrap_err();
    assert_eq!(e.to_string(), "saga `saga:t` has already started");
}

#[test]
fn inputs_after_the_end_are_stale() {
    let mut g = saga(vec![step("s1")]);
    g.handle(start(), t(0)).unwrap();
    g.handle(ok("s1", 1), t(1)).unwrap();
    let e = g.handle(SagaInput::CompensateRequested, t(2)).unwrap_err();
    assert_eq!(e.to_string(), "saga `saga:t` is completed; input ignored");
    assert!(e.is_stale());
}

#[test]
fn rollback_request_cancels_pending_retries() {
    let mut g = saga(vec![step("s1"), retrying("s2", 3)]);
    g.handle(start(), t(0)).unwrap();
    g.handle(ok("s1", 1), t(1)).unwrap();
    g.handle(fail("s2", 1, ErrorClass::Retryable), t(2))
        .unwrap();
    let c = g.handle(SagaInput::CompensateRequested, t(2)).unwrap();
    assert_eq!(state_of(&g, "s2"), StepState::Failed);
    assert_eq!(compensates(&c), vec![s("s1")]);
    let e = g
        .handle(
            SagaInput::RetryTimerFired {
                step_id: sid("s2"),
                phase: Phase::Execute,
                attempt: 2,
            },
            t(3),
        )
        .unwrap_err();
    assert!(e.is_stale(), "{e}");
    let e = g.handle(SagaInput::CompensateRequested, t(3)).unwrap_err();
    assert_eq!(
        e.to_string(),
        "saga `saga:t` is already rolling back: compensation requested"
    );
}

#[test]
fn rollback_waits_for_the_call_in_flight() {
    let mut g = saga(vec![step("s1"), step("s2")]);
    g.handle(start(), t(0)).unwrap();
    g.handle(ok("s1", 1), t(1)).unwrap();
    let c = g.handle(SagaInput::CompensateRequested, t(2)).unwrap();
    assert!(
        compensates(&c).is_empty(),
        "s2 is in flight; no undo may race it"
    );
    let e = g
        .handle(SagaInput::StepAdded(Box::new(step("s3"))), t(2))
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "saga `saga:t` is rolling back; steps can no longer be added"
    );
    let c = g.handle(timeout("s2", 1), t(302)).unwrap();
    assert_eq!(compensates(&c), vec![s("s2")]);
}

#[test]
fn explicit_rollback_of_an_untouched_saga_is_compensated() {
    let mut g = saga(vec![step("s1")]);
    let c = g.handle(SagaInput::CompensateRequested, t(0)).unwrap();
    assert_eq!(finished(&c), Some(SagaState::Compensated));
}

#[test]
fn reassigned_step_runs_its_next_attempt_for_the_substitute() {
    let mut g = saga(vec![retrying("s1", 2)]);
    g.handle(start(), t(0)).unwrap();
    g.handle(fail("s1", 1, ErrorClass::Retryable), t(1))
        .unwrap();
    let c = g
        .handle(
            SagaInput::StepReassigned {
                step_id: sid("s1"),
                to_agent: agent("sub"),
            },
            t(1),
        )
        .unwrap();
    assert_eq!(
        c,
        vec![SagaCommand::Emit(SagaEventKind::StepReassigned {
            step_id: sid("s1"),
            from: agent("s1"),
            to: agent("sub")
        })]
    );
    let c = g
        .handle(
            SagaInput::RetryTimerFired {
                step_id: sid("s1"),
                phase: Phase::Execute,
                attempt: 2,
            },
            t(2),
        )
        .unwrap();
    assert!(
        c.iter()
            .any(|c| matches!(c, SagaCommand::ExecuteStep { agent: a, .. } if a == &agent("sub")))
    );
    g.handle(fail("s1", 2, ErrorClass::Final), t(3)).unwrap();
    let e = g.handle(
        SagaInput::StepReassigned {
            step_id: sid("s1"),
            to_agent: agent("x"),
        },
        t(4),
    );
    assert!(e.is_err());
}

#[test]
fn reassigning_a_finished_step_is_refused() {
    let mut g = saga(vec![step("s1"), step("s2")]);
    g.handle(start(), t(0)).unwrap();
    g.handle(ok("s1", 1), t(1)).unwrap();
    g.handle(fail("s2", 1, ErrorClass::Final), t(2)).unwrap();
    let e = g
        .handle(
            SagaInput::StepReassigned {
                step_id: sid("s2"),
                to_agent: agent("x"),
            },
            t(3),
        )
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "step `s2` is failed; it can no longer be reassigned"
    );
}

#[test]
fn idempotency_keys_never_collide_across_sagas() {
    let a = idempotency_key(&SagaId::new("a/b").unwrap(), &sid("c"), Phase::Execute);
    let b = idempotency_key(&SagaId::new("a").unwrap(), &sid("b/c"), Phase::Execute);
    assert_ne!(a, b);
    assert_eq!(a, "a%2Fb/c/execute");
    let c = idempotency_key(
        &SagaId::new("%é/%/x").unwrap(),
        &sid("/s%"),
        Phase::Compensate,
    );
    assert_eq!(c, "%25é%2F%25%2Fx/%2Fs%25/undo");
}

#[test]
fn replaying_the_input_log_rebuilds_the_same_saga() {
    let log = vec![
        (start(), t(0)),
        (ok("s1", 1), t(1)),
        (fail("s2", 1, ErrorClass::Retryable), t(2)),
        (
            SagaInput::RetryTimerFired {
                step_id: sid("s2"),
                phase: Phase::Execute,
                attempt: 2,
            },
            t(3),
        ),
        (timeout("s2", 2), t(400)),
    ];
    let run = || {
        let mut g = saga(vec![
            step("s1"),
            step("s2").with_retry(RetryPolicy::with_max_attempts(3).unwrap()),
            step("s3"),
        ]);
        let mut cmds = Vec::new();
        for (i, at) in log.clone() {
            cmds.extend(g.handle(i, at).unwrap());
        }
        (g, cmds)
    };
    let (a, ca) = run();
    let (b, cb) = run();
    assert_eq!(a, b);
    assert_eq!(ca, cb);
    // Snapshot and restore mid-flight, then continue.
    let snap = serde_json::to_string(&a).unwrap();
    let mut restored: Saga = serde_json::from_str(&snap).unwrap();
    assert_eq!(restored, a);
    let mut live = a;
    let next = SagaInput::RetryTimerFired {
        step_id: sid("s2"),
        phase: Phase::Execute,
        attempt: 3,
    };
    assert_eq!(
        restored.handle(next.clone(), t(500)).unwrap(),
        live.handle(next, t(500)).unwrap()
    );
}

#[test]
fn commands_and_inputs_serialise() {
    let i = SagaInput::StepFailed {
        step_id: sid("s1"),
        attempt: 1,
        error: "x".into(),
        class: ErrorClass::Final,
    };
    let j = serde_json::to_value(&i).unwrap();
    assert_eq!(j["input"], "step_failed");
    assert_eq!(serde_json::from_value::<SagaInput>(j).unwrap(), i);
    let c = SagaCommand::Emit(SagaEventKind::Completed);
    let j = serde_json::to_value(&c).unwrap();
    assert_eq!(j, json!({"command": "emit", "event": "completed"}));
    assert_eq!(serde_json::from_value::<SagaCommand>(j).unwrap(), c);
}

#[test]
fn defined_saga_needs_steps() {
    let e = Saga::new(
        SagaId::new("saga:t").unwrap(),
        def(vec![]),
        SagaMode::Defined,
        t(0),
    )
    .unwrap_err();
    assert_eq!(e.to_string(), "a defined saga needs at least one step");
    let mut ids = IdGen::new([1; 16]);
    let g =
        Saga::from_definition(def(vec![step("s1")]), SagaMode::Defined, &mut ids, t(0)).unwrap();
    assert!(g.saga_id().as_str().starts_with("saga:"));
}

#[test]
fn rollback_cancels_a_waiting_branch_while_its_sibling_is_in_flight() {
    let mut steps = vec![retrying("a", 3), step("b")];
    steps.push(step("post"));
    let mut d = def(steps);
    d.fan_outs = vec![group("g", FanOutPolicy::AllMustSucceed, &["a", "b"])];
    let mut g = saga_of(d);
    g.handle(start(), t(0)).unwrap();
    g.handle(fail("a", 1, ErrorClass::Retryable), t(1)).unwrap();
    let c = g.handle(SagaInput::CompensateRequested, t(1)).unwrap();
    assert!(compensates(&c).is_empty(), "b is still in flight");
    assert_eq!(
        state_of(&g, "a"),
        StepState::Failed,
        "a's retry is cancelled now"
    );
    let e = g
        .handle(
            SagaInput::RetryTimerFired {
                step_id: sid("a"),
                phase: Phase::Execute,
                attempt: 2,
            },
            t(2),
        )
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "step `a` is failed; no execute retry is scheduled"
    );
    let c = g.handle(ok("b", 1), t(3)).unwrap();
    assert_eq!(compensates(&c), vec![s("b")]);
}

#[test]
fn checkpoint_confirmation_is_accepted_after_completion() {
    let mut g = saga(vec![step("s1").with_checkpoint("done")]);
    g.handle(start(), t(0)).unwrap();
    let c = g.handle(ok("s1", 1), t(1)).unwrap();
    assert_eq!(finished(&c), Some(SagaState::Completed));
    let c = g
        .handle(SagaInput::StepCheckpointed { step_id: sid("s1") }, t(2))
        .unwrap();
    assert_eq!(c.len(), 1);
    assert!(g.step(&sid("s1")).unwrap().is_checkpointed());
}

mod properties {
    use std::collections::VecDeque;

    use proptest::prelude::*;

    use super::*;

    /// Answers every command with outcomes drawn from `script` until the saga finishes.
    fn run(mut g: Saga, script: &[u8]) -> Saga {
        let mut queue: VecDeque<SagaCommand> = g.handle(start(), t(0)).unwrap().into();
        let mut now = t(0);
        let mut pick = script.iter().copied().cycle();
        let mut guard = 0;
        while let Some(cmd) = queue.pop_front() {
            guard += 1;
            assert!(guard < 10_000, "saga did not terminate");
            let input = match cmd {
                SagaCommand::ExecuteStep {
                    step_id, attempt, ..
                } => match pick.next().unwrap_or(0) % 4 {
                    0 => SagaInput::StepSucceeded {
                        step_id,
                        attempt,
                        output: json!(1),
                    },
                    1 => SagaInput::StepFailed {
                        step_id,
                        attempt,
                        error: "e".into(),
                        class: ErrorClass::Retryable,
                    },
                    2 => SagaInput::StepFailed {
                        step_id,
                        attempt,
                        error: "e".into(),
                        class: ErrorClass::Final,
                    },
                    _ => SagaInput::StepTimedOut { step_id, attempt },
                },
                SagaCommand::CompensateStep {
                    step_id, attempt, ..
                } => match pick.next().unwrap_or(0) % 3 {
                    0 => SagaInput::CompensationSucceeded { step_id, attempt },
                    1 => SagaInput::CompensationFailed {
                        step_id,
                        attempt,
                        error: "e".into(),
                        class: ErrorClass::Retryable,
                    },
                    _ => SagaInput::CompensationTimedOut { step_id, attempt },
                },
                SagaCommand::ScheduleRetry {
                    step_id,
                    phase,
                    attempt,
                    at,
                } => {
                    now = now.max(at);
                    SagaInput::RetryTimerFired {
                        step_id,
                        phase,
                        attempt,
                    }
                }
                _ => continue,
            };
            now = now.plus(Duration::from_secs(1));
            queue.extend(g.handle(input, now).unwrap());
        }
        g
    }

    proptest! {
        #[test]
        fn every_saga_terminates_consistently(
            n in 1usize..7,
            attempts in 1u32..4,
            fan in proptest::option::of((0usize..3, 0usize..3)),
            script in proptest::collection::vec(any::<u8>(), 1..64),
        ) {
            let steps: Vec<StepDefinition> =
                (0..n).map(|i| retrying(&format!("s{i}"), attempts)).collect();
            let mut d = def(steps);
            if let Some((from, policy)) = fan {
                let from = from.min(n.saturating_sub(2));
                if n >= 2 {
                    let ids: Vec<String> = (from..n).map(|i| format!("s{i}")).collect();
                    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
                    d.fan_outs = vec![group("g", FanOutPolicy::ALL[policy], &refs)];
                }
            }
            let g = run(saga_of(d), &script);
            prop_assert!(g.is_finished(), "state {}", g.state());
            for s in g.steps() {
                prop_assert!(s.attempts().len() <= attempts as usize);
                prop_assert!(s.compensation_attempts().len() <= attempts as usize);
                prop_assert!(s.retry_at().is_none());
            }
            let states: Vec<StepState> = g.steps().iter().map(|s| s.state()).collect();
            match g.state() {
                SagaState::Completed => prop_assert!(
                    g.fan_out_results().iter().all(|r| r.satisfied)
                        && states.iter().all(|s| matches!(s, StepState::Committed | StepState::Unknown | StepState::Failed))
                ),
                SagaState::Failed => prop_assert!(
                    states.iter().all(|s| !s.needs_compensation() && *s != StepState::Compensated)
                ),
                SagaState::Compensated => prop_assert!(
                    states.iter().all(|s| !s.needs_compensation() && *s != StepState::CompensationFailed)
                ),
                SagaState::Escalated => prop_assert!(
                    states.contains(&StepState::CompensationFailed)
                        && states.iter().all(|s| !s.needs_compensation())
                ),
                other => prop_assert!(false, "unexpected final state {other}"),
            }
        }

        #[test]
        fn arbitrary_inputs_never_panic_and_refusals_change_nothing(
            ops in proptest::collection::vec((0u8..8, 0usize..4, 0u32..4), 1..40),
        ) {
            let mut g = saga(vec![retrying("s0", 2), step("s1"), step("s2")]);
            for (i, (kind, st, attempt)) in ops.into_iter().enumerate() {
                let step_id = sid(&format!("s{st}"));
                let input = match kind {
                    0 => start(),
                    1 => SagaInput::StepSucceeded { step_id, attempt, output: json!(null) },
                    2 => SagaInput::StepFailed { step_id, attempt, error: "x".into(), class: ErrorClass::Retryable },
                    3 => SagaInput::StepTimedOut { step_id, attempt },
                    4 => SagaInput::RetryTimerFired { step_id, phase: Phase::Execute, attempt },
                    5 => SagaInput::CompensationSucceeded { step_id, attempt },
                    6 => SagaInput::CompensateRequested,
                    _ => SagaInput::CompensationFailed { step_id, attempt, error: "x".into(), class: ErrorClass::Final },
                };
                let before = g.clone();
                if g.handle(input, t(i as u64)).is_err() {
                    prop_assert_eq!(&g, &before);
                }
            }
        }
    }
}
