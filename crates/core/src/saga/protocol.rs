//! The vocabulary between the pure saga machine and the runtime that drives it: inputs the
//! runtime reports ([`SagaInput`]), commands the machine asks for ([`SagaCommand`]) and the
//! events it publishes ([`SagaEventKind`]). All are serialisable so the runtime can log inputs
//! and replay them after a crash to rebuild the same saga.

use serde::{Deserialize, Serialize};

use super::model::{FanOutPolicy, StepDefinition};
use super::retry::ErrorClass;
use super::state::{Phase, SagaState};
use crate::audit::detail::{Detail, Ser};
use crate::id::{AgentDid, RecordId, SagaId, StepId};
use crate::time::Timestamp;

/// Something that happened to a saga, reported by the runtime (or an operator).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "input", rename_all = "snake_case")]
pub enum SagaInput {
    /// Begin executing. `skip` lists steps whose goal a valid checkpoint already records
    /// (from [`super::CheckpointStore::replay_plan`]); they become `skipped`.
    Start {
        /// Steps not to execute again.
        skip: Vec<StepId>,
    },
    /// An execute attempt returned successfully.
    StepSucceeded {
        /// The step.
        step_id: StepId,
        /// The attempt number from [`SagaCommand::ExecuteStep`].
        attempt: u32,
        /// The executor's result.
        output: serde_json::Value,
    },
    /// An execute attempt failed.
    StepFailed {
        /// The step.
        step_id: StepId,
        /// The attempt number.
        attempt: u32,
        /// What went wrong.
        error: String,
        /// Whether it may be retried (see [`super::classify_http_status`]).
        class: ErrorClass,
    },
    /// An execute attempt passed its deadline without an answer.
    StepTimedOut {
        /// The step.
        step_id: StepId,
        /// The attempt number.
        attempt: u32,
    },
    /// A [`SagaCommand::ScheduleRetry`] timer elapsed.
    RetryTimerFired {
        /// The step.
        step_id: StepId,
        /// Whether the retry is of the execute or of the undo call.
        phase: Phase,
        /// The attempt number the timer was scheduled for.
        attempt: u32,
    },
    /// An undo attempt succeeded.
    CompensationSucceeded {
        /// The step.
        step_id: StepId,
        /// The attempt number from [`SagaCommand::CompensateStep`].
        attempt: u32,
    },
    /// An undo attempt failed.
    CompensationFailed {
        /// The step.
        step_id: StepId,
        /// The attempt number.
        attempt: u32,
        /// What went wrong.
        error: String,
        /// Whether it may be retried.
        class: ErrorClass,
    },
    /// An undo attempt passed its deadline without an answer.
    CompensationTimedOut {
        /// The step.
        step_id: StepId,
        /// The attempt number.
        attempt: u32,
    },
    /// The [`SagaCommand::ScheduleSagaTimeout`] timer elapsed.
    SagaTimedOut,
    /// An operator or agent asks to roll the saga back.
    CompensateRequested,
    /// The owner of a step-by-step saga declares that no more steps will come.
    CompleteRequested,
    /// Append a step (step-by-step sagas, or extending a running defined saga). Boxed to keep
    /// the other inputs small.
    StepAdded(Box<StepDefinition>),
    /// Hand a step to another agent (kill-switch hand-off); later attempts go to `to_agent`.
    StepReassigned {
        /// The step.
        step_id: StepId,
        /// The substitute agent.
        to_agent: AgentDid,
    },
    /// The runtime stored the checkpoint requested by [`SagaCommand::SaveCheckpoint`].
    StepCheckpointed {
        /// The step.
        step_id: StepId,
    },
}

