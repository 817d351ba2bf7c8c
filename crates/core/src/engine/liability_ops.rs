//! Liability commands: vouching (governed, with the hypervisor's own σ for the voucher),
//! releases, slashing with real score and ring effects, quarantine and release.

use std::time::Duration;

use super::governed::Classified;
use super::reply::Reply;
use super::{Actor, Ctx, DenyCode, Engine, EngineError, Result};
use crate::audit::entry::Decision;
use crate::event::{Event, EventType};
use crate::id::{AgentDid, RecordId, SessionId};
use crate::liability::{
    ActionClass, LedgerEntryType, QuarantineReason, SlashOutcome, VouchError, slash,
};
use crate::ring::Ring;
use crate::score::Score;
use crate::time::Timestamp;

impl Engine {
    #[allow(clippy::too_many_arguments)] // the vouch's fields
    pub(crate) fn vouch(
        &mut self,
        actor: &Actor,
        session_id: &SessionId,
        voucher: &AgentDid,
        vouchee: &AgentDid,
        bond_pct: Option<Score>,
        expiry: Option<Timestamp>,
        ctx: &mut Ctx,
    ) -> Result<Reply> {
        Self::require_self_or_admin(actor, voucher)?;
        let now = ctx.now;
        let slot = self.slot(session_id)?;
        if !slot
            .session
            .participants()
            .get(vouchee)
            .is_some_and(|p| p.is_active)
        {
            return Err(EngineError::Conflict(format!(
                "vouchee `{vouchee}` is not an active participant of session `{session_id}`"
            )));
        }
        let c = Classified {
            class: ActionClass::Write,
            required: Ring::Sandbox,
            kind: "liability.vouch",
            unknown: None,
            detail: crate::detail! { "bond_pct": bond_pct.map(Score::get), "expiry": expiry, "vouchee": vouchee },
        };
        self.govern(session_id, voucher, &c, ctx)?;
        // The voucher's σ is the one the hypervisor holds, never one sent by the caller.
        let sigma = self.trust.get(voucher).copied().unwrap_or(Score::ZERO);
        let rec = match self.vouches.vouch(
            &mut ctx.ids,
            session_id,
            voucher,
            sigma,
            vouchee,
            bond_pct,
            expiry,
            now,
        ) {
            Ok(r) => r,
            Err(e) => {
                let code = match e {
                    VouchError::ExceedsExposure { .. } => DenyCode::ExposureCap,
                    VouchError::Circular { .. } => DenyCode::VouchCycle,
                    VouchError::SigmaTooLow { .. } => DenyCode::SigmaInsufficient,
                    _ => DenyCode::VouchRefused,
                };
                return Err(self.deny(ctx, session_id, voucher, &c, code, e.to_string()));
            }
        };
        self.record_allowed(
            ctx,
            session_id,
            voucher,
            &c,
            crate::detail! { "bonded_amount": rec.bonded_amount, "vouch_id": rec.vouch_id },
        );
        let sev = Score::clamped(rec.bonded_amount);
        let _ = self.ledger.record(
            &mut ctx.ids,
            voucher,
            LedgerEntryType::VouchGiven,
            session_id,
            sev,
            "vouched",
            Some(vouchee),
            now,
        );
        let _ = self.ledger.record(
            &mut ctx.ids,
            vouchee,
            LedgerEntryType::VouchReceived,
            session_id,
            sev,
            "vouched for",
            Some(voucher),
            now,
        );
        ctx.emit(
            Event::new(EventType::LiabilityVouchCreated, now)
                .session(session_id)
                .agent(voucher)
                .payload(crate::detail! { "bonded_amount": rec.bonded_amount, "bonded_sigma_pct": rec.bonded_sigma_pct.get(), "vouch_id": rec.vouch_id, "vouchee": vouchee }),
        );
        self.rederive(session_id, vouchee, "vouched for", ctx);
        Ok(Reply::Vouch(rec))
    }

    pub(crate) fn release_vouch(
        &mut self,
        actor: &Actor,
        vouch_id: &RecordId,
        ctx: &mut Ctx,
    ) -> Result<Reply> {
        let rec = self
            .vouches
            .get(vouch_id)
            .ok_or_else(|| EngineError::not_found("vouch", vouch_id))?;
        Self::require_self_or_admin(actor, &rec.voucher)?;
        let rec = self
            .vouches
            .release(vouch_id, ctx.now)
            .map_err(|e| EngineError::Conflict(e.to_string()))?;
        let _ = self.ledger.record(
            &mut ctx.ids,
            &rec.voucher,
            LedgerEntryType::VouchReleased,
            &rec.session_id,
            Score::ZERO,
            "bond released",
            Some(&rec.vouchee),
            ctx.now,
        );
        self.audit_session(
            ctx,
            &rec.session_id,
            Some(&rec.voucher),
            "liability.vouch_release",
            Decision::Allowed,
            "bond released",
            crate::detail! { "vouch_id": rec.vouch_id },
        );
        ctx.emit(
            Event::new(EventType::LiabilityVouchReleased, ctx.now)
                .session(&rec.session_id)
                .agent(&rec.voucher)
                .payload(crate::detail! { "vouch_id": rec.vouch_id, "vouchee": rec.vouchee }),
        );
        self.rederive(&rec.session_id, &rec.vouchee, "bond released", ctx);
        Ok(Reply::Vouch(rec))
    }

