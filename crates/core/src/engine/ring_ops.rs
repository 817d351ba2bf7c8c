//! Ring commands: elevation ("sudo with TTL", approved by someone privileged), ring-1 consensus,
//! the ring-0 admin witness, spawned children, and breaker resets.

use std::time::Duration;

use super::governed::Classified;
use super::reply::Reply;
use super::{Actor, Ctx, Engine, EngineError, Result};
use crate::audit::entry::Decision;
use crate::event::{Event, EventType};
use crate::id::{AgentDid, RecordId, SessionId};
use crate::liability::ActionClass;
use crate::ring::elevation::{Approver, ElevationError};
use crate::ring::{RING_1_THRESHOLD, Ring};

fn elev_err(e: ElevationError) -> EngineError {
    match e {
        ElevationError::NotFound(id) => EngineError::not_found("elevation", id),
        ElevationError::SelfApproval | ElevationError::ApproverTooLow { .. } => {
            EngineError::Forbidden(e.to_string())
        }
        _ => EngineError::Conflict(e.to_string()),
    }
}

impl Engine {
    fn member_ring(&self, session_id: &SessionId, agent: &AgentDid) -> Result<Ring> {
        let slot = self.slot(session_id)?;
        slot.session
            .participants()
            .get(agent)
            .filter(|p| p.is_active)
            .map(|p| p.ring)
            .ok_or_else(|| {
                EngineError::Conflict(format!(
                    "agent `{agent}` is not an active participant of session `{session_id}`"
                ))
            })
    }

    #[allow(clippy::too_many_arguments)] // the request's fields
    pub(crate) fn request_elevation(
        &mut self,
        actor: &Actor,
        session_id: &SessionId,
        agent: &AgentDid,
        target: Ring,
        ttl_seconds: Option<u64>,
        reason: String,
        ctx: &mut Ctx,
    ) -> Result<Reply> {
        Self::require_self_or_admin(actor, agent)?;
        let current = self.member_ring(session_id, agent)?;
        let c = Classified {
            class: ActionClass::Escalate,
            required: Ring::Sandbox,
            kind: "ring.elevation_request",
            unknown: None,
            detail: crate::detail! { "reason": reason, "target": target.number(), "ttl_seconds": ttl_seconds },
        };
        self.govern(session_id, agent, &c, ctx)?;
        let e = self
            .elevations
            .request(
                &mut ctx.ids,
                agent.clone(),
                session_id.clone(),
                current,
                target,
                ttl_seconds.map(Duration::from_secs),
                reason,
                ctx.now,
            )
            .map_err(elev_err)?;
        self.record_allowed(
            ctx,
            session_id,
            agent,
            &c,
            crate::detail! { "elevation_id": e.elevation_id },
        );
        ctx.emit(Event::new(EventType::RingElevationRequested, ctx.now).session(session_id).agent(agent).payload(crate::detail! { "elevation_id": e.elevation_id, "from": current.number(), "to": target.number() }));
        Ok(Reply::Elevation(e))
    }

    pub(crate) fn approve_elevation(
        &mut self,
        actor: &Actor,
        id: &RecordId,
        ctx: &mut Ctx,
    ) -> Result<Reply> {
        let e = self
            .elevations
            .get(id)
            .ok_or_else(|| EngineError::not_found("elevation", id))?;
        let session_id = e.session_id.clone();
        let approver = match actor {
            Actor::Admin | Actor::System => Approver::Admin,
            Actor::Agent(a) => Approver::Agent {
                did: a.clone(),
                ring: self.member_ring(&session_id, a)?,
            },
        };
        let e = self
            .elevations
            .approve(id, approver, ctx.now)
            .map_err(elev_err)?;
        let by = actor
            .agent()
            .map_or("admin".to_string(), ToString::to_string);
        self.audit_session(ctx, &session_id, Some(&e.agent), "ring.elevate", Decision::Allowed, "elevation approved", crate::detail! { "approved_by": by, "elevation_id": e.elevation_id, "expires_at": e.expires_at, "ring": e.elevated_ring.number() });
        ctx.emit(Event::new(EventType::RingElevated, ctx.now).session(&session_id).agent(&e.agent).payload(crate::detail! { "approved_by": by, "elevation_id": e.elevation_id, "expires_at": e.expires_at, "ring": e.elevated_ring.number() }));
        Ok(Reply::Elevation(e))
    }

    pub(crate) fn revoke_elevation(
        &mut self,
        actor: &Actor,
        id: &RecordId,
        ctx: &mut Ctx,
    ) -> Result<Reply> {
        let e = self
            .elevations
            .get(id)
            .ok_or_else(|| EngineError::not_found("elevation", id))?;
        // The requester may withdraw its own request; otherwise only an admin revokes.
        match actor {
            Actor::Agent(a) if a == &e.agent => {}
            _ => Self::require_admin(actor, "revoke elevations")?,
        }
        let e = self.elevations.revoke(id, ctx.now).map_err(elev_err)?;
        self.audit_session(
            ctx,
            &e.session_id.clone(),
            Some(&e.agent),
            "ring.elevation_revoke",
            Decision::Allowed,
            "revoked",
            crate::detail! { "elevation_id": e.elevation_id },
        );
        ctx.emit(
            Event::new(EventType::RingElevationRevoked, ctx.now)
                .session(&e.session_id)
                .agent(&e.agent)
                .payload(crate::detail! { "elevation_id": e.elevation_id }),
        );
        Ok(Reply::Elevation(e))
    }

