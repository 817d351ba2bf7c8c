//! The progress loop run after every accepted input: start the next stage (a step or a whole
//! fan-out group), resolve settled stages, switch to compensation when a stage failed, the
//! deadline passed or a rollback was requested, undo one step at a time newest-first, and
//! finish. It never waits: when nothing can move without an outside answer it returns.

use std::collections::BTreeSet;

use super::{FanOutResolution, Saga, SagaMode, StopCause};
use crate::id::StepId;
use crate::saga::err::SagaError;
use crate::saga::protocol::{SagaCommand, SagaEventKind};
use crate::saga::state::{Phase, SagaState, StepState};
use crate::time::Timestamp;

/// A unit of sequential progress.
#[derive(Clone, Debug)]
enum Stage {
    /// One step, by index.
    Single(usize),
    /// A fan-out group (index into `fan_outs`) and its branch step indices.
    Group(usize, Vec<usize>),
}

impl Saga {
    /// Splits the steps into stages: steps in list order, each fan-out group at the position
    /// of its first branch.
    fn stages(&self) -> Vec<Stage> {
        let def = &self.definition;
        let group_of = def.group_of();
        let mut seen = BTreeSet::new();
        let mut out = Vec::new();
        for (i, s) in def.steps.iter().enumerate() {
            match group_of.get(&s.step_id) {
                None => out.push(Stage::Single(i)),
                Some(&g) => {
                    if seen.insert(g) {
                        let members = def
                            .fan_outs
                            .get(g)
                            .map(|f| f.branches.iter().filter_map(|b| def.position(b)).collect())
                            .unwrap_or_default();
                        out.push(Stage::Group(g, members));
                    }
                }
            }
        }
        out
    }

    fn step_state(&self, i: usize) -> StepState {
        self.steps.get(i).map_or(StepState::Pending, |s| s.state)
    }

    fn step_id_at(&self, i: usize) -> Option<StepId> {
        self.steps.get(i).map(|s| s.step_id.clone())
    }

    /// Makes all progress possible without outside answers.
    pub(super) fn drive(
        &mut self,
        now: Timestamp,
        out: &mut Vec<SagaCommand>,
    ) -> Result<(), SagaError> {
        // Every pass either returns or moves the saga state or a step forward, so this bound
        // is never reached in practice; it only guarantees termination.
        let limit = self.steps.len().saturating_mul(4).saturating_add(16);
        for _ in 0..limit {
            let again = match self.state {
                SagaState::Running => self.drive_running(now, out)?,
                SagaState::Compensating => self.drive_compensating(now, out)?,
                _ => false,
            };
            if !again {
                break;
            }
        }
        Ok(())
    }

    fn finish(
        &mut self,
        to: SagaState,
        now: Timestamp,
        out: &mut Vec<SagaCommand>,
    ) -> Result<(), SagaError> {
        self.state = self.state.transition(to)?;
        self.completed_at = Some(now);
        out.push(SagaCommand::Finished { state: to });
        Ok(())
    }

