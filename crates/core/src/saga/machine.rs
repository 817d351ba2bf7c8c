//! The saga as a pure step function: [`Saga::handle`] takes one [`SagaInput`] and the current
//! time and returns the [`SagaCommand`]s the runtime must carry out. No I/O, no timers, no
//! randomness: replaying the logged inputs with their timestamps rebuilds the same saga and
//! re-derives the same commands, which is how the runtime recovers after a crash.
//!
//! Input handlers live here; the progress loop (stages, fan-out resolution, compensation)
//! lives in `machine/drive.rs`, per-step bookkeeping in `machine/step.rs`.
//!
//! A refused input never leaves a half-applied change: [`Saga::handle`] applies it to a copy
//! that replaces the saga only on success. Input handlers also check everything that can refuse
//! the input before they change anything, but the progress loop's transitions are guarded by
//! checks that return errors, and an error there after a change would otherwise leave the live
//! saga different from the one a replay of the command log rebuilds (a refused command is not
//! logged). The copy is cheap: the definition is shared, so it copies the step runtimes only
//! (the property test `arbitrary_inputs_never_panic_and_refusals_change_nothing` holds the
//! whole to this).

mod drive;
mod step;
#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};
use std::sync::Arc;

use self::step::jitter_sample;
pub use self::step::{StepRuntime, idempotency_key};
use super::err::SagaError;
use super::model::{MAX_STEPS, SagaDefinition, StepDefinition, StepPath};
use super::protocol::{SagaCommand, SagaEventKind, SagaInput};
use super::retry::ErrorClass;
use super::state::{AttemptOutcome, Phase, SagaState, StepState, bounded_message};
use crate::id::{AgentDid, IdGen, RecordId, SagaId, SessionId, StepId};
use crate::time::Timestamp;

/// How a saga learns that it is complete.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SagaMode {
    /// All steps are known up front (DSL): the saga completes by itself when they commit.
    Defined,
    /// Steps arrive one by one ([`SagaInput::StepAdded`]); the saga completes only after
    /// [`SagaInput::CompleteRequested`] (the reference never completed such sagas).
    StepByStep,
}

/// Why a running saga is rolling back.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "cause", rename_all = "snake_case")]
pub enum StopCause {
    /// A sequential step failed for good.
    StepFailed {
        /// The step.
        step_id: StepId,
    },
    /// A fan-out group missed its policy.
    FanOutFailed {
        /// The group.
        group_id: RecordId,
    },
    /// The saga deadline passed.
    TimedOut,
    /// Someone asked for a rollback.
    Requested,
}

/// How a fan-out group ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FanOutResolution {
    /// The group.
    pub group_id: RecordId,
    /// Whether its policy was met.
    pub satisfied: bool,
    /// Committed or skipped branches.
    pub succeeded: Vec<StepId>,
    /// Failed or unknown (timed-out) branches.
    pub failed: Vec<StepId>,
}

/// One saga instance: its definition plus everything that happened to it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Saga {
    saga_id: SagaId,
    session_id: SessionId,
    /// Shared, so that [`Saga::handle`]'s copy-then-commit costs a reference count, not a
    /// copy of every step definition.
    definition: Arc<SagaDefinition>,
    mode: SagaMode,
    state: SagaState,
    // INVARIANT: steps[i].step_id == definition.steps[i].step_id, same length (≤ MAX_STEPS).
    steps: Vec<StepRuntime>,
    created_at: Timestamp,
    started_at: Option<Timestamp>,
    completed_at: Option<Timestamp>,
    deadline: Option<Timestamp>,
    error: Option<String>,
    stop: Option<StopCause>,
    close_requested: bool,
    /// Index of the first stage (step or fan-out group) not yet resolved.
    cursor: usize,
    /// Undo order, fixed when compensation begins (≤ MAX_STEPS entries).
    compensation_order: Vec<StepId>,
    /// One entry per resolved fan-out group (≤ number of groups).
    fan_out_results: Vec<FanOutResolution>,
    /// Monotonic counter for compensation order keys.
    seq: u64,
}

