//! Read-only views of engine state, shaped for the API (the reference's field names where it
//! had them) and the dashboard. Queries never mutate and need no command.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{Engine, EngineError, Result};
use crate::audit::digest::Digest32;
use crate::id::{AgentDid, SagaId, SessionId, StepId};
use crate::ring::Ring;
use crate::saga::{Attempt, Saga, SagaState, StepState};
use crate::score::Score;
use crate::session::{ConsistencyMode, SessionState};
use crate::time::{IsoTime, Timestamp};
use crate::vclock::IsolationLevel;

/// One participant as the API shows it.
#[derive(Clone, Debug, Serialize)]
pub struct ParticipantView {
    /// The agent.
    pub agent_did: AgentDid,
    /// Its base ring number.
    pub ring: Ring,
    /// Ring name, e.g. `RING_2_STANDARD`.
    pub ring_name: &'static str,
    /// Effective ring (with an approved elevation), if different.
    pub effective_ring: Ring,
    /// σ_raw.
    pub sigma_raw: Score,
    /// σ_eff.
    pub sigma_eff: Score,
    /// When it (last) joined.
    pub joined_at: IsoTime,
    /// Still a member.
    pub is_active: bool,
    /// Quarantined now.
    pub quarantined: bool,
    /// Holding an approved elevation now.
    pub elevated: bool,
    /// Admitted on probation.
    pub probation: bool,
    /// Breach breaker tripped.
    pub breaker_tripped: bool,
}

/// A session as the API shows it.
#[derive(Clone, Debug, Serialize)]
pub struct SessionView {
    /// Id.
    pub session_id: SessionId,
    /// Lifecycle state.
    pub state: SessionState,
    /// Consistency mode.
    pub consistency_mode: ConsistencyMode,
    /// VFS isolation level.
    pub isolation: IsolationLevel,
    /// Creator.
    pub creator_did: AgentDid,
    /// Active participants.
    pub participant_count: usize,
    /// Active participants.
    pub participants: Vec<ParticipantView>,
    /// Created.
    pub created_at: IsoTime,
    /// Terminated, if so.
    pub terminated_at: Option<IsoTime>,
    /// When it ends by itself.
    pub expires_at: IsoTime,
    /// Audit entries so far.
    pub audit_size: u64,
    /// Current audit root (hex).
    pub audit_root: String,
    /// Committed Merkle root (after termination).
    pub merkle_root: Option<String>,
    /// Sagas of the session.
    pub sagas: Vec<SagaView>,
}

/// One step as the API shows it.
#[derive(Clone, Debug, Serialize)]
pub struct StepView {
    /// Step id.
    pub step_id: StepId,
    /// Action.
    pub action_id: String,
    /// Agent running it.
    pub agent_did: AgentDid,
    /// State (`pending` also for steps added but not yet executed).
    pub state: StepState,
    /// Last error.
    pub error: Option<String>,
    /// execute_api.
    pub execute_api: String,
    /// undo_api.
    pub undo_api: Option<String>,
    /// Execute attempts.
    pub attempts: Vec<Attempt>,
    /// Undo attempts.
    pub compensation_attempts: Vec<Attempt>,
    /// Started.
    pub started_at: Option<IsoTime>,
    /// Ended.
    pub ended_at: Option<IsoTime>,
    /// Output of the successful attempt.
    pub output: Option<serde_json::Value>,
}

/// A saga as the API shows it.
#[derive(Clone, Debug, Serialize)]
pub struct SagaView {
    /// Id.
    pub saga_id: SagaId,
    /// Session.
    pub session_id: SessionId,
    /// Name (DSL sagas).
    pub name: String,
    /// State.
    pub state: SagaState,
    /// Created.
    pub created_at: IsoTime,
    /// Finished.
    pub completed_at: Option<IsoTime>,
    /// Error summary.
    pub error: Option<String>,
    /// Steps in order (added-but-not-executed steps last, as `pending`).
    pub steps: Vec<StepView>,
    /// Order in which steps were compensated.
    pub compensation_order: Vec<StepId>,
}

/// What a command that creates or changes a session replies: enough to answer the API without
/// building the full view (ask [`Engine::session_view`] for that).
#[derive(Clone, Debug, Serialize)]
pub struct SessionSummary {
    /// Id.
    pub session_id: SessionId,
    /// Lifecycle state.
    pub state: SessionState,
    /// Consistency mode.
    pub consistency_mode: ConsistencyMode,
    /// VFS isolation level.
    pub isolation: IsolationLevel,
    /// Creator.
    pub creator_did: AgentDid,
    /// Created.
    pub created_at: IsoTime,
    /// When it ends by itself.
    pub expires_at: IsoTime,
}

/// What a saga command replies: the saga's identity and state after the command (ask
/// [`Engine::saga_view`] for its steps).
#[derive(Clone, Debug, Serialize)]
pub struct SagaSummary {
    /// Id.
    pub saga_id: SagaId,
    /// Session.
    pub session_id: SessionId,
    /// State.
    pub state: SagaState,
    /// Created.
    pub created_at: IsoTime,
}

