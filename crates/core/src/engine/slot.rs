//! Everything the engine keeps per session, in one place.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use serde::{Deserialize, Serialize};

use super::trail::AuditTrail;
use crate::action::registry::ActionRegistry;
use crate::id::{AgentDid, SagaId, SessionId};
use crate::locks::LockTable;
use crate::session::Session;
use crate::time::Timestamp;
use crate::vclock::{ClockTable, IsolationLevel};
use crate::vfs::{Vfs, VfsLimits};

/// Privilege grants that σ alone cannot give: ring-1 consensus and the ring-0 witness.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Grants {
    /// Who approved ring-1 consensus (`admin` or agent DIDs).
    pub consensus_approvals: BTreeSet<String>,
    /// Consensus reached.
    pub consensus: bool,
    /// Admin witness statement for ring 0, if granted.
    pub root_witness: Option<String>,
}

/// One session and everything scoped to it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SessionSlot {
    /// Lifecycle and participants.
    pub session: Session,
    /// Isolation level of the VFS.
    pub isolation: IsolationLevel,
    /// Shared files.
    pub vfs: Vfs,
    /// Vector clocks of paths and agents.
    pub clocks: ClockTable,
    /// Intent locks (session-scoped by construction).
    pub locks: LockTable,
    /// Actions declared by participants.
    pub registry: ActionRegistry,
    /// The session's append-only audit log.
    pub audit: AuditTrail,
    /// Consensus and witness grants per agent.
    pub grants: BTreeMap<AgentDid, Grants>,
    /// Agents admitted on probation (ledger advice): confined to the sandbox.
    pub probation: BTreeSet<AgentDid>,
    /// Sagas of this session, creation order (the oldest are evicted first, from the front).
    pub sagas: VecDeque<SagaId>,
    /// Agents killed in this session (they cannot act; an admin may rejoin them).
    pub killed: BTreeSet<AgentDid>,
    /// Merkle root committed at termination (hex).
    pub merkle_root: Option<String>,
    /// Index of this session's root in the hypervisor log.
    pub hv_index: Option<u64>,
}

impl SessionSlot {
    /// A new slot around a created session.
    pub fn new(
        session: Session,
        isolation: IsolationLevel,
        vfs_limits: VfsLimits,
        max_audit: usize,
        max_audit_leaves: u64,
    ) -> Self {
        let id: SessionId = session.session_id().clone();
        SessionSlot {
            vfs: Vfs::new(id.clone(), vfs_limits),
            clocks: ClockTable::default(),
            locks: LockTable::default(),
            registry: ActionRegistry::new(),
            audit: AuditTrail::with_max_leaves(id.as_str(), max_audit, max_audit_leaves),
            grants: BTreeMap::new(),
            probation: BTreeSet::new(),
            sagas: VecDeque::new(),
            killed: BTreeSet::new(),
            merkle_root: None,
            hv_index: None,
            session,
            isolation,
        }
    }

    /// The session id.
    pub fn id(&self) -> &SessionId {
        self.session.session_id()
    }

    /// When the session ends by itself.
    pub fn expires_at(&self) -> Timestamp {
        self.session.expires_at()
    }
}
