//! The records the file system keeps and returns: files, their metadata, edits and write
//! outcomes.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::id::AgentDid;
use crate::time::Timestamp;

use super::path::VfsPath;

/// Lowercase hex SHA-256 of the UTF-8 bytes of `content` (the reference's content hash).
pub fn content_hash(content: &str) -> String {
    let mut out = String::with_capacity(64);
    crate::id::push_hex(&mut out, &Sha256::digest(content.as_bytes()));
    out
}

/// A stored file. Content is shared (`Arc<str>`) so snapshots and copies of the file map cost
/// no content copies.
///
/// When serialized on its own the content is left out (the VFS writes it once per distinct
/// hash, see `wire.rs`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    // INVARIANT: `None` exactly when `purged`; otherwise its SHA-256 is `content_hash` and its
    // length is `size`.
    #[serde(skip)]
    pub(super) content: Option<Arc<str>>,
    /// Hex SHA-256 of the content; kept after a purge.
    pub content_hash: String,
    /// Size of the content in bytes; kept after a purge.
    pub size: u64,
    /// 1 on creation, +1 on each update.
    pub version: u64,
    /// Who wrote the current version.
    pub updated_by: AgentDid,
    /// When the current version was written.
    pub updated_at: Timestamp,
    /// Whether retention deleted the content.
    pub purged: bool,
}

impl FileEntry {
    /// The content, unless it was purged.
    pub fn content(&self) -> Option<&str> {
        self.content.as_deref()
    }
}

/// A listing row: a file's metadata, without content.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileInfo {
    /// The file's path.
    pub path: VfsPath,
    /// Hex SHA-256 of the content.
    pub content_hash: String,
    /// Content size in bytes.
    pub size: u64,
    /// Current version.
    pub version: u64,
    /// Who wrote the current version.
    pub updated_by: AgentDid,
    /// When.
    pub updated_at: Timestamp,
    /// Whether the content was purged.
    pub purged: bool,
}

impl FileInfo {
    pub(super) fn new(path: &VfsPath, e: &FileEntry) -> FileInfo {
        FileInfo {
            path: path.clone(),
            content_hash: e.content_hash.clone(),
            size: e.size,
            version: e.version,
            updated_by: e.updated_by.clone(),
            updated_at: e.updated_at,
            purged: e.purged,
        }
    }
}

/// What an edit did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EditOp {
    /// A file was written where none existed.
    Create,
    /// An existing file was overwritten.
    Update,
    /// A file was removed.
    Delete,
    /// An ACL was set or cleared.
    Permission,
    /// The file system was restored from a snapshot.
    Restore,
    /// Retention deleted all content.
    Purge,
}

/// One entry of the edit log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VfsEdit {
    /// The file or ACL path; the root for `restore` and `purge`.
    pub path: VfsPath,
    /// What happened.
    pub op: EditOp,
    /// Who did it; `None` for system actions (retention purge).
    pub agent: Option<AgentDid>,
    /// When.
    pub at: Timestamp,
    /// Hash of the new content (`create`, `update`).
    pub content_hash: Option<String>,
    /// Hash of the replaced content (`update`, `delete`).
    pub previous_hash: Option<String>,
}

/// The result of a successful write.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WriteOutcome {
    /// `create` or `update`.
    pub op: EditOp,
    /// Hash of the content written.
    pub content_hash: String,
    /// Hash of the content replaced, for updates.
    pub previous_hash: Option<String>,
    /// The file's new version.
    pub version: u64,
}
