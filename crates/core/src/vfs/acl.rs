//! Path ACLs: which agents may use a path and everything under it.

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::id::AgentDid;
use crate::time::Timestamp;

use super::Vfs;
use super::entry::{EditOp, VfsEdit};
use super::err::VfsError;
use super::path::VfsPath;

impl Vfs {
    /// Replaces the ACL of `path` (a file or a directory, existing or not) with `allowed`.
    /// An empty set closes the path to everyone. Whether `actor` may do this is the engine's
    /// decision; the change is logged as a `permission` edit by `actor`.
    pub fn set_acl(
        &mut self,
        path: &VfsPath,
        allowed: BTreeSet<AgentDid>,
        actor: &AgentDid,
        now: Timestamp,
    ) -> Result<(), VfsError> {
        self.require_unsealed()?;
        if allowed.len() > self.limits.max_acl_members {
            return Err(VfsError::LimitExceeded {
                what: "agents in one ACL",
                limit: self.limits.max_acl_members as u64,
            });
        }
        if !self.acls.contains_key(path) && self.acls.len() >= self.limits.max_acls {
            return Err(VfsError::LimitExceeded {
                what: "paths with an ACL",
                limit: self.limits.max_acls as u64,
            });
        }
        Arc::make_mut(&mut self.acls).insert(path.clone(), allowed);
        self.log_permission(path, actor, now);
        Ok(())
    }

    /// Removes the ACL of `path` and returns it; `None` (and no log entry) if it had none.
    /// Like [`Vfs::set_acl`], authorisation is the engine's job.
    pub fn clear_acl(
        &mut self,
        path: &VfsPath,
        actor: &AgentDid,
        now: Timestamp,
    ) -> Result<Option<BTreeSet<AgentDid>>, VfsError> {
        self.require_unsealed()?;
        if !self.acls.contains_key(path) {
            return Ok(None);
        }
        let removed = Arc::make_mut(&mut self.acls).remove(path);
        self.log_permission(path, actor, now);
        Ok(removed)
    }

    fn log_permission(&mut self, path: &VfsPath, actor: &AgentDid, now: Timestamp) {
        self.log(VfsEdit {
            path: path.clone(),
            op: EditOp::Permission,
            agent: Some(actor.clone()),
            at: now,
            content_hash: None,
            previous_hash: None,
        });
    }

    /// The ACL set on exactly `path`, if any.
    pub fn acl(&self, path: &VfsPath) -> Option<&BTreeSet<AgentDid>> {
        self.acls.get(path)
    }

    /// The ACL that governs `path`: the one on the longest prefix of `path` (itself included)
    /// that has an ACL, with that prefix. `None` means open to everyone.
    pub fn effective_acl(&self, path: &VfsPath) -> Option<(&VfsPath, &BTreeSet<AgentDid>)> {
        let segs = path.segments();
        (0..=segs.len())
            .rev()
            .find_map(|n| segs.get(..n).and_then(|p| self.acls.get_key_value(p)))
    }

    /// Whether `agent` may access `path` under the governing ACL.
    pub fn may_access(&self, path: &VfsPath, agent: &AgentDid) -> bool {
        self.effective_acl(path)
            .is_none_or(|(_, allowed)| allowed.contains(agent))
    }

    /// Refuses `agent` unless it may access `path`.
    pub(super) fn check_access(&self, path: &VfsPath, agent: &AgentDid) -> Result<(), VfsError> {
        if self.may_access(path, agent) {
            Ok(())
        } else {
            Err(VfsError::PermissionDenied {
                agent: agent.clone(),
                path: path.clone(),
            })
        }
    }
}
