//! Ring elevation — "sudo with TTL" — that must be approved.
//!
//! The reference granted any elevation on request (spec §3.3, §17 item 16): any agent could
//! lift itself from ring 3 to ring 1 for an hour. Here a request only creates a *pending*
//! record; it becomes *active* when an admin, or an agent that already holds the target ring
//! (and is not the requester), approves it. The TTL starts at approval.
//!
//! Lifecycle: `pending → active → expired | revoked`, `pending → denied | revoked | expired`
//! (a pending request lapses after [`PENDING_TIMEOUT`]). At most one pending-or-active
//! elevation exists per (agent, session).
//!
//! Bounds: at most [`MAX_OPEN`] open (pending or active) elevations — further requests are
//! refused; at most [`MAX_CLOSED_HISTORY`] closed records are kept, oldest evicted first.
//! Lookups go through an (agent → session → id) index and a deadline index, not scans.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::id::{AgentDid, IdGen, RecordId, SessionId};
use crate::ring::Ring;
use crate::time::Timestamp;

/// TTL used when the request gives none (or zero).
pub const DEFAULT_TTL: Duration = Duration::from_secs(300);
/// Longest TTL; longer requests are capped to it.
pub const MAX_TTL: Duration = Duration::from_secs(3600);
/// How long a request may wait for approval before it lapses.
pub const PENDING_TIMEOUT: Duration = Duration::from_secs(900);
/// Most open (pending or active) elevations at once.
pub const MAX_OPEN: usize = 100_000;
/// Most closed elevations kept for listing and audit.
pub const MAX_CLOSED_HISTORY: usize = 10_000;
/// Longest accepted reason, in bytes.
pub const MAX_REASON_LEN: usize = 1024;

/// Why an elevation operation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ElevationError {
    /// Target ring is not more privileged than the current one.
    #[error("target ring {target} is not more privileged than current ring {current}")]
    NotMorePrivileged {
        /// Requested ring number.
        target: u8,
        /// Current ring number.
        current: u8,
    },
    /// Ring 0 is never granted by elevation.
    #[error("ring 0 elevation not available — requires an admin witness")]
    RootUnavailable,
    /// The agent already has a pending or active elevation in this session.
    #[error("agent `{agent}` already has a {status} elevation to ring {ring} in this session")]
    AlreadyOpen {
        /// The requester.
        agent: AgentDid,
        /// Status of the existing elevation.
        status: ElevationStatus,
        /// Ring number of the existing elevation.
        ring: u8,
    },
    /// The reason text is too long.
    #[error("elevation reason is {len} bytes long; the limit is {MAX_REASON_LEN}")]
    ReasonTooLong {
        /// Its length in bytes.
        len: usize,
    },
    /// Too many open elevations.
    #[error("too many open elevations (limit {MAX_OPEN})")]
    TooManyOpen,
    /// No elevation has this id (or it was evicted from history).
    #[error("elevation `{0}` not found")]
    NotFound(RecordId),
    /// The elevation is not pending.
    #[error("elevation `{id}` is {status}, not pending")]
    NotPending {
        /// The elevation.
        id: RecordId,
        /// Its status.
        status: ElevationStatus,
    },
    /// The elevation is neither pending nor active.
    #[error("elevation `{id}` is {status}; only pending or active elevations can be revoked")]
    NotOpen {
        /// The elevation.
        id: RecordId,
        /// Its status.
        status: ElevationStatus,
    },
    /// An agent tried to approve its own request.
    #[error("self-approval is not allowed")]
    SelfApproval,
    /// The approving agent does not hold the target ring.
    #[error("approver `{approver}` holds ring {approver_ring}, which cannot grant ring {target}")]
    ApproverTooLow {
        /// The approving agent.
        approver: AgentDid,
        /// Its ring number.
        approver_ring: u8,
        /// The requested ring number.
        target: u8,
    },
}

/// Where an elevation is in its lifecycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ElevationStatus {
    /// Requested, awaiting approval.
    Pending,
    /// Approved and within its TTL.
    Active,
    /// TTL ran out (or the request lapsed unapproved).
    Expired,
    /// Withdrawn by an operator (or by a kill).
    Revoked,
    /// Refused by an approver.
    Denied,
}

impl ElevationStatus {
    /// Wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            ElevationStatus::Pending => "pending",
            ElevationStatus::Active => "active",
            ElevationStatus::Expired => "expired",
            ElevationStatus::Revoked => "revoked",
            ElevationStatus::Denied => "denied",
        }
    }

    /// Pending or active.
    pub const fn is_open(self) -> bool {
        matches!(self, ElevationStatus::Pending | ElevationStatus::Active)
    }
}

