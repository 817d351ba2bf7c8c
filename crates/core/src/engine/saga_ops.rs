//! Sagas inside the engine: creation, step-by-step building, feeding outcomes into the pure
//! saga machine, governing every step as its agent, and turning escalation into real liability
//! (Shapley attribution, slashing, ledger entries).

use std::collections::VecDeque;

use super::governed::Classified;
use super::reply::Reply;
use super::{Actor, Ctx, Engine, EngineError, Result};
use crate::audit::entry::Decision;
use crate::event::{Event, EventType};
use crate::id::{ActionId, AgentDid, SagaId, SessionId, StepId};
use crate::liability::shapley::{AttributionInput, StepFact, attribute};
use crate::liability::{ActionClass, LedgerEntryType};
use crate::ring::Ring;
use crate::saga::{
    ErrorClass, Saga, SagaCommand, SagaDefinition, SagaError, SagaEventKind, SagaInput, SagaMode,
    SagaState, StepDefinition, StepState, StopCause,
};
use crate::score::Score;
use crate::session::SessionState;

/// Maps a saga-machine refusal to the engine's error kinds.
pub(crate) fn saga_err(e: SagaError) -> EngineError {
    match e {
        SagaError::Definition(_) | SagaError::NoSteps => EngineError::Invalid(e.to_string()),
        SagaError::UnknownStep { .. } => EngineError::NotFound {
            kind: "step",
            id: e.to_string(),
        },
        _ => EngineError::Conflict(e.to_string()),
    }
}

impl Engine {
    fn require_member_or_admin(&self, actor: &Actor, session_id: &SessionId) -> Result<()> {
        match actor {
            Actor::Admin | Actor::System => Ok(()),
            Actor::Agent(a) => {
                let slot = self.slot(session_id)?;
                if slot
                    .session
                    .participants()
                    .get(a)
                    .is_some_and(|p| p.is_active)
                {
                    Ok(())
                } else {
                    Err(EngineError::Forbidden(format!(
                        "agent `{a}` is not a member of session `{session_id}`"
                    )))
                }
            }
        }
    }

    /// The saga must exist (else not found) and `actor` may act on it: the admin, the system, or
    /// an active member of the saga's session.
    fn require_saga_member_or_admin(&self, actor: &Actor, saga_id: &SagaId) -> Result<()> {
        let session = self
            .sagas
            .get(saga_id)
            .ok_or_else(|| EngineError::not_found("saga", saga_id))?
            .session_id();
        self.require_member_or_admin(actor, session)
    }

    fn require_open_session(&self, session_id: &SessionId) -> Result<()> {
        let st = self.slot(session_id)?.session.state();
        match st {
            SessionState::Created | SessionState::Handshaking | SessionState::Active => Ok(()),
            _ => Err(EngineError::Conflict(format!(
                "session `{session_id}` is {st}; sagas can no longer be created in it"
            ))),
        }
    }

    /// Drops a saga and its held steps, and takes it off its session's list (`saga_order` is
    /// the caller's). Oldest first is the common case, so the lists are searched from the front:
    /// no scan of every session or every saga, which at the saga limit (100,000 by default)
    /// would make each new saga pay for all the old ones.
    fn forget_saga(&mut self, id: &SagaId) {
        self.held_steps.remove(id);
        if let Some(saga) = self.sagas.remove(id)
            && let Some(slot) = self.sessions.get_mut(saga.session_id())
        {
            remove_first(&mut slot.sagas, id);
        }
    }

    fn insert_saga(&mut self, saga: Saga, ctx: &mut Ctx) -> Result<SagaId> {
        let id = saga.saga_id().clone();
        match self.sagas.get(&id) {
            Some(old) if !old.is_finished() => {
                return Err(EngineError::Conflict(format!(
                    "saga `{id}` already exists and is still running"
                )));
            }
            // A finished saga submitted again under the same id is a re-run: it replaces the
            // old record, and the checkpoints the old run left decide which steps are skipped.
            Some(_) => {
                remove_first(&mut self.saga_order, &id);
                self.forget_saga(&id);
            }
            None => {}
        }
        if self.sagas.len() >= self.config.max_sagas {
            let victim = self
                .saga_order
                .iter()
                .position(|s| self.sagas.get(s).is_some_and(Saga::is_finished));
            let Some(i) = victim else {
                return Err(EngineError::Conflict(format!(
                    "saga limit reached ({})",
                    self.config.max_sagas
                )));
            };
            if let Some(old) = self.saga_order.remove(i) {
                self.forget_saga(&old);
            }
        }
        let session_id = saga.session_id().clone();
        self.sagas.insert(id.clone(), saga);
        self.saga_order.push_back(id.clone());
        if let Some(slot) = self.sessions.get_mut(&session_id) {
            slot.sagas.push_back(id.clone());
        }
        self.audit_session(
            ctx,
            &session_id,
            None,
            "saga.create",
            Decision::Allowed,
            "saga created",
            crate::detail! { "saga_id": id },
        );
        ctx.emit(
            Event::new(EventType::SagaCreated, ctx.now)
                .session(&session_id)
                .payload(crate::detail! { "saga_id": id }),
        );
        Ok(id)
    }

