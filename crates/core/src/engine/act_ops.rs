//! Agent actions on the governed path: classification (pure validation, before anything
//! changes), then the gate, then execution with the action's own checks (ACLs, intent locks,
//! vector clocks) and the audit record.

use std::time::Duration;

use serde_json::json;

use super::governed::{Classified, Gate};
use super::reply::{ActOutcome, Reply};
use super::session_ops::emit_granted;
use super::{ActionRequest, Actor, Ctx, DenyCode, Engine, EngineError, Result};
use crate::audit::digest::Digest32;
use crate::event::{Event, EventType};
use crate::id::{AgentDid, SessionId};
use crate::liability::ActionClass;
use crate::locks::{Acquire, LockError, LockIntent, LockRequest};
use crate::ring::Ring;
use crate::vfs::{SnapshotId, VfsError, VfsPath};

impl Engine {
    pub(crate) fn act(
        &mut self,
        actor: &Actor,
        session_id: &SessionId,
        agent: &AgentDid,
        request: ActionRequest,
        ctx: &mut Ctx,
    ) -> Result<Reply> {
        Self::require_self_or_admin(actor, agent)?;
        // Releasing someone else's lock is refused before the gate counts the call.
        if let ActionRequest::LockRelease { lock_id } = &request
            && let Some(l) = self.slot(session_id)?.locks.get(lock_id)
            && &l.agent != agent
        {
            return Err(EngineError::Forbidden(format!(
                "lock `{lock_id}` is held by `{}`, not `{agent}`",
                l.agent
            )));
        }
        let c = self.classify(session_id, &request)?;
        let gate = self.govern(session_id, agent, &c, ctx)?;
        let outcome = self.execute(session_id, agent, request, &c, gate, ctx)?;
        Ok(Reply::Acted(outcome))
    }

