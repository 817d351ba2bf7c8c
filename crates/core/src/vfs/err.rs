//! Why a file-system operation was refused.

use crate::id::AgentDid;
use crate::time::Timestamp;

use super::path::VfsPath;
use super::snapshot::SnapshotId;

/// A refused VFS operation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VfsError {
    /// The path text is not acceptable (see the rules in `path.rs`) or names no file.
    #[error("invalid path `{input}`: {reason}")]
    InvalidPath {
        /// The input, escaped and cut to 64 characters.
        input: String,
        /// What is wrong with it.
        reason: String,
    },
    /// No file at that path.
    #[error("`{path}` not found in session file system")]
    NotFound {
        /// The path.
        path: VfsPath,
    },
    /// The governing ACL does not list the agent.
    #[error("agent `{agent}` not permitted to access `{path}`")]
    PermissionDenied {
        /// The acting agent.
        agent: AgentDid,
        /// The path it tried to use.
        path: VfsPath,
    },
    /// One file is larger than `max_file_bytes`.
    #[error("file `{path}` is {size} bytes; the limit is {max}")]
    TooLarge {
        /// The path written.
        path: VfsPath,
        /// The content's size in bytes.
        size: u64,
        /// The limit.
        max: u64,
    },
    /// A per-session limit (files, total bytes, snapshots, ACLs) would be exceeded.
    #[error("session file system limit reached: at most {limit} {what}")]
    LimitExceeded {
        /// What is limited, in words.
        what: &'static str,
        /// The limit.
        limit: u64,
    },
    /// A snapshot id is not acceptable.
    #[error("invalid snapshot id `{id}`: {reason}")]
    InvalidSnapshotId {
        /// The id, escaped and cut to 64 characters.
        id: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A snapshot with this id exists already (the reference silently overwrote it).
    #[error("snapshot `{id}` already exists")]
    SnapshotExists {
        /// The id.
        id: SnapshotId,
    },
    /// No snapshot with this id.
    #[error("snapshot `{id}` not found")]
    SnapshotNotFound {
        /// The id.
        id: SnapshotId,
    },
    /// The file's content was deleted by retention; its path and hash remain.
    #[error("content of `{path}` was purged by retention; only its hash remains")]
    Purged {
        /// The path.
        path: VfsPath,
    },
    /// Content was purged, so the file system accepts no more changes.
    #[error("session file system was purged at {at}; it accepts no more changes")]
    Sealed {
        /// When the purge happened.
        at: Timestamp,
    },
    /// Serialized state failed its consistency checks when loaded.
    #[error("corrupt file system state: {0}")]
    Corrupt(String),
}