    pub(crate) fn slash_cmd(
        &mut self,
        actor: &Actor,
        session_id: &SessionId,
        agent: &AgentDid,
        omega: Score,
        reason: &str,
        ctx: &mut Ctx,
    ) -> Result<Reply> {
        Self::require_admin(actor, "slash agents")?;
        self.slot(session_id)?;
        if reason.is_empty() || reason.len() > 1024 {
            return Err(EngineError::Invalid(
                "reason must be 1 to 1024 bytes".into(),
            ));
        }
        Ok(Reply::Slashed(
            self.apply_slash(session_id, agent, omega, reason, ctx),
        ))
    }

    /// Slashes `agent` and its vouchers (cascading), then records the ledger entries, audits,
    /// and re-derives the ring of every agent whose score changed, at once.
    pub(crate) fn apply_slash(
        &mut self,
        session_id: &SessionId,
        agent: &AgentDid,
        omega: Score,
        reason: &str,
        ctx: &mut Ctx,
    ) -> SlashOutcome {
        let now = ctx.now;
        let outcome = slash(
            &mut self.vouches,
            &mut self.trust,
            &mut ctx.ids,
            session_id,
            agent,
            omega,
            reason,
            now,
        );
        for r in &outcome.results {
            let kind = if r.cascade_depth == 0 {
                LedgerEntryType::SlashReceived
            } else {
                LedgerEntryType::SlashCascaded
            };
            let _ = self.ledger.record(
                &mut ctx.ids,
                &r.vouchee,
                kind,
                session_id,
                omega,
                &r.reason,
                None,
                now,
            );
            for clip in r.clips.iter().filter(|c| c.scored) {
                let _ = self.ledger.record(
                    &mut ctx.ids,
                    &clip.voucher,
                    LedgerEntryType::SlashCascaded,
                    session_id,
                    omega,
                    &r.reason,
                    Some(&r.vouchee),
                    now,
                );
            }
            self.audit_session(ctx, session_id, Some(&r.vouchee), "liability.slash", Decision::Allowed, &r.reason, crate::detail! { "cascade_depth": r.cascade_depth, "clips": r.clips, "omega": omega.get(), "slash_id": r.slash_id });
            ctx.emit(
                Event::new(EventType::LiabilitySlashExecuted, now)
                    .session(session_id)
                    .agent(&r.vouchee)
                    .payload(crate::detail! { "cascade_depth": r.cascade_depth, "clips": r.clips, "reason": r.reason, "sigma_before": r.vouchee_sigma_before, "slash_id": r.slash_id }),
            );
        }
        self.slashes.record(&outcome);
        for a in outcome.changed_agents.clone() {
            self.rederive_everywhere(&a, "slashed", ctx);
        }
        outcome
    }

    #[allow(clippy::too_many_arguments)] // the quarantine's fields
    pub(crate) fn quarantine_cmd(
        &mut self,
        actor: &Actor,
        session_id: &SessionId,
        agent: &AgentDid,
        reason: QuarantineReason,
        details: &str,
        duration_seconds: Option<u64>,
        ctx: &mut Ctx,
    ) -> Result<Reply> {
        Self::require_admin(actor, "quarantine agents")?;
        self.slot(session_id)?;
        if duration_seconds == Some(0) {
            return Err(EngineError::Invalid(
                "duration_seconds must be at least 1 (omit it for an indefinite quarantine)".into(),
            ));
        }
        if details.len() > 4096 {
            return Err(EngineError::Invalid(
                "details must be at most 4096 bytes".into(),
            ));
        }
        let rec = self.quarantine_agent(
            ctx,
            session_id,
            agent,
            reason,
            details,
            duration_seconds.map(Duration::from_secs),
            Score::clamped(0.5),
        );
        Ok(Reply::Quarantine(rec))
    }

    pub(crate) fn release_quarantine(
        &mut self,
        actor: &Actor,
        session_id: &SessionId,
        agent: &AgentDid,
        ctx: &mut Ctx,
    ) -> Result<Reply> {
        Self::require_admin(actor, "release quarantines")?;
        self.slot(session_id)?;
        let rec = self.quarantine.release(agent, session_id, ctx.now);
        if let Some(r) = &rec {
            let _ = self.ledger.record(
                &mut ctx.ids,
                agent,
                LedgerEntryType::QuarantineReleased,
                session_id,
                Score::ZERO,
                "released by admin",
                None,
                ctx.now,
            );
            self.audit_session(
                ctx,
                session_id,
                Some(agent),
                "liability.quarantine_release",
                Decision::Allowed,
                "released",
                crate::detail! { "quarantine_id": r.quarantine_id },
            );
            ctx.emit(
                Event::new(EventType::LiabilityQuarantineReleased, ctx.now)
                    .session(session_id)
                    .agent(agent)
                    .payload(crate::detail! { "quarantine_id": r.quarantine_id }),
            );
        }
        Ok(Reply::Quarantine(rec))
    }
}
