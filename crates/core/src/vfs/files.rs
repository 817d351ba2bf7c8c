//! File operations: write, read, stat, delete and list, each checked against the ACLs.

use std::sync::Arc;

use crate::id::AgentDid;
use crate::time::Timestamp;

use super::Vfs;
use super::entry::{EditOp, FileEntry, FileInfo, VfsEdit, WriteOutcome, content_hash};
use super::err::VfsError;
use super::path::VfsPath;

/// Refuses the root as a file path.
fn require_file(path: &VfsPath) -> Result<(), VfsError> {
    if path.is_root() {
        Err(VfsError::InvalidPath {
            input: path.to_string(),
            reason: "the root is a directory, not a file".to_owned(),
        })
    } else {
        Ok(())
    }
}

impl Vfs {
    /// Creates or overwrites the file at `path` as `agent`.
    ///
    /// Checks, in order: not sealed by a purge; not the root; `agent` passes the governing
    /// ACL; the content fits `max_file_bytes`; a new file fits `max_files`; the new total fits
    /// `max_total_bytes`. Logs `create` (no previous hash) or `update` (with it).
    pub fn write(
        &mut self,
        path: &VfsPath,
        content: &str,
        agent: &AgentDid,
        now: Timestamp,
    ) -> Result<WriteOutcome, VfsError> {
        self.require_unsealed()?;
        require_file(path)?;
        self.check_access(path, agent)?;
        let size = content.len() as u64;
        if size > self.limits.max_file_bytes {
            return Err(VfsError::TooLarge {
                path: path.clone(),
                size,
                max: self.limits.max_file_bytes,
            });
        }
        let old = self.files.get(path);
        if old.is_none() && self.files.len() >= self.limits.max_files {
            return Err(VfsError::LimitExceeded {
                what: "files",
                limit: self.limits.max_files as u64,
            });
        }
        let old_size = old.filter(|e| !e.purged).map_or(0, |e| e.size);
        let new_total = self
            .live_bytes
            .saturating_sub(old_size)
            .saturating_add(size);
        if new_total > self.limits.max_total_bytes {
            return Err(VfsError::LimitExceeded {
                what: "bytes of content in total",
                limit: self.limits.max_total_bytes,
            });
        }
        let hash = content_hash(content);
        let (op, previous_hash, version) = match old {
            Some(e) => (
                EditOp::Update,
                Some(e.content_hash.clone()),
                e.version.saturating_add(1),
            ),
            None => (EditOp::Create, None, 1),
        };
        let entry = FileEntry {
            content: Some(Arc::from(content)),
            content_hash: hash.clone(),
            size,
            version,
            updated_by: agent.clone(),
            updated_at: now,
            purged: false,
        };
        Arc::make_mut(&mut self.files).insert(path.clone(), entry);
        self.live_bytes = new_total;
        self.log(VfsEdit {
            path: path.clone(),
            op,
            agent: Some(agent.clone()),
            at: now,
            content_hash: Some(hash.clone()),
            previous_hash: previous_hash.clone(),
        });
        Ok(WriteOutcome {
            op,
            content_hash: hash,
            previous_hash,
            version,
        })
    }

    /// The content of `path` as `agent`. The ACL is checked first (always — there is no
    /// unchecked read), then existence, then whether retention purged the content.
    pub fn read(&self, path: &VfsPath, agent: &AgentDid) -> Result<&str, VfsError> {
        let entry = self.stat(path, agent)?;
        entry
            .content()
            .ok_or_else(|| VfsError::Purged { path: path.clone() })
    }

    /// The metadata of `path` as `agent` (works after a purge).
    pub fn stat(&self, path: &VfsPath, agent: &AgentDid) -> Result<&FileEntry, VfsError> {
        self.check_access(path, agent)?;
        self.files
            .get(path)
            .ok_or_else(|| VfsError::NotFound { path: path.clone() })
    }

    /// Removes the file at `path` as `agent` (ACL before existence). The path's ACL, if any,
    /// stays. Logs `delete` with the removed content's hash as `previous_hash`.
    pub fn delete(
        &mut self,
        path: &VfsPath,
        agent: &AgentDid,
        now: Timestamp,
    ) -> Result<(), VfsError> {
        self.require_unsealed()?;
        self.check_access(path, agent)?;
        if !self.files.contains_key(path) {
            return Err(VfsError::NotFound { path: path.clone() });
        }
        let Some(old) = Arc::make_mut(&mut self.files).remove(path) else {
            return Err(VfsError::NotFound { path: path.clone() });
        };
        if !old.purged {
            self.live_bytes = self.live_bytes.saturating_sub(old.size);
        }
        self.log(VfsEdit {
            path: path.clone(),
            op: EditOp::Delete,
            agent: Some(agent.clone()),
            at: now,
            content_hash: None,
            previous_hash: Some(old.content_hash),
        });
        Ok(())
    }

    /// The files at or under `prefix` (everything if `None`) that `agent` may access, in path
    /// order. Works after a purge (metadata and hashes remain).
    pub fn list(&self, prefix: Option<&VfsPath>, agent: &AgentDid) -> Vec<FileInfo> {
        let root = VfsPath::root();
        let prefix = prefix.unwrap_or(&root);
        self.files
            .range(prefix.clone()..)
            .take_while(|(p, _)| p.is_under(prefix))
            .filter(|(p, _)| self.may_access(p, agent))
            .map(|(p, e)| FileInfo::new(p, e))
            .collect()
    }
}
