//! Why the saga machine refused an input. A refused input leaves the saga unchanged, so the
//! runtime can log the error and carry on; [`SagaError::is_stale`] separates the harmless
//! late or duplicate reports from real misuse.

use super::model::{DefinitionError, MAX_STEPS};
use super::state::{SagaState, StepState, TransitionError};
use crate::id::{SagaId, StepId};
use crate::time::Timestamp;

/// Why [`super::Saga::handle`] (or [`super::Saga::new`]) refused.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SagaError {
    /// A forbidden state change (an internal inconsistency; the saga is left unchanged).
    #[error(transparent)]
    Transition(#[from] TransitionError),
    /// The definition (or an added step) is invalid.
    #[error(transparent)]
    Definition(#[from] DefinitionError),
    /// A defined (non step-by-step) saga without steps.
    #[error("a defined saga needs at least one step")]
    NoSteps,
    /// The step id is not part of the saga.
    #[error("step `{step_id}` not found in saga `{saga_id}`")]
    UnknownStep {
        /// The saga.
        saga_id: SagaId,
        /// The unknown step.
        step_id: StepId,
    },
    /// The saga already reached a terminal state.
    #[error("saga `{saga_id}` is {state}; {what}")]
    Finished {
        /// The saga.
        saga_id: SagaId,
        /// Its terminal state.
        state: SagaState,
        /// What was refused.
        what: &'static str,
    },
    /// Steps may no longer be added (finished, compensating, winding down or closing).
    #[error("saga `{saga_id}` is {why}; steps can no longer be added")]
    StepsClosed {
        /// The saga.
        saga_id: SagaId,
        /// Its state or condition.
        why: String,
    },
    /// `Start` arrived twice.
    #[error("saga `{saga_id}` has already started")]
    AlreadyStarted {
        /// The saga.
        saga_id: SagaId,
    },
    /// The input needs a started saga.
    #[error("saga `{saga_id}` has not started")]
    NotStarted {
        /// The saga.
        saga_id: SagaId,
    },
    /// A rollback is already under way.
    #[error("saga `{saga_id}` is already rolling back: {reason}")]
    AlreadyStopping {
        /// The saga.
        saga_id: SagaId,
        /// Why it is rolling back.
        reason: String,
    },
    /// A second result for a committed step.
    #[error(
        "step `{step_id}` was already committed; a second result for attempt {attempt} is ignored"
    )]
    AlreadyCommitted {
        /// The step.
        step_id: StepId,
        /// The attempt the result named.
        attempt: u32,
    },
    /// A result arrived for a step that has no call in flight in that phase.
    #[error("step `{step_id}` is {state}; no {phase} attempt is in flight")]
    NotInFlight {
        /// The step.
        step_id: StepId,
        /// Its state.
        state: StepState,
        /// `execute` or `undo`.
        phase: &'static str,
    },
    /// A result arrived while the step waits for a retry timer.
    #[error(
        "step `{step_id}` is waiting to retry ({phase} attempt {next}); no attempt is in flight"
    )]
    WaitingForRetry {
        /// The step.
        step_id: StepId,
        /// `execute` or `undo`.
        phase: &'static str,
        /// The attempt the timer will start.
        next: u32,
    },
    /// The input named another attempt than the current one.
    #[error(
        "stale {phase} input for step `{step_id}`: attempt {attempt} is not the current attempt {current}"
    )]
    StaleAttempt {
        /// The step.
        step_id: StepId,
        /// `execute` or `undo`.
        phase: &'static str,
        /// The attempt the input named.
        attempt: u32,
        /// The attempt the machine expects.
        current: u32,
    },
    /// A retry timer fired while an attempt is already running (executing twice).
    #[error("step `{step_id}` is already running {phase} attempt {attempt}; it cannot run twice")]
    AlreadyRunning {
        /// The step.
        step_id: StepId,
        /// `execute` or `undo`.
        phase: &'static str,
        /// The attempt in flight.
        attempt: u32,
    },
    /// A retry timer fired for a step that has none scheduled.
    #[error("step `{step_id}` is {state}; no {phase} retry is scheduled")]
    NoRetryScheduled {
        /// The step.
        step_id: StepId,
        /// Its state.
        state: StepState,
        /// `execute` or `undo`.
        phase: &'static str,
    },
    /// The added step id is already used.
    #[error("step `{step_id}` already exists in saga `{saga_id}`")]
    DuplicateStep {
        /// The saga.
        saga_id: SagaId,
        /// The duplicate.
        step_id: StepId,
    },
    /// The saga holds [`MAX_STEPS`] steps already.
    #[error("saga `{saga_id}` already has {MAX_STEPS} steps")]
    TooManySteps {
        /// The saga.
        saga_id: SagaId,
    },
    /// `SagaTimedOut` for a saga without a deadline.
    #[error("saga `{saga_id}` has no deadline")]
    NoDeadline {
        /// The saga.
        saga_id: SagaId,
    },
    /// `SagaTimedOut` before the deadline.
    #[error("saga timeout fired at {now} before the deadline {deadline}")]
    EarlyTimeout {
        /// When it fired.
        now: Timestamp,
        /// The deadline.
        deadline: Timestamp,
    },
    /// The step can no longer be handed to another agent.
    #[error("step `{step_id}` is {state}; it can no longer be reassigned")]
    NotReassignable {
        /// The step.
        step_id: StepId,
        /// Its terminal state.
        state: StepState,
    },
    /// `StepCheckpointed` for a step without a goal.
    #[error("step `{step_id}` has no checkpoint goal")]
    NoCheckpointGoal {
        /// The step.
        step_id: StepId,
    },
    /// `StepCheckpointed` for a step that is not committed.
    #[error("step `{step_id}` is {state}; only a committed step can be checkpointed")]
    NotCheckpointable {
        /// The step.
        step_id: StepId,
        /// Its state.
        state: StepState,
    },
}

impl SagaError {
    /// A late, duplicate or out-of-order report that the runtime may log and drop: the saga
    /// already moved on, and nothing is wrong with the runtime's bookkeeping.
    pub fn is_stale(&self) -> bool {
        matches!(
            self,
            SagaError::Finished { .. }
                | SagaError::AlreadyStopping { .. }
                | SagaError::AlreadyCommitted { .. }
                | SagaError::NotInFlight { .. }
                | SagaError::WaitingForRetry { .. }
                | SagaError::StaleAttempt { .. }
                | SagaError::AlreadyRunning { .. }
                | SagaError::NoRetryScheduled { .. }
        )
    }
}