    pub(crate) fn create_saga(
        &mut self,
        actor: &Actor,
        session_id: &SessionId,
        ctx: &mut Ctx,
    ) -> Result<Reply> {
        self.require_member_or_admin(actor, session_id)?;
        self.require_open_session(session_id)?;
        let id = ctx.ids.saga();
        let saga = Saga::new(
            id,
            SagaDefinition::new("step-by-step", session_id.clone()),
            SagaMode::StepByStep,
            ctx.now,
        )
        .map_err(saga_err)?;
        let id = self.insert_saga(saga, ctx)?;
        self.feed(&id, SagaInput::Start { skip: Vec::new() }, ctx)?;
        Ok(Reply::Saga(self.saga_summary(&id)?))
    }

    pub(crate) fn submit_saga(
        &mut self,
        actor: &Actor,
        definition: SagaDefinition,
        ctx: &mut Ctx,
    ) -> Result<Reply> {
        let session_id = definition.session_id.clone();
        self.require_member_or_admin(actor, &session_id)?;
        if let Actor::Agent(a) = actor
            && let Some(s) = definition.steps.iter().find(|s| &s.agent != a)
        {
            return Err(EngineError::Forbidden(format!(
                "agent `{a}` may only submit sagas whose steps it runs itself; step `{}` runs as `{}`",
                s.step_id, s.agent
            )));
        }
        let st = self.slot(&session_id)?.session.state();
        if st != SessionState::Active {
            return Err(EngineError::Conflict(format!(
                "session `{session_id}` is {st}; a saga needs an active session"
            )));
        }
        let saga = Saga::from_definition(definition, SagaMode::Defined, &mut ctx.ids, ctx.now)
            .map_err(saga_err)?;
        let plan = self
            .checkpoints
            .replay_plan(saga.saga_id(), saga.definition());
        let id = self.insert_saga(saga, ctx)?;
        self.feed(&id, plan.start_input(), ctx)?;
        Ok(Reply::Saga(self.saga_summary(&id)?))
    }

    pub(crate) fn add_step(
        &mut self,
        actor: &Actor,
        saga_id: &SagaId,
        step: StepDefinition,
        ctx: &mut Ctx,
    ) -> Result<Reply> {
        Self::require_self_or_admin(actor, &step.agent)?;
        let saga = self
            .sagas
            .get(saga_id)
            .ok_or_else(|| EngineError::not_found("saga", saga_id))?;
        if saga.mode() != SagaMode::StepByStep {
            return Err(EngineError::Conflict(format!(
                "saga `{saga_id}` runs from its definition; steps cannot be added"
            )));
        }
        if saga.is_finished() || saga.state() != SagaState::Running {
            return Err(EngineError::Conflict(format!(
                "saga `{saga_id}` is {}; steps can no longer be added",
                saga.state().name()
            )));
        }
        let session_id = saga.session_id().clone();
        if let Some(p) = step.problems("step").into_iter().next() {
            return Err(EngineError::Invalid(p.to_string()));
        }
        let held = self
            .held_steps
            .get(saga_id)
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        if saga.step(&step.step_id).is_some() || held.iter().any(|s| s.step_id == step.step_id) {
            return Err(EngineError::Conflict(format!(
                "step `{}` already exists in saga `{saga_id}`",
                step.step_id
            )));
        }
        if held.len() + saga.steps().len() >= crate::saga::MAX_STEPS {
            return Err(EngineError::Conflict(format!(
                "saga `{saga_id}` has the maximum number of steps"
            )));
        }
        self.require_open_session(&session_id)?;
        self.audit_session(
            ctx,
            &session_id,
            Some(&step.agent),
            "saga.add_step",
            Decision::Allowed,
            "step added",
            crate::detail! { "action_id": step.action_id, "saga_id": saga_id, "step_id": step.step_id },
        );
        // The saga's list usually exists already: no key copy for the lookup then.
        match self.held_steps.get_mut(saga_id) {
            Some(held) => held.push(step),
            None => {
                // Room for four, as a first push would reserve.
                let mut held = Vec::with_capacity(4);
                held.push(step);
                self.held_steps.insert(saga_id.clone(), held);
            }
        }
        Ok(Reply::Saga(self.saga_summary(saga_id)?))
    }

