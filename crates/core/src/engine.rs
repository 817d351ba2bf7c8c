//! The engine: every capability composed into one deterministic, governed state machine.
//!
//! The runtime owns one [`Engine`] behind a lock and feeds it [`Command`]s with a [`Ctx`] holding
//! the time and id entropy; the engine validates, decides, mutates, appends to the audit logs and
//! returns a [`Reply`] plus the events and saga work the command produced. Because nothing here
//! reads a clock or randomness, replaying the logged commands rebuilds the same state.
//!
//! Every agent action passes through one pipeline ([`Engine::govern`]):
//! session active → membership → quarantine → breaker → rate limit → ring (with elevation, σ,
//! consensus, witness) → locks and clocks → execute → audit → event. A denial always carries a
//! stable code and a reason, and is itself audited.
//!
//! Discipline that makes replay and "bad input changes nothing" hold: a command returns
//! [`EngineError::Invalid`], [`EngineError::NotFound`], [`EngineError::Conflict`] or
//! [`EngineError::Forbidden`] only *before* it mutates anything; denials and rate limits may
//! record state (audit entries, breach counters) and are logged like successes.

mod act_ops;
mod admin_ops;
mod audit_room;
mod configure;

pub mod command;
pub mod err;
mod governed;
mod liability_ops;
mod query;
pub mod reply;
mod ring_ops;
mod saga_ops;
mod session_ops;
mod slot;
mod tick;
mod trail;
pub mod view;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use command::{ActionRequest, Actor, Command, LoggedCommand};
pub use err::{Denial, DenyCode, EngineError, Result};
pub use reply::{ActOutcome, Reply};
pub use slot::SessionSlot;

use crate::event::Event;
use crate::id::{AgentDid, IdGen, SagaId, SessionId};
use crate::liability::shapley::AttributionResult;
use crate::liability::{Ledger, QuarantineBook, SlashHistory, VouchBook, VouchPolicy};
use crate::ring::breach::{BreachDetector, BreakerPolicy};
use crate::ring::classifier::Classifier;
use crate::ring::elevation::ElevationBook;
use crate::ring::inheritance::SpawnTree;
use crate::saga::{CheckpointStore, Saga, SagaCommand};
use crate::score::Score;
use crate::security::kill::{KillLog, SubstitutePool};
use crate::security::rate_limit::{RateLimiter, RingPolicies};
use crate::time::Timestamp;
use crate::vfs::VfsLimits;
pub use trail::AuditTrail;

/// Tunables of the engine. Defaults follow the reference where it had a number. Changed at run
/// time only by [`Command::Configure`], which is logged, so a replay applies a change at the
/// same point in history as the original run did.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct EngineConfig {
    /// ω used in σ_eff = σ_raw + ω·Σ bonded when deriving rings (default 0.5).
    pub bond_weight: Score,
    /// Vouching limits (minimum voucher σ, default bond, max exposure).
    pub vouch: VouchPolicy,
    /// Per-ring rate limits.
    pub rate: RingPolicies,
    /// Breach breaker behaviour.
    pub breaker: BreakerPolicy,
    /// Per-session VFS limits.
    pub vfs: VfsLimits,
    /// Default intent-lock TTL.
    pub lock_ttl: Duration,
    /// Approvals from ring ≤ 1 participants needed for ring-1 consensus (an admin alone suffices).
    pub consensus_quorum: usize,
    /// Most sessions kept (archived ones are evicted oldest first beyond this).
    pub max_sessions: usize,
    /// Most sagas kept (finished ones are evicted oldest first beyond this).
    pub max_sagas: usize,
    /// Origin line of signed checkpoints (C2SP tlog-checkpoint).
    pub origin: String,
    /// Audit entries kept in memory per session log (older ones stay provable by hash).
    pub max_audit_entries: usize,
    /// Capacity of each session's audit log, in entries, fixed when the session is created.
    /// Near it, new work in the session is refused so that nothing is ever done without being
    /// recorded.
    pub max_audit_leaves: u64,
    /// Capacity of the hypervisor log (one entry per terminated session and per configuration
    /// change), in entries. Unlike a session's log it lives as long as the deployment, so a
    /// reconfiguration may raise it (and lower it, down to what it must still hold); when it is
    /// nearly full, new sessions are refused until it is raised. All its entries stay in memory
    /// (about 0.4 KiB each), because every export bundle carries the whole log.
    pub max_hypervisor_log_leaves: u64,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            bond_weight: Score::clamped(0.5),
            vouch: VouchPolicy::default(),
            rate: RingPolicies::default(),
            breaker: BreakerPolicy::default(),
            vfs: VfsLimits::default(),
            lock_ttl: Duration::from_secs(300),
            consensus_quorum: 2,
            max_sessions: 100_000,
            max_sagas: 100_000,
            origin: "agent-hypervisor".to_string(),
            max_audit_entries: 1_000_000,
            max_audit_leaves: crate::audit::log::DEFAULT_MAX_LEAVES,
            max_hypervisor_log_leaves: DEFAULT_MAX_HYPERVISOR_LOG_LEAVES,
        }
    }
}

