//! What the machine remembers about one step while the saga runs: its state, every attempt of
//! its execute and undo calls (bounded by the step's `max_attempts`), timings and the order key
//! that decides when it is compensated.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::id::{AgentDid, SagaId, StepId};
use crate::saga::state::{Attempt, AttemptOutcome, Phase, StepState};
use crate::time::Timestamp;

/// Runtime state of one step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepRuntime {
    /// The step (same order as the definition's steps).
    pub(super) step_id: StepId,
    /// Current state.
    pub(super) state: StepState,
    /// Agent the next call is made for (changed by a hand-off).
    pub(super) agent: AgentDid,
    // INVARIANT: attempts.len() <= retry.max_attempts; only the last one may be in flight.
    pub(super) attempts: Vec<Attempt>,
    // INVARIANT: compensation_attempts.len() <= retry.max_attempts.
    pub(super) compensation_attempts: Vec<Attempt>,
    /// A retry timer is pending for the phase matching `state` (executing / compensating).
    pub(super) retry_at: Option<Timestamp>,
    /// Last error (execute or undo), for people.
    pub(super) error: Option<String>,
    pub(super) started_at: Option<Timestamp>,
    pub(super) ended_at: Option<Timestamp>,
    pub(super) compensation_started_at: Option<Timestamp>,
    pub(super) compensation_ended_at: Option<Timestamp>,
    /// The runtime confirmed a checkpoint for this step.
    pub(super) checkpointed: bool,
    /// Compensation order key: sequence number of the commit (or of the start for an
    /// `unknown` step, or of the skip); compensation runs from the highest key down.
    pub(super) order: Option<u64>,
}

impl StepRuntime {
    pub(super) fn new(step_id: StepId, agent: AgentDid) -> Self {
        StepRuntime {
            step_id,
            state: StepState::Pending,
            agent,
            attempts: Vec::new(),
            compensation_attempts: Vec::new(),
            retry_at: None,
            error: None,
            started_at: None,
            ended_at: None,
            compensation_started_at: None,
            compensation_ended_at: None,
            checkpointed: false,
            order: None,
        }
    }

    /// The step id.
    pub fn step_id(&self) -> &StepId {
        &self.step_id
    }

    /// Current state.
    pub fn state(&self) -> StepState {
        self.state
    }

    /// Agent the next call is made for.
    pub fn agent(&self) -> &AgentDid {
        &self.agent
    }

    /// Execute attempts, oldest first.
    pub fn attempts(&self) -> &[Attempt] {
        &self.attempts
    }

    /// Undo attempts, oldest first.
    pub fn compensation_attempts(&self) -> &[Attempt] {
        &self.compensation_attempts
    }

    /// When the pending retry timer is due, if one is.
    pub fn retry_at(&self) -> Option<Timestamp> {
        self.retry_at
    }

    /// The latest error text.
    pub fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }

    /// When the first execute attempt started.
    pub fn started_at(&self) -> Option<Timestamp> {
        self.started_at
    }

    /// When the forward part settled (committed, failed or unknown).
    pub fn ended_at(&self) -> Option<Timestamp> {
        self.ended_at
    }

    /// When the first undo attempt started.
    pub fn compensation_started_at(&self) -> Option<Timestamp> {
        self.compensation_started_at
    }

    /// When the undo settled (compensated or compensation_failed).
    pub fn compensation_ended_at(&self) -> Option<Timestamp> {
        self.compensation_ended_at
    }

    /// Whether the runtime confirmed a checkpoint.
    pub fn is_checkpointed(&self) -> bool {
        self.checkpointed
    }

    /// The executor's result, once committed.
    pub fn output(&self) -> Option<&serde_json::Value> {
        match self.attempts.last().and_then(|a| a.outcome.as_ref()) {
            Some(AttemptOutcome::Ok { value }) => Some(value),
            _ => None,
        }
    }

    /// Whether any execute attempt timed out (so the effect may exist).
    pub fn any_timeout(&self) -> bool {
        self.attempts
            .iter()
            .any(|a| matches!(a.outcome, Some(AttemptOutcome::Timeout)))
    }

    pub(super) fn attempts_of(&self, phase: Phase) -> &Vec<Attempt> {
        match phase {
            Phase::Execute => &self.attempts,
            Phase::Compensate => &self.compensation_attempts,
        }
    }

    pub(super) fn attempts_of_mut(&mut self, phase: Phase) -> &mut Vec<Attempt> {
        match phase {
            Phase::Execute => &mut self.attempts,
            Phase::Compensate => &mut self.compensation_attempts,
        }
    }

    /// A call of `phase` is out and its outcome not yet known.
    pub(super) fn in_flight(&self, phase: Phase) -> bool {
        let active = match phase {
            Phase::Execute => StepState::Executing,
            Phase::Compensate => StepState::Compensating,
        };
        self.state == active
            && self.retry_at.is_none()
            && self
                .attempts_of(phase)
                .last()
                .is_some_and(|a| a.outcome.is_none())
    }
}

/// Deduplication key of a step's execute (`…/execute`) or undo (`…/undo`) calls:
/// `{saga_id}/{step_id}/{phase}` with `%` and `/` inside the ids percent-encoded, so two
/// different (saga, step) pairs can never share a key. Identical on every retry.
pub fn idempotency_key(saga_id: &SagaId, step_id: &StepId, phase: Phase) -> String {
    fn push_escaped(out: &mut String, s: &str) {
        // Copies the runs between `%` and `/` whole (both are ASCII, so every split is on a
        // character boundary) instead of pushing character by character.
        let mut rest = s;
        while let Some(i) = rest.bytes().position(|b| b == b'%' || b == b'/') {
            let (run, tail) = rest.split_at(i);
            out.push_str(run);
            out.push_str(if tail.starts_with('%') { "%25" } else { "%2F" });
            rest = tail.get(1..).unwrap_or_default();
        }
        out.push_str(rest);
    }
    let (saga, step) = (saga_id.as_str(), step_id.as_str());
    let mut key = String::with_capacity(saga.len() + step.len() + 12);
    push_escaped(&mut key, saga);
    key.push('/');
    push_escaped(&mut key, step);
    key.push('/');
    key.push_str(phase.name());
    key
}

/// Deterministic jitter sample for the retry after `attempt` of the call with this key: the
/// first 8 bytes of SHA-256(`key#attempt`). Different sagas spread out; a replay repeats.
pub(super) fn jitter_sample(key: &str, attempt: u32) -> u64 {
    let digest = Sha256::digest(format!("{key}#{attempt}").as_bytes());
    let mut b = [0u8; 8];
    for (dst, src) in b.iter_mut().zip(digest.iter()) {
        *dst = *src;
    }
    u64::from_be_bytes(b)
}
