//! The governed path: the one function every agent action passes through.
//!
//! Order of checks (first failure wins, and is audited with its reason):
//! session active and unexpired → agent an active member → quarantine (reads still allowed) →
//! breach breaker → rate limit (per agent and session, at the current ring's quota) → breach
//! detector (records the call; a HIGH/CRITICAL breach trips the breaker and quarantines) → ring
//! check (effective ring with any approved elevation, σ_eff, consensus, witness).
//! Locks, clocks and ACLs are checked by the action itself (see `act_ops`), then the action runs
//! and is audited.

use super::{Ctx, DenyCode, Engine, EngineError, Result};
use crate::audit::detail::{Detail, JsonField};
use crate::audit::entry::Decision;
use crate::event::{Event, EventType};
use crate::id::{AgentDid, SessionId};
use crate::liability::{ActionClass, LedgerEntryType, QuarantineReason};
use crate::ring::Ring;
use crate::ring::enforcer;
use crate::score::Score;
use crate::security::rate_limit::RateLimitError;
use crate::session::SessionState;

/// What an action is, for governance purposes.
#[derive(Clone, Debug)]
pub(crate) struct Classified {
    /// Read, write, execute or escalate (quarantine allows reads only).
    pub class: ActionClass,
    /// The least privileged ring that may perform it.
    pub required: Ring,
    /// Audit kind, e.g. `vfs.write`.
    pub kind: &'static str,
    /// Set when the action names something unregistered: denied after the membership checks.
    pub unknown: Option<String>,
    /// Detail recorded in the audit entry.
    pub detail: Detail,
}

/// What the gate learned about the agent, for the action to use.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Gate {
    /// Effective ring (base ring or approved elevation).
    pub ring: Ring,
}

impl Engine {
    /// Runs the governance checks for `agent` doing `c` in `session_id`. On denial the decision is
    /// audited, an event emitted and the denial returned.
    pub(crate) fn govern(
        &mut self,
        session_id: &SessionId,
        agent: &AgentDid,
        c: &Classified,
        ctx: &mut Ctx,
    ) -> Result<Gate> {
        let now = ctx.now;
        let slot = self.slot(session_id)?;
        if slot.session.is_expired(now) && slot.session.state() == SessionState::Active {
            let reason = format!("session `{session_id}` expired at {}", slot.expires_at());
            return Err(self.deny(ctx, session_id, agent, c, DenyCode::SessionExpired, reason));
        }
        if slot.session.state() != SessionState::Active {
            let reason = format!(
                "session `{session_id}` is {}; actions need an active session",
                slot.session.state()
            );
            return Err(self.deny(
                ctx,
                session_id,
                agent,
                c,
                DenyCode::SessionNotActive,
                reason,
            ));
        }
        // Only the ring and σ_eff of the participant, and two flags of its grants, are needed:
        // copied out rather than cloning the records (which hold strings).
        let participant = slot
            .session
            .participants()
            .get(agent)
            .filter(|p| p.is_active)
            .map(|p| (p.ring, p.sigma_eff));
        let Some((p_ring, p_sigma_eff)) = participant else {
            let reason = if slot.killed.contains(agent) {
                format!("agent `{agent}` was killed in this session")
            } else {
                format!("agent `{agent}` is not an active participant of session `{session_id}`")
            };
            return Err(self.deny(ctx, session_id, agent, c, DenyCode::NotMember, reason));
        };
        let (has_consensus, has_witness) = slot
            .grants
            .get(agent)
            .map_or((false, false), |g| (g.consensus, g.root_witness.is_some()));
        if c.class != ActionClass::Read && self.quarantine.is_quarantined(agent, session_id, now) {
            let reason = format!("agent `{agent}` is quarantined: only reads are allowed");
            return Err(self.deny(ctx, session_id, agent, c, DenyCode::Quarantined, reason));
        }
        if self.breach.is_tripped(agent, session_id, now) {
            let reason =
                format!("breach breaker tripped for agent `{agent}`; an admin must reset it");
            return Err(self.deny(ctx, session_id, agent, c, DenyCode::BreakerTripped, reason));
        }
        let elevated = self
            .elevations
            .active(agent, session_id, now)
            .map(|e| e.elevated_ring);
        let ring = match elevated {
            Some(r) if r.at_least(p_ring) => r,
            _ => p_ring,
        };
        match self.limiter.check(agent, session_id, ring, 1, now) {
            Ok(_) => {}
            Err(RateLimitError::Limited(l)) => {
                let reason = format!(
                    "agent `{agent}` exceeded the rate limit of {} ({}/s, burst {}); retry in {} ms",
                    ring,
                    l.limit.rate_per_sec(),
                    l.limit.burst(),
                    l.retry_after.as_millis()
                );
                self.record_denial(ctx, session_id, agent, c, "rate_limited", &reason);
                ctx.emit(
                    Event::new(EventType::SecurityRateLimited, now)
                        .session(session_id)
                        .agent(agent)
                        .payload(crate::detail! { "kind": c.kind, "retry_after_ms": l.retry_after.as_millis() as u64, "ring": ring.number() }),
                );
                *self
                    .counters
                    .denied
                    .entry("rate_limited".into())
                    .or_insert(0) += 1;
                return Err(EngineError::RateLimited {
                    retry_after: l.retry_after,
                    reason,
                });
            }
            Err(e) => return Err(EngineError::Invalid(e.to_string())),
        }
        if let Some(ev) = self
            .breach
            .record_call(agent, session_id, ring, c.required, now)
        {
            ctx.emit(
                Event::new(EventType::RingBreachDetected, now)
                    .session(session_id)
                    .agent(agent)
                    .payload(crate::detail! { "anomaly_score": ev.anomaly_score.get(), "details": ev.details, "severity": ev.severity }),
            );
            if ev.tripped_breaker {
                ctx.emit(
                    Event::new(EventType::RingBreakerTripped, now)
                        .session(session_id)
                        .agent(agent)
                        .payload(crate::detail! { "details": ev.details, "severity": ev.severity }),
                );
                let details = format!("breach breaker tripped: {}", ev.details);
                self.quarantine_agent(
                    ctx,
                    session_id,
                    agent,
                    QuarantineReason::RingBreach,
                    &details,
                    None,
                    Score::clamped(ev.anomaly_score.get()),
                );
                let reason = format!(
                    "ring breach detected ({}): agent `{agent}` quarantined",
                    ev.details
                );
                return Err(self.deny(ctx, session_id, agent, c, DenyCode::BreakerTripped, reason));
            }
        }
        if let Some(what) = &c.unknown {
            let reason = format!("{what} is not registered in session `{session_id}`");
            return Err(self.deny(ctx, session_id, agent, c, DenyCode::UnknownAction, reason));
        }
        // An approved elevation stands in for the σ and consensus requirements of its ring.
        let (sigma, consensus) = if elevated.is_some() {
            (Score::ONE, true)
        } else {
            (p_sigma_eff, has_consensus)
        };
        let check = enforcer::check(ring, c.required, sigma, consensus, has_witness);
        if !check.allowed {
            let code = if check.requires_witness {
                DenyCode::WitnessRequired
            } else if check.requires_consensus {
                DenyCode::ConsensusRequired
            } else if check.reason.contains("σ_eff") {
                DenyCode::SigmaInsufficient
            } else {
                DenyCode::RingInsufficient
            };
            return Err(self.deny(ctx, session_id, agent, c, code, check.reason));
        }
        Ok(Gate { ring })
    }