    /// Records one consensus approval for ring 1. Reached with an admin's approval, or with
    /// `consensus_quorum` approvals from other ring ≤ 1 participants.
    pub(crate) fn approve_consensus(
        &mut self,
        actor: &Actor,
        session_id: &SessionId,
        agent: &AgentDid,
        ctx: &mut Ctx,
    ) -> Result<Reply> {
        self.member_ring(session_id, agent)?;
        let approver = match actor {
            Actor::Admin | Actor::System => "admin".to_string(),
            Actor::Agent(a) => {
                if a == agent {
                    return Err(EngineError::Forbidden(
                        "an agent cannot approve its own consensus".into(),
                    ));
                }
                let r = self.member_ring(session_id, a)?;
                if !r.at_least(Ring::Privileged) {
                    return Err(EngineError::Forbidden(format!(
                        "consensus approvals come from ring ≤ 1 participants; `{a}` is {r}"
                    )));
                }
                a.to_string()
            }
        };
        let quorum = self.config.consensus_quorum.max(1);
        let slot = self.slot_mut(session_id)?;
        let g = slot.grants.entry(agent.clone()).or_default();
        g.consensus_approvals.insert(approver.clone());
        let reached =
            g.consensus_approvals.contains("admin") || g.consensus_approvals.len() >= quorum;
        g.consensus = reached;
        let approvals = g.consensus_approvals.len();
        self.audit_session(
            ctx,
            session_id,
            Some(agent),
            "ring.consensus",
            Decision::Allowed,
            &format!("approved by {approver}"),
            crate::detail! { "approvals": approvals, "reached": reached },
        );
        self.rederive(session_id, agent, "consensus", ctx);
        let ring = self.member_ring(session_id, agent)?;
        Ok(Reply::Ring {
            agent_did: agent.clone(),
            ring,
        })
    }

    pub(crate) fn grant_root(
        &mut self,
        actor: &Actor,
        session_id: &SessionId,
        agent: &AgentDid,
        witness: &str,
        ctx: &mut Ctx,
    ) -> Result<Reply> {
        Self::require_admin(actor, "witness ring-0 grants")?;
        self.member_ring(session_id, agent)?;
        if witness.trim().is_empty() || witness.len() > 1024 {
            return Err(EngineError::Invalid(
                "witness statement must be 1 to 1024 bytes".into(),
            ));
        }
        let eff = self
            .slot(session_id)?
            .session
            .participants()
            .get(agent)
            .map(|p| p.sigma_eff.get())
            .unwrap_or(0.0);
        if eff < RING_1_THRESHOLD {
            return Err(EngineError::Conflict(format!(
                "ring 0 needs σ_eff ≥ {RING_1_THRESHOLD:.2}; `{agent}` has {eff:.3}"
            )));
        }
        let slot = self.slot_mut(session_id)?;
        slot.grants.entry(agent.clone()).or_default().root_witness = Some(witness.to_string());
        self.audit_session(
            ctx,
            session_id,
            Some(agent),
            "ring.root_grant",
            Decision::Allowed,
            witness,
            crate::detail! {},
        );
        self.rederive(session_id, agent, "admin witness", ctx);
        let ring = self.member_ring(session_id, agent)?;
        Ok(Reply::Ring {
            agent_did: agent.clone(),
            ring,
        })
    }

    /// Registers a spawned child; the child's ring is capped one below the parent's base ring.
    pub(crate) fn register_child(
        &mut self,
        actor: &Actor,
        session_id: &SessionId,
        parent: &AgentDid,
        child: AgentDid,
        ctx: &mut Ctx,
    ) -> Result<Reply> {
        Self::require_self_or_admin(actor, parent)?;
        let parent_ring = self.member_ring(session_id, parent)?;
        let cap = self
            .spawn
            .register_child(parent.clone(), child.clone(), parent_ring)
            .map_err(|e| EngineError::Conflict(e.to_string()))?;
        self.audit_session(
            ctx,
            session_id,
            Some(parent),
            "ring.spawn",
            Decision::Allowed,
            "child registered",
            crate::detail! { "child": child, "ring_cap": cap.number() },
        );
        // A child already in the session is capped at once (and stays capped: `ring_for`
        // applies the ceiling on every later re-derivation and when it joins).
        self.rederive(session_id, &child, "child of lower-ring parent", ctx);
        Ok(Reply::Ring {
            agent_did: child,
            ring: cap,
        })
    }

    pub(crate) fn reset_breaker(
        &mut self,
        actor: &Actor,
        session_id: &SessionId,
        agent: &AgentDid,
        ctx: &mut Ctx,
    ) -> Result<Reply> {
        Self::require_admin(actor, "reset breach breakers")?;
        self.slot(session_id)?;
        let was = self.breach.reset(agent, session_id);
        if was {
            self.audit_session(
                ctx,
                session_id,
                Some(agent),
                "ring.breaker_reset",
                Decision::Allowed,
                "reset by admin",
                crate::detail! {},
            );
            ctx.emit(
                Event::new(EventType::RingBreakerReset, ctx.now)
                    .session(session_id)
                    .agent(agent),
            );
        }
        Ok(Reply::Done)
    }
}