    /// Decides what an action is. Pure validation: fails only with `Invalid` or `NotFound`.
    pub(crate) fn classify(
        &mut self,
        session_id: &SessionId,
        request: &ActionRequest,
    ) -> Result<Classified> {
        let slot = self.slot(session_id)?;
        let path = |p: &str| -> Result<VfsPath> {
            slot.vfs
                .path(p)
                .map_err(|e| EngineError::Invalid(e.to_string()))
        };
        // Reads, writes and deletes name a file, never the root directory.
        let file = |p: &str| -> Result<VfsPath> {
            let v = path(p)?;
            if v.is_root() {
                return Err(EngineError::Invalid(format!(
                    "`{p}` is the root directory, not a file"
                )));
            }
            Ok(v)
        };
        let c = |class, required, kind, detail| Classified {
            class,
            required,
            kind,
            unknown: None,
            detail,
        };
        Ok(match request {
            ActionRequest::Tool { action_id, input } => {
                let input_hash = Digest32::sha256(input.to_string().as_bytes()).to_hex();
                let detail = crate::detail! { "action_id": action_id, "input_sha256": input_hash };
                match slot.registry.get(action_id).map(|e| e.descriptor()) {
                    Some(desc) => {
                        let cl = self.classifier.classify(&desc);
                        let class = if desc.is_read_only {
                            ActionClass::Read
                        } else {
                            ActionClass::Execute
                        };
                        c(class, cl.ring, "action.execute", detail)
                    }
                    None => Classified {
                        class: ActionClass::Execute,
                        required: Ring::Sandbox,
                        kind: "action.execute",
                        unknown: Some(format!("action `{action_id}`")),
                        detail,
                    },
                }
            }
            ActionRequest::VfsRead { path: p } => c(
                ActionClass::Read,
                Ring::Sandbox,
                "vfs.read",
                crate::detail! { "path": file(p)?.to_string() },
            ),
            ActionRequest::VfsList { prefix } => {
                let detail = match prefix {
                    Some(p) => crate::detail! { "prefix": path(p)?.to_string() },
                    None => crate::detail! {},
                };
                c(ActionClass::Read, Ring::Sandbox, "vfs.list", detail)
            }
            ActionRequest::VfsWrite { path: p, content } => {
                let p = file(p)?;
                // Checked before the gate, so an oversized write changes nothing.
                let max = slot.vfs.limits().max_file_bytes;
                if content.len() as u64 > max {
                    return Err(EngineError::Invalid(format!(
                        "file `{p}` is {} bytes; the limit is {max}",
                        content.len()
                    )));
                }
                let hash = Digest32::sha256(content.as_bytes()).to_hex();
                c(
                    ActionClass::Write,
                    Ring::Standard,
                    "vfs.write",
                    crate::detail! { "bytes": content.len(), "content_sha256": hash, "path": p.to_string() },
                )
            }
            ActionRequest::VfsDelete { path: p } => c(
                ActionClass::Write,
                Ring::Standard,
                "vfs.delete",
                crate::detail! { "path": file(p)?.to_string() },
            ),
            ActionRequest::VfsSnapshot { snapshot_id } => {
                if let Some(id) = snapshot_id {
                    SnapshotId::new(id.clone()).map_err(|e| EngineError::Invalid(e.to_string()))?;
                }
                c(
                    ActionClass::Write,
                    Ring::Standard,
                    "vfs.snapshot",
                    crate::detail! { "snapshot_id": snapshot_id },
                )
            }
            ActionRequest::VfsRestore { snapshot_id } => {
                SnapshotId::new(snapshot_id.clone())
                    .map_err(|e| EngineError::Invalid(e.to_string()))?;
                c(
                    ActionClass::Write,
                    Ring::Standard,
                    "vfs.restore",
                    crate::detail! { "snapshot_id": snapshot_id },
                )
            }
            ActionRequest::LockAcquire {
                path: p,
                intent,
                ttl_seconds,
                wait,
            } => {
                if let Some(t) = ttl_seconds
                    && (*t == 0 || *t > 3600)
                {
                    return Err(EngineError::Invalid(format!(
                        "ttl_seconds must be between 1 and 3600, got {t}"
                    )));
                }
                let (class, required) = match intent {
                    LockIntent::Read => (ActionClass::Read, Ring::Sandbox),
                    _ => (ActionClass::Write, Ring::Standard),
                };
                c(
                    class,
                    required,
                    "lock.acquire",
                    crate::detail! { "intent": intent.name(), "path": path(p)?.to_string(), "wait": wait },
                )
            }
            ActionRequest::LockRelease { lock_id } => c(
                ActionClass::Read,
                Ring::Sandbox,
                "lock.release",
                crate::detail! { "lock_id": lock_id },
            ),
        })
    }

