//! Session lifecycle commands: create, join, leave, activate, terminate, and trust changes, with
//! the ring derivation they all share.

use super::reply::{JoinOutcome, Reply, TerminateOutcome};
use super::slot::SessionSlot;
use super::{Actor, Ctx, DenyCode, Engine, EngineError, Result};
use crate::action::ActionDescriptor;
use crate::audit::detail::Detail;
use crate::audit::entry::Decision;
use crate::event::{Event, EventType};
use crate::id::{AgentDid, SessionId};
use crate::liability::{Admission, LedgerEntryType, sigma_eff};
use crate::ring::inheritance::child_ring;
use crate::ring::{RING_1_THRESHOLD, Ring};
use crate::score::Score;
use crate::session::{ConsistencyMode, Session, SessionConfig, SessionError, SessionState};
use crate::vclock::IsolationLevel;

/// Maps a session error to the engine's error kinds.
pub(crate) fn session_err(e: SessionError) -> EngineError {
    match e {
        SessionError::InvalidConfig { .. } => EngineError::Invalid(e.to_string()),
        SessionError::NotParticipant { ref agent } => EngineError::not_found("participant", agent),
        SessionError::SigmaBelowMinimum { .. } => {
            EngineError::denied(DenyCode::SigmaInsufficient, e.to_string())
        }
        _ => EngineError::Conflict(e.to_string()),
    }
}

impl Engine {
    pub(crate) fn create_session(
        &mut self,
        actor: &Actor,
        creator: AgentDid,
        config: SessionConfig,
        isolation: IsolationLevel,
        ctx: &mut Ctx,
    ) -> Result<Reply> {
        Self::require_admin(actor, "create sessions")?;
        config.validate().map_err(session_err)?;
        if self.sessions.len() >= self.config.max_sessions && !self.evict_one_archived() {
            return Err(EngineError::Conflict(format!(
                "session limit reached ({}); terminate sessions first",
                self.config.max_sessions
            )));
        }
        let id = ctx.ids.session();
        let mut session =
            Session::new(id.clone(), creator.clone(), config, ctx.now).map_err(session_err)?;
        session.begin_handshake().map_err(session_err)?;
        let mut slot = SessionSlot::new(
            session,
            isolation,
            self.config.vfs.clone(),
            self.config.max_audit_entries,
            self.config.max_audit_leaves,
        );
        slot.audit.append(
            ctx.now,
            Some(&id),
            Some(&creator),
            "session.create",
            Decision::Allowed,
            "session created",
            crate::detail! { "config": slot.session.config(), "isolation": isolation.name() },
        );
        self.counters.audit_appends += 1;
        ctx.emit(
            Event::new(EventType::SessionCreated, ctx.now)
                .session(&id)
                .agent(&creator)
                .payload(crate::detail! { "isolation": isolation.name() }),
        );
        self.sessions.insert(id.clone(), slot);
        self.session_order.push_back(id.clone());
        Ok(Reply::Session(self.session_summary(&id)?))
    }

    /// Drops the oldest archived session to make room. Returns whether one was dropped.
    fn evict_one_archived(&mut self) -> bool {
        let victim = self.session_order.iter().position(|id| {
            self.sessions
                .get(id)
                .is_some_and(|s| s.session.state() == SessionState::Archived)
        });
        let Some(i) = victim else { return false };
        let Some(id) = self.session_order.remove(i) else {
            return false;
        };
        if let Some(slot) = self.sessions.remove(&id) {
            // Forget the session's sagas everywhere they are indexed, or `saga_order` (and the
            // held steps and checkpoints) would keep ids of sagas that no longer exist.
            for s in &slot.sagas {
                self.sagas.remove(s);
                self.held_steps.remove(s);
                self.checkpoints.remove_saga(s);
            }
            // One pass, each id looked up in the map (not in the session's list: that would be
            // quadratic with many sagas).
            let sagas = &self.sagas;
            self.saga_order.retain(|s| sagas.contains_key(s));
        }
        self.vouches.forget_session(&id);
        true
    }

