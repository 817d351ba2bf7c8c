//! Retention: deleting a terminated session's content for real while keeping its evidence
//! (paths, sizes, hashes). The reference's GC reported files as purged but deleted nothing.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::time::Timestamp;

use super::Vfs;
use super::entry::{EditOp, VfsEdit};
use super::path::VfsPath;

/// What a purge released.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PurgeReport {
    /// Live files whose content was deleted.
    pub files_purged: usize,
    /// Bytes of distinct content released, from live files and snapshots together; a content
    /// kept unchanged in several snapshots counts once.
    pub bytes_freed: u64,
    /// Snapshots dropped (they held content too).
    pub snapshots_dropped: usize,
}

impl Vfs {
    /// Deletes all file content and all snapshots, keeping each file's path, size, version and
    /// hash, and seals the file system: later reads of a file say `purged`, later changes are
    /// refused, listings and hashes still work. Logged as one `purge` edit with no agent. A
    /// second purge releases nothing and reports zeros.
    ///
    /// Whether the session may be purged (terminated, retention elapsed) is the engine's call.
    pub fn purge_content(&mut self, now: Timestamp) -> PurgeReport {
        if self.purged_at.is_some() {
            return PurgeReport::default();
        }
        let mut distinct: BTreeMap<&str, u64> = BTreeMap::new();
        let live = self.files.values();
        let snapped = self.snapshots.values().flat_map(|s| s.files.values());
        for e in live.chain(snapped).filter(|e| e.content.is_some()) {
            distinct.insert(&e.content_hash, e.size);
        }
        let bytes_freed = distinct.values().sum();
        let files_purged = self.files.values().filter(|e| e.content.is_some()).count();
        let snapshots_dropped = self.snapshots.len();
        // Drop the snapshots first so the file map is no longer shared and is not copied.
        self.snapshots.clear();
        for e in Arc::make_mut(&mut self.files).values_mut() {
            e.content = None;
            e.purged = true;
        }
        self.live_bytes = 0;
        self.purged_at = Some(now);
        self.log(VfsEdit {
            path: VfsPath::root(),
            op: EditOp::Purge,
            agent: None,
            at: now,
            content_hash: None,
            previous_hash: None,
        });
        PurgeReport {
            files_purged,
            bytes_freed,
            snapshots_dropped,
        }
    }
}
