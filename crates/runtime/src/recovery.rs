//! Resuming sagas after a restart.
//!
//! The engine state recovered from the log knows, for every unfinished saga, which calls were in
//! flight when the process died (an attempt started, no outcome), which retries were waiting and
//! the saga deadline. Their outcome is unknown, so each in-flight call is issued again with the
//! **same attempt number and Idempotency-Key**: a receiver that already performed it answers from
//! its deduplication record, and one that never saw it performs it now. Pending retry timers and
//! deadlines are re-armed; timers already past fire at once.

use ahv_core::saga::{Phase, Saga, SagaCommand, StepState};

use crate::hypervisor::{Hypervisor, RuntimeError};

impl Hypervisor {
    /// Re-issues the in-flight work of every unfinished saga. Call once after recovery, before
    /// serving. Returns how many calls and timers were re-armed.
    pub fn resume_sagas(&self) -> Result<usize, RuntimeError> {
        let work = self.read(|e| {
            e.unfinished_sagas()
                .into_iter()
                .filter_map(|id| e.saga(&id).map(|s| (id, resume_work(s))))
                .collect::<Vec<_>>()
        })?;
        let mut n = 0;
        for (id, cmds) in work {
            for c in cmds {
                n += 1;
                let _ = self.inner.saga_tx.send((id.clone(), c, None));
            }
        }
        Ok(n)
    }
}

/// The commands that were outstanding for `saga` when its state was last recorded.
pub fn resume_work(saga: &Saga) -> Vec<SagaCommand> {
    let mut out = Vec::new();
    if let Some(at) = saga.deadline() {
        out.push(SagaCommand::ScheduleSagaTimeout { at });
    }
    for s in saga.steps() {
        let Some(def) = saga.definition().step(s.step_id()) else {
            continue;
        };
        if let Some(at) = s.retry_at() {
            let phase = if s.state() == StepState::Compensating {
                Phase::Compensate
            } else {
                Phase::Execute
            };
            let attempt = match phase {
                Phase::Execute => s.attempts().len(),
                Phase::Compensate => s.compensation_attempts().len(),
            };
            let attempt = u32::try_from(attempt).unwrap_or(u32::MAX);
            out.push(SagaCommand::ScheduleRetry {
                step_id: s.step_id().clone(),
                phase,
                attempt,
                at,
            });
            continue;
        }
        match s.state() {
            StepState::Executing => {
                if let Some(a) = s.attempts().last().filter(|a| a.outcome.is_none()) {
                    out.push(SagaCommand::ExecuteStep {
                        step_id: s.step_id().clone(),
                        attempt: a.number,
                        idempotency_key: a.idempotency_key.clone(),
                        agent: a.agent.clone(),
                        execute_api: def.execute_api.clone(),
                        input: def.input.clone(),
                        deadline: a.deadline,
                    });
                }
            }
            StepState::Compensating => {
                if let (Some(a), Some(undo)) = (
                    s.compensation_attempts()
                        .last()
                        .filter(|a| a.outcome.is_none()),
                    def.undo_api.clone(),
                ) {
                    out.push(SagaCommand::CompensateStep {
                        step_id: s.step_id().clone(),
                        attempt: a.number,
                        idempotency_key: a.idempotency_key.clone(),
                        agent: a.agent.clone(),
                        undo_api: undo,
                        deadline: a.deadline,
                    });
                }
            }
            _ => {}
        }
    }
    out
}
