//! Why a vector-clock operation was refused.

use crate::id::AgentDid;

use super::clock::VectorClock;

/// A refused vector-clock operation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClockError {
    /// The writer has not seen the path's latest version (it is stale or concurrent), so its
    /// write would silently discard someone else's update.
    #[error(
        "agent `{agent}` has stale state for `{path}`: must re-read before writing \
         (agent clock {agent_clock}, path clock {path_clock})"
    )]
    Stale {
        /// The agent that tried to write.
        agent: AgentDid,
        /// The path it tried to write.
        path: String,
        /// The agent's clock at the time of the attempt.
        agent_clock: VectorClock,
        /// The path's clock at the time of the attempt.
        path_clock: VectorClock,
    },
    /// A clock or table would track more agents than the bound allows.
    #[error("too many agents: a session tracks at most {limit} agents in its vector clocks")]
    TooManyAgents {
        /// The bound that was hit.
        limit: usize,
    },
    /// The table would track more paths than the bound allows.
    #[error("too many paths: a session tracks at most {limit} paths in its vector clocks")]
    TooManyPaths {
        /// The bound that was hit.
        limit: usize,
    },
    /// An agent's counter would overflow `u64` (only reachable with hostile snapshot data).
    #[error("clock counter of agent `{agent}` would overflow")]
    CounterOverflow {
        /// The agent whose counter is exhausted.
        agent: AgentDid,
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
    /// An isolation level name that is not `snapshot`, `read_committed` or `serializable`.
    #[error(
        "unknown isolation level `{value}`: expected `snapshot`, `read_committed` or `serializable`"
    )]
    UnknownIsolation {
        /// The rejected name.
        value: String,
    },
}