/// Default capacity of the hypervisor log: 2^20 ≈ 1 million session roots (about 0.4 GiB of
/// entries and hashes when full; memory grows only as sessions terminate).
pub const DEFAULT_MAX_HYPERVISOR_LOG_LEAVES: u64 = 1 << 20;

/// Per-command context: the time, the id generator, and what the command produced besides its
/// reply.
#[derive(Debug)]
pub struct Ctx {
    /// When the command is applied.
    pub now: Timestamp,
    /// Fresh ids for this command.
    pub ids: IdGen,
    /// Events produced, in order.
    pub events: Vec<Event>,
    /// Saga commands for the runtime to carry out (HTTP calls, timers), in order.
    pub saga_work: Vec<(SagaId, SagaCommand)>,
}

impl Ctx {
    /// A context for one command.
    pub fn new(now: Timestamp, seed: [u8; 16]) -> Self {
        Ctx {
            now,
            ids: IdGen::new(seed),
            events: Vec::new(),
            saga_work: Vec::new(),
        }
    }

    /// Records an event.
    pub fn emit(&mut self, e: Event) {
        self.events.push(e);
    }
}

/// Counters for metrics and the dashboard.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Counters {
    /// Governed actions allowed.
    pub allowed: u64,
    /// Governed actions denied, by code.
    pub denied: BTreeMap<String, u64>,
    /// Audit entries appended over all logs.
    pub audit_appends: u64,
    /// Commands applied.
    pub commands: u64,
}

/// The whole hypervisor state.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Engine {
    pub(crate) config: EngineConfig,
    pub(crate) sessions: BTreeMap<SessionId, SessionSlot>,
    /// Session ids in creation order, for listing and eviction.
    pub(crate) session_order: VecDeque<SessionId>,
    /// σ_raw held by the hypervisor for every agent it knows.
    pub(crate) trust: BTreeMap<AgentDid, Score>,
    /// Sessions each agent is an active member of.
    pub(crate) memberships: BTreeMap<AgentDid, BTreeSet<SessionId>>,
    pub(crate) vouches: VouchBook,
    pub(crate) slashes: SlashHistory,
    pub(crate) quarantine: QuarantineBook,
    pub(crate) ledger: Ledger,
    pub(crate) elevations: ElevationBook,
    pub(crate) spawn: SpawnTree,
    pub(crate) breach: BreachDetector,
    pub(crate) limiter: RateLimiter,
    pub(crate) classifier: Classifier,
    pub(crate) kills: KillLog,
    pub(crate) substitutes: SubstitutePool,
    pub(crate) sagas: BTreeMap<SagaId, Saga>,
    pub(crate) saga_order: VecDeque<SagaId>,
    /// Steps added to step-by-step sagas but not executed yet (fed to the saga on execute).
    pub(crate) held_steps: BTreeMap<SagaId, Vec<crate::saga::StepDefinition>>,
    pub(crate) checkpoints: CheckpointStore,
    pub(crate) attributions: VecDeque<AttributionResult>,
    /// The hypervisor-wide log: one entry per terminated session's root.
    pub(crate) hv_log: AuditTrail,
    /// Signed checkpoints of the hypervisor log, newest last (bounded).
    pub(crate) signed: VecDeque<(u64, String)>,
    pub(crate) counters: Counters,
}