fn iso(t: Timestamp) -> IsoTime {
    IsoTime(t)
}

impl Engine {
    /// A session's summary (see [`SessionSummary`]).
    pub fn session_summary(&self, id: &SessionId) -> Result<SessionSummary> {
        let slot = self.slot(id)?;
        let s = &slot.session;
        Ok(SessionSummary {
            session_id: id.clone(),
            state: s.state(),
            consistency_mode: s.consistency_mode(),
            isolation: slot.isolation,
            creator_did: s.creator_did().clone(),
            created_at: iso(s.created_at()),
            expires_at: iso(slot.expires_at()),
        })
    }

    /// A saga's summary (see [`SagaSummary`]).
    pub fn saga_summary(&self, id: &SagaId) -> Result<SagaSummary> {
        let saga = self
            .sagas
            .get(id)
            .ok_or_else(|| EngineError::not_found("saga", id))?;
        Ok(SagaSummary {
            saga_id: id.clone(),
            session_id: saga.session_id().clone(),
            state: saga.state(),
            created_at: iso(saga.created_at()),
        })
    }

    /// A session's view.
    pub fn session_view(&self, id: &SessionId) -> Result<Box<SessionView>> {
        let slot = self.slot(id)?;
        let participants = slot
            .session
            .active_participants()
            .map(|p| {
                let elevated = self
                    .elevations
                    .open_for(&p.agent_did, id)
                    .filter(|e| e.granted_at.is_some());
                ParticipantView {
                    agent_did: p.agent_did.clone(),
                    ring: p.ring,
                    ring_name: p.ring.name(),
                    effective_ring: elevated
                        .map(|e| e.elevated_ring)
                        .filter(|r| r.at_least(p.ring))
                        .unwrap_or(p.ring),
                    sigma_raw: self.trust.get(&p.agent_did).copied().unwrap_or(p.sigma_raw),
                    sigma_eff: p.sigma_eff,
                    joined_at: iso(p.joined_at),
                    is_active: p.is_active,
                    quarantined: self
                        .quarantine
                        .history(Some(&p.agent_did), Some(id))
                        .iter()
                        .any(|q| q.is_active),
                    elevated: elevated.is_some(),
                    probation: p.probation,
                    breaker_tripped: self.breach.is_tripped(&p.agent_did, id, Timestamp::ZERO),
                }
            })
            .collect::<Vec<_>>();
        let sagas = slot
            .sagas
            .iter()
            .filter_map(|s| self.saga_view(s).ok().map(|b| *b))
            .collect();
        Ok(Box::new(SessionView {
            session_id: id.clone(),
            state: slot.session.state(),
            consistency_mode: slot.session.consistency_mode(),
            isolation: slot.isolation,
            creator_did: slot.session.creator_did().clone(),
            participant_count: participants.len(),
            participants,
            created_at: iso(slot.session.created_at()),
            terminated_at: slot.session.terminated_at().map(iso),
            expires_at: iso(slot.expires_at()),
            audit_size: slot.audit.len(),
            audit_root: slot.audit.root().to_hex(),
            merkle_root: slot.merkle_root.clone(),
            sagas,
        }))
    }

    /// Sessions in creation order, optionally filtered by state.
    pub fn session_ids(&self, state: Option<SessionState>) -> Vec<SessionId> {
        self.session_order
            .iter()
            .filter(|id| {
                state.is_none_or(|st| {
                    self.sessions
                        .get(*id)
                        .is_some_and(|s| s.session.state() == st)
                })
            })
            .cloned()
            .collect()
    }

    /// A saga's view.
    pub fn saga_view(&self, id: &SagaId) -> Result<Box<SagaView>> {
        let saga = self
            .sagas
            .get(id)
            .ok_or_else(|| EngineError::not_found("saga", id))?;
        let held = self.held_steps.get(id).map(Vec::as_slice).unwrap_or(&[]);
        Ok(Box::new(saga_view(saga, held)))
    }

    /// Sagas in creation order, optionally of one session and/or state.
    pub fn saga_ids(&self, session: Option<&SessionId>, state: Option<SagaState>) -> Vec<SagaId> {
        self.saga_order
            .iter()
            .filter(|id| {
                self.sagas.get(*id).is_some_and(|s| {
                    session.is_none_or(|x| s.session_id() == x)
                        && state.is_none_or(|st| s.state() == st)
                })
            })
            .cloned()
            .collect()
    }

    /// The session's audit trail.
    pub fn audit_trail(&self, id: &SessionId) -> Result<&super::AuditTrail> {
        Ok(&self.slot(id)?.audit)
    }

    /// The hypervisor-wide log of committed session roots.
    pub fn hypervisor_log(&self) -> &super::AuditTrail {
        &self.hv_log
    }

    /// Signed checkpoints (tree size, note), newest last.
    pub fn signed_checkpoints(&self) -> impl Iterator<Item = &(u64, String)> {
        self.signed.iter()
    }

    /// The hypervisor log's current size and root, for the signer.
    pub fn hv_head(&self) -> (u64, Digest32) {
        (self.hv_log.len(), self.hv_log.root())
    }

