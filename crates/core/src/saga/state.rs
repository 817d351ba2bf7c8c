//! Step and saga states with their transition tables. Every state change in the machine goes
//! through [`StepState::transition`] / [`SagaState::transition`], so an impossible move is an
//! error value naming the allowed targets instead of a silent bypass (the reference forced
//! `failed → pending` and `committed → compensation_failed` around its own table, spec §6.1).

use std::fmt;

use serde::{Deserialize, Serialize};

use super::retry::ErrorClass;
use crate::time::Timestamp;

/// Where one step is in its life.
///
/// ```text
///  pending ──► executing ──► committed ──┐
///     │            │ ├─────► failed      ├─► compensating ──► compensated
///     │            │ └─────► unknown ────┤        │
///     └─► skipped ─┼─────────────────────┘        └─────────► compensation_failed
///                  └ (committed / unknown / skipped with no undo api ─► compensation_failed)
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepState {
    /// Not started yet.
    Pending,
    /// An attempt is in flight, or the step waits for its next retry.
    Executing,
    /// The executor confirmed the effect.
    Committed,
    /// Every attempt failed with an error and none timed out: no effect is assumed.
    Failed,
    /// At least one attempt timed out: the effect may have happened, so the step is
    /// compensated like a committed one (the reference marked it `failed` and left it).
    Unknown,
    /// Undo in flight, or waiting for its next retry.
    Compensating,
    /// The undo was confirmed.
    Compensated,
    /// The undo failed for good (or the step has no undo api): the effect remains.
    CompensationFailed,
    /// Not executed because a valid checkpoint says its goal was already achieved (replay).
    Skipped,
}

impl StepState {
    /// Every step state, in declaration order.
    pub const ALL: [StepState; 9] = [
        StepState::Pending,
        StepState::Executing,
        StepState::Committed,
        StepState::Failed,
        StepState::Unknown,
        StepState::Compensating,
        StepState::Compensated,
        StepState::CompensationFailed,
        StepState::Skipped,
    ];

    /// Snake-case name used in messages and on the wire.
    pub fn name(self) -> &'static str {
        match self {
            StepState::Pending => "pending",
            StepState::Executing => "executing",
            StepState::Committed => "committed",
            StepState::Failed => "failed",
            StepState::Unknown => "unknown",
            StepState::Compensating => "compensating",
            StepState::Compensated => "compensated",
            StepState::CompensationFailed => "compensation_failed",
            StepState::Skipped => "skipped",
        }
    }

    /// States reachable from this one in a single transition.
    pub fn allowed_next(self) -> &'static [StepState] {
        use StepState::*;
        match self {
            Pending => &[Executing, Skipped],
            Executing => &[Committed, Failed, Unknown],
            Committed | Unknown | Skipped => &[Compensating, CompensationFailed],
            Compensating => &[Compensated, CompensationFailed],
            Failed | Compensated | CompensationFailed => &[],
        }
    }

    /// The new state if `self → to` is in the table, else an error naming the allowed targets.
    pub fn transition(self, to: StepState) -> Result<StepState, TransitionError> {
        if self.allowed_next().contains(&to) {
            Ok(to)
        } else {
            Err(TransitionError::Step {
                from: self,
                to,
                allowed: StateList(self.allowed_next().to_vec()),
            })
        }
    }

    /// No transition leaves this state.
    pub fn is_terminal(self) -> bool {
        self.allowed_next().is_empty()
    }

    /// The step's forward part is over (it will not execute again).
    pub fn is_settled(self) -> bool {
        !matches!(self, StepState::Pending | StepState::Executing)
    }

    /// The step's forward effect exists or may exist, so a rollback must undo it.
    pub fn needs_compensation(self) -> bool {
        matches!(
            self,
            StepState::Committed | StepState::Unknown | StepState::Skipped
        )
    }
}

impl fmt::Display for StepState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Where a whole saga is in its life.
///
/// ```text
///  running ──► completed            (every step committed or skipped)
///     │ ├────► failed               (a step failed for good; nothing needed undoing)
///     │ └────► compensating ──► compensated   (every undo confirmed)
///     │                  └────► escalated     (some undo failed: liability takes over)
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SagaState {
    /// Steps are being executed (or the saga waits for more steps).
    Running,
    /// Undoing committed and unknown steps, newest first.
    Compensating,
    /// Every step committed; the saga reached its goal.
    Completed,
    /// Every undo succeeded. New: the reference reported this as `completed`, hiding the failure.
    Compensated,
    /// A step failed for good before anything needed undoing (no effect remains).
    Failed,
    /// At least one undo failed: effects remain and liability (attribution, slashing) applies.
    Escalated,
}

impl SagaState {
    /// Snake-case name used in messages and on the wire.
    pub fn name(self) -> &'static str {
        match self {
            SagaState::Running => "running",
            SagaState::Compensating => "compensating",
            SagaState::Completed => "completed",
            SagaState::Compensated => "compensated",
            SagaState::Failed => "failed",
            SagaState::Escalated => "escalated",
        }
    }

    /// States reachable from this one in a single transition.
    pub fn allowed_next(self) -> &'static [SagaState] {
        use SagaState::*;
        match self {
            Running => &[Compensating, Completed, Failed],
            Compensating => &[Compensated, Escalated],
            Completed | Compensated | Failed | Escalated => &[],
        }
    }

    /// The new state if `self → to` is in the table, else an error naming the allowed targets.
    pub fn transition(self, to: SagaState) -> Result<SagaState, TransitionError> {
        if self.allowed_next().contains(&to) {
            Ok(to)
        } else {
            Err(TransitionError::Saga {
                from: self,
                to,
                allowed: StateList(self.allowed_next().to_vec()),
            })
        }
    }

    /// The saga is over; no input changes it any more.
    pub fn is_finished(self) -> bool {
        self.allowed_next().is_empty()
    }
}