    pub(crate) fn join(
        &mut self,
        actor: &Actor,
        session_id: &SessionId,
        agent: AgentDid,
        sigma_raw: Option<Score>,
        actions: Vec<ActionDescriptor>,
        ctx: &mut Ctx,
    ) -> Result<Reply> {
        Self::require_admin(actor, "admit agents")?;
        let now = ctx.now;
        let slot = self.slot(session_id)?;
        // Validate declared actions without touching the session (bad input changes nothing).
        let mut registry = slot.registry.clone();
        registry
            .register_many(&actions)
            .map_err(|e| EngineError::Invalid(e.to_string()))?;
        if slot
            .session
            .participants()
            .get(&agent)
            .is_some_and(|p| p.is_active)
        {
            return Err(EngineError::Conflict(format!(
                "agent `{agent}` already in session"
            )));
        }
        let held = self.trust.get(&agent).copied();
        let raw = match (held, sigma_raw) {
            (Some(h), Some(g)) if g.get() < h.get() => g,
            (Some(h), _) => h,
            (None, g) => g.unwrap_or(Score::ZERO),
        };
        let profile = self.ledger.risk_profile(&agent);
        if profile.recommendation == Admission::Deny {
            let reason = format!(
                "risk score {:.2} exceeds threshold: the liability ledger advises denying admission",
                profile.risk_score
            );
            let detail = crate::detail! { "risk_score": profile.risk_score };
            return Err(self.deny_join(
                ctx,
                session_id,
                &agent,
                DenyCode::LedgerDenied,
                reason,
                detail,
            ));
        }
        let probation = profile.recommendation == Admission::Probation;
        let bonded = self.vouches.bonded_into(session_id, &agent, now);
        let eff = sigma_eff(raw, bonded, self.config.bond_weight);
        let slot = self.slot(session_id)?;
        let cap = self.child_cap(slot, &agent);
        let ring = Self::ring_for(slot, &agent, eff, probation, cap);
        let slot = self.slot_mut(session_id)?;
        match slot
            .session
            .join(agent.clone(), raw, eff, ring, probation, now)
        {
            Ok(_) => {}
            Err(e @ SessionError::SigmaBelowMinimum { .. }) => {
                let detail = crate::detail! { "sigma_eff": eff.get(), "sigma_raw": raw.get() };
                return Err(self.deny_join(
                    ctx,
                    session_id,
                    &agent,
                    DenyCode::SigmaInsufficient,
                    e.to_string(),
                    detail,
                ));
            }
            Err(e) => return Err(session_err(e)),
        }
        // Committed from here on.
        slot.registry = registry;
        slot.killed.remove(&agent);
        if probation {
            slot.probation.insert(agent.clone());
        } else {
            slot.probation.remove(&agent);
        }
        let forced_strong = slot.registry.has_non_reversible_actions()
            && slot.session.consistency_mode() != ConsistencyMode::Strong;
        if forced_strong {
            let _ = slot.session.force_consistency_mode(ConsistencyMode::Strong);
        }
        self.trust.entry(agent.clone()).or_insert(raw);
        self.memberships
            .entry(agent.clone())
            .or_default()
            .insert(session_id.clone());
        let detail = crate::detail! { "actions": actions.len(), "probation": probation, "ring": ring.number(), "sigma_eff": eff.get(), "sigma_raw": raw.get() };
        self.audit_session(
            ctx,
            session_id,
            Some(&agent),
            "session.join",
            Decision::Allowed,
            "admitted",
            detail.clone(),
        );
        ctx.emit(
            Event::new(EventType::SessionJoined, now)
                .session(session_id)
                .agent(&agent)
                .payload(detail),
        );
        ctx.emit(
            Event::new(EventType::RingAssigned, now)
                .session(session_id)
                .agent(&agent)
                .payload(crate::detail! { "ring": ring.number(), "ring_name": ring.name(), "sigma_eff": eff.get() }),
        );
        Ok(Reply::Joined(JoinOutcome {
            agent_did: agent,
            session_id: session_id.clone(),
            ring,
            sigma_raw: raw,
            sigma_eff: eff,
            probation,
            forced_strong,
        }))
    }