impl Saga {
    /// A new saga in state `running`, not started yet. A [`SagaMode::Defined`] saga needs at
    /// least one step; a step-by-step saga may start empty.
    pub fn new(
        saga_id: SagaId,
        definition: SagaDefinition,
        mode: SagaMode,
        now: Timestamp,
    ) -> Result<Self, SagaError> {
        definition.validate()?;
        if mode == SagaMode::Defined && definition.steps.is_empty() {
            return Err(SagaError::NoSteps);
        }
        let steps = definition
            .steps
            .iter()
            .map(|s| StepRuntime::new(s.step_id.clone(), s.agent.clone()))
            .collect();
        Ok(Saga {
            saga_id,
            session_id: definition.session_id.clone(),
            definition: Arc::new(definition),
            mode,
            state: SagaState::Running,
            steps,
            created_at: now,
            started_at: None,
            completed_at: None,
            deadline: None,
            error: None,
            stop: None,
            close_requested: false,
            cursor: 0,
            compensation_order: Vec::new(),
            fan_out_results: Vec::new(),
            seq: 0,
        })
    }

    /// Like [`Saga::new`], using the definition's `saga_id` or a fresh `saga:{uuid}`.
    pub fn from_definition(
        definition: SagaDefinition,
        mode: SagaMode,
        ids: &mut IdGen,
        now: Timestamp,
    ) -> Result<Self, SagaError> {
        let id = definition.saga_id.clone().unwrap_or_else(|| ids.saga());
        Saga::new(id, definition, mode, now)
    }