    /// Returns `true` when the saga switched to compensating and the loop should continue.
    fn drive_running(
        &mut self,
        now: Timestamp,
        out: &mut Vec<SagaCommand>,
    ) -> Result<bool, SagaError> {
        if self.stop.is_none() && self.started_at.is_some() {
            self.advance_stages(now, out)?;
            if self.state != SagaState::Running {
                return Ok(false);
            }
        }
        let Some(cause) = self.stop.clone() else {
            return Ok(false);
        };
        // Retries not yet started are cancelled at once, even while other calls are in flight.
        for rt in &mut self.steps {
            if rt.state == StepState::Executing && rt.retry_at.is_some() {
                let prev = rt.error.clone().unwrap_or_default();
                super::settle_forward_failure(
                    rt,
                    format!("retry cancelled by rollback after: {prev}"),
                    now,
                )?;
            }
        }
        // An undo must never race its own execute: wait until every call in flight has
        // answered or timed out (each has a deadline, so this wait is bounded).
        if self.steps.iter().any(|s| s.in_flight(Phase::Execute)) {
            return Ok(false);
        }
        let mut order: Vec<(u64, StepId)> = self
            .steps
            .iter()
            .filter(|s| s.state.needs_compensation())
            .map(|s| (s.order.unwrap_or(0), s.step_id.clone()))
            .collect();
        order.sort_by_key(|(seq, _)| std::cmp::Reverse(*seq));
        let order: Vec<StepId> = order.into_iter().map(|(_, id)| id).collect();
        let reason = self.error.clone().unwrap_or_default();
        if order.is_empty() && cause != StopCause::Requested {
            out.push(SagaCommand::Emit(SagaEventKind::Failed { reason }));
            self.finish(SagaState::Failed, now, out)?;
            return Ok(false);
        }
        self.state = self.state.transition(SagaState::Compensating)?;
        out.push(SagaCommand::Emit(SagaEventKind::Compensating {
            reason,
            steps: order.clone(),
        }));
        self.compensation_order = order;
        Ok(true)
    }

    fn advance_stages(
        &mut self,
        now: Timestamp,
        out: &mut Vec<SagaCommand>,
    ) -> Result<(), SagaError> {
        // Without fan-out groups every step is its own stage, so the stage list (a map and a
        // vector built from the definition) is only needed when there are groups.
        let stages = if self.definition.fan_outs.is_empty() {
            None
        } else {
            Some(self.stages())
        };
        let n = self.definition.steps.len();
        let stage_at = |k: usize| match &stages {
            None => (k < n).then_some(Stage::Single(k)),
            Some(list) => list.get(k).cloned(),
        };
        while let Some(stage) = stage_at(self.cursor) {
            match &stage {
                Stage::Single(i) => match self.step_state(*i) {
                    StepState::Pending => return self.start_attempt(*i, Phase::Execute, now, out),
                    StepState::Committed | StepState::Skipped => self.cursor += 1,
                    StepState::Executing => return Ok(()),
                    _ => {
                        let Some(rt) = self.steps.get(*i) else {
                            return Ok(());
                        };
                        self.error = Some(format!(
                            "step `{}` {}: {}",
                            rt.step_id,
                            if rt.state == StepState::Unknown {
                                "has an unknown outcome"
                            } else {
                                "failed"
                            },
                            rt.error.as_deref().unwrap_or("no reason given")
                        ));
                        self.stop = Some(StopCause::StepFailed {
                            step_id: rt.step_id.clone(),
                        });
                        return Ok(());
                    }
                },
                Stage::Group(g, members) => {
                    let Some(group) = self.definition.fan_outs.get(*g).cloned() else {
                        self.cursor += 1;
                        continue;
                    };
                    let fresh = members.iter().all(|&i| {
                        matches!(self.step_state(i), StepState::Pending | StepState::Skipped)
                    });
                    if fresh
                        && members
                            .iter()
                            .any(|&i| self.step_state(i) == StepState::Pending)
                    {
                        out.push(SagaCommand::Emit(SagaEventKind::FanoutStarted {
                            group_id: group.group_id.clone(),
                            policy: group.policy,
                            branches: group.branches.clone(),
                        }));
                        for &i in members {
                            if self.step_state(i) == StepState::Pending {
                                self.start_attempt(i, Phase::Execute, now, out)?;
                            }
                        }
                    }
                    if members.iter().any(|&i| !self.step_state(i).is_settled()) {
                        return Ok(());
                    }
                    let (mut succeeded, mut failed) = (Vec::new(), Vec::new());
                    for &i in members {
                        let id = self.step_id_at(i);
                        match self.step_state(i) {
                            StepState::Committed | StepState::Skipped => succeeded.extend(id),
                            _ => failed.extend(id),
                        }
                    }
                    let satisfied = group.policy.is_satisfied(succeeded.len(), members.len());
                    out.push(SagaCommand::Emit(SagaEventKind::FanoutResolved {
                        group_id: group.group_id.clone(),
                        satisfied,
                        succeeded: succeeded.clone(),
                        failed: failed.clone(),
                    }));
                    let (ok, total) = (succeeded.len(), members.len());
                    self.fan_out_results.push(FanOutResolution {
                        group_id: group.group_id.clone(),
                        satisfied,
                        succeeded,
                        failed,
                    });
                    if satisfied {
                        self.cursor += 1;
                    } else {
                        self.error = Some(format!(
                            "fan-out `{}` missed its policy {}: {ok} of {total} branches succeeded",
                            group.group_id, group.policy
                        ));
                        self.stop = Some(StopCause::FanOutFailed {
                            group_id: group.group_id,
                        });
                        return Ok(());
                    }
                }
            }
        }
        if self.mode == SagaMode::Defined || self.close_requested {
            out.push(SagaCommand::Emit(SagaEventKind::Completed));
            self.finish(SagaState::Completed, now, out)?;
        }
        Ok(())
    }