    /// Records a refused admission like any governance denial (audit entry with its code,
    /// `session.join_denied` and `governance.denied` events, counter) and returns it.
    fn deny_join(
        &mut self,
        ctx: &mut Ctx,
        session_id: &SessionId,
        agent: &AgentDid,
        code: DenyCode,
        reason: String,
        detail: Detail,
    ) -> EngineError {
        let detail = detail.with_field("code", code.as_str());
        self.audit_session(
            ctx,
            session_id,
            Some(agent),
            "session.join",
            Decision::Denied,
            &reason,
            detail,
        );
        let payload =
            crate::detail! { "code": code.as_str(), "kind": "session.join", "reason": reason };
        ctx.emit(
            Event::new(EventType::SessionJoinDenied, ctx.now)
                .session(session_id)
                .agent(agent)
                .payload(payload.clone()),
        );
        ctx.emit(
            Event::new(EventType::GovernanceDenied, ctx.now)
                .session(session_id)
                .agent(agent)
                .payload(payload),
        );
        self.count_denial(code);
        EngineError::denied(code, reason)
    }

    /// The ring an agent holds in `slot` given σ_eff: the one threshold rule, plus the grants
    /// (ring-1 consensus, ring-0 witness), probation and the spawned-child ceiling `cap`.
    pub(crate) fn ring_for(
        slot: &SessionSlot,
        agent: &AgentDid,
        eff: Score,
        probation: bool,
        cap: Option<Ring>,
    ) -> Ring {
        if probation || eff.get() < slot.session.config().min_sigma_eff.get() {
            return Ring::Sandbox;
        }
        let grants = slot.grants.get(agent);
        let ring =
            if grants.is_some_and(|g| g.root_witness.is_some()) && eff.get() >= RING_1_THRESHOLD {
                Ring::Root
            } else {
                Ring::from_sigma(eff, grants.is_some_and(|g| g.consensus))
            };
        match cap {
            Some(c) if !c.at_least(ring) => c,
            _ => ring,
        }
    }

    /// The ring ceiling of a spawned child in `slot`: one below its parent's base ring there.
    /// A child whose parent is not an active member of the session is confined to the sandbox
    /// (fail closed: it must not outrank an ancestor that has no ring here). `None` for agents
    /// nobody spawned.
    pub(crate) fn child_cap(&self, slot: &SessionSlot, agent: &AgentDid) -> Option<Ring> {
        let parent = self.spawn.parent_of(agent)?;
        let ring = slot
            .session
            .participants()
            .get(parent)
            .filter(|p| p.is_active)
            .map(|p| p.ring);
        Some(ring.map_or(Ring::Sandbox, child_ring))
    }

    /// Recomputes σ_eff and the ring of `agent` in `session_id` and applies any change at once
    /// (real-time promotion or demotion). A demotion also revokes the agent's elevation there.
    pub(crate) fn rederive(
        &mut self,
        session_id: &SessionId,
        agent: &AgentDid,
        cause: &str,
        ctx: &mut Ctx,
    ) {
        let now = ctx.now;
        let raw = self.trust.get(agent).copied().unwrap_or(Score::ZERO);
        let bonded = self.vouches.bonded_into(session_id, agent, now);
        let eff = sigma_eff(raw, bonded, self.config.bond_weight);
        let cap = self
            .sessions
            .get(session_id)
            .and_then(|s| self.child_cap(s, agent));
        let Some(slot) = self.sessions.get_mut(session_id) else {
            return;
        };
        let Some(p) = slot.session.participants().get(agent) else {
            return;
        };
        if !p.is_active {
            return;
        }
        let (old_ring, old_eff) = (p.ring, p.sigma_eff);
        let probation = slot.probation.contains(agent);
        let ring = Self::ring_for(slot, agent, eff, probation, cap);
        if ring == old_ring && eff == old_eff {
            return;
        }
        if slot.session.update_participant(agent, ring, eff).is_err() {
            return;
        }
        let demoted = !ring.at_least(old_ring);
        let detail = crate::detail! { "cause": cause, "from_ring": old_ring.number(), "sigma_eff": eff.get(), "sigma_eff_before": old_eff.get(), "sigma_raw": raw.get(), "to_ring": ring.number() };
        slot.audit.append(
            now,
            Some(session_id),
            Some(agent),
            "ring.change",
            Decision::Allowed,
            cause,
            detail.clone(),
        );
        self.counters.audit_appends += 1;
        let kind = if demoted {
            EventType::RingDemoted
        } else {
            EventType::RingAssigned
        };
        ctx.emit(
            Event::new(kind, now)
                .session(session_id)
                .agent(agent)
                .payload(detail),
        );
        if demoted
            && let Some(e) = self
                .elevations
                .open_for(agent, session_id)
                .map(|e| e.elevation_id.clone())
            && let Ok(e) = self.elevations.revoke(&e, now)
        {
            ctx.emit(
                Event::new(EventType::RingElevationRevoked, now)
                    .session(session_id)
                    .agent(agent)
                    .payload(
                        crate::detail! { "cause": "demotion", "elevation_id": e.elevation_id },
                    ),
            );
        }
        if ring != old_ring {
            self.rederive_children(session_id, agent, ctx);
        }
    }