    /// Records a denial (audit entry, event, counter) and returns it as an error.
    pub(crate) fn deny(
        &mut self,
        ctx: &mut Ctx,
        session_id: &SessionId,
        agent: &AgentDid,
        c: &Classified,
        code: DenyCode,
        reason: String,
    ) -> EngineError {
        self.record_denial(ctx, session_id, agent, c, code.as_str(), &reason);
        self.count_denial(code);
        ctx.emit(
            Event::new(EventType::GovernanceDenied, ctx.now)
                .session(session_id)
                .agent(agent)
                .payload(crate::detail! { "code": code.as_str(), "kind": c.kind, "reason": reason, "required_ring": c.required.number() }),
        );
        EngineError::denied(code, reason)
    }

    fn record_denial(
        &mut self,
        ctx: &Ctx,
        session_id: &SessionId,
        agent: &AgentDid,
        c: &Classified,
        code: &str,
        reason: &str,
    ) {
        let detail = c.detail.with_field("code", code);
        self.audit_session(
            ctx,
            session_id,
            Some(agent),
            c.kind,
            Decision::Denied,
            reason,
            detail,
        );
    }

    /// Records an allowed, executed action.
    pub(crate) fn record_allowed(
        &mut self,
        ctx: &Ctx,
        session_id: &SessionId,
        agent: &AgentDid,
        c: &Classified,
        outcome: impl JsonField,
    ) {
        let detail = c.detail.with_field("outcome", &outcome);
        self.record_allowed_detail(ctx, session_id, agent, c.kind, detail);
    }

    /// [`Engine::record_allowed`] with the audit detail already written (for callers that can
    /// write it in one go instead of splicing `outcome` into the classification's detail).
    pub(crate) fn record_allowed_detail(
        &mut self,
        ctx: &Ctx,
        session_id: &SessionId,
        agent: &AgentDid,
        kind: &'static str,
        detail: Detail,
    ) {
        self.counters.allowed += 1;
        self.audit_session(
            ctx,
            session_id,
            Some(agent),
            kind,
            Decision::Allowed,
            "allowed",
            detail,
        );
    }

    /// Quarantines `agent` (or escalates its quarantine) and records it in the ledger.
    #[allow(clippy::too_many_arguments)] // the quarantine record's fields
    pub(crate) fn quarantine_agent(
        &mut self,
        ctx: &mut Ctx,
        session_id: &SessionId,
        agent: &AgentDid,
        reason: QuarantineReason,
        details: &str,
        duration: Option<std::time::Duration>,
        severity: Score,
    ) -> Option<crate::liability::QuarantineRecord> {
        let now = ctx.now;
        let rec = self
            .quarantine
            .quarantine(
                &mut ctx.ids,
                agent,
                session_id,
                reason,
                details,
                duration,
                Default::default(),
                now,
            )
            .ok()?;
        let _ = self.ledger.record(
            &mut ctx.ids,
            agent,
            LedgerEntryType::QuarantineEntered,
            session_id,
            severity,
            details,
            None,
            now,
        );
        self.audit_session(ctx, session_id, Some(agent), "liability.quarantine", Decision::Allowed, details, crate::detail! { "expires_at": rec.expires_at, "quarantine_id": rec.quarantine_id, "reason": reason });
        ctx.emit(
            Event::new(EventType::LiabilityQuarantineEntered, now)
                .session(session_id)
                .agent(agent)
                .payload(crate::detail! { "details": details, "expires_at": rec.expires_at, "quarantine_id": rec.quarantine_id, "reason": reason }),
        );
        Some(rec)
    }
}