    /// Size of the hypervisor log at the newest signed checkpoint (0 if none).
    pub fn last_signed_size(&self) -> u64 {
        self.signed.back().map_or(0, |(s, _)| *s)
    }

    /// Counters for metrics.
    pub fn counters(&self) -> &super::Counters {
        &self.counters
    }

    /// σ_raw held for an agent.
    pub fn trust_of(&self, agent: &AgentDid) -> Option<Score> {
        self.trust.get(agent).copied()
    }

    /// Sessions an agent is an active member of.
    pub fn sessions_of(&self, agent: &AgentDid) -> Vec<SessionId> {
        self.memberships
            .get(agent)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Ring distribution of a session's active participants.
    pub fn ring_distribution(
        &self,
        id: &SessionId,
    ) -> Result<BTreeMap<&'static str, Vec<AgentDid>>> {
        let slot = self.slot(id)?;
        let mut out: BTreeMap<&'static str, Vec<AgentDid>> = BTreeMap::new();
        for p in slot.session.active_participants() {
            out.entry(p.ring.name())
                .or_default()
                .push(p.agent_did.clone());
        }
        Ok(out)
    }

    /// Read access to the liability books and other global state, for queries.
    pub fn books(&self) -> Books<'_> {
        Books { engine: self }
    }
}

/// Borrowed access to the engine's global books for read-only queries.
#[derive(Debug, Clone, Copy)]
pub struct Books<'a> {
    engine: &'a Engine,
}

impl<'a> Books<'a> {
    /// Vouches.
    pub fn vouches(&self) -> &'a crate::liability::VouchBook {
        &self.engine.vouches
    }
    /// Slash history.
    pub fn slashes(&self) -> &'a crate::liability::SlashHistory {
        &self.engine.slashes
    }
    /// Quarantines.
    pub fn quarantine(&self) -> &'a crate::liability::QuarantineBook {
        &self.engine.quarantine
    }
    /// The liability ledger.
    pub fn ledger(&self) -> &'a crate::liability::Ledger {
        &self.engine.ledger
    }
    /// Elevations.
    pub fn elevations(&self) -> &'a crate::ring::elevation::ElevationBook {
        &self.engine.elevations
    }
    /// Breach detector.
    pub fn breach(&self) -> &'a crate::ring::breach::BreachDetector {
        &self.engine.breach
    }
    /// Rate limiter.
    pub fn limiter(&self) -> &'a crate::security::rate_limit::RateLimiter {
        &self.engine.limiter
    }
    /// Kill history.
    pub fn kills(&self) -> &'a crate::security::kill::KillLog {
        &self.engine.kills
    }
    /// Fault attributions, newest last.
    pub fn attributions(&self) -> impl Iterator<Item = &'a crate::liability::AttributionResult> {
        self.engine.attributions.iter()
    }
    /// A session slot (VFS, locks, clocks, registry).
    pub fn slot(&self, id: &SessionId) -> Result<&'a super::SessionSlot> {
        self.engine.slot(id)
    }
    /// The spawn tree.
    pub fn spawn(&self) -> &'a crate::ring::inheritance::SpawnTree {
        &self.engine.spawn
    }
}

/// Builds the API view of a saga.
pub fn saga_view(saga: &Saga, held: &[crate::saga::StepDefinition]) -> SagaView {
    let def = saga.definition();
    let mut steps: Vec<StepView> = saga
        .steps()
        .iter()
        .map(|s| {
            let d = def.step(s.step_id());
            StepView {
                step_id: s.step_id().clone(),
                action_id: d.map(|d| d.action_id.to_string()).unwrap_or_default(),
                agent_did: s.agent().clone(),
                state: s.state(),
                error: s.error().map(str::to_string),
                execute_api: d.map(|d| d.execute_api.clone()).unwrap_or_default(),
                undo_api: d.and_then(|d| d.undo_api.clone()),
                attempts: s.attempts().to_vec(),
                compensation_attempts: s.compensation_attempts().to_vec(),
                started_at: s.started_at().map(iso),
                ended_at: s.ended_at().map(iso),
                output: s.output().cloned(),
            }
        })
        .collect();
    // Steps added to a step-by-step saga but not executed yet are held by the engine.
    for d in held {
        if !steps.iter().any(|s| s.step_id == d.step_id) {
            steps.push(StepView {
                step_id: d.step_id.clone(),
                action_id: d.action_id.to_string(),
                agent_did: d.agent.clone(),
                state: StepState::Pending,
                error: None,
                execute_api: d.execute_api.clone(),
                undo_api: d.undo_api.clone(),
                attempts: Vec::new(),
                compensation_attempts: Vec::new(),
                started_at: None,
                ended_at: None,
                output: None,
            });
        }
    }
    SagaView {
        saga_id: saga.saga_id().clone(),
        session_id: saga.session_id().clone(),
        name: def.name.clone(),
        state: saga.state(),
        created_at: iso(saga.created_at()),
        completed_at: saga.completed_at().map(iso),
        error: saga.error().map(str::to_string),
        steps,
        compensation_order: saga.compensation_order().to_vec(),
    }
}
