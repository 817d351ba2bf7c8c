//! Why a session operation was refused. One enum for the whole aggregate so the engine can map
//! every refusal to one API error; messages follow the reference's wording where it had one.

use crate::id::AgentDid;
use crate::time::Timestamp;

use super::state::SessionState;

/// A refused session operation.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// A configuration field is outside its range.
    #[error("invalid session config: {field} {reason}")]
    InvalidConfig {
        /// The offending field.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The operation is not allowed in the current state.
    #[error(
        "operation `{operation}` not allowed in state {state}; allowed: {}",
        list_states(allowed)
    )]
    InvalidState {
        /// The refused operation.
        operation: &'static str,
        /// The state the session is in.
        state: SessionState,
        /// The states in which the operation is allowed.
        allowed: &'static [SessionState],
    },
    /// Activation needs at least one member that has not left.
    #[error("cannot activate session with no active participants")]
    NoActiveParticipants,
    /// The session outlived `max_duration_seconds`.
    #[error("session expired at {expires_at}")]
    Expired {
        /// When the session expired.
        expires_at: Timestamp,
    },
    /// The agent is an active member already.
    #[error("agent `{agent}` already in session")]
    AlreadyJoined {
        /// The agent.
        agent: AgentDid,
    },
    /// As many members as `max_participants` are active.
    #[error("session at capacity ({max})")]
    AtCapacity {
        /// The configured maximum.
        max: u32,
    },
    /// σ_eff is below the session's `min_sigma_eff`.
    #[error("σ_eff {sigma_eff:.2} below minimum {minimum:.2}")]
    SigmaBelowMinimum {
        /// The agent's σ_eff.
        sigma_eff: f64,
        /// The session's minimum.
        minimum: f64,
    },
    /// The agent never joined (or its departed record was evicted).
    #[error("agent `{agent}` not in session")]
    NotParticipant {
        /// The agent.
        agent: AgentDid,
    },
    /// The agent joined once but has left.
    #[error("agent `{agent}` already left the session")]
    AlreadyLeft {
        /// The agent.
        agent: AgentDid,
    },
}

fn list_states(states: &[SessionState]) -> String {
    let names: Vec<&str> = states.iter().map(|s| s.as_str()).collect();
    names.join(", ")
}
