//! Commands: every state change the engine accepts, as data.
//!
//! A command is what the runtime logs before acknowledging, and what it replays after a crash, so
//! it carries everything the engine needs except time and id entropy, which the runtime logs
//! beside it in a [`LoggedCommand`]. Who is acting ([`Actor`]) is part of the command: the server
//! derives it from the caller's token, never from the request body.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::action::ActionDescriptor;
use crate::id::{ActionId, AgentDid, RecordId, SagaId, SessionId, StepId};
use crate::liability::quarantine::QuarantineReason;
use crate::locks::LockIntent;
use crate::ring::Ring;
use crate::saga::{SagaDefinition, SagaInput, StepDefinition};
use crate::score::Score;
use crate::security::kill::KillReason;
use crate::session::SessionConfig;
use crate::time::Timestamp;
use crate::vclock::IsolationLevel;

/// Who issues a command.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "did", rename_all = "snake_case")]
pub enum Actor {
    /// The operator (admin token). May do anything administrative.
    Admin,
    /// An agent acting as itself (agent token bound to this DID).
    Agent(AgentDid),
    /// The hypervisor itself (timers, saga runner, recovery).
    System,
}

impl Actor {
    /// Whether the actor is the admin or the system.
    pub fn is_privileged(&self) -> bool {
        matches!(self, Actor::Admin | Actor::System)
    }

    /// The agent DID, if the actor is an agent.
    pub fn agent(&self) -> Option<&AgentDid> {
        match self {
            Actor::Agent(a) => Some(a),
            _ => None,
        }
    }
}

/// An agent action that passes through the governed path.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ActionRequest {
    /// Perform a registered action (tool call). The hypervisor decides and records; the caller
    /// performs the effect only when allowed.
    Tool {
        /// The registered action.
        action_id: ActionId,
        /// Free-form input, recorded by hash in the audit log.
        #[serde(default)]
        input: serde_json::Value,
    },
    /// Read a VFS file.
    VfsRead {
        /// Path inside the session.
        path: String,
    },
    /// Create or replace a VFS file.
    VfsWrite {
        /// Path inside the session.
        path: String,
        /// New content.
        content: String,
    },
    /// Delete a VFS file.
    VfsDelete {
        /// Path inside the session.
        path: String,
    },
    /// List VFS files the agent may read.
    VfsList {
        /// Only paths under this directory.
        #[serde(default)]
        prefix: Option<String>,
    },
    /// Take a copy-on-write snapshot of the VFS.
    VfsSnapshot {
        /// Optional caller-chosen id.
        #[serde(default)]
        snapshot_id: Option<String>,
    },
    /// Restore the VFS to a snapshot.
    VfsRestore {
        /// The snapshot to restore.
        snapshot_id: String,
    },
    /// Acquire an intent lock.
    LockAcquire {
        /// Path to lock.
        path: String,
        /// Read, write or exclusive.
        intent: LockIntent,
        /// Lock lifetime in seconds (default and maximum are configured).
        #[serde(default)]
        ttl_seconds: Option<u64>,
        /// Queue behind conflicting holders instead of failing at once.
        #[serde(default)]
        wait: bool,
    },
    /// Release one of the agent's intent locks.
    LockRelease {
        /// The lock to release.
        lock_id: RecordId,
    },
}