    /// Re-derives the rings of `parent`'s spawned children in `session_id`: their ceiling
    /// follows the parent's ring (the spawn tree is acyclic, so this recursion ends).
    pub(crate) fn rederive_children(
        &mut self,
        session_id: &SessionId,
        parent: &AgentDid,
        ctx: &mut Ctx,
    ) {
        for child in self.spawn.children_of(parent) {
            self.rederive(session_id, &child, "parent ring changed", ctx);
        }
    }

    /// [`Engine::rederive`] in every session the agent is a member of.
    pub(crate) fn rederive_everywhere(&mut self, agent: &AgentDid, cause: &str, ctx: &mut Ctx) {
        let sessions: Vec<SessionId> = self
            .memberships
            .get(agent)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default();
        for s in sessions {
            self.rederive(&s, agent, cause, ctx);
        }
    }

    pub(crate) fn leave(
        &mut self,
        actor: &Actor,
        session_id: &SessionId,
        agent: &AgentDid,
        ctx: &mut Ctx,
    ) -> Result<Reply> {
        Self::require_self_or_admin(actor, agent)?;
        let slot = self.slot_mut(session_id)?;
        slot.session.leave(agent, ctx.now).map_err(session_err)?;
        self.after_departure(session_id, agent, "left", ctx);
        self.audit_session(
            ctx,
            session_id,
            Some(agent),
            "session.leave",
            Decision::Allowed,
            "left",
            crate::detail! {},
        );
        ctx.emit(
            Event::new(EventType::SessionLeft, ctx.now)
                .session(session_id)
                .agent(agent),
        );
        Ok(Reply::Done)
    }

    /// Frees what a departing (leaving or killed) agent held in a session: locks (waking
    /// waiters), its elevation there, and its membership index.
    pub(crate) fn after_departure(
        &mut self,
        session_id: &SessionId,
        agent: &AgentDid,
        cause: &str,
        ctx: &mut Ctx,
    ) {
        let now = ctx.now;
        if let Some(slot) = self.sessions.get_mut(session_id) {
            let (released, granted) = slot.locks.release_agent(agent, now);
            for l in released {
                ctx.emit(
                    Event::new(EventType::LockReleased, now)
                        .session(session_id)
                        .agent(agent)
                        .payload(
                            crate::detail! { "cause": cause, "lock_id": l.lock_id, "path": l.path },
                        ),
                );
            }
            emit_granted(ctx, session_id, granted);
        }
        if let Some(id) = self
            .elevations
            .open_for(agent, session_id)
            .map(|e| e.elevation_id.clone())
            && let Ok(e) = self.elevations.revoke(&id, now)
        {
            ctx.emit(
                Event::new(EventType::RingElevationRevoked, now)
                    .session(session_id)
                    .agent(agent)
                    .payload(crate::detail! { "cause": cause, "elevation_id": e.elevation_id }),
            );
        }
        if let Some(set) = self.memberships.get_mut(agent) {
            set.remove(session_id);
            if set.is_empty() {
                self.memberships.remove(agent);
            }
        }
        self.rederive_children(session_id, agent, ctx);
    }