impl fmt::Display for SagaState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A list of states rendered as `a, b` (or `none` when empty) in error messages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StateList<S>(pub Vec<S>);

impl<S: fmt::Display> fmt::Display for StateList<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("none (terminal)");
        }
        for (i, s) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{s}")?;
        }
        Ok(())
    }
}

/// A state change that the transition table forbids.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    /// Forbidden step transition.
    #[error("invalid step transition: {from} → {to}; allowed: {allowed}")]
    Step {
        /// Current state.
        from: StepState,
        /// Requested state.
        to: StepState,
        /// States that would have been accepted.
        allowed: StateList<StepState>,
    },
    /// Forbidden saga transition.
    #[error("invalid saga transition: {from} → {to}; allowed: {allowed}")]
    Saga {
        /// Current state.
        from: SagaState,
        /// Requested state.
        to: SagaState,
        /// States that would have been accepted.
        allowed: StateList<SagaState>,
    },
}

/// Which half of a step an attempt belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// The forward call (`execute_api`).
    Execute,
    /// The undo call (`undo_api`).
    Compensate,
}

impl Phase {
    /// Lower-case name used in keys and messages.
    pub fn name(self) -> &'static str {
        match self {
            Phase::Execute => "execute",
            Phase::Compensate => "undo",
        }
    }
}

/// How one attempt ended.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum AttemptOutcome {
    /// The call succeeded with this result.
    Ok {
        /// The executor's (or compensator's) result.
        value: serde_json::Value,
    },
    /// The call failed.
    Error {
        /// The failure, truncated to [`MAX_ERROR_LEN`] bytes.
        message: String,
        /// Whether it may be retried.
        class: ErrorClass,
    },
    /// The deadline passed without an answer: the effect may or may not have happened.
    Timeout,
}

/// Longest error text kept per attempt, in bytes; longer text is cut at a char boundary.
pub const MAX_ERROR_LEN: usize = 1024;

/// Cuts `s` to at most [`MAX_ERROR_LEN`] bytes without splitting a character.
pub(crate) fn bounded_message(s: &str) -> String {
    if s.len() <= MAX_ERROR_LEN {
        return s.to_string();
    }
    let mut end = MAX_ERROR_LEN;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or_default().to_string()
}

/// One try of a step's execution or compensation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Attempt {
    /// 1-based attempt number within its phase.
    pub number: u32,
    /// When the command for it was issued.
    pub started_at: Timestamp,
    /// When its outcome arrived (none while in flight).
    pub ended_at: Option<Timestamp>,
    /// Its outcome (none while in flight).
    pub outcome: Option<AttemptOutcome>,
    /// Deduplication key sent with the call; identical for every attempt of the same phase.
    pub idempotency_key: String,
    /// The agent the call was made for (changes after a kill-switch hand-off).
    pub agent: crate::id::AgentDid,
    /// When the runtime must report a timeout if no answer came.
    pub deadline: Timestamp,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_table_matches_the_diagram() {
        use StepState::*;
        assert!(Pending.transition(Executing).is_ok());
        assert!(Pending.transition(Skipped).is_ok());
        assert!(Executing.transition(Unknown).is_ok());
        assert!(Unknown.transition(Compensating).is_ok());
        assert!(Skipped.transition(Compensating).is_ok());
        assert!(Committed.transition(CompensationFailed).is_ok());
        for s in [Failed, Compensated, CompensationFailed] {
            assert!(s.is_terminal());
            for t in StepState::ALL {
                assert!(s.transition(t).is_err());
            }
        }
    }

    #[test]
    fn invalid_step_transition_names_allowed_targets() {
        let e = StepState::Committed
            .transition(StepState::Executing)
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid step transition: committed → executing; allowed: compensating, compensation_failed"
        );
        let e = StepState::Compensated
            .transition(StepState::Executing)
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid step transition: compensated → executing; allowed: none (terminal)"
        );
    }

    #[test]
    fn saga_cannot_report_completed_after_compensating_unlike_reference() {
        let e = SagaState::Compensating
            .transition(SagaState::Completed)
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid saga transition: compensating → completed; allowed: compensated, escalated"
        );
        assert!(SagaState::Running.transition(SagaState::Failed).is_ok());
        assert!(SagaState::Escalated.is_finished());
        assert!(!SagaState::Running.is_finished());
    }

    #[test]
    fn error_messages_are_bounded() {
        let long = "é".repeat(MAX_ERROR_LEN);
        let cut = bounded_message(&long);
        assert!(cut.len() <= MAX_ERROR_LEN);
        assert!(cut.chars().all(|c| c == 'é'));
        assert_eq!(bounded_message("short"), "short");
    }

    #[test]
    fn names_are_the_serde_form() {
        for s in StepState::ALL {
            assert_eq!(
                serde_json::to_value(s).unwrap(),
                serde_json::json!(s.name())
            );
        }
        for s in [
            SagaState::Running,
            SagaState::Compensating,
            SagaState::Completed,
            SagaState::Compensated,
            SagaState::Failed,
            SagaState::Escalated,
        ] {
            assert_eq!(
                serde_json::to_value(s).unwrap(),
                serde_json::json!(s.name())
            );
        }
    }
}
