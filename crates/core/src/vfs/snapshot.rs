//! Copy-on-write snapshots of a session's files and ACLs.
//!
//! A snapshot holds clones of the `Arc`s of the file and ACL maps, so taking one is O(1) and
//! it shares everything with the live state until the next change copies the changed map once.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::id::{AgentDid, IdGen, MAX_ID_LEN};
use crate::time::Timestamp;

use super::entry::{EditOp, VfsEdit};
use super::err::VfsError;
use super::path::VfsPath;
use super::{AclMap, FileMap, Vfs};

/// A snapshot's id: caller-given, or `snap:{uuid}` as in the reference.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct SnapshotId(String);

impl SnapshotId {
    /// Validates an id from outside: non-empty, at most 256 bytes, no whitespace or control
    /// characters.
    pub fn new(s: impl Into<String>) -> Result<SnapshotId, VfsError> {
        let s = s.into();
        let reason = if s.is_empty() {
            Some("must not be empty")
        } else if s.len() > MAX_ID_LEN {
            Some("is longer than 256 bytes")
        } else if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            Some("contains whitespace or a control character")
        } else {
            None
        };
        match reason {
            Some(reason) => Err(VfsError::InvalidSnapshotId {
                id: s
                    .chars()
                    .take(64)
                    .collect::<String>()
                    .escape_debug()
                    .to_string(),
                reason,
            }),
            None => Ok(SnapshotId(s)),
        }
    }

    /// A fresh `snap:{uuid}` id.
    pub fn generate(ids: &mut IdGen) -> SnapshotId {
        SnapshotId(ids.prefixed_uuid("snap"))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SnapshotId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for SnapshotId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SnapshotId({:?})", self.0)
    }
}

impl<'de> Deserialize<'de> for SnapshotId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        SnapshotId::new(s).map_err(serde::de::Error::custom)
    }
}

/// A stored snapshot: shared maps plus the byte total they held.
#[derive(Clone, Debug)]
pub(super) struct Snapshot {
    pub(super) created_at: Timestamp,
    pub(super) files: Arc<FileMap>,
    pub(super) acls: Arc<AclMap>,
    // INVARIANT: the sum of `size` over `files` whose content is present.
    pub(super) bytes: u64,
}

/// A listing row for a snapshot.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotInfo {
    /// The snapshot's id.
    pub id: SnapshotId,
    /// When it was taken.
    pub created_at: Timestamp,
    /// How many files it holds.
    pub file_count: usize,
    /// Bytes of content it holds.
    pub bytes: u64,
}

impl Vfs {
    /// Takes a snapshot of the files and ACLs in O(1). `id` is validated; without one a fresh
    /// `snap:{uuid}` is drawn from `ids`. An existing id is refused (the reference overwrote
    /// it), as is a snapshot beyond `max_snapshots`.
    pub fn snapshot(
        &mut self,
        id: Option<String>,
        ids: &mut IdGen,
        now: Timestamp,
    ) -> Result<SnapshotId, VfsError> {
        self.require_unsealed()?;
        let id = match id {
            Some(s) => SnapshotId::new(s)?,
            None => SnapshotId::generate(ids),
        };
        if self.snapshots.contains_key(&id) {
            return Err(VfsError::SnapshotExists { id });
        }
        if self.snapshots.len() >= self.limits.max_snapshots {
            return Err(VfsError::LimitExceeded {
                what: "snapshots",
                limit: self.limits.max_snapshots as u64,
            });
        }
        let snap = Snapshot {
            created_at: now,
            files: Arc::clone(&self.files),
            acls: Arc::clone(&self.acls),
            bytes: self.live_bytes,
        };
        self.snapshots.insert(id.clone(), snap);
        Ok(id)
    }

    /// Replaces the files and ACLs with those of snapshot `id` (which stays available), in
    /// O(1). Logged as `restore` on the root by `agent`. Restoring rewrites ACLs, so whether
    /// `agent` may do it is the engine's decision, as for [`Vfs::set_acl`].
    pub fn restore(
        &mut self,
        id: &SnapshotId,
        agent: &AgentDid,
        now: Timestamp,
    ) -> Result<(), VfsError> {
        self.require_unsealed()?;
        let snap = self
            .snapshots
            .get(id)
            .ok_or_else(|| VfsError::SnapshotNotFound { id: id.clone() })?;
        self.files = Arc::clone(&snap.files);
        self.acls = Arc::clone(&snap.acls);
        self.live_bytes = snap.bytes;
        self.log(VfsEdit {
            path: VfsPath::root(),
            op: EditOp::Restore,
            agent: Some(agent.clone()),
            at: now,
            content_hash: None,
            previous_hash: None,
        });
        Ok(())
    }

    /// Deletes snapshot `id`, releasing whatever only it held.
    pub fn delete_snapshot(&mut self, id: &SnapshotId) -> Result<(), VfsError> {
        self.snapshots
            .remove(id)
            .map(|_| ())
            .ok_or_else(|| VfsError::SnapshotNotFound { id: id.clone() })
    }

    /// The snapshots, oldest first (ties by id).
    pub fn list_snapshots(&self) -> Vec<SnapshotInfo> {
        let mut v: Vec<SnapshotInfo> = self
            .snapshots
            .iter()
            .map(|(id, s)| SnapshotInfo {
                id: id.clone(),
                created_at: s.created_at,
                file_count: s.files.len(),
                bytes: s.bytes,
            })
            .collect();
        v.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        v
    }

    /// How many snapshots are kept.
    pub fn snapshot_count(&self) -> usize {
        self.snapshots.len()
    }
}
