//! The session file system: files shared by a session's members, guarded by path ACLs, with an
//! edit log and copy-on-write snapshots.
//!
//! Differences from the reference (spec §2.2, §7.3, §17 items 12, 15, 33):
//!
//! - **Paths** are normalised [`VfsPath`]s: no `..`, and a namespaced path must name exactly
//!   this session (`session:1` can never reach `session:10`).
//! - **Every access is checked**, reads included (the reference skipped the check when no agent
//!   was given), and the ACL is checked *before* existence, so a denied agent cannot probe
//!   which files exist.
//! - **ACLs cover directories**: an ACL on `/a` governs `/a` and everything under it. The most
//!   specific ACL wins: for `/a/b/c` an ACL on `/a/b` overrides one on `/a` (so a child ACL
//!   can open a sub-tree of a closed directory; the creator controls both). No ACL on the path
//!   or any ancestor means open to all members. An empty ACL closes a path to everyone. ACLs
//!   belong to paths, not files: deleting a file keeps its ACL, so recreating it stays guarded.
//! - *Who* may change ACLs (the creator or an admin) and who may restore a snapshot (it rewrites
//!   ACLs too) is decided by the engine; these operations only record the actor in the log.
//! - **Snapshots are copy-on-write**: the file and ACL maps sit behind `Arc`s, a snapshot clones
//!   the `Arc`s (O(1)), and the first write afterwards copies the map's nodes once (O(n)
//!   metadata, never content: contents are `Arc<str>`). An existing snapshot id is refused.
//! - **Retention purge really deletes content** (the reference reported a purge and deleted
//!   nothing): paths, sizes and hashes stay; reads say `purged`; the VFS is sealed afterwards.
//! - **Bounded**: see [`VfsLimits`]; the edit log keeps the newest `max_edit_log` edits.
//! - **Serialization** writes each distinct content once in a table keyed by its hash and
//!   rebuilds shared `Arc`s on load, checking every hash (`wire.rs`); the `rc` feature of serde
//!   is not needed. Snapshot maps are written in full and no longer share map nodes after a
//!   load, but they do share content.

mod acl;
mod entry;
mod err;
mod files;
mod limits;
mod path;
mod purge;
mod snapshot;
mod wire;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::id::{AgentDid, SessionId};
use crate::time::Timestamp;

pub use entry::{EditOp, FileEntry, FileInfo, VfsEdit, WriteOutcome, content_hash};
pub use err::VfsError;
pub use limits::VfsLimits;
pub use path::{
    MAX_DEPTH, MAX_PATH_BYTES, MAX_PATH_INPUT_BYTES, MAX_SEGMENT_BYTES, NAMESPACE_ROOT, VfsPath,
};
pub use purge::PurgeReport;
pub use snapshot::{SnapshotId, SnapshotInfo};

use snapshot::Snapshot;

/// The map of files, shared with snapshots until the next change.
type FileMap = BTreeMap<VfsPath, FileEntry>;
/// The map of ACLs: path → agents allowed at and under it.
type AclMap = BTreeMap<VfsPath, BTreeSet<AgentDid>>;

/// One session's file system.
#[derive(Clone, Debug)]
pub struct Vfs {
    session_id: SessionId,
    limits: VfsLimits,
    // INVARIANT: `live_bytes` is the sum of `size` over files whose content is present;
    // `files.len() ≤ limits.max_files` and `live_bytes ≤ limits.max_total_bytes` after every
    // successful write.
    files: Arc<FileMap>,
    acls: Arc<AclMap>,
    live_bytes: u64,
    // INVARIANT: at most `limits.max_edit_log` edits; `edits_evicted` counts the dropped ones.
    edits: VecDeque<VfsEdit>,
    edits_evicted: u64,
    snapshots: BTreeMap<SnapshotId, Snapshot>,
    // INVARIANT: once set, no file holds content, there are no snapshots and nothing changes.
    purged_at: Option<Timestamp>,
}

impl Serialize for Vfs {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        wire::VfsWireRef::from_vfs(self).serialize(s)
    }
}

impl<'de> Deserialize<'de> for Vfs {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let w = wire::VfsWire::deserialize(d)?;
        w.into_vfs().map_err(serde::de::Error::custom)
    }
}

impl Vfs {
    /// An empty file system for `session_id`.
    pub fn new(session_id: SessionId, limits: VfsLimits) -> Vfs {
        Vfs {
            session_id,
            limits,
            files: Arc::new(FileMap::new()),
            acls: Arc::new(AclMap::new()),
            live_bytes: 0,
            edits: VecDeque::new(),
            edits_evicted: 0,
            snapshots: BTreeMap::new(),
            purged_at: None,
        }
    }

    /// The session this file system belongs to.
    pub fn session_id(&self) -> &SessionId {
        &self.session_id
    }

    /// The limits in force.
    pub fn limits(&self) -> &VfsLimits {
        &self.limits
    }

    /// The namespace prefix of absolute paths, `/sessions/{session_id}`.
    pub fn namespace(&self) -> String {
        format!("/{NAMESPACE_ROOT}/{}", self.session_id)
    }

    /// Parses `input` as a path of this session: relative, or namespaced with exactly this
    /// session's namespace.
    pub fn path(&self, input: &str) -> Result<VfsPath, VfsError> {
        VfsPath::parse_in(input, &self.session_id)
    }

    /// How many files exist (purged ones included).
    pub fn file_count(&self) -> usize {
        self.files.len()
    }

    /// Bytes of content currently held by live files.
    pub fn total_bytes(&self) -> u64 {
        self.live_bytes
    }

    /// The retained edits, oldest first.
    pub fn edits(&self) -> impl Iterator<Item = &VfsEdit> {
        self.edits.iter()
    }

    /// The retained edits made by `agent`, oldest first.
    pub fn edits_by_agent<'a>(&'a self, agent: &'a AgentDid) -> impl Iterator<Item = &'a VfsEdit> {
        self.edits
            .iter()
            .filter(move |e| e.agent.as_ref() == Some(agent))
    }

    /// How many edits were evicted from the log by its bound.
    pub fn edits_evicted(&self) -> u64 {
        self.edits_evicted
    }

    /// When the content was purged, if it was.
    pub fn purged_at(&self) -> Option<Timestamp> {
        self.purged_at
    }

    /// Appends to the edit log, evicting the oldest edits beyond the bound.
    fn log(&mut self, edit: VfsEdit) {
        self.edits.push_back(edit);
        while self.edits.len() > self.limits.max_edit_log {
            self.edits.pop_front();
            self.edits_evicted += 1;
        }
    }

    /// Refuses changes after a purge.
    fn require_unsealed(&self) -> Result<(), VfsError> {
        match self.purged_at {
            Some(at) => Err(VfsError::Sealed { at }),
            None => Ok(()),
        }
    }
}