    pub(crate) fn activate(
        &mut self,
        actor: &Actor,
        session_id: &SessionId,
        ctx: &mut Ctx,
    ) -> Result<Reply> {
        Self::require_admin(actor, "activate sessions")?;
        let slot = self.slot_mut(session_id)?;
        slot.session.activate(ctx.now).map_err(session_err)?;
        self.audit_session(
            ctx,
            session_id,
            None,
            "session.activate",
            Decision::Allowed,
            "activated",
            crate::detail! {},
        );
        ctx.emit(Event::new(EventType::SessionActivated, ctx.now).session(session_id));
        Ok(Reply::Session(self.session_summary(session_id)?))
    }

    pub(crate) fn terminate(
        &mut self,
        actor: &Actor,
        session_id: &SessionId,
        ctx: &mut Ctx,
    ) -> Result<Reply> {
        Self::require_admin(actor, "terminate sessions")?;
        let out = self.terminate_inner(session_id, "terminated", ctx)?;
        Ok(Reply::Terminated(out))
    }

    /// Terminates and archives a session: stops its sagas (compensating what committed),
    /// releases its locks, elevations, bonds and quarantines, records clean sessions in the
    /// ledger, commits its audit root to the hypervisor log and purges its ephemeral content.
    pub(crate) fn terminate_inner(
        &mut self,
        session_id: &SessionId,
        cause: &str,
        ctx: &mut Ctx,
    ) -> Result<TerminateOutcome> {
        let now = ctx.now;
        {
            let slot = self.slot_mut(session_id)?;
            slot.session.terminate(now).map_err(session_err)?;
        }
        self.stop_session_sagas(session_id, ctx);
        let slot = self.slot_mut(session_id)?;
        let released = slot.locks.release_all(now);
        let members: Vec<AgentDid> = slot
            .session
            .active_participants()
            .map(|p| p.agent_did.clone())
            .collect();
        let enable_audit = slot.session.config().enable_audit;
        for l in released {
            ctx.emit(
                Event::new(EventType::LockReleased, now)
                    .session(session_id)
                    .agent(&l.agent)
                    .payload(
                        crate::detail! { "cause": "session_end", "lock_id": l.lock_id, "path": l.path },
                    ),
            );
        }
        for agent in &members {
            if let Some(id) = self
                .elevations
                .open_for(agent, session_id)
                .map(|e| e.elevation_id.clone())
            {
                let _ = self.elevations.revoke(&id, now);
            }
            if self.quarantine.release(agent, session_id, now).is_some() {
                ctx.emit(
                    Event::new(EventType::LiabilityQuarantineReleased, now)
                        .session(session_id)
                        .agent(agent),
                );
            }
            let incident = self
                .slashes
                .for_session(session_id)
                .iter()
                .any(|s| &s.vouchee == agent)
                || !self
                    .quarantine
                    .history(Some(agent), Some(session_id))
                    .is_empty();
            if !incident {
                let _ = self.ledger.record(
                    &mut ctx.ids,
                    agent,
                    LedgerEntryType::CleanSession,
                    session_id,
                    Score::ZERO,
                    "session ended without incident",
                    None,
                    now,
                );
            }
            if let Some(set) = self.memberships.get_mut(agent) {
                set.remove(session_id);
                if set.is_empty() {
                    self.memberships.remove(agent);
                }
            }
        }
        let released_bonds = self.vouches.release_session(session_id, now);
        for b in &released_bonds {
            ctx.emit(
                Event::new(EventType::LiabilityVouchReleased, now)
                    .session(session_id)
                    .agent(&b.voucher)
                    .payload(crate::detail! { "cause": "session_end", "vouch_id": b.vouch_id, "vouchee": b.vouchee }),
            );
        }
        self.substitutes.remove_session(session_id);
        self.audit_session(
            ctx,
            session_id,
            None,
            "session.terminate",
            Decision::Allowed,
            cause,
            crate::detail! { "participants": members.len() },
        );
        ctx.emit(
            Event::new(EventType::SessionTerminated, now)
                .session(session_id)
                .payload(crate::detail! { "cause": cause }),
        );
        let slot = self.slot_mut(session_id)?;
        let size = slot.audit.len();
        let root_hex = slot.audit.root().to_hex();
        let (merkle_root, hv_index) = if enable_audit {
            let idx = self.hv_log.append(
                now,
                Some(session_id),
                None,
                crate::audit::bundle::SESSION_ROOT_KIND,
                Decision::Allowed,
                "session audit root committed",
                crate::detail! { "participants": members, "root": root_hex, "tree_size": size },
            );
            self.counters.audit_appends += 1;
            ctx.emit(
                Event::new(EventType::AuditCommitted, now)
                    .session(session_id)
                    .payload(
                        crate::detail! { "hv_index": idx, "merkle_root": root_hex, "tree_size": size },
                    ),
            );
            (Some(root_hex), Some(idx))
        } else {
            (None, None)
        };
        let slot = self.slot_mut(session_id)?;
        slot.merkle_root = merkle_root.clone();
        slot.hv_index = hv_index;
        let gc = slot.vfs.purge_content(now);
        slot.session.archive(now).map_err(session_err)?;
        ctx.emit(
            Event::new(EventType::AuditGcCollected, now)
                .session(session_id)
                .payload(crate::detail! { "bytes_freed": gc.bytes_freed, "files_purged": gc.files_purged }),
        );
        ctx.emit(Event::new(EventType::SessionArchived, now).session(session_id));
        Ok(TerminateOutcome {
            session_id: session_id.clone(),
            merkle_root,
            tree_size: size,
            hv_index,
            files_purged: gc.files_purged as u64,
            bytes_freed: gc.bytes_freed,
        })
    }