impl fmt::Display for ElevationStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who approves (or denies) an elevation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Approver {
    /// An authenticated administrator.
    Admin,
    /// Another agent, with the ring it holds at the time of approval.
    Agent {
        /// The approving agent.
        did: AgentDid,
        /// Its ring (the caller computes it).
        ring: Ring,
    },
}

/// One elevation request and its outcome.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Elevation {
    /// `elev:{16 hex}`.
    pub elevation_id: RecordId,
    /// The requesting agent.
    pub agent: AgentDid,
    /// The session the elevation applies to.
    pub session_id: SessionId,
    /// The agent's ring when it asked.
    pub original_ring: Ring,
    /// The ring asked for.
    pub elevated_ring: Ring,
    /// When it was requested.
    pub requested_at: Timestamp,
    /// When it was approved.
    pub granted_at: Option<Timestamp>,
    /// When it stops applying (granted_at + ttl).
    pub expires_at: Option<Timestamp>,
    /// How long it lasts once approved (after defaulting and capping).
    pub ttl: Duration,
    /// Why it was requested.
    pub reason: String,
    /// Lifecycle status.
    pub status: ElevationStatus,
    /// Who approved or denied it.
    pub approved_by: Option<Approver>,
    /// When it left the pending/active states.
    pub closed_at: Option<Timestamp>,
}

impl Elevation {
    /// Active and not past its expiry at `now` (expiry is exclusive: at `expires_at` it is over).
    pub fn is_in_force(&self, now: Timestamp) -> bool {
        self.status == ElevationStatus::Active && self.expires_at.is_some_and(|e| now < e)
    }

    /// Time left at `now` (zero unless in force).
    pub fn remaining(&self, now: Timestamp) -> Duration {
        match self.expires_at {
            Some(e) if self.status == ElevationStatus::Active => e.since(now),
            _ => Duration::ZERO,
        }
    }

    /// The instant at which the open record lapses: expiry if active, request + pending
    /// timeout if pending.
    fn deadline(&self) -> Option<Timestamp> {
        match self.status {
            ElevationStatus::Active => self.expires_at,
            ElevationStatus::Pending => Some(self.requested_at.plus(PENDING_TIMEOUT)),
            _ => None,
        }
    }
}

/// Filter for [`ElevationBook::list`]; `None` fields match everything.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ElevationFilter {
    /// Only this agent's elevations.
    pub agent: Option<AgentDid>,
    /// Only this session's elevations.
    pub session: Option<SessionId>,
    /// Only elevations in this status.
    pub status: Option<ElevationStatus>,
}

/// All elevations, indexed for the hot paths.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ElevationBook {
    records: BTreeMap<RecordId, Elevation>,
    // INVARIANT: `open[a][s]` is the id of the one open record of (a, s); every open record
    // appears here exactly once and nothing else does.
    open: BTreeMap<AgentDid, BTreeMap<SessionId, RecordId>>,
    // INVARIANT: (deadline, id) for every open record, using `Elevation::deadline`.
    deadlines: BTreeSet<(Timestamp, RecordId)>,
    // INVARIANT: ids of closed records in the order they closed; len ≤ MAX_CLOSED_HISTORY.
    closed: VecDeque<RecordId>,
    open_count: usize,
}

impl ElevationBook {
    /// An empty book.
    pub fn new() -> Self {
        Self::default()
    }

    /// Requests an elevation from `current` to `target` for `ttl` (default 300 s, capped at
    /// 3600 s). The record starts pending; it applies only after [`approve`](Self::approve).
    #[allow(clippy::too_many_arguments)] // each argument is a distinct fact of the request
    pub fn request(
        &mut self,
        ids: &mut IdGen,
        agent: AgentDid,
        session: SessionId,
        current: Ring,
        target: Ring,
        ttl: Option<Duration>,
        reason: String,
        now: Timestamp,
    ) -> Result<Elevation, ElevationError> {
        if !target.at_least(current) || target == current {
            return Err(ElevationError::NotMorePrivileged {
                target: target.number(),
                current: current.number(),
            });
        }
        if target == Ring::Root {
            return Err(ElevationError::RootUnavailable);
        }
        if reason.len() > MAX_REASON_LEN {
            return Err(ElevationError::ReasonTooLong { len: reason.len() });
        }
        // An open record whose deadline has passed no longer blocks a new request.
        if let Some(id) = self.open_id(&agent, &session).cloned() {
            self.lapse_if_due(&id, now);
        }
        if let Some(existing) = self
            .open_id(&agent, &session)
            .and_then(|id| self.records.get(id))
        {
            return Err(ElevationError::AlreadyOpen {
                agent,
                status: existing.status,
                ring: existing.elevated_ring.number(),
            });
        }
        if self.open_count >= MAX_OPEN {
            return Err(ElevationError::TooManyOpen);
        }
        let ttl = match ttl {
            None => DEFAULT_TTL,
            Some(d) if d.is_zero() => DEFAULT_TTL,
            Some(d) => d.min(MAX_TTL),
        };
        let e = Elevation {
            elevation_id: ids.record("elev"),
            agent,
            session_id: session,
            original_ring: current,
            elevated_ring: target,
            requested_at: now,
            granted_at: None,
            expires_at: None,
            ttl,
            reason,
            status: ElevationStatus::Pending,
            approved_by: None,
            closed_at: None,
        };
        self.open
            .entry(e.agent.clone())
            .or_default()
            .insert(e.session_id.clone(), e.elevation_id.clone());
        if let Some(d) = e.deadline() {
            self.deadlines.insert((d, e.elevation_id.clone()));
        }
        self.open_count += 1;
        self.records.insert(e.elevation_id.clone(), e.clone());
        Ok(e)
    }

