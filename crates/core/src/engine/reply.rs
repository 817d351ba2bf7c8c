//! What commands return. Each variant is a serializable outcome the server turns into a
//! response body.

use serde::Serialize;

use super::view::{SagaSummary, SessionSummary};
use crate::id::{ActionId, AgentDid, RecordId, SessionId};
use crate::liability::shapley::AttributionResult;
use crate::liability::{QuarantineRecord, SlashOutcome, VouchRecord};
use crate::locks::Lock;
use crate::ring::Ring;
use crate::ring::elevation::Elevation;
use crate::score::Score;
use crate::security::kill::KillRecord;
use crate::vfs::EditOp;
use crate::vfs::FileInfo;

/// The outcome of a command.
#[derive(Clone, Debug, Serialize)]
#[serde(untagged)]
pub enum Reply {
    /// Nothing more to say.
    Done,
    /// A session's state after create/activate.
    Session(SessionSummary),
    /// An agent was admitted.
    Joined(JoinOutcome),
    /// A session was terminated and archived.
    Terminated(TerminateOutcome),
    /// A governed action ran.
    Acted(ActOutcome),
    /// A bond was created or released.
    Vouch(VouchRecord),
    /// A slash ran.
    Slashed(SlashOutcome),
    /// A quarantine was entered or released (`None`: there was none to release).
    Quarantine(Option<QuarantineRecord>),
    /// An elevation changed.
    Elevation(Elevation),
    /// An agent's ring after a grant.
    Ring {
        /// The agent.
        agent_did: AgentDid,
        /// Its ring now.
        ring: Ring,
    },
    /// A kill was carried out.
    Killed(KillRecord),
    /// A saga's state after the command.
    Saga(SagaSummary),
    /// Fault attribution of an escalated saga.
    Attribution(Box<AttributionResult>),
    /// What a periodic tick expired.
    Ticked(TickReport),
}

/// Outcome of a join.
#[derive(Clone, Debug, Serialize)]
pub struct JoinOutcome {
    /// The agent.
    pub agent_did: AgentDid,
    /// The session.
    pub session_id: SessionId,
    /// Ring assigned.
    pub ring: Ring,
    /// σ_raw held for the agent.
    pub sigma_raw: Score,
    /// σ_eff in this session.
    pub sigma_eff: Score,
    /// Admitted on probation (confined to the sandbox) on the ledger's advice.
    pub probation: bool,
    /// The agent declared an irreversible action, which switched the session to strong
    /// consistency.
    pub forced_strong: bool,
}

/// Outcome of a termination.
#[derive(Clone, Debug, Serialize)]
pub struct TerminateOutcome {
    /// The session.
    pub session_id: SessionId,
    /// Hex Merkle root of the session's audit log (null when audit is disabled).
    pub merkle_root: Option<String>,
    /// Entries in the session's audit log.
    pub tree_size: u64,
    /// Index of the root in the hypervisor log.
    pub hv_index: Option<u64>,
    /// VFS files whose content was purged.
    pub files_purged: u64,
    /// Bytes of content freed.
    pub bytes_freed: u64,
}

/// Outcome of a governed action.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum ActOutcome {
    /// A registered action may proceed (the caller performs it).
    Allowed {
        /// The action.
        action_id: Option<ActionId>,
        /// The ring it was allowed at.
        ring: Ring,
    },
    /// A file's content.
    Read {
        /// Path.
        path: String,
        /// Content.
        content: String,
        /// Version.
        version: u64,
        /// SHA-256 of the content.
        content_hash: String,
        /// The path's vector clock after the read.
        clock: Option<serde_json::Value>,
    },
    /// A file was written.
    Written {
        /// Path.
        path: String,
        /// Create or update.
        op: EditOp,
        /// New version.
        version: u64,
        /// SHA-256 of the new content.
        content_hash: String,
        /// SHA-256 of the replaced content.
        previous_hash: Option<String>,
        /// The path's new vector clock.
        clock: Option<serde_json::Value>,
    },
    /// A file was deleted.
    Deleted {
        /// Path.
        path: String,
    },
    /// Files the agent may read.
    Listed {
        /// The files.
        files: Vec<FileInfo>,
    },
    /// A snapshot was taken.
    Snapshot {
        /// Its id.
        snapshot_id: String,
    },
    /// A snapshot was restored.
    Restored {
        /// Its id.
        snapshot_id: String,
    },
    /// A lock was granted.
    Locked {
        /// The lock.
        lock: Lock,
    },
    /// A lock request is queued.
    LockQueued {
        /// The ticket (also the lock id once granted).
        ticket: RecordId,
    },
    /// A lock was released.
    Unlocked {
        /// The lock.
        lock_id: RecordId,
    },
}

/// What a tick expired.
#[derive(Clone, Debug, Default, Serialize)]
pub struct TickReport {
    /// Elevations that expired.
    pub elevations: usize,
    /// Quarantines that expired.
    pub quarantines: usize,
    /// Locks that expired.
    pub locks: usize,
    /// Bonds that expired.
    pub vouches: usize,
    /// Sessions terminated because they ran past their maximum duration.
    pub sessions: usize,
}