    pub(crate) fn set_trust(
        &mut self,
        actor: &Actor,
        agent: AgentDid,
        sigma: Score,
        ctx: &mut Ctx,
    ) -> Result<Reply> {
        Self::require_admin(actor, "set trust scores")?;
        self.trust.insert(agent.clone(), sigma);
        self.rederive_everywhere(&agent, "trust set by admin", ctx);
        Ok(Reply::Done)
    }

    /// Appends an entry to a session's audit log (no-op for an unknown session).
    #[allow(clippy::too_many_arguments)] // mirrors the audit entry's fields
    pub(crate) fn audit_session(
        &mut self,
        ctx: &Ctx,
        session_id: &SessionId,
        agent: Option<&AgentDid>,
        kind: &'static str,
        decision: Decision,
        reason: &str,
        detail: Detail,
    ) {
        // An archived session's log is sealed: its root is committed to the hypervisor log.
        // Requests against it are still refused and counted, but no longer appended.
        if let Some(slot) = self
            .sessions
            .get_mut(session_id)
            .filter(|s| s.session.state() != SessionState::Archived)
        {
            slot.audit.append(
                ctx.now,
                Some(session_id),
                agent,
                kind,
                decision,
                reason,
                detail,
            );
            self.counters.audit_appends += 1;
        }
    }

    pub(crate) fn count_denial(&mut self, code: DenyCode) {
        *self
            .counters
            .denied
            .entry(code.as_str().to_string())
            .or_insert(0) += 1;
    }
}

/// Emits `lock.acquired` for locks granted to waiters.
pub(crate) fn emit_granted(
    ctx: &mut Ctx,
    session_id: &SessionId,
    granted: Vec<crate::locks::Lock>,
) {
    for l in granted {
        ctx.emit(
            Event::new(EventType::LockAcquired, ctx.now)
                .session(session_id)
                .agent(&l.agent)
                .payload(crate::detail! { "from_queue": true, "intent": l.intent.name(), "lock_id": l.lock_id, "path": l.path }),
        );
    }
}