    pub(crate) fn execute_step(
        &mut self,
        actor: &Actor,
        saga_id: &SagaId,
        step_id: &StepId,
        ctx: &mut Ctx,
    ) -> Result<Reply> {
        let saga = self
            .sagas
            .get(saga_id)
            .ok_or_else(|| EngineError::not_found("saga", saga_id))?;
        // One lookup of the held list serves the search, the actor check and the removal.
        let held = self.held_steps.get_mut(saga_id).and_then(|v| {
            let i = v.iter().position(|s| &s.step_id == step_id)?;
            Some((v, i))
        });
        let Some((held, i)) = held else {
            return match saga.step(step_id) {
                Some(s) => Err(EngineError::Conflict(format!(
                    "step `{step_id}` was already executed (it is {})",
                    s.state().name()
                ))),
                None => Err(EngineError::not_found("step", step_id)),
            };
        };
        if let Some(s) = held.get(i) {
            Self::require_self_or_admin(actor, &s.agent)?;
        }
        let step = held.remove(i);
        self.feed(saga_id, SagaInput::StepAdded(Box::new(step)), ctx)?;
        Ok(Reply::Saga(self.saga_summary(saga_id)?))
    }

    pub(crate) fn complete_saga(
        &mut self,
        actor: &Actor,
        saga_id: &SagaId,
        ctx: &mut Ctx,
    ) -> Result<Reply> {
        self.require_saga_member_or_admin(actor, saga_id)?;
        if self.held_steps.get(saga_id).is_some_and(|v| !v.is_empty()) {
            return Err(EngineError::Conflict(format!(
                "saga `{saga_id}` has steps that were added but never executed"
            )));
        }
        self.feed(saga_id, SagaInput::CompleteRequested, ctx)?;
        Ok(Reply::Saga(self.saga_summary(saga_id)?))
    }

    pub(crate) fn compensate_saga(
        &mut self,
        actor: &Actor,
        saga_id: &SagaId,
        ctx: &mut Ctx,
    ) -> Result<Reply> {
        self.require_saga_member_or_admin(actor, saga_id)?;
        self.held_steps.remove(saga_id);
        self.feed(saga_id, SagaInput::CompensateRequested, ctx)?;
        Ok(Reply::Saga(self.saga_summary(saga_id)?))
    }

    pub(crate) fn saga_input(
        &mut self,
        actor: &Actor,
        saga_id: &SagaId,
        input: SagaInput,
        ctx: &mut Ctx,
    ) -> Result<Reply> {
        Self::require_admin(actor, "report saga step outcomes")?;
        self.feed(saga_id, input, ctx)?;
        Ok(Reply::Saga(self.saga_summary(saga_id)?))
    }

    /// Rolls back every unfinished saga of a session (termination, expiry).
    pub(crate) fn stop_session_sagas(&mut self, session_id: &SessionId, ctx: &mut Ctx) {
        let ids: Vec<SagaId> = self
            .sessions
            .get(session_id)
            .map(|s| s.sagas.iter().cloned().collect())
            .unwrap_or_default();
        for id in ids {
            self.held_steps.remove(&id);
            if self.sagas.get(&id).is_some_and(|s| !s.is_finished()) {
                let _ = self.feed(&id, SagaInput::CompensateRequested, ctx);
            }
        }
    }