/// Work the machine asks the runtime to do. The runtime performs them in order and reports
/// results as [`SagaInput`]s; the machine itself never waits, sleeps or calls out.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum SagaCommand {
    /// Call the step's execute api; report success, failure or a timeout at `deadline`.
    ExecuteStep {
        /// The step.
        step_id: StepId,
        /// 1-based attempt number to echo back.
        attempt: u32,
        /// Same for every attempt of this step, so the receiver deduplicates.
        idempotency_key: String,
        /// Agent the call is made for.
        agent: AgentDid,
        /// Where to call.
        execute_api: String,
        /// Request body.
        input: serde_json::Value,
        /// Report [`SagaInput::StepTimedOut`] if no answer by then.
        deadline: Timestamp,
    },
    /// Wake the machine with [`SagaInput::RetryTimerFired`] at `at`.
    ScheduleRetry {
        /// The step.
        step_id: StepId,
        /// Execute or undo retry.
        phase: Phase,
        /// The attempt that will run.
        attempt: u32,
        /// When.
        at: Timestamp,
    },
    /// Call the step's undo api; report success, failure or a timeout at `deadline`.
    CompensateStep {
        /// The step.
        step_id: StepId,
        /// 1-based undo attempt number to echo back.
        attempt: u32,
        /// Same for every undo attempt of this step.
        idempotency_key: String,
        /// Agent the undo is made for.
        agent: AgentDid,
        /// Where to call.
        undo_api: String,
        /// Report [`SagaInput::CompensationTimedOut`] if no answer by then.
        deadline: Timestamp,
    },
    /// Wake the machine with [`SagaInput::SagaTimedOut`] at `at`.
    ScheduleSagaTimeout {
        /// The saga deadline.
        at: Timestamp,
    },
    /// Store a checkpoint for the committed step, then report [`SagaInput::StepCheckpointed`].
    SaveCheckpoint {
        /// The step.
        step_id: StepId,
        /// Its goal.
        goal: String,
    },
    /// Some undo failed for good: run attribution and slashing for these steps and agents.
    Escalate {
        /// Steps whose effect remains.
        failed_compensations: Vec<StepId>,
        /// Their agents, deduplicated, in step order.
        agents: Vec<AgentDid>,
        /// Why the saga was rolled back.
        reason: String,
    },
    /// The saga reached a terminal state; the runtime may archive it.
    Finished {
        /// The terminal state.
        state: SagaState,
    },
    /// Publish an event.
    Emit(SagaEventKind),
}

/// Observable saga events (the reference's `saga.*` event types, plus the ones it lacked).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum SagaEventKind {
    /// Execution began.
    Started,
    /// A step was appended.
    StepAdded {
        /// The step.
        step_id: StepId,
    },
    /// An execute attempt was issued.
    StepStarted {
        /// The step.
        step_id: StepId,
        /// Attempt number.
        attempt: u32,
        /// The agent.
        agent: AgentDid,
    },
    /// A step committed.
    StepCommitted {
        /// The step.
        step_id: StepId,
        /// The successful attempt.
        attempt: u32,
    },
    /// An execute attempt failed (`will_retry` says whether another follows).
    StepFailed {
        /// The step.
        step_id: StepId,
        /// Attempt number.
        attempt: u32,
        /// The error.
        error: String,
        /// Its class.
        class: ErrorClass,
        /// Whether a retry is scheduled.
        will_retry: bool,
    },
    /// An execute attempt timed out; the effect may have happened.
    StepTimedOut {
        /// The step.
        step_id: StepId,
        /// Attempt number.
        attempt: u32,
        /// Whether a retry is scheduled.
        will_retry: bool,
    },
    /// A step was skipped because a valid checkpoint records its goal.
    StepSkipped {
        /// The step.
        step_id: StepId,
    },
    /// A step was handed to another agent.
    StepReassigned {
        /// The step.
        step_id: StepId,
        /// Previous agent.
        from: AgentDid,
        /// New agent.
        to: AgentDid,
    },
    /// A fan-out group issued all its branches.
    FanoutStarted {
        /// The group.
        group_id: RecordId,
        /// Its policy.
        policy: FanOutPolicy,
        /// Its branches.
        branches: Vec<StepId>,
    },
    /// Every branch settled and the policy was applied.
    FanoutResolved {
        /// The group.
        group_id: RecordId,
        /// Whether the policy was met.
        satisfied: bool,
        /// Committed (or skipped) branches.
        succeeded: Vec<StepId>,
        /// Failed or timed-out branches.
        failed: Vec<StepId>,
    },
    /// The saga deadline passed.
    TimedOut,
    /// Rollback began; `steps` will be undone in this order.
    Compensating {
        /// Why.
        reason: String,
        /// Undo order (newest effect first).
        steps: Vec<StepId>,
    },
    /// An undo attempt was issued.
    CompensationStarted {
        /// The step.
        step_id: StepId,
        /// Attempt number.
        attempt: u32,
    },
    /// A step was undone.
    StepCompensated {
        /// The step.
        step_id: StepId,
    },
    /// An undo attempt failed or timed out (`will_retry` says whether another follows).
    CompensationFailed {
        /// The step.
        step_id: StepId,
        /// Attempt number (0 when there was no undo api to call).
        attempt: u32,
        /// The error.
        error: String,
        /// Whether a retry is scheduled.
        will_retry: bool,
    },
    /// A checkpoint was stored for a committed step.
    CheckpointSaved {
        /// The step.
        step_id: StepId,
        /// Its goal.
        goal: String,
    },
    /// Every step committed.
    Completed,
    /// Every undo succeeded.
    Compensated,
    /// A step failed and nothing needed undoing.
    Failed {
        /// Why.
        reason: String,
    },
    /// Some undo failed; liability takes over.
    Escalated {
        /// Steps whose effect remains.
        failed_compensations: Vec<StepId>,
    },
}

