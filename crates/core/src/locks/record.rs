//! The records the lock table hands out: requests, granted locks, wait tickets and limits.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::id::{AgentDid, RecordId, StepId};
use crate::time::Timestamp;

use super::intent::LockIntent;

/// Time-to-live of a lock when the request names none.
pub const DEFAULT_LOCK_TTL: Duration = Duration::from_secs(300);
/// Longest time-to-live a request may ask for. Longer requests are refused, not clamped.
pub const MAX_LOCK_TTL: Duration = Duration::from_secs(3600);

/// A request for a lock, built with [`LockRequest::new`] and the optional setters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockRequest {
    /// Who wants the lock.
    pub agent: AgentDid,
    /// Which path (normalised by the VFS); the lock also covers everything below it.
    pub path: String,
    /// What the agent intends to do.
    pub intent: LockIntent,
    /// How long the lock lives once granted; `None` means [`DEFAULT_LOCK_TTL`].
    pub ttl: Option<Duration>,
    /// Queue the request if it conflicts (instead of failing with contention).
    pub wait: bool,
    /// The saga step this lock serves, if any.
    pub saga_step_id: Option<StepId>,
}

impl LockRequest {
    /// A try-lock request with the default TTL and no saga step.
    pub fn new(agent: AgentDid, path: impl Into<String>, intent: LockIntent) -> Self {
        LockRequest {
            agent,
            path: path.into(),
            intent,
            ttl: None,
            wait: false,
            saga_step_id: None,
        }
    }

    /// Sets the time-to-live.
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = Some(ttl);
        self
    }

    /// Asks to be queued on conflict.
    pub fn wait(mut self) -> Self {
        self.wait = true;
        self
    }

    /// Ties the lock to a saga step.
    pub fn saga_step(mut self, step: StepId) -> Self {
        self.saga_step_id = Some(step);
        self
    }
}

/// A granted intent lock. It lives until released or until `expires_at`, whichever comes first;
/// an expired lock never blocks anyone, even before [`super::LockTable::expire`] purges it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lock {
    /// `lock:{16 hex}`.
    pub lock_id: RecordId,
    /// The holder.
    pub agent: AgentDid,
    /// The locked path (and everything below it).
    pub path: String,
    /// The holder's intent.
    pub intent: LockIntent,
    /// When it was granted.
    pub acquired_at: Timestamp,
    /// When it lapses.
    pub expires_at: Timestamp,
    /// The saga step it serves, if any.
    pub saga_step_id: Option<StepId>,
}

impl Lock {
    /// True once the lock's TTL has run out at `now`.
    pub fn is_expired(&self, now: Timestamp) -> bool {
        now >= self.expires_at
    }
}

/// A queued request. Its `id` is the `lock_id` the lock will carry once granted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaitTicket {
    /// The ticket id, reserved as the future lock id (`lock:{16 hex}`).
    pub id: RecordId,
    /// Who waits.
    pub agent: AgentDid,
    /// For which path.
    pub path: String,
    /// With which intent.
    pub intent: LockIntent,
    /// The TTL the lock will get when granted (counted from the grant).
    pub ttl: Duration,
    /// The saga step the lock will serve, if any.
    pub saga_step_id: Option<StepId>,
    /// When it was queued.
    pub queued_at: Timestamp,
}

/// The outcome of [`super::LockTable::acquire`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Acquire {
    /// The lock is held now.
    Granted(Lock),
    /// The request waits in the queue; poll [`super::LockTable::ticket_status`] or wait for the
    /// lock to appear among the grants returned by release, cancel and expiry.
    Queued(WaitTicket),
}

/// Where a wait ticket stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum TicketState {
    /// Still queued.
    Waiting,
    /// Granted; the lock as it was at the grant.
    Granted(Lock),
    /// Withdrawn (timeout) or cancelled because its agent left or the session ended.
    Cancelled,
}

/// Bounds of one session's lock table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockLimits {
    /// Most locks held at once (expired but not yet purged locks count).
    pub max_locks: usize,
    /// Most queued requests at once.
    pub max_waiters: usize,
    /// How many resolved tickets (granted or cancelled) are remembered for
    /// [`super::LockTable::ticket_status`]; the oldest are forgotten first.
    pub max_resolved_tickets: usize,
}

impl Default for LockLimits {
    fn default() -> Self {
        LockLimits {
            max_locks: 10_000,
            max_waiters: 1_000,
            max_resolved_tickets: 1_000,
        }
    }
}
