//! Why a lock operation was refused.

use crate::id::{AgentDid, RecordId};

use super::intent::LockIntent;

/// A refused lock operation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LockError {
    /// The request conflicts and the caller did not ask to wait.
    #[error(
        "lock contention on `{path}`: `{agent}` ({intent}) conflicts with {}",
        list(holders)
    )]
    Contention {
        /// The requested path.
        path: String,
        /// The requesting agent.
        agent: AgentDid,
        /// The requested intent.
        intent: LockIntent,
        /// The agents in the way: those holding an incompatible lock on an overlapping path, and
        /// those queued earlier for one (a new request never overtakes them).
        holders: Vec<AgentDid>,
    },
    /// Waiting would close a cycle in the wait-for graph; nothing was queued.
    #[error(
        "deadlock: waiting would close the cycle {}; nothing was queued",
        cycle_text(cycle)
    )]
    Deadlock {
        /// The cycle, starting with the requester; each agent waits for the next, and the last
        /// waits for the first.
        cycle: Vec<AgentDid>,
    },
    /// No lock with this id is held in this session.
    #[error("no lock `{lock_id}` is held in this session")]
    NotFound {
        /// The unknown id.
        lock_id: RecordId,
    },
    /// Someone other than the holder tried to release a lock.
    #[error("lock `{lock_id}` is held by `{holder}`, not `{agent}`")]
    NotHolder {
        /// The lock.
        lock_id: RecordId,
        /// Who asked to release it.
        agent: AgentDid,
        /// Who holds it.
        holder: AgentDid,
    },
    /// The session already holds its maximum number of locks.
    #[error("too many locks: a session holds at most {limit} locks")]
    TooManyLocks {
        /// The bound that was hit.
        limit: usize,
    },
    /// The session already has its maximum number of queued requests.
    #[error("too many waiters: a session queues at most {limit} lock requests")]
    TooManyWaiters {
        /// The bound that was hit.
        limit: usize,
    },
    /// A lock time-to-live of zero.
    #[error("lock ttl must be positive")]
    ZeroTtl,
    /// A lock time-to-live above the maximum.
    #[error("lock ttl of {requested_secs} s exceeds the maximum of {max_secs} s")]
    TtlTooLong {
        /// The requested ttl in whole seconds (rounded down).
        requested_secs: u64,
        /// The maximum in seconds.
        max_secs: u64,
    },
    /// The path is empty.
    #[error("path must not be empty")]
    EmptyPath,
    /// The path is longer than [`super::MAX_PATH_LEN`].
    #[error("path is {len} bytes long; the limit is {limit}")]
    PathTooLong {
        /// Its length in bytes.
        len: usize,
        /// The bound.
        limit: usize,
    },
    /// An intent name that is not `read`, `write` or `exclusive`.
    #[error("unknown lock intent `{value}`: expected `read`, `write` or `exclusive`")]
    UnknownIntent {
        /// The rejected name.
        value: String,
    },
}

/// `` `a`, `b` `` for a message.
fn list(agents: &[AgentDid]) -> String {
    agents
        .iter()
        .map(|a| format!("`{a}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `` `a` -> `b` -> `a` ``: the cycle closed back to its first agent.
fn cycle_text(cycle: &[AgentDid]) -> String {
    cycle
        .iter()
        .chain(cycle.first())
        .map(|a| format!("`{a}`"))
        .collect::<Vec<_>>()
        .join(" -> ")
}
