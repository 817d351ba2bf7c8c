//! Operator commands: ACLs (creator or admin only), the kill switch with saga hand-off,
//! substitutes, lock-wait cancellation and signed checkpoints.

use std::collections::BTreeSet;

use super::reply::Reply;
use super::session_ops::{emit_granted, session_err};
use super::{Actor, Ctx, Engine, EngineError, Result};
use crate::audit::entry::Decision;
use crate::event::{Event, EventType};
use crate::id::{AgentDid, RecordId, SagaId, SessionId, StepId};
use crate::ring::Ring;
use crate::saga::StepState;
use crate::security::kill::{HandoffStatus, KillReason, KillRecord};

impl Engine {
    /// Sets or clears a VFS ACL. Only the session's creator or an admin may (the reference let
    /// anyone change any ACL).
    pub(crate) fn set_acl(
        &mut self,
        actor: &Actor,
        session_id: &SessionId,
        path: &str,
        allowed: Option<BTreeSet<AgentDid>>,
        ctx: &mut Ctx,
    ) -> Result<Reply> {
        let slot = self.slot(session_id)?;
        let creator = slot.session.creator_did().clone();
        let by = match actor {
            Actor::Admin | Actor::System => creator,
            Actor::Agent(a) if *a == creator => a.clone(),
            Actor::Agent(a) => {
                return Err(EngineError::Forbidden(format!(
                    "only the session creator or an admin may change ACLs; `{a}` is neither"
                )));
            }
        };
        let p = slot
            .vfs
            .path(path)
            .map_err(|e| EngineError::Invalid(e.to_string()))?;
        let slot = self.slot_mut(session_id)?;
        let who = actor
            .agent()
            .map_or("admin".to_string(), ToString::to_string);
        let detail = crate::detail! { "allowed": allowed, "by": who, "path": p.to_string() };
        match allowed {
            Some(set) => slot
                .vfs
                .set_acl(&p, set, &by, ctx.now)
                .map_err(super::act_ops::vfs_err)?,
            None => {
                slot.vfs
                    .clear_acl(&p, &by, ctx.now)
                    .map_err(super::act_ops::vfs_err)?;
            }
        }
        // The audit names who really changed the ACL: the creator, or the admin (no agent).
        // (The VFS edit log needs an agent and records the creator on the admin's behalf.)
        self.audit_session(
            ctx,
            session_id,
            actor.agent(),
            "vfs.acl",
            Decision::Allowed,
            "acl changed",
            detail.clone(),
        );
        let mut event = Event::new(EventType::VfsAclChanged, ctx.now)
            .session(session_id)
            .payload(detail);
        if let Some(a) = actor.agent() {
            event = event.agent(a);
        }
        ctx.emit(event);
        Ok(Reply::Done)
    }