    fn execute(
        &mut self,
        session_id: &SessionId,
        agent: &AgentDid,
        request: ActionRequest,
        c: &Classified,
        gate: Gate,
        ctx: &mut Ctx,
    ) -> Result<ActOutcome> {
        let now = ctx.now;
        match request {
            ActionRequest::Tool { action_id, .. } => {
                self.record_allowed(ctx, session_id, agent, c, "allowed");
                ctx.emit(
                    Event::new(EventType::GovernanceAllowed, now)
                        .session(session_id)
                        .agent(agent)
                        .payload(crate::detail! { "action_id": action_id, "kind": c.kind, "ring": gate.ring.number() }),
                );
                Ok(ActOutcome::Allowed {
                    action_id: Some(action_id),
                    ring: gate.ring,
                })
            }
            ActionRequest::VfsRead { path } => {
                let slot = self.slot_mut(session_id)?;
                let p = slot.vfs.path(&path).map_err(vfs_invalid)?;
                let read = slot.vfs.stat(&p, agent).map(|e| {
                    (
                        e.content().map(str::to_string),
                        e.version,
                        e.content_hash.clone(),
                    )
                });
                match read {
                    Ok((content, version, content_hash)) => {
                        let Some(content) = content else {
                            return Err(EngineError::Conflict(format!(
                                "`{p}` was purged with its session's ephemeral data"
                            )));
                        };
                        let clock = slot.clocks.observe_read(&p.to_string(), agent).ok();
                        self.record_allowed(
                            ctx,
                            session_id,
                            agent,
                            c,
                            crate::detail! { "version": version },
                        );
                        Ok(ActOutcome::Read {
                            path: p.to_string(),
                            content,
                            version,
                            content_hash,
                            clock: clock.map(|c| json!(c)),
                        })
                    }
                    Err(VfsError::PermissionDenied { .. }) => {
                        let reason = format!("agent `{agent}` not permitted to access `{p}`");
                        Err(self.deny(ctx, session_id, agent, c, DenyCode::AclDenied, reason))
                    }
                    Err(e) => Err(vfs_err(e)),
                }
            }
            ActionRequest::VfsList { prefix } => {
                let slot = self.slot(session_id)?;
                let prefix = prefix
                    .map(|p| slot.vfs.path(&p))
                    .transpose()
                    .map_err(vfs_invalid)?;
                let files = slot.vfs.list(prefix.as_ref(), agent);
                self.record_allowed(
                    ctx,
                    session_id,
                    agent,
                    c,
                    crate::detail! { "files": files.len() },
                );
                Ok(ActOutcome::Listed { files })
            }
            ActionRequest::VfsWrite { path, content } => {
                self.vfs_write(session_id, agent, &path, Some(&content), c, ctx)
            }
            ActionRequest::VfsDelete { path } => {
                self.vfs_write(session_id, agent, &path, None, c, ctx)
            }
            ActionRequest::VfsSnapshot { snapshot_id } => {
                let slot = self.slot_mut(session_id)?;
                let id = slot
                    .vfs
                    .snapshot(snapshot_id, &mut ctx.ids, now)
                    .map_err(vfs_err)?;
                self.record_allowed(
                    ctx,
                    session_id,
                    agent,
                    c,
                    crate::detail! { "snapshot_id": id.as_str() },
                );
                ctx.emit(
                    Event::new(EventType::VfsSnapshot, now)
                        .session(session_id)
                        .agent(agent)
                        .payload(crate::detail! { "snapshot_id": id.as_str() }),
                );
                Ok(ActOutcome::Snapshot {
                    snapshot_id: id.as_str().to_string(),
                })
            }
            ActionRequest::VfsRestore { snapshot_id } => {
                let slot = self.slot(session_id)?;
                if slot.session.creator_did() != agent {
                    let reason =
                        "only the session creator may restore a snapshot (a restore rewrites ACLs)"
                            .to_string();
                    return Err(self.deny(ctx, session_id, agent, c, DenyCode::NotCreator, reason));
                }
                let id = SnapshotId::new(snapshot_id).map_err(vfs_invalid)?;
                let slot = self.slot_mut(session_id)?;
                slot.vfs.restore(&id, agent, now).map_err(vfs_err)?;
                // Every restored path gets a new version: agents must re-read before writing.
                let paths: Vec<String> = slot
                    .vfs
                    .list(None, agent)
                    .into_iter()
                    .map(|f| f.path.to_string())
                    .collect();
                for p in &paths {
                    let _ = slot.clocks.record_write(p, agent);
                }
                self.record_allowed(
                    ctx,
                    session_id,
                    agent,
                    c,
                    crate::detail! { "files": paths.len() },
                );
                ctx.emit(
                    Event::new(EventType::VfsRestore, now)
                        .session(session_id)
                        .agent(agent)
                        .payload(crate::detail! { "snapshot_id": id.as_str() }),
                );
                Ok(ActOutcome::Restored {
                    snapshot_id: id.as_str().to_string(),
                })
            }
            ActionRequest::LockAcquire {
                path,
                intent,
                ttl_seconds,
                wait,
            } => {
                let slot = self.slot_mut(session_id)?;
                let p = slot.vfs.path(&path).map_err(vfs_invalid)?;
                let mut req = LockRequest::new(agent.clone(), p.to_string(), intent);
                req = req.ttl(ttl_seconds.map_or(self.config.lock_ttl, Duration::from_secs));
                if wait {
                    req = req.wait();
                }
                let slot = self.slot_mut(session_id)?;
                match slot.locks.acquire(&mut ctx.ids, req, now) {
                    Ok(Acquire::Granted(lock)) => {
                        self.record_allowed(
                            ctx,
                            session_id,
                            agent,
                            c,
                            crate::detail! { "lock_id": lock.lock_id },
                        );
                        ctx.emit(
                            Event::new(EventType::LockAcquired, now)
                                .session(session_id)
                                .agent(agent)
                                .payload(crate::detail! { "intent": lock.intent.name(), "lock_id": lock.lock_id, "path": lock.path }),
                        );
                        Ok(ActOutcome::Locked { lock })
                    }
                    Ok(Acquire::Queued(ticket)) => {
                        self.record_allowed(
                            ctx,
                            session_id,
                            agent,
                            c,
                            crate::detail! { "queued": ticket.id },
                        );
                        ctx.emit(
                            Event::new(EventType::LockWaiting, now)
                                .session(session_id)
                                .agent(agent)
                                .payload(crate::detail! { "intent": ticket.intent.name(), "path": ticket.path, "ticket": ticket.id }),
                        );
                        Ok(ActOutcome::LockQueued { ticket: ticket.id })
                    }
                    Err(e @ LockError::Contention { .. }) => Err(self.deny(
                        ctx,
                        session_id,
                        agent,
                        c,
                        DenyCode::LockConflict,
                        e.to_string(),
                    )),
                    Err(e @ LockError::Deadlock { .. }) => {
                        ctx.emit(
                            Event::new(EventType::LockDeadlock, now)
                                .session(session_id)
                                .agent(agent)
                                .payload(crate::detail! { "reason": e.to_string() }),
                        );
                        Err(self.deny(ctx, session_id, agent, c, DenyCode::Deadlock, e.to_string()))
                    }
                    Err(e) => Err(EngineError::Conflict(e.to_string())),
                }
            }
            ActionRequest::LockRelease { lock_id } => {
                let slot = self.slot_mut(session_id)?;
                match slot.locks.release_as(agent, &lock_id, now) {
                    Ok(granted) => {
                        self.record_allowed(ctx, session_id, agent, c, "released");
                        ctx.emit(
                            Event::new(EventType::LockReleased, now)
                                .session(session_id)
                                .agent(agent)
                                .payload(crate::detail! { "lock_id": lock_id }),
                        );
                        emit_granted(ctx, session_id, granted);
                        Ok(ActOutcome::Unlocked { lock_id })
                    }
                    Err(LockError::NotFound { .. }) => {
                        Err(EngineError::not_found("lock", &lock_id))
                    }
                    // Ownership was checked before the gate; anything else is a state conflict.
                    Err(e) => Err(EngineError::Conflict(e.to_string())),
                }
            }
        }
    }