impl SagaEventKind {
    /// The event's payload: its serde form plus `saga_id`. The kinds every saga emits are
    /// written directly (a test checks them against the serde form); the rest go through it.
    pub fn payload(&self, saga_id: &SagaId) -> Detail {
        use SagaEventKind as K;
        match self {
            K::StepAdded { step_id } => {
                crate::detail! { "event": "step_added", "saga_id": saga_id, "step_id": step_id }
            }
            K::StepSkipped { step_id } => {
                crate::detail! { "event": "step_skipped", "saga_id": saga_id, "step_id": step_id }
            }
            K::StepCompensated { step_id } => crate::detail! {
                "event": "step_compensated", "saga_id": saga_id, "step_id": step_id,
            },
            K::StepStarted {
                step_id,
                attempt,
                agent,
            } => crate::detail! {
                "agent": agent, "attempt": attempt, "event": "step_started",
                "saga_id": saga_id, "step_id": step_id,
            },
            K::StepCommitted { step_id, attempt } => crate::detail! {
                "attempt": attempt, "event": "step_committed", "saga_id": saga_id,
                "step_id": step_id,
            },
            K::CompensationStarted { step_id, attempt } => crate::detail! {
                "attempt": attempt, "event": "compensation_started", "saga_id": saga_id,
                "step_id": step_id,
            },
            K::Started => crate::detail! { "event": "started", "saga_id": saga_id },
            K::Completed => crate::detail! { "event": "completed", "saga_id": saga_id },
            K::Compensated => crate::detail! { "event": "compensated", "saga_id": saga_id },
            K::TimedOut => crate::detail! { "event": "timed_out", "saga_id": saga_id },
            other => Ser(other).to_detail().with_field("saga_id", saga_id),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn direct_payloads_equal_the_serde_form_with_the_saga_id() {
        let saga = SagaId::new("saga:s").unwrap();
        let step = StepId::new("step:1").unwrap();
        let agent = AgentDid::new("did:mesh:a").unwrap();
        let kinds = [
            SagaEventKind::Started,
            SagaEventKind::StepAdded {
                step_id: step.clone(),
            },
            SagaEventKind::StepSkipped {
                step_id: step.clone(),
            },
            SagaEventKind::StepCompensated {
                step_id: step.clone(),
            },
            SagaEventKind::StepStarted {
                step_id: step.clone(),
                attempt: 2,
                agent,
            },
            SagaEventKind::StepCommitted {
                step_id: step.clone(),
                attempt: 3,
            },
            SagaEventKind::CompensationStarted {
                step_id: step,
                attempt: 1,
            },
            SagaEventKind::Completed,
            SagaEventKind::Compensated,
            SagaEventKind::TimedOut,
            SagaEventKind::Failed { reason: "x".into() },
        ];
        for k in kinds {
            let mut want = serde_json::to_value(&k).unwrap();
            want["saga_id"] = serde_json::json!("saga:s");
            assert_eq!(k.payload(&saga), Detail::from_value(&want), "{k:?}");
        }
    }
}