    /// Hands a killed agent's unstarted steps to a substitute (`Some`) or rolls the saga back.
    pub(crate) fn reassign_or_compensate(
        &mut self,
        saga_id: &SagaId,
        step_id: &StepId,
        to: Option<&AgentDid>,
        ctx: &mut Ctx,
    ) {
        if let Some(held) = self.held_steps.get_mut(saga_id)
            && let Some(s) = held.iter_mut().find(|s| &s.step_id == step_id)
        {
            match to {
                Some(a) => s.agent = a.clone(),
                None => {
                    held.retain(|s| &s.step_id != step_id);
                }
            }
            return;
        }
        let r = match to {
            Some(a) => self.feed(
                saga_id,
                SagaInput::StepReassigned {
                    step_id: step_id.clone(),
                    to_agent: a.clone(),
                },
                ctx,
            ),
            None => Err(EngineError::Conflict(String::new())),
        };
        if r.is_err() {
            let _ = self.feed(saga_id, SagaInput::CompensateRequested, ctx);
        }
    }

    /// Feeds one input into a saga and carries out what the machine asks for, governing each
    /// step execution as its agent. Steps denied by governance fail for good (rate limits are
    /// retryable) without any outside call.
    pub(crate) fn feed(&mut self, saga_id: &SagaId, input: SagaInput, ctx: &mut Ctx) -> Result<()> {
        let saga = self
            .sagas
            .get_mut(saga_id)
            .ok_or_else(|| EngineError::not_found("saga", saga_id))?;
        let cmds = saga.handle(input, ctx.now).map_err(saga_err)?;
        // Looked up once for all the commands: no saga command removes a saga or moves it to
        // another session (sagas are dropped only when a saga or a session is created).
        let session_id = saga.session_id().clone();
        let mut queue: VecDeque<SagaCommand> = cmds.into();
        while let Some(cmd) = queue.pop_front() {
            let follow = self.saga_command(saga_id, &session_id, cmd, ctx);
            if let Some(input) = follow
                && let Some(saga) = self.sagas.get_mut(saga_id)
                && let Ok(more) = saga.handle(input, ctx.now)
            {
                queue.extend(more);
            }
        }
        Ok(())
    }

    /// Carries out one saga command; returns an input to feed back, if any.
    fn saga_command(
        &mut self,
        saga_id: &SagaId,
        session_id: &SessionId,
        cmd: SagaCommand,
        ctx: &mut Ctx,
    ) -> Option<SagaInput> {
        match cmd {
            SagaCommand::ExecuteStep {
                ref step_id,
                attempt,
                ref agent,
                ..
            } => {
                let (c, action) = self.classify_step(session_id, saga_id, step_id);
                match self.govern(session_id, agent, &c, ctx) {
                    Ok(_) => {
                        // What `record_allowed` would write (`c.detail` with `outcome` spliced
                        // in at its sorted place), written in one go.
                        let detail = crate::detail! {
                            "action_id": action,
                            "outcome": crate::detail! { "attempt": attempt },
                            "saga_id": saga_id,
                            "step_id": step_id,
                        };
                        self.record_allowed_detail(ctx, session_id, agent, c.kind, detail);
                        ctx.saga_work.push((saga_id.clone(), cmd));
                        None
                    }
                    Err(EngineError::RateLimited { reason, .. }) => Some(SagaInput::StepFailed {
                        step_id: step_id.clone(),
                        attempt,
                        error: reason,
                        class: ErrorClass::Retryable,
                    }),
                    Err(e) => Some(SagaInput::StepFailed {
                        step_id: step_id.clone(),
                        attempt,
                        error: format!("denied by governance: {e}"),
                        class: ErrorClass::Final,
                    }),
                }
            }
            SagaCommand::CompensateStep { .. }
            | SagaCommand::ScheduleRetry { .. }
            | SagaCommand::ScheduleSagaTimeout { .. } => {
                ctx.saga_work.push((saga_id.clone(), cmd));
                None
            }
            SagaCommand::SaveCheckpoint { step_id, goal } => {
                let snapshot = self
                    .sagas
                    .get(saga_id)
                    .and_then(|s| s.step(&step_id))
                    .and_then(|s| s.output().cloned());
                match self.checkpoints.save(
                    saga_id,
                    &step_id,
                    &goal,
                    snapshot,
                    ctx.now,
                    &mut ctx.ids,
                ) {
                    Ok(_) => {
                        ctx.emit(
                            Event::new(EventType::SagaCheckpointSaved, ctx.now)
                                .session(session_id)
                                .payload(
                                    crate::detail! { "goal": goal, "saga_id": saga_id, "step_id": step_id },
                                ),
                        );
                        Some(SagaInput::StepCheckpointed { step_id })
                    }
                    Err(_) => None,
                }
            }
            SagaCommand::Escalate {
                agents,
                reason,
                failed_compensations,
            } => {
                self.escalate(
                    saga_id,
                    session_id,
                    &agents,
                    &reason,
                    &failed_compensations,
                    ctx,
                );
                None
            }
            SagaCommand::Finished { state } => {
                self.audit_session(
                    ctx,
                    session_id,
                    None,
                    "saga.finished",
                    Decision::Allowed,
                    state.name(),
                    // `name()` is the state's serde form, without a trip through a JSON value.
                    crate::detail! { "saga_id": saga_id, "state": state.name() },
                );
                if state == SagaState::Completed {
                    self.checkpoints.remove_saga(saga_id);
                }
                ctx.saga_work
                    .push((saga_id.clone(), SagaCommand::Finished { state }));
                None
            }
            SagaCommand::Emit(kind) => {
                self.emit_saga_event(saga_id, session_id, kind, ctx);
                None
            }
        }
    }