    /// The saga id.
    pub fn saga_id(&self) -> &SagaId {
        &self.saga_id
    }
    /// The session it belongs to.
    pub fn session_id(&self) -> &SessionId {
        &self.session_id
    }
    /// The definition (including steps added later).
    pub fn definition(&self) -> &SagaDefinition {
        &self.definition
    }
    /// Defined or step-by-step.
    pub fn mode(&self) -> SagaMode {
        self.mode
    }
    /// Current state.
    pub fn state(&self) -> SagaState {
        self.state
    }
    /// Per-step runtime state, in definition order.
    pub fn steps(&self) -> &[StepRuntime] {
        &self.steps
    }
    /// One step's runtime state.
    pub fn step(&self, step_id: &StepId) -> Option<&StepRuntime> {
        self.steps.iter().find(|s| &s.step_id == step_id)
    }
    /// When the saga was created.
    pub fn created_at(&self) -> Timestamp {
        self.created_at
    }
    /// When `Start` arrived.
    pub fn started_at(&self) -> Option<Timestamp> {
        self.started_at
    }
    /// When it reached a terminal state.
    pub fn completed_at(&self) -> Option<Timestamp> {
        self.completed_at
    }
    /// The saga deadline, once started.
    pub fn deadline(&self) -> Option<Timestamp> {
        self.deadline
    }
    /// Why it failed or rolled back.
    pub fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }
    /// Why it is rolling back, if it is.
    pub fn stop_cause(&self) -> Option<&StopCause> {
        self.stop.as_ref()
    }
    /// Undo order chosen when compensation began.
    pub fn compensation_order(&self) -> &[StepId] {
        &self.compensation_order
    }
    /// Outcomes of resolved fan-out groups.
    pub fn fan_out_results(&self) -> &[FanOutResolution] {
        &self.fan_out_results
    }
    /// Whether the saga reached a terminal state.
    pub fn is_finished(&self) -> bool {
        self.state.is_finished()
    }

    /// Applies one input at time `now` and returns the commands to carry out, in order.
    ///
    /// On error the saga is unchanged; [`SagaError::is_stale`] tells late or duplicate reports
    /// from misuse.
    pub fn handle(
        &mut self,
        input: SagaInput,
        now: Timestamp,
    ) -> Result<Vec<SagaCommand>, SagaError> {
        // Copy-then-commit: `drive` is expected never to fail, but if one of its guards ever
        // trips, the saga must stay exactly as a replay will rebuild it.
        let mut next = self.clone();
        // Nearly every accepted input yields a command; four is what the first push reserves.
        let mut out = Vec::with_capacity(4);
        next.apply(input, now, &mut out)?;
        next.drive(now, &mut out)?;
        *self = next;
        Ok(out)
    }

    fn apply(
        &mut self,
        input: SagaInput,
        now: Timestamp,
        out: &mut Vec<SagaCommand>,
    ) -> Result<(), SagaError> {
        match input {
            SagaInput::Start { skip } => self.on_start(&skip, now, out),
            SagaInput::StepSucceeded {
                step_id,
                attempt,
                output,
            } => self.on_result(
                &step_id,
                Phase::Execute,
                attempt,
                AttemptOutcome::Ok { value: output },
                now,
                out,
            ),
            SagaInput::StepFailed {
                step_id,
                attempt,
                error,
                class,
            } => self.on_result(
                &step_id,
                Phase::Execute,
                attempt,
                AttemptOutcome::Error {
                    message: bounded_message(&error),
                    class,
                },
                now,
                out,
            ),
            SagaInput::StepTimedOut { step_id, attempt } => self.on_result(
                &step_id,
                Phase::Execute,
                attempt,
                AttemptOutcome::Timeout,
                now,
                out,
            ),
            SagaInput::CompensationSucceeded { step_id, attempt } => self.on_result(
                &step_id,
                Phase::Compensate,
                attempt,
                AttemptOutcome::Ok {
                    value: serde_json::Value::Null,
                },
                now,
                out,
            ),
            SagaInput::CompensationFailed {
                step_id,
                attempt,
                error,
                class,
            } => self.on_result(
                &step_id,
                Phase::Compensate,
                attempt,
                AttemptOutcome::Error {
                    message: bounded_message(&error),
                    class,
                },
                now,
                out,
            ),
            SagaInput::CompensationTimedOut { step_id, attempt } => self.on_result(
                &step_id,
                Phase::Compensate,
                attempt,
                AttemptOutcome::Timeout,
                now,
                out,
            ),
            SagaInput::RetryTimerFired {
                step_id,
                phase,
                attempt,
            } => self.on_retry_timer(&step_id, phase, attempt, now, out),
            SagaInput::SagaTimedOut => self.on_saga_timeout(now, out),
            SagaInput::CompensateRequested => self.on_compensate_requested(),
            SagaInput::CompleteRequested => self.on_complete_requested(),
            SagaInput::StepAdded(def) => self.on_step_added(*def, out),
            SagaInput::StepReassigned { step_id, to_agent } => {
                self.on_reassigned(&step_id, to_agent, out)
            }
            SagaInput::StepCheckpointed { step_id } => self.on_checkpointed(&step_id, out),
        }
    }

    fn index(&self, step_id: &StepId) -> Result<usize, SagaError> {
        self.definition
            .position(step_id)
            .ok_or_else(|| SagaError::UnknownStep {
                saga_id: self.saga_id.clone(),
                step_id: step_id.clone(),
            })
    }

    fn ensure_not_finished(&self) -> Result<(), SagaError> {
        if self.state.is_finished() {
            return Err(SagaError::Finished {
                saga_id: self.saga_id.clone(),
                state: self.state,
                what: "input ignored",
            });
        }
        Ok(())
    }

    fn ensure_not_stopping(&self) -> Result<(), SagaError> {
        if self.stop.is_some() || self.state == SagaState::Compensating {
            return Err(SagaError::AlreadyStopping {
                saga_id: self.saga_id.clone(),
                reason: self.error.clone().unwrap_or_default(),
            });
        }
        Ok(())
    }

    pub(super) fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    fn on_start(
        &mut self,
        skip: &[StepId],
        now: Timestamp,
        out: &mut Vec<SagaCommand>,
    ) -> Result<(), SagaError> {
        self.ensure_not_finished()?;
        if self.started_at.is_some() {
            return Err(SagaError::AlreadyStarted {
                saga_id: self.saga_id.clone(),
            });
        }
        let mut skipped = Vec::with_capacity(skip.len());
        for id in skip {
            skipped.push(self.index(id)?);
        }
        skipped.sort_unstable();
        skipped.dedup();
        // Refuse before changing anything (see `handle`).
        for &i in &skipped {
            if let Some(rt) = self.steps.get(i) {
                rt.state.transition(StepState::Skipped)?;
            }
        }
        self.started_at = Some(now);
        out.push(SagaCommand::Emit(SagaEventKind::Started));
        if let Some(t) = self.definition.timeout {
            let at = now.plus(t);
            self.deadline = Some(at);
            out.push(SagaCommand::ScheduleSagaTimeout { at });
        }
        for i in skipped {
            let seq = self.next_seq();
            if let Some(rt) = self.steps.get_mut(i) {
                rt.state = rt.state.transition(StepState::Skipped)?;
                rt.order = Some(seq);
                rt.ended_at = Some(now);
                out.push(SagaCommand::Emit(SagaEventKind::StepSkipped {
                    step_id: rt.step_id.clone(),
                }));
            }
        }
        Ok(())
    }

    /// Checks that `attempt` of `phase` is the call in flight for step `i`.
    fn check_in_flight(&self, i: usize, phase: Phase, attempt: u32) -> Result<(), SagaError> {
        let Some(rt) = self.steps.get(i) else {
            return Err(SagaError::Finished {
                saga_id: self.saga_id.clone(),
                state: self.state,
                what: "input ignored",
            });
        };
        let step_id = rt.step_id.clone();
        let active = match phase {
            Phase::Execute => StepState::Executing,
            Phase::Compensate => StepState::Compensating,
        };
        if rt.state != active {
            if phase == Phase::Execute && rt.state == StepState::Committed {
                return Err(SagaError::AlreadyCommitted { step_id, attempt });
            }
            return Err(SagaError::NotInFlight {
                step_id,
                state: rt.state,
                phase: phase.name(),
            });
        }
        let current = u32::try_from(rt.attempts_of(phase).len()).unwrap_or(u32::MAX);
        if rt.retry_at.is_some() {
            return Err(SagaError::WaitingForRetry {
                step_id,
                phase: phase.name(),
                next: current.saturating_add(1),
            });
        }
        if attempt != current || !rt.in_flight(phase) {
            return Err(SagaError::StaleAttempt {
                step_id,
                phase: phase.name(),
                attempt,
                current,
            });
        }
        Ok(())
    }

    fn on_result(
        &mut self,
        step_id: &StepId,
        phase: Phase,
        attempt: u32,
        outcome: AttemptOutcome,
        now: Timestamp,
        out: &mut Vec<SagaCommand>,
    ) -> Result<(), SagaError> {
        self.ensure_not_finished()?;
        let i = self.index(step_id)?;
        self.check_in_flight(i, phase, attempt)?;
        let Some(def) = self.definition.steps.get(i) else {
            return Ok(());
        };
        let (retry, checkpoint_goal) = (def.retry, def.checkpoint_goal.clone());
        let timeout = match phase {
            Phase::Execute => def.timeout,
            Phase::Compensate => def.effective_undo_timeout(),
        };
        // Decide on a retry before borrowing the step mutably; its time (a jitter hash) is
        // worked out only for an attempt that may be retried.
        let retryable = match &outcome {
            AttemptOutcome::Ok { .. } => false,
            AttemptOutcome::Timeout => true,
            AttemptOutcome::Error { class, .. } => *class == ErrorClass::Retryable,
        };
        let retry_at = (retryable && retry.allows_retry_after(attempt))
            .then(|| {
                let key = idempotency_key(&self.saga_id, step_id, phase);
                now.plus(retry.delay_for(attempt, jitter_sample(&key, attempt)))
            })
            .filter(|at| match phase {
                // Forward retries stop once a rollback began or the deadline would pass.
                Phase::Execute => self.stop.is_none() && self.deadline.is_none_or(|d| *at < d),
                // Undo retries continue regardless of the saga deadline.
                Phase::Compensate => true,
            });
        let may_retry = retry_at.is_some();
        let max = retry.max_attempts();
        let seq = self.next_seq();
        let Some(rt) = self.steps.get_mut(i) else {
            return Ok(());
        };
        if let Some(a) = rt.attempts_of_mut(phase).last_mut() {
            a.ended_at = Some(now);
            a.outcome = Some(outcome.clone());
        }
        let message = match &outcome {
            AttemptOutcome::Ok { .. } => None,
            AttemptOutcome::Error { message, .. } => Some(message.clone()),
            AttemptOutcome::Timeout => Some(format!(
                "{} timed out after {} s (attempt {attempt}/{max})",
                match phase {
                    Phase::Execute => "step",
                    Phase::Compensate => "compensation",
                },
                timeout.as_secs_f64()
            )),
        };
        let Some(message) = message else {
            // Success.
            match phase {
                Phase::Execute => {
                    rt.state = rt.state.transition(StepState::Committed)?;
                    rt.ended_at = Some(now);
                    rt.order = Some(seq);
                    rt.error = None;
                    out.push(SagaCommand::Emit(SagaEventKind::StepCommitted {
                        step_id: step_id.clone(),
                        attempt,
                    }));
                    if let Some(goal) = checkpoint_goal {
                        out.push(SagaCommand::SaveCheckpoint {
                            step_id: step_id.clone(),
                            goal,
                        });
                    }
                }
                Phase::Compensate => {
                    rt.state = rt.state.transition(StepState::Compensated)?;
                    rt.compensation_ended_at = Some(now);
                    out.push(SagaCommand::Emit(SagaEventKind::StepCompensated {
                        step_id: step_id.clone(),
                    }));
                }
            }
            return Ok(());
        };
        if may_retry {
            rt.retry_at = retry_at;
            rt.error = Some(message.clone());
        }
        let event = match (phase, &outcome) {
            (Phase::Execute, AttemptOutcome::Timeout) => SagaEventKind::StepTimedOut {
                step_id: step_id.clone(),
                attempt,
                will_retry: may_retry,
            },
            (Phase::Execute, _) => SagaEventKind::StepFailed {
                step_id: step_id.clone(),
                attempt,
                error: message.clone(),
                class: match &outcome {
                    AttemptOutcome::Error { class, .. } => *class,
                    _ => ErrorClass::Retryable,
                },
                will_retry: may_retry,
            },
            (Phase::Compensate, _) => SagaEventKind::CompensationFailed {
                step_id: step_id.clone(),
                attempt,
                error: message.clone(),
                will_retry: may_retry,
            },
        };
        out.push(SagaCommand::Emit(event));
        if let Some(at) = retry_at {
            out.push(SagaCommand::ScheduleRetry {
                step_id: step_id.clone(),
                phase,
                attempt: attempt.saturating_add(1),
                at,
            });
            return Ok(());
        }
        match phase {
            Phase::Execute => settle_forward_failure(rt, message, now)?,
            Phase::Compensate => {
                rt.state = rt.state.transition(StepState::CompensationFailed)?;
                rt.compensation_ended_at = Some(now);
                rt.error = Some(format!("compensation failed: {message}"));
            }
        }
        Ok(())
    }

    fn on_retry_timer(
        &mut self,
        step_id: &StepId,
        phase: Phase,
        attempt: u32,
        now: Timestamp,
        out: &mut Vec<SagaCommand>,
    ) -> Result<(), SagaError> {
        self.ensure_not_finished()?;
        let i = self.index(step_id)?;
        let Some(rt) = self.steps.get(i) else {
            return Ok(());
        };
        let active = match phase {
            Phase::Execute => StepState::Executing,
            Phase::Compensate => StepState::Compensating,
        };
        let done = u32::try_from(rt.attempts_of(phase).len()).unwrap_or(u32::MAX);
        if rt.state != active {
            return Err(SagaError::NoRetryScheduled {
                step_id: step_id.clone(),
                state: rt.state,
                phase: phase.name(),
            });
        }
        if rt.retry_at.is_none() {
            return Err(SagaError::AlreadyRunning {
                step_id: step_id.clone(),
                phase: phase.name(),
                attempt: done,
            });
        }
        if attempt != done.saturating_add(1) {
            return Err(SagaError::StaleAttempt {
                step_id: step_id.clone(),
                phase: phase.name(),
                attempt,
                current: done.saturating_add(1),
            });
        }
        self.start_attempt(i, phase, now, out)
    }

    fn on_saga_timeout(
        &mut self,
        now: Timestamp,
        out: &mut Vec<SagaCommand>,
    ) -> Result<(), SagaError> {
        self.ensure_not_finished()?;
        self.ensure_not_stopping()?;
        let Some(deadline) = self.deadline else {
            return Err(SagaError::NoDeadline {
                saga_id: self.saga_id.clone(),
            });
        };
        if now < deadline {
            return Err(SagaError::EarlyTimeout { now, deadline });
        }
        let after = self.definition.timeout.map_or(0.0, |t| t.as_secs_f64());
        self.stop = Some(StopCause::TimedOut);
        self.error = Some(format!("saga timed out after {after} s"));
        out.push(SagaCommand::Emit(SagaEventKind::TimedOut));
        Ok(())
    }

    fn on_compensate_requested(&mut self) -> Result<(), SagaError> {
        self.ensure_not_finished()?;
        self.ensure_not_stopping()?;
        self.stop = Some(StopCause::Requested);
        self.error = Some("compensation requested".into());
        Ok(())
    }

    fn on_complete_requested(&mut self) -> Result<(), SagaError> {
        self.ensure_not_finished()?;
        self.ensure_not_stopping()?;
        if self.started_at.is_none() {
            return Err(SagaError::NotStarted {
                saga_id: self.saga_id.clone(),
            });
        }
        self.close_requested = true;
        Ok(())
    }

    fn on_step_added(
        &mut self,
        def: StepDefinition,
        out: &mut Vec<SagaCommand>,
    ) -> Result<(), SagaError> {
        let why = if self.state != SagaState::Running {
            Some(self.state.name().to_string())
        } else if self.stop.is_some() {
            Some("rolling back".to_string())
        } else if self.close_requested {
            Some("closing".to_string())
        } else {
            None
        };
        if let Some(why) = why {
            return Err(SagaError::StepsClosed {
                saga_id: self.saga_id.clone(),
                why,
            });
        }
        if self.definition.position(&def.step_id).is_some() {
            return Err(SagaError::DuplicateStep {
                saga_id: self.saga_id.clone(),
                step_id: def.step_id,
            });
        }
        if self.definition.steps.len() >= MAX_STEPS {
            return Err(SagaError::TooManySteps {
                saga_id: self.saga_id.clone(),
            });
        }
        let problems = def.problems_at(StepPath(self.definition.steps.len()));
        if !problems.is_empty() {
            return Err(super::model::DefinitionError { problems }.into());
        }
        self.steps
            .push(StepRuntime::new(def.step_id.clone(), def.agent.clone()));
        out.push(SagaCommand::Emit(SagaEventKind::StepAdded {
            step_id: def.step_id.clone(),
        }));
        Arc::make_mut(&mut self.definition).steps.push(def);
        Ok(())
    }

    fn on_reassigned(
        &mut self,
        step_id: &StepId,
        to: AgentDid,
        out: &mut Vec<SagaCommand>,
    ) -> Result<(), SagaError> {
        self.ensure_not_finished()?;
        let i = self.index(step_id)?;
        let Some(rt) = self.steps.get_mut(i) else {
            return Ok(());
        };
        if rt.state.is_terminal() {
            return Err(SagaError::NotReassignable {
                step_id: step_id.clone(),
                state: rt.state,
            });
        }
        if rt.agent == to {
            return Ok(());
        }
        let from = std::mem::replace(&mut rt.agent, to.clone());
        out.push(SagaCommand::Emit(SagaEventKind::StepReassigned {
            step_id: step_id.clone(),
            from,
            to,
        }));
        Ok(())
    }

    fn on_checkpointed(
        &mut self,
        step_id: &StepId,
        out: &mut Vec<SagaCommand>,
    ) -> Result<(), SagaError> {
        let i = self.index(step_id)?;
        let goal = self
            .definition
            .steps
            .get(i)
            .and_then(|d| d.checkpoint_goal.clone())
            .ok_or_else(|| SagaError::NoCheckpointGoal {
                step_id: step_id.clone(),
            })?;
        let Some(rt) = self.steps.get_mut(i) else {
            return Ok(());
        };
        if rt.checkpointed {
            return Ok(());
        }
        if rt.state != StepState::Committed {
            return Err(SagaError::NotCheckpointable {
                step_id: step_id.clone(),
                state: rt.state,
            });
        }
        rt.checkpointed = true;
        out.push(SagaCommand::Emit(SagaEventKind::CheckpointSaved {
            step_id: step_id.clone(),
            goal,
        }));
        Ok(())
    }

    /// Issues attempt `n+1` of `phase` for step `i` (first attempt or a due retry).
    fn start_attempt(
        &mut self,
        i: usize,
        phase: Phase,
        now: Timestamp,
        out: &mut Vec<SagaCommand>,
    ) -> Result<(), SagaError> {
        let Some(def) = self.definition.steps.get(i) else {
            return Ok(());
        };
        let key = idempotency_key(&self.saga_id, &def.step_id, phase);
        let (deadline, api) = match phase {
            Phase::Execute => (now.plus(def.timeout), def.execute_api.clone()),
            Phase::Compensate => (
                now.plus(def.effective_undo_timeout()),
                def.undo_api.clone().unwrap_or_default(),
            ),
        };
        let input = def.input.clone();
        let seq = self.next_seq();
        let Some(rt) = self.steps.get_mut(i) else {
            return Ok(());
        };
        match (phase, rt.state) {
            (Phase::Execute, StepState::Pending) => {
                rt.state = rt.state.transition(StepState::Executing)?;
                rt.started_at = Some(now);
                rt.order = Some(seq);
            }
            (Phase::Compensate, s) if s.needs_compensation() => {
                rt.state = rt.state.transition(StepState::Compensating)?;
                rt.compensation_started_at = Some(now);
            }
            _ => {}
        }
        rt.retry_at = None;
        let agent = rt.agent.clone();
        let step_id = rt.step_id.clone();
        let attempts = rt.attempts_of_mut(phase);
        let number = u32::try_from(attempts.len())
            .unwrap_or(u32::MAX)
            .saturating_add(1);
        attempts.push(super::state::Attempt {
            number,
            started_at: now,
            ended_at: None,
            outcome: None,
            idempotency_key: key.clone(),
            agent: agent.clone(),
            deadline,
        });
        match phase {
            Phase::Execute => {
                out.push(SagaCommand::Emit(SagaEventKind::StepStarted {
                    step_id: step_id.clone(),
                    attempt: number,
                    agent: agent.clone(),
                }));
                out.push(SagaCommand::ExecuteStep {
                    step_id,
                    attempt: number,
                    idempotency_key: key,
                    agent,
                    execute_api: api,
                    input,
                    deadline,
                });
            }
            Phase::Compensate => {
                out.push(SagaCommand::Emit(SagaEventKind::CompensationStarted {
                    step_id: step_id.clone(),
                    attempt: number,
                }));
                out.push(SagaCommand::CompensateStep {
                    step_id,
                    attempt: number,
                    idempotency_key: key,
                    agent,
                    undo_api: api,
                    deadline,
                });
            }
        }
        Ok(())
    }
}

/// Ends a step's forward part after its last failed attempt: `unknown` when any attempt timed
/// out (the effect may exist and must be compensated), `failed` otherwise.
fn settle_forward_failure(
    rt: &mut StepRuntime,
    message: String,
    now: Timestamp,
) -> Result<(), SagaError> {
    let to = if rt.any_timeout() {
        StepState::Unknown
    } else {
        StepState::Failed
    };
    rt.state = rt.state.transition(to)?;
    rt.retry_at = None;
    rt.ended_at = Some(now);
    rt.error = Some(message);
    Ok(())
}