/// Most attribution results and signed checkpoints kept.
const MAX_HISTORY: usize = 10_000;

impl Engine {
    /// A fresh engine.
    pub fn new(config: EngineConfig) -> Result<Self> {
        let vouches = VouchBook::new(config.vouch.clone())
            .map_err(|e| EngineError::Invalid(e.to_string()))?;
        Ok(Engine {
            breach: BreachDetector::new(config.breaker),
            limiter: RateLimiter::new(config.rate),
            hv_log: AuditTrail::keeping_all("hypervisor", config.max_hypervisor_log_leaves),
            config,
            sessions: BTreeMap::new(),
            session_order: VecDeque::new(),
            trust: BTreeMap::new(),
            memberships: BTreeMap::new(),
            vouches,
            slashes: SlashHistory::default(),
            quarantine: QuarantineBook::default(),
            ledger: Ledger::default(),
            elevations: ElevationBook::new(),
            spawn: SpawnTree::new(),
            classifier: Classifier::new(),
            kills: KillLog::new(),
            substitutes: SubstitutePool::new(),
            sagas: BTreeMap::new(),
            saga_order: VecDeque::new(),
            held_steps: BTreeMap::new(),
            checkpoints: CheckpointStore::default(),
            attributions: VecDeque::new(),
            signed: VecDeque::new(),
            counters: Counters::default(),
        })
    }

    /// The configuration in force.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// Applies one command. See the module docs for the error discipline: an `Invalid` or
    /// `Forbidden` outcome leaves the state exactly as it was.
    pub fn apply(&mut self, actor: &Actor, cmd: Command, ctx: &mut Ctx) -> Result<Reply> {
        let r = self.dispatch(actor, cmd, ctx);
        // Refusals of bad input and of unauthorised callers change nothing, not even this
        // counter: the runtime does not log them, so replay must not count them either.
        if !matches!(r, Err(EngineError::Invalid(_) | EngineError::Forbidden(_))) {
            self.counters.commands += 1;
        }
        r
    }