    fn classify_step(
        &mut self,
        session_id: &SessionId,
        saga_id: &SagaId,
        step_id: &StepId,
    ) -> (Classified, Option<ActionId>) {
        let action = self
            .sagas
            .get(saga_id)
            .and_then(|s| s.definition().step(step_id))
            .map(|d| d.action_id.clone());
        let desc = action.as_ref().and_then(|a| {
            self.sessions
                .get(session_id)
                .and_then(|s| s.registry.get(a))
                .map(|e| e.descriptor())
        });
        // A registered action requires its own ring; an unregistered step is a compensable
        // (reversible) action and requires ring 2.
        let required = match &desc {
            Some(d) => self.classifier.classify(d).ring,
            None => Ring::Standard,
        };
        let c = Classified {
            class: ActionClass::Execute,
            required,
            kind: "saga.step",
            unknown: None,
            detail: crate::detail! { "action_id": action, "saga_id": saga_id, "step_id": step_id },
        };
        (c, action)
    }

    fn emit_saga_event(
        &mut self,
        saga_id: &SagaId,
        session_id: &SessionId,
        kind: SagaEventKind,
        ctx: &mut Ctx,
    ) {
        use SagaEventKind as K;
        let (t, agent) = match &kind {
            K::Started | K::StepAdded { .. } => (EventType::SagaCreated, None),
            K::StepStarted { agent, .. } => (EventType::SagaStepStarted, Some(agent)),
            K::StepCommitted { .. } | K::StepSkipped { .. } => (EventType::SagaStepCommitted, None),
            K::StepFailed { .. } | K::StepTimedOut { .. } => (EventType::SagaStepFailed, None),
            K::StepReassigned { .. } => (EventType::SecuritySagaHandoff, None),
            K::FanoutStarted { .. } => (EventType::SagaFanoutStarted, None),
            K::FanoutResolved { .. } => (EventType::SagaFanoutResolved, None),
            K::TimedOut => (EventType::SagaFailed, None),
            K::Compensating { .. } | K::CompensationStarted { .. } => {
                (EventType::SagaCompensating, None)
            }
            K::StepCompensated { .. } => (EventType::SagaStepCompensated, None),
            K::CompensationFailed { .. } => (EventType::SagaStepFailed, None),
            K::CheckpointSaved { .. } => (EventType::SagaCheckpointSaved, None),
            K::Completed => (EventType::SagaCompleted, None),
            K::Compensated => (EventType::SagaCompensated, None),
            K::Failed { .. } => (EventType::SagaFailed, None),
            K::Escalated { .. } => (EventType::SagaEscalated, None),
        };
        if matches!(kind, K::Started) {
            return; // saga.created was emitted on insert
        }
        let payload = kind.payload(saga_id);
        let mut e = Event::new(t, ctx.now).session(session_id).payload(payload);
        if let Some(a) = agent {
            e = e.agent(a);
        }
        ctx.emit(e);
    }