    /// Approves a pending elevation; its TTL starts now.
    ///
    /// An agent approver must hold a ring at least as privileged as the target and must not be
    /// the requester. A request past its pending timeout lapses instead.
    pub fn approve(
        &mut self,
        id: &RecordId,
        approver: Approver,
        now: Timestamp,
    ) -> Result<Elevation, ElevationError> {
        self.lapse_if_due(id, now);
        let e = self.pending(id)?;
        if let Approver::Agent { did, ring } = &approver {
            if *did == e.agent {
                return Err(ElevationError::SelfApproval);
            }
            if !ring.at_least(e.elevated_ring) {
                return Err(ElevationError::ApproverTooLow {
                    approver: did.clone(),
                    approver_ring: ring.number(),
                    target: e.elevated_ring.number(),
                });
            }
        }
        let old_deadline = e.deadline();
        let expires = now.plus(e.ttl);
        self.move_deadline(id, old_deadline, Some(expires));
        let Some(e) = self.records.get_mut(id) else {
            return Err(ElevationError::NotFound(id.clone()));
        };
        e.status = ElevationStatus::Active;
        e.granted_at = Some(now);
        e.expires_at = Some(expires);
        e.approved_by = Some(approver);
        Ok(e.clone())
    }

    /// Denies a pending elevation. An agent may deny if it could have approved, or if it is
    /// the requester (withdrawing its own request).
    pub fn deny(
        &mut self,
        id: &RecordId,
        by: Approver,
        now: Timestamp,
    ) -> Result<Elevation, ElevationError> {
        self.lapse_if_due(id, now);
        let e = self.pending(id)?;
        if let Approver::Agent { did, ring } = &by
            && *did != e.agent
            && !ring.at_least(e.elevated_ring)
        {
            return Err(ElevationError::ApproverTooLow {
                approver: did.clone(),
                approver_ring: ring.number(),
                target: e.elevated_ring.number(),
            });
        }
        let out = self.close(id, ElevationStatus::Denied, now);
        if let Some(mut out) = out {
            out.approved_by = Some(by.clone());
            if let Some(r) = self.records.get_mut(id) {
                r.approved_by = Some(by);
            }
            return Ok(out);
        }
        Err(ElevationError::NotFound(id.clone()))
    }

    /// Revokes a pending or active elevation.
    pub fn revoke(&mut self, id: &RecordId, now: Timestamp) -> Result<Elevation, ElevationError> {
        let e = self
            .records
            .get(id)
            .ok_or_else(|| ElevationError::NotFound(id.clone()))?;
        if !e.status.is_open() {
            return Err(ElevationError::NotOpen {
                id: id.clone(),
                status: e.status,
            });
        }
        self.close(id, ElevationStatus::Revoked, now)
            .ok_or_else(|| ElevationError::NotFound(id.clone()))
    }

    /// Revokes every open elevation of `agent` in every session (used by the kill switch).
    pub fn revoke_agent(&mut self, agent: &AgentDid, now: Timestamp) -> Vec<Elevation> {
        let ids: Vec<RecordId> = self
            .open
            .get(agent)
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default();
        ids.iter()
            .filter_map(|id| self.close(id, ElevationStatus::Revoked, now))
            .collect()
    }