    /// Kills an agent now: it leaves the session, its locks are released (waking waiters), its
    /// elevation is revoked, and its pending saga steps go to a substitute from the session's
    /// pool (round-robin among members of sufficient ring) or roll their saga back.
    pub(crate) fn kill(
        &mut self,
        actor: &Actor,
        session_id: &SessionId,
        agent: &AgentDid,
        reason: KillReason,
        substitute: Option<AgentDid>,
        ctx: &mut Ctx,
    ) -> Result<Reply> {
        Self::require_admin(actor, "kill agents")?;
        let now = ctx.now;
        let slot = self.slot(session_id)?;
        if !slot
            .session
            .participants()
            .get(agent)
            .is_some_and(|p| p.is_active)
        {
            return Err(EngineError::Conflict(format!(
                "agent `{agent}` is not an active participant of session `{session_id}`"
            )));
        }
        if let Some(s) = &substitute
            && (s == agent
                || !slot
                    .session
                    .participants()
                    .get(s)
                    .is_some_and(|p| p.is_active))
        {
            return Err(EngineError::Invalid(format!(
                "substitute `{s}` must be another active participant"
            )));
        }
        // Pending work of the killed agent: held (never started) and not-yet-started steps.
        let mut pending: Vec<(SagaId, StepId, Ring)> = Vec::new();
        for saga_id in &slot.sagas {
            if let Some(held) = self.held_steps.get(saga_id) {
                pending.extend(
                    held.iter()
                        .filter(|s| &s.agent == agent)
                        .map(|s| (saga_id.clone(), s.step_id.clone(), Ring::Standard)),
                );
            }
            if let Some(saga) = self.sagas.get(saga_id).filter(|s| !s.is_finished()) {
                for s in saga
                    .steps()
                    .iter()
                    .filter(|s| s.agent() == agent && s.state() == StepState::Pending)
                {
                    pending.push((saga_id.clone(), s.step_id().clone(), Ring::Standard));
                }
            }
        }
        let candidates: Vec<(AgentDid, Ring, bool)> = slot
            .session
            .active_participants()
            .map(|p| (p.agent_did.clone(), p.ring, true))
            .collect();
        if let Some(s) = &substitute {
            let _ = self.substitutes.register(session_id, s.clone());
        }
        let plan = self
            .substitutes
            .plan_handoffs(agent, session_id, &pending, &candidates);
        let slot = self.slot_mut(session_id)?;
        slot.session.leave(agent, now).map_err(session_err)?;
        slot.killed.insert(agent.clone());
        self.substitutes.unregister(session_id, agent);
        self.after_departure(session_id, agent, "killed", ctx);
        for h in &plan {
            let to = (h.status == HandoffStatus::HandedOff)
                .then_some(h.to.as_ref())
                .flatten();
            self.reassign_or_compensate(&h.saga_id, &h.step_id, to, ctx);
            ctx.emit(
                Event::new(EventType::SecuritySagaHandoff, now)
                    .session(session_id)
                    .agent(agent)
                    .payload(crate::detail! { "saga_id": h.saga_id, "status": h.status, "step_id": h.step_id, "to": h.to }),
            );
        }
        let rec = KillRecord::new(
            &mut ctx.ids,
            agent.clone(),
            session_id.clone(),
            reason,
            now,
            plan,
            String::new(),
        )
        .map_err(|e| EngineError::Invalid(e.to_string()))?;
        self.kills.record(rec.clone());
        self.audit_session(
            ctx,
            session_id,
            Some(agent),
            "security.kill",
            Decision::Allowed,
            "killed by admin",
            crate::detail! { "handoffs": rec.handoffs, "kill_id": rec.kill_id, "reason": reason },
        );
        ctx.emit(Event::new(EventType::SecurityAgentKilled, now).session(session_id).agent(agent).payload(crate::detail! { "handoffs": rec.handoffs.len(), "kill_id": rec.kill_id, "reason": reason }));
        Ok(Reply::Killed(rec))
    }

    pub(crate) fn register_substitute(
        &mut self,
        actor: &Actor,
        session_id: &SessionId,
        agent: AgentDid,
        ctx: &mut Ctx,
    ) -> Result<Reply> {
        Self::require_admin(actor, "register substitutes")?;
        let slot = self.slot(session_id)?;
        if !slot
            .session
            .participants()
            .get(&agent)
            .is_some_and(|p| p.is_active)
        {
            return Err(EngineError::Conflict(format!(
                "substitute `{agent}` is not an active participant of session `{session_id}`"
            )));
        }
        self.substitutes
            .register(session_id, agent.clone())
            .map_err(|e| EngineError::Conflict(e.to_string()))?;
        self.audit_session(
            ctx,
            session_id,
            Some(&agent),
            "security.substitute",
            Decision::Allowed,
            "registered as substitute",
            crate::detail! {},
        );
        Ok(Reply::Done)
    }

    /// Cancels a queued lock request whose caller stopped waiting. Returns whether it was
    /// still waiting.
    pub(crate) fn cancel_lock_wait(
        &mut self,
        actor: &Actor,
        session_id: &SessionId,
        ticket: &RecordId,
        ctx: &mut Ctx,
    ) -> Result<Reply> {
        let slot = self.slot_mut(session_id)?;
        let owner = slot
            .locks
            .waiting()
            .find(|t| &t.id == ticket)
            .map(|t| t.agent.clone());
        if let Some(owner) = &owner {
            Self::require_self_or_admin(actor, owner)?;
        }
        let slot = self.slot_mut(session_id)?;
        if let Some(granted) = slot.locks.cancel_wait(ticket, ctx.now) {
            emit_granted(ctx, session_id, granted);
        }
        Ok(Reply::Done)
    }

    /// Stores a signed checkpoint of the hypervisor log produced by the runtime's signer.
    pub(crate) fn record_checkpoint(
        &mut self,
        actor: &Actor,
        size: u64,
        note: String,
        ctx: &mut Ctx,
    ) -> Result<Reply> {
        Self::require_admin(actor, "record checkpoints")?;
        if size > self.hv_log.len() || size < self.last_signed_size() {
            return Err(EngineError::Conflict(format!(
                "checkpoint size {size} does not fit the log (size {})",
                self.hv_log.len()
            )));
        }
        self.push_signed(size, note);
        ctx.emit(
            Event::new(EventType::AuditCheckpointSigned, ctx.now)
                .payload(crate::detail! { "tree_size": size }),
        );
        Ok(Reply::Done)
    }
}