    /// Escalation made real: Shapley attribution over the saga's agents, then the most liable
    /// agent is slashed together with its vouchers, and every agent's share enters the ledger.
    fn escalate(
        &mut self,
        saga_id: &SagaId,
        session_id: &SessionId,
        agents: &[AgentDid],
        reason: &str,
        failed_compensations: &[StepId],
        ctx: &mut Ctx,
    ) {
        let now = ctx.now;
        let Some(saga) = self.sagas.get(saga_id) else {
            return;
        };
        let registry = self.sessions.get(session_id).map(|s| &s.registry);
        let mut facts = Vec::new();
        let mut prev: Option<StepId> = None;
        for s in saga.steps() {
            let Some(d) = saga.definition().step(s.step_id()) else {
                continue;
            };
            let failed = matches!(
                s.state(),
                StepState::Failed | StepState::Unknown | StepState::CompensationFailed
            );
            let risk = registry.map_or(Score::clamped(0.95), |r| r.risk_weight(&d.action_id));
            facts.push(StepFact {
                step_id: s.step_id().clone(),
                agent: s.agent().clone(),
                action_id: d.action_id.clone(),
                failed,
                risk_weight: risk,
                depends_on: prev.iter().cloned().collect(),
            });
            prev = Some(s.step_id().clone());
        }
        let failure_step = match saga.stop_cause() {
            Some(StopCause::StepFailed { step_id, .. }) => Some(step_id.clone()),
            _ => None,
        }
        .or_else(|| failed_compensations.first().cloned())
        .or_else(|| facts.iter().find(|f| f.failed).map(|f| f.step_id.clone()));
        let Some(failure_step) = failure_step else {
            return;
        };
        let Some(failure_agent) = saga.step(&failure_step).map(|s| s.agent().clone()) else {
            return;
        };
        let omega = facts
            .iter()
            .find(|f| f.step_id == failure_step)
            .map_or(Score::clamped(0.95), |f| f.risk_weight);
        let input = AttributionInput {
            saga_id: saga_id.clone(),
            session_id: session_id.clone(),
            steps: facts,
            failure_step,
            failure_agent,
        };
        let result = match attribute(&mut ctx.ids, &input, now) {
            Ok(r) => r,
            Err(e) => {
                self.audit_session(
                    ctx,
                    session_id,
                    None,
                    "liability.attribution",
                    Decision::Denied,
                    &e.to_string(),
                    crate::detail! { "saga_id": saga_id },
                );
                return;
            }
        };
        for a in &result.attributions {
            let _ = self.ledger.record(
                &mut ctx.ids,
                &a.agent,
                LedgerEntryType::FaultAttributed,
                session_id,
                Score::clamped(a.share_exact),
                reason,
                None,
                now,
            );
        }
        self.audit_session(
            ctx,
            session_id,
            None,
            "liability.attribution",
            Decision::Allowed,
            reason,
            crate::detail! { "agents": agents, "attributions": result.attributions, "saga_id": saga_id },
        );
        ctx.emit(Event::new(EventType::LiabilityFaultAttributed, now).session(session_id).payload(crate::detail! { "attribution_id": result.attribution_id, "attributions": result.attributions, "root_cause_agent": result.root_cause_agent, "saga_id": saga_id }));
        // The most liable agent; on a tie the direct cause, not whoever sorts first by DID.
        let top = result
            .attributions
            .iter()
            .max_by(|a, b| {
                a.share_exact
                    .total_cmp(&b.share_exact)
                    .then(a.is_direct_cause.cmp(&b.is_direct_cause))
                    .then(b.agent.cmp(&a.agent))
            })
            .map(|a| a.agent.clone());
        if let Some(top) = top {
            let why = format!("saga `{saga_id}` escalated: {reason}");
            self.apply_slash(session_id, &top, omega, &why, ctx);
        }
        self.push_attribution(result);
    }
}

/// Removes the first occurrence of `id` from `list`, searching from the front.
fn remove_first(list: &mut VecDeque<SagaId>, id: &SagaId) {
    if let Some(i) = list.iter().position(|s| s == id) {
        list.remove(i);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::ActionId;

    #[test]
    fn step_audit_detail_written_in_one_go_equals_the_spliced_one() {
        let saga_id = SagaId::new("saga:s").unwrap();
        let step_id = StepId::new("step-0").unwrap();
        for action in [Some(ActionId::new("act.x").unwrap()), None] {
            let c = crate::detail! { "action_id": action, "saga_id": saga_id, "step_id": step_id };
            let spliced = c.with_field("outcome", &crate::detail! { "attempt": 2u32 });
            let direct = crate::detail! {
                "action_id": action,
                "outcome": crate::detail! { "attempt": 2u32 },
                "saga_id": saga_id,
                "step_id": step_id,
            };
            assert_eq!(direct, spliced);
        }
    }
}