/// Every state change the engine accepts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Command {
    /// Create a session (admin).
    CreateSession {
        /// Who the session belongs to (may change its ACLs).
        creator: AgentDid,
        /// Session settings.
        config: SessionConfig,
        /// Isolation level of the session's VFS.
        isolation: IsolationLevel,
    },
    /// Admit an agent to a session (admin).
    Join {
        /// The session.
        session_id: SessionId,
        /// The agent.
        agent: AgentDid,
        /// Trust score for an agent the hypervisor does not know yet. For a known agent the
        /// held score is used unless this one is lower (trust is raised only by `SetTrust`).
        sigma_raw: Option<Score>,
        /// Actions the agent declares; registered only if the join succeeds.
        actions: Vec<ActionDescriptor>,
    },
    /// An agent leaves a session (the agent itself or admin).
    Leave {
        /// The session.
        session_id: SessionId,
        /// The agent.
        agent: AgentDid,
    },
    /// handshaking → active (admin).
    Activate {
        /// The session.
        session_id: SessionId,
    },
    /// Terminate and archive a session, committing its audit root (admin).
    Terminate {
        /// The session.
        session_id: SessionId,
    },
    /// Set an agent's held trust score σ_raw (admin).
    SetTrust {
        /// The agent.
        agent: AgentDid,
        /// New σ_raw.
        sigma_raw: Score,
    },
    /// A governed agent action.
    Act {
        /// The session.
        session_id: SessionId,
        /// The acting agent.
        agent: AgentDid,
        /// What it wants to do.
        request: ActionRequest,
    },
    /// Set (or clear, with `None`) the ACL of a VFS path or directory (creator or admin).
    SetAcl {
        /// The session.
        session_id: SessionId,
        /// Path or directory.
        path: String,
        /// Agents allowed; `None` removes the ACL.
        allowed: Option<BTreeSet<AgentDid>>,
    },
    /// A voucher bonds part of its reputation for a vouchee (the voucher, governed).
    Vouch {
        /// The session.
        session_id: SessionId,
        /// The voucher (must be the actor unless admin).
        voucher: AgentDid,
        /// The vouchee.
        vouchee: AgentDid,
        /// Fraction of the voucher's σ to bond (default 0.20).
        bond_pct: Option<Score>,
        /// When the bond lapses.
        expiry: Option<Timestamp>,
    },
    /// Release a bond (its voucher or admin).
    ReleaseVouch {
        /// The bond.
        vouch_id: RecordId,
    },
    /// Slash an agent and its vouchers (admin).
    Slash {
        /// The session.
        session_id: SessionId,
        /// The misbehaving agent.
        agent: AgentDid,
        /// Risk weight ω of the offence.
        omega: Score,
        /// Why.
        reason: String,
    },
    /// Quarantine an agent in a session (admin).
    Quarantine {
        /// The session.
        session_id: SessionId,
        /// The agent.
        agent: AgentDid,
        /// Why.
        reason: QuarantineReason,
        /// Free-form details.
        details: String,
        /// Duration in seconds; `None` = until released.
        duration_seconds: Option<u64>,
    },
    /// Release an agent from quarantine (admin).
    ReleaseQuarantine {
        /// The session.
        session_id: SessionId,
        /// The agent.
        agent: AgentDid,
    },
    /// An agent asks for a temporary, more privileged ring (governed).
    RequestElevation {
        /// The session.
        session_id: SessionId,
        /// The agent.
        agent: AgentDid,
        /// The ring wanted.
        target: Ring,
        /// TTL in seconds (default 300, capped at 3600).
        ttl_seconds: Option<u64>,
        /// Why.
        reason: String,
    },
    /// Approve a pending elevation (admin, or an agent of sufficient ring).
    ApproveElevation {
        /// The elevation.
        elevation_id: RecordId,
    },
    /// Revoke or deny an elevation (admin).
    RevokeElevation {
        /// The elevation.
        elevation_id: RecordId,
    },
    /// Approve ring-1 consensus for an agent (admin, or a ring ≤ 1 participant).
    ApproveConsensus {
        /// The session.
        session_id: SessionId,
        /// The agent to approve.
        agent: AgentDid,
    },
    /// Grant ring 0 with an admin witness (admin).
    GrantRoot {
        /// The session.
        session_id: SessionId,
        /// The agent.
        agent: AgentDid,
        /// Witness statement recorded in the audit log.
        witness: String,
    },
    /// Register a spawned child agent under a parent (admin or the parent).
    RegisterChild {
        /// The session.
        session_id: SessionId,
        /// The parent.
        parent: AgentDid,
        /// The child.
        child: AgentDid,
    },
    /// Reset a tripped breach breaker (admin).
    ResetBreaker {
        /// The session.
        session_id: SessionId,
        /// The agent.
        agent: AgentDid,
    },
    /// Kill an agent now (admin).
    Kill {
        /// The session.
        session_id: SessionId,
        /// The agent.
        agent: AgentDid,
        /// Why.
        reason: KillReason,
        /// Preferred substitute for its pending saga steps.
        substitute: Option<AgentDid>,
    },
    /// Add an agent to the session's substitute pool (admin).
    RegisterSubstitute {
        /// The session.
        session_id: SessionId,
        /// The substitute.
        agent: AgentDid,
    },
    /// Create an empty saga to be built step by step (admin or a member).
    CreateSaga {
        /// The session.
        session_id: SessionId,
    },
    /// Submit a whole saga definition (DSL) that runs by itself.
    SubmitSaga {
        /// The definition.
        definition: SagaDefinition,
    },
    /// Add a step to a step-by-step saga.
    AddStep {
        /// The saga.
        saga_id: SagaId,
        /// The step.
        step: StepDefinition,
    },
    /// Start executing one step of a step-by-step saga.
    ExecuteStep {
        /// The saga.
        saga_id: SagaId,
        /// The step.
        step_id: StepId,
    },
    /// Close a step-by-step saga whose steps all committed.
    CompleteSaga {
        /// The saga.
        saga_id: SagaId,
    },
    /// Compensate a saga now.
    CompensateSaga {
        /// The saga.
        saga_id: SagaId,
    },
    /// Feed an outcome (step result, timer) into a saga (system).
    SagaInput {
        /// The saga.
        saga_id: SagaId,
        /// The input.
        input: SagaInput,
    },
    /// Cancel a queued lock request that timed out (system).
    CancelLockWait {
        /// The session.
        session_id: SessionId,
        /// The ticket.
        ticket: RecordId,
    },
    /// Record a signed checkpoint of the hypervisor log (system).
    RecordCheckpoint {
        /// Tree size signed.
        size: u64,
        /// The signed note text.
        note: String,
    },
    /// Expire everything whose time has come (system, periodic).
    Tick,
    /// Replace the engine's tunables (admin or system; `ahv serve` sends it at start when its
    /// configuration file asks for other values than the engine holds). Recorded in the
    /// hypervisor log.
    Configure {
        /// The complete new configuration.
        config: Box<crate::engine::EngineConfig>,
    },
}

/// A command as logged: with the time it was applied and the id seed it used.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LoggedCommand {
    /// Who issued it.
    pub actor: Actor,
    /// What it was.
    pub command: Command,
    /// When it was applied.
    pub at: Timestamp,
    /// Entropy for fresh ids.
    pub seed: [u8; 16],
}