    /// A write (`Some(content)`) or delete (`None`) with its ACL, lock and clock checks.
    fn vfs_write(
        &mut self,
        session_id: &SessionId,
        agent: &AgentDid,
        path: &str,
        content: Option<&str>,
        c: &Classified,
        ctx: &mut Ctx,
    ) -> Result<ActOutcome> {
        let now = ctx.now;
        let slot = self.slot(session_id)?;
        let p = slot.vfs.path(path).map_err(vfs_invalid)?;
        // The path's text, formatted once (locks, clocks, audit and event all key on it).
        let ps = p.to_string();
        if !slot.vfs.may_access(&p, agent) {
            let reason = format!("agent `{agent}` not permitted to access `{p}`");
            return Err(self.deny(ctx, session_id, agent, c, DenyCode::AclDenied, reason));
        }
        let blockers: Vec<String> = slot
            .locks
            .conflicting_locks(agent, &ps, LockIntent::Write, now)
            .iter()
            .map(|l| format!("{} ({} on {})", l.agent, l.intent.name(), l.path))
            .collect();
        if !blockers.is_empty() {
            let reason = format!("`{p}` is locked by {}", blockers.join(", "));
            self.emit_conflict(ctx, session_id, agent, &p, &reason);
            return Err(self.deny(ctx, session_id, agent, c, DenyCode::LockConflict, reason));
        }
        let isolation = slot.isolation;
        if isolation.requires_intent_locks()
            && !slot.locks.holds(agent, &ps, LockIntent::Write, now)
        {
            let reason = format!(
                "{} isolation: agent `{agent}` must hold a write lock on `{p}` to change it",
                isolation.name()
            );
            return Err(self.deny(ctx, session_id, agent, c, DenyCode::LockRequired, reason));
        }
        let slot = self.slot_mut(session_id)?;
        if let Err(e) = slot.clocks.check_write(&ps, agent, isolation) {
            let reason = e.to_string();
            self.emit_conflict(ctx, session_id, agent, &p, &reason);
            return Err(self.deny(ctx, session_id, agent, c, DenyCode::StaleClock, reason));
        }
        let slot = self.slot_mut(session_id)?;
        match content {
            Some(content) => {
                let w = slot.vfs.write(&p, content, agent, now).map_err(vfs_err)?;
                let clock = slot.clocks.record_write(&ps, agent).ok();
                let out = crate::detail! { "content_hash": w.content_hash, "op": w.op, "version": w.version };
                self.record_allowed(ctx, session_id, agent, c, out);
                ctx.emit(Event::new(EventType::VfsWrite, now).session(session_id).agent(agent).payload(crate::detail! { "content_hash": w.content_hash, "op": w.op, "path": ps, "version": w.version }));
                Ok(ActOutcome::Written {
                    path: ps,
                    op: w.op,
                    version: w.version,
                    content_hash: w.content_hash,
                    previous_hash: w.previous_hash,
                    clock: clock.map(|c| json!(c)),
                })
            }
            None => {
                slot.vfs.delete(&p, agent, now).map_err(vfs_err)?;
                slot.clocks.forget_path(&ps);
                self.record_allowed(ctx, session_id, agent, c, "deleted");
                ctx.emit(
                    Event::new(EventType::VfsDelete, now)
                        .session(session_id)
                        .agent(agent)
                        .payload(crate::detail! { "path": ps }),
                );
                Ok(ActOutcome::Deleted { path: ps })
            }
        }
    }

    fn emit_conflict(
        &self,
        ctx: &mut Ctx,
        session_id: &SessionId,
        agent: &AgentDid,
        p: &VfsPath,
        reason: &str,
    ) {
        ctx.emit(
            Event::new(EventType::VfsConflict, ctx.now)
                .session(session_id)
                .agent(agent)
                .payload(crate::detail! { "path": p.to_string(), "reason": reason }),
        );
    }
}

fn vfs_invalid(e: VfsError) -> EngineError {
    EngineError::Invalid(e.to_string())
}

/// Maps VFS failures after the gate: missing things are 404, limits and seals are conflicts.
pub(crate) fn vfs_err(e: VfsError) -> EngineError {
    match e {
        VfsError::NotFound { .. } | VfsError::SnapshotNotFound { .. } => EngineError::NotFound {
            kind: "vfs item",
            id: e.to_string(),
        },
        VfsError::InvalidPath { .. }
        | VfsError::InvalidSnapshotId { .. }
        | VfsError::TooLarge { .. } => EngineError::Invalid(e.to_string()),
        VfsError::PermissionDenied { .. } => {
            EngineError::denied(DenyCode::AclDenied, e.to_string())
        }
        _ => EngineError::Conflict(e.to_string()),
    }
}