    /// Returns `true` when a step was settled without a call and the loop should continue.
    fn drive_compensating(
        &mut self,
        now: Timestamp,
        out: &mut Vec<SagaCommand>,
    ) -> Result<bool, SagaError> {
        // One undo at a time, newest effect first.
        if self
            .steps
            .iter()
            .any(|s| s.state == StepState::Compensating)
        {
            return Ok(false);
        }
        let next = self.compensation_order.iter().find_map(|id| {
            let i = self.definition.position(id)?;
            self.step_state(i).needs_compensation().then_some(i)
        });
        if let Some(i) = next {
            let has_undo = self
                .definition
                .steps
                .get(i)
                .is_some_and(|d| d.undo_api.is_some());
            if has_undo {
                self.start_attempt(i, Phase::Compensate, now, out)?;
                return Ok(false);
            }
            let Some(rt) = self.steps.get_mut(i) else {
                return Ok(false);
            };
            rt.state = rt.state.transition(StepState::CompensationFailed)?;
            rt.compensation_ended_at = Some(now);
            let message = "step has no undo api; its effect remains".to_string();
            rt.error = Some(message.clone());
            out.push(SagaCommand::Emit(SagaEventKind::CompensationFailed {
                step_id: rt.step_id.clone(),
                attempt: 0,
                error: message,
                will_retry: false,
            }));
            return Ok(true);
        }
        let failed: Vec<usize> = self
            .compensation_order
            .iter()
            .filter_map(|id| self.definition.position(id))
            .filter(|&i| self.step_state(i) == StepState::CompensationFailed)
            .collect();
        if failed.is_empty() {
            out.push(SagaCommand::Emit(SagaEventKind::Compensated));
            self.finish(SagaState::Compensated, now, out)?;
            return Ok(false);
        }
        let ids: Vec<StepId> = failed.iter().filter_map(|&i| self.step_id_at(i)).collect();
        let mut agents = Vec::new();
        for &i in &failed {
            if let Some(rt) = self.steps.get(i)
                && !agents.contains(&rt.agent)
            {
                agents.push(rt.agent.clone());
            }
        }
        let reason = self.error.clone().unwrap_or_default();
        let listed = ids
            .iter()
            .map(|s| format!("`{s}`"))
            .collect::<Vec<_>>()
            .join(", ");
        self.error = Some(format!(
            "{reason}; {} step(s) failed compensation: {listed}",
            ids.len()
        ));
        out.push(SagaCommand::Emit(SagaEventKind::Escalated {
            failed_compensations: ids.clone(),
        }));
        out.push(SagaCommand::Escalate {
            failed_compensations: ids,
            agents,
            reason,
        });
        self.finish(SagaState::Escalated, now, out)?;
        Ok(false)
    }
}
