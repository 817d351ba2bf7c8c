//! The serialized form of a [`Vfs`]: contents are written once each, in a table keyed by their
//! hash, and files refer to them by `content_hash`. Loading rebuilds shared `Arc<str>`s and
//! checks that every content matches its hash and size, so a tampered or truncated state file
//! is refused rather than served.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::id::SessionId;
use crate::time::Timestamp;

use super::entry::{VfsEdit, content_hash};
use super::err::VfsError;
use super::limits::VfsLimits;
use super::snapshot::{Snapshot, SnapshotId};
use super::{AclMap, FileMap, Vfs};

/// Borrowed view written by `Serialize for Vfs`.
#[derive(Serialize)]
pub(super) struct VfsWireRef<'a> {
    session_id: &'a SessionId,
    limits: &'a VfsLimits,
    files: &'a FileMap,
    acls: &'a AclMap,
    edits: &'a VecDeque<VfsEdit>,
    edits_evicted: u64,
    snapshots: BTreeMap<&'a SnapshotId, SnapshotWireRef<'a>>,
    purged_at: Option<Timestamp>,
    blobs: BTreeMap<&'a str, &'a str>,
}

#[derive(Serialize)]
struct SnapshotWireRef<'a> {
    created_at: Timestamp,
    files: &'a FileMap,
    acls: &'a AclMap,
}

/// Owned form read by `Deserialize for Vfs`; same fields as [`VfsWireRef`].
#[derive(Deserialize)]
pub(super) struct VfsWire {
    session_id: SessionId,
    limits: VfsLimits,
    files: FileMap,
    acls: AclMap,
    edits: VecDeque<VfsEdit>,
    edits_evicted: u64,
    snapshots: BTreeMap<SnapshotId, SnapshotWire>,
    purged_at: Option<Timestamp>,
    blobs: BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct SnapshotWire {
    created_at: Timestamp,
    files: FileMap,
    acls: AclMap,
}

fn add_blobs<'a>(blobs: &mut BTreeMap<&'a str, &'a str>, files: &'a FileMap) {
    for e in files.values() {
        if let Some(c) = e.content() {
            blobs.insert(&e.content_hash, c);
        }
    }
}

impl<'a> VfsWireRef<'a> {
    pub(super) fn from_vfs(v: &'a Vfs) -> VfsWireRef<'a> {
        let mut blobs = BTreeMap::new();
        add_blobs(&mut blobs, &v.files);
        let mut snapshots = BTreeMap::new();
        for (id, s) in &v.snapshots {
            add_blobs(&mut blobs, &s.files);
            snapshots.insert(
                id,
                SnapshotWireRef {
                    created_at: s.created_at,
                    files: &s.files,
                    acls: &s.acls,
                },
            );
        }
        VfsWireRef {
            session_id: &v.session_id,
            limits: &v.limits,
            files: &v.files,
            acls: &v.acls,
            edits: &v.edits,
            edits_evicted: v.edits_evicted,
            snapshots,
            purged_at: v.purged_at,
            blobs,
        }
    }
}

/// Puts content back into `files` from `store`; returns the live bytes.
fn attach(files: &mut FileMap, store: &BTreeMap<String, Arc<str>>) -> Result<u64, VfsError> {
    let mut bytes = 0u64;
    for (path, e) in files.iter_mut() {
        if e.purged {
            e.content = None;
            continue;
        }
        let c = store
            .get(&e.content_hash)
            .ok_or_else(|| VfsError::Corrupt(format!("content of `{path}` is missing")))?;
        if c.len() as u64 != e.size {
            return Err(VfsError::Corrupt(format!(
                "size of `{path}` is {} but its content has {} bytes",
                e.size,
                c.len()
            )));
        }
        e.content = Some(Arc::clone(c));
        bytes = bytes.saturating_add(e.size);
    }
    Ok(bytes)
}

impl VfsWire {
    pub(super) fn into_vfs(self) -> Result<Vfs, VfsError> {
        let mut store: BTreeMap<String, Arc<str>> = BTreeMap::new();
        for (hash, content) in self.blobs {
            if content_hash(&content) != hash {
                return Err(VfsError::Corrupt(format!(
                    "content stored under hash `{hash}` does not match it"
                )));
            }
            store.insert(hash, Arc::from(content));
        }
        let mut files = self.files;
        let live_bytes = attach(&mut files, &store)?;
        let mut snapshots = BTreeMap::new();
        for (id, s) in self.snapshots {
            let mut sf = s.files;
            let bytes = attach(&mut sf, &store)?;
            snapshots.insert(
                id,
                Snapshot {
                    created_at: s.created_at,
                    files: Arc::new(sf),
                    acls: Arc::new(s.acls),
                    bytes,
                },
            );
        }
        if self.purged_at.is_some() && (live_bytes > 0 || !snapshots.is_empty()) {
            return Err(VfsError::Corrupt(
                "a purged file system still holds content".to_owned(),
            ));
        }
        let mut vfs = Vfs {
            session_id: self.session_id,
            limits: self.limits,
            files: Arc::new(files),
            acls: Arc::new(self.acls),
            live_bytes,
            edits: self.edits,
            edits_evicted: self.edits_evicted,
            snapshots,
            purged_at: self.purged_at,
        };
        // Re-apply the log bound in case the limits were lowered.
        while vfs.edits.len() > vfs.limits.max_edit_log {
            vfs.edits.pop_front();
            vfs.edits_evicted += 1;
        }
        Ok(vfs)
    }
}
