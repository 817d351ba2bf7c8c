//! Per-session bounds of the file system, so one session cannot exhaust the runtime's memory.

use serde::{Deserialize, Serialize};

/// Limits of one session's file system. Every map and log in the VFS is bounded by one of
/// these; snapshots share unchanged content, so their memory is bounded by
/// `max_snapshots × max_total_bytes` in the worst case (every snapshot fully rewritten).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct VfsLimits {
    /// Largest single file, in bytes (default 1 MiB).
    pub max_file_bytes: u64,
    /// Largest total of live content, in bytes (default 64 MiB).
    pub max_total_bytes: u64,
    /// Most files (default 10 000).
    pub max_files: usize,
    /// Most snapshots kept (default 100).
    pub max_snapshots: usize,
    /// Edits kept in the log; older ones are evicted first and counted (default 10 000).
    pub max_edit_log: usize,
    /// Most paths carrying an ACL (default 1 000).
    pub max_acls: usize,
    /// Most agents listed in one ACL (default 1 000).
    pub max_acl_members: usize,
}

impl Default for VfsLimits {
    fn default() -> Self {
        VfsLimits {
            max_file_bytes: 1024 * 1024,
            max_total_bytes: 64 * 1024 * 1024,
            max_files: 10_000,
            max_snapshots: 100,
            max_edit_log: 10_000,
            max_acls: 1_000,
            max_acl_members: 1_000,
        }
    }
}