    /// The ring `agent` acts with in `session` at `now`: the elevated ring if an approved,
    /// unexpired elevation exists and is more privileged than `base`, else `base`.
    pub fn effective_ring(
        &self,
        agent: &AgentDid,
        session: &SessionId,
        base: Ring,
        now: Timestamp,
    ) -> Ring {
        match self.active(agent, session, now) {
            Some(e) if e.elevated_ring.at_least(base) => e.elevated_ring,
            _ => base,
        }
    }

    /// The earliest pending deadline (approval lapse or expiry), if any.
    pub fn next_deadline(&self) -> Option<Timestamp> {
        self.deadlines.iter().next().map(|(t, _)| *t)
    }

    /// Closes every open elevation whose deadline is at or before `now` and returns them
    /// (active ones past their TTL, pending ones past [`PENDING_TIMEOUT`]).
    pub fn expire(&mut self, now: Timestamp) -> Vec<Elevation> {
        let mut due = Vec::new();
        while let Some((t, id)) = self.deadlines.first().cloned() {
            if t > now {
                break;
            }
            self.deadlines.pop_first();
            due.push(id);
        }
        due.iter()
            .filter_map(|id| self.close(id, ElevationStatus::Expired, now))
            .collect()
    }

    /// The approved elevation of (agent, session) in force at `now`, if any.
    pub fn active(
        &self,
        agent: &AgentDid,
        session: &SessionId,
        now: Timestamp,
    ) -> Option<&Elevation> {
        self.open_id(agent, session)
            .and_then(|id| self.records.get(id))
            .filter(|e| e.is_in_force(now))
    }

    /// The pending or active elevation of (agent, session), regardless of deadlines.
    pub fn open_for(&self, agent: &AgentDid, session: &SessionId) -> Option<&Elevation> {
        self.open_id(agent, session)
            .and_then(|id| self.records.get(id))
    }

    /// An elevation by id (closed ones only while still in history).
    pub fn get(&self, id: &RecordId) -> Option<&Elevation> {
        self.records.get(id)
    }

    /// Elevations matching `filter`, in id order.
    pub fn list(&self, filter: &ElevationFilter) -> Vec<&Elevation> {
        self.records
            .values()
            .filter(|e| filter.agent.as_ref().is_none_or(|a| *a == e.agent))
            .filter(|e| filter.session.as_ref().is_none_or(|s| *s == e.session_id))
            .filter(|e| filter.status.is_none_or(|s| s == e.status))
            .collect()
    }

    /// Number of open (pending or active) elevations.
    pub fn open_count(&self) -> usize {
        self.open_count
    }

    fn open_id(&self, agent: &AgentDid, session: &SessionId) -> Option<&RecordId> {
        self.open.get(agent).and_then(|m| m.get(session))
    }

    fn pending(&self, id: &RecordId) -> Result<&Elevation, ElevationError> {
        let e = self
            .records
            .get(id)
            .ok_or_else(|| ElevationError::NotFound(id.clone()))?;
        if e.status != ElevationStatus::Pending {
            return Err(ElevationError::NotPending {
                id: id.clone(),
                status: e.status,
            });
        }
        Ok(e)
    }

    fn lapse_if_due(&mut self, id: &RecordId, now: Timestamp) {
        let due = self
            .records
            .get(id)
            .and_then(Elevation::deadline)
            .is_some_and(|d| d <= now);
        if due {
            self.close(id, ElevationStatus::Expired, now);
        }
    }

    fn move_deadline(&mut self, id: &RecordId, old: Option<Timestamp>, new: Option<Timestamp>) {
        if let Some(o) = old {
            self.deadlines.remove(&(o, id.clone()));
        }
        if let Some(n) = new {
            self.deadlines.insert((n, id.clone()));
        }
    }

    /// Moves an open record to the closed `status`; returns the closed record, or `None` if
    /// it was not open.
    fn close(
        &mut self,
        id: &RecordId,
        status: ElevationStatus,
        now: Timestamp,
    ) -> Option<Elevation> {
        let e = self.records.get(id)?;
        if !e.status.is_open() {
            return None;
        }
        let (agent, session, deadline) = (e.agent.clone(), e.session_id.clone(), e.deadline());
        self.move_deadline(id, deadline, None);
        if let Some(m) = self.open.get_mut(&agent) {
            m.remove(&session);
            if m.is_empty() {
                self.open.remove(&agent);
            }
        }
        self.open_count = self.open_count.saturating_sub(1);
        let e = self.records.get_mut(id)?;
        e.status = status;
        e.closed_at = Some(now);
        let out = e.clone();
        self.closed.push_back(id.clone());
        while self.closed.len() > MAX_CLOSED_HISTORY {
            if let Some(old) = self.closed.pop_front() {
                self.records.remove(&old);
            }
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests;