    fn dispatch(&mut self, actor: &Actor, cmd: Command, ctx: &mut Ctx) -> Result<Reply> {
        use Command as C;
        self.check_audit_room(&cmd)?;
        match cmd {
            C::CreateSession {
                creator,
                config,
                isolation,
            } => self.create_session(actor, creator, config, isolation, ctx),
            C::Join {
                session_id,
                agent,
                sigma_raw,
                actions,
            } => self.join(actor, &session_id, agent, sigma_raw, actions, ctx),
            C::Leave { session_id, agent } => self.leave(actor, &session_id, &agent, ctx),
            C::Activate { session_id } => self.activate(actor, &session_id, ctx),
            C::Terminate { session_id } => self.terminate(actor, &session_id, ctx),
            C::SetTrust { agent, sigma_raw } => self.set_trust(actor, agent, sigma_raw, ctx),
            C::Act {
                session_id,
                agent,
                request,
            } => self.act(actor, &session_id, &agent, request, ctx),
            C::SetAcl {
                session_id,
                path,
                allowed,
            } => self.set_acl(actor, &session_id, &path, allowed, ctx),
            C::Vouch {
                session_id,
                voucher,
                vouchee,
                bond_pct,
                expiry,
            } => self.vouch(
                actor,
                &session_id,
                &voucher,
                &vouchee,
                bond_pct,
                expiry,
                ctx,
            ),
            C::ReleaseVouch { vouch_id } => self.release_vouch(actor, &vouch_id, ctx),
            C::Slash {
                session_id,
                agent,
                omega,
                reason,
            } => self.slash_cmd(actor, &session_id, &agent, omega, &reason, ctx),
            C::Quarantine {
                session_id,
                agent,
                reason,
                details,
                duration_seconds,
            } => self.quarantine_cmd(
                actor,
                &session_id,
                &agent,
                reason,
                &details,
                duration_seconds,
                ctx,
            ),
            C::ReleaseQuarantine { session_id, agent } => {
                self.release_quarantine(actor, &session_id, &agent, ctx)
            }
            C::RequestElevation {
                session_id,
                agent,
                target,
                ttl_seconds,
                reason,
            } => {
                self.request_elevation(actor, &session_id, &agent, target, ttl_seconds, reason, ctx)
            }
            C::ApproveElevation { elevation_id } => {
                self.approve_elevation(actor, &elevation_id, ctx)
            }
            C::RevokeElevation { elevation_id } => self.revoke_elevation(actor, &elevation_id, ctx),
            C::ApproveConsensus { session_id, agent } => {
                self.approve_consensus(actor, &session_id, &agent, ctx)
            }
            C::GrantRoot {
                session_id,
                agent,
                witness,
            } => self.grant_root(actor, &session_id, &agent, &witness, ctx),
            C::RegisterChild {
                session_id,
                parent,
                child,
            } => self.register_child(actor, &session_id, &parent, child, ctx),
            C::ResetBreaker { session_id, agent } => {
                self.reset_breaker(actor, &session_id, &agent, ctx)
            }
            C::Kill {
                session_id,
                agent,
                reason,
                substitute,
            } => self.kill(actor, &session_id, &agent, reason, substitute, ctx),
            C::RegisterSubstitute { session_id, agent } => {
                self.register_substitute(actor, &session_id, agent, ctx)
            }
            C::CreateSaga { session_id } => self.create_saga(actor, &session_id, ctx),
            C::SubmitSaga { definition } => self.submit_saga(actor, definition, ctx),
            C::AddStep { saga_id, step } => self.add_step(actor, &saga_id, step, ctx),
            C::ExecuteStep { saga_id, step_id } => {
                self.execute_step(actor, &saga_id, &step_id, ctx)
            }
            C::CompleteSaga { saga_id } => self.complete_saga(actor, &saga_id, ctx),
            C::CompensateSaga { saga_id } => self.compensate_saga(actor, &saga_id, ctx),
            C::SagaInput { saga_id, input } => self.saga_input(actor, &saga_id, input, ctx),
            C::CancelLockWait { session_id, ticket } => {
                self.cancel_lock_wait(actor, &session_id, &ticket, ctx)
            }
            C::RecordCheckpoint { size, note } => self.record_checkpoint(actor, size, note, ctx),
            C::Tick => self.tick(actor, ctx),
            C::Configure { config } => self.configure(actor, *config, ctx),
        }
    }

    /// Replays a logged command (recovery). The outcome is the one originally returned.
    pub fn replay(&mut self, logged: &LoggedCommand) -> (Result<Reply>, Ctx) {
        let mut ctx = Ctx::new(logged.at, logged.seed);
        let r = self.apply(&logged.actor, logged.command.clone(), &mut ctx);
        (r, ctx)
    }

    pub(crate) fn slot(&self, id: &SessionId) -> Result<&SessionSlot> {
        self.sessions
            .get(id)
            .ok_or_else(|| EngineError::not_found("session", id))
    }

    pub(crate) fn slot_mut(&mut self, id: &SessionId) -> Result<&mut SessionSlot> {
        self.sessions
            .get_mut(id)
            .ok_or_else(|| EngineError::not_found("session", id))
    }

    /// Only the admin (or the system) may do this.
    pub(crate) fn require_admin(actor: &Actor, what: &str) -> Result<()> {
        if actor.is_privileged() {
            Ok(())
        } else {
            Err(EngineError::Forbidden(format!("only an admin may {what}")))
        }
    }

    /// The admin, the system, or the agent itself.
    pub(crate) fn require_self_or_admin(actor: &Actor, agent: &AgentDid) -> Result<()> {
        match actor {
            Actor::Admin | Actor::System => Ok(()),
            Actor::Agent(a) if a == agent => Ok(()),
            Actor::Agent(a) => Err(EngineError::Forbidden(format!(
                "agent `{a}` may not act as `{agent}`"
            ))),
        }
    }

    pub(crate) fn push_attribution(&mut self, a: AttributionResult) {
        self.attributions.push_back(a);
        while self.attributions.len() > MAX_HISTORY {
            self.attributions.pop_front();
        }
    }

    pub(crate) fn push_signed(&mut self, size: u64, note: String) {
        self.signed.push_back((size, note));
        while self.signed.len() > MAX_HISTORY {
            self.signed.pop_front();
        }
    }
}
