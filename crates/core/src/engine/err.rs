//! Engine errors: what a caller did wrong, what does not exist, what state forbids, and what
//! governance denied. Each maps to exactly one HTTP status in the server and carries a stable
//! code so clients can branch on it.

use std::time::Duration;

use serde::Serialize;

/// Why a governed action was denied. The code is stable API; the reason is for humans.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DenyCode {
    /// The session is not active (created, handshaking, terminating or archived).
    SessionNotActive,
    /// The session ran past its maximum duration.
    SessionExpired,
    /// The agent is not an active participant of the session.
    NotMember,
    /// The agent is quarantined and the action is not a read.
    Quarantined,
    /// The agent's breach breaker is tripped.
    BreakerTripped,
    /// The agent's ring is not privileged enough.
    RingInsufficient,
    /// The agent's σ_eff is below the action's requirement.
    SigmaInsufficient,
    /// Ring-1 action without consensus.
    ConsensusRequired,
    /// Ring-0 action without an admin witness.
    WitnessRequired,
    /// The action is not registered in the session.
    UnknownAction,
    /// Another agent holds a conflicting intent lock.
    LockConflict,
    /// Serializable isolation requires the writer to hold a write lock.
    LockRequired,
    /// The writer has not seen the latest version of the path.
    StaleClock,
    /// A VFS ACL refused the agent.
    AclDenied,
    /// The liability ledger recommends denying admission.
    LedgerDenied,
    /// Waiting for the lock would close a cycle in the wait-for graph.
    Deadlock,
    /// Only the session creator or an admin may do this.
    NotCreator,
    /// The bond would exceed the voucher's maximum exposure across sessions.
    ExposureCap,
    /// The bond would close a vouching cycle.
    VouchCycle,
    /// The bond is otherwise not acceptable (self-vouch, duplicate, expiry in the past…).
    VouchRefused,
}

impl DenyCode {
    /// The stable wire code, e.g. `ring_insufficient`.
    pub fn as_str(self) -> &'static str {
        match self {
            DenyCode::SessionNotActive => "session_not_active",
            DenyCode::SessionExpired => "session_expired",
            DenyCode::NotMember => "not_member",
            DenyCode::Quarantined => "quarantined",
            DenyCode::BreakerTripped => "breaker_tripped",
            DenyCode::RingInsufficient => "ring_insufficient",
            DenyCode::SigmaInsufficient => "sigma_insufficient",
            DenyCode::ConsensusRequired => "consensus_required",
            DenyCode::WitnessRequired => "witness_required",
            DenyCode::UnknownAction => "unknown_action",
            DenyCode::LockConflict => "lock_conflict",
            DenyCode::LockRequired => "lock_required",
            DenyCode::StaleClock => "stale_clock",
            DenyCode::AclDenied => "acl_denied",
            DenyCode::LedgerDenied => "ledger_denied",
            DenyCode::Deadlock => "deadlock",
            DenyCode::NotCreator => "not_creator",
            DenyCode::ExposureCap => "exposure_cap",
            DenyCode::VouchCycle => "vouch_cycle",
            DenyCode::VouchRefused => "vouch_refused",
        }
    }
}

/// A governance denial: a stable code and a human reason.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Denial {
    /// Stable machine-readable code.
    pub code: DenyCode,
    /// Human-readable reason, e.g. `Agent ring 3 insufficient for required ring 2`.
    pub reason: String,
}

impl Denial {
    /// A denial with the given code and reason.
    pub fn new(code: DenyCode, reason: impl Into<String>) -> Self {
        Denial {
            code,
            reason: reason.into(),
        }
    }
}

/// Everything that can go wrong when the engine applies a command.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// Bad input: a malformed id, an out-of-range number, an invalid path… (HTTP 400/422).
    #[error("{0}")]
    Invalid(String),
    /// The named thing does not exist (HTTP 404).
    #[error("{kind} `{id}` not found")]
    NotFound {
        /// What kind of thing (`session`, `saga`, …).
        kind: &'static str,
        /// Its id as given.
        id: String,
    },
    /// The current state forbids the operation (HTTP 409).
    #[error("{0}")]
    Conflict(String),
    /// The caller is not allowed to do this at all, whatever the state (HTTP 403).
    #[error("{0}")]
    Forbidden(String),
    /// Governance denied the action (HTTP 403 with the denial code).
    #[error("{}", .0.reason)]
    Denied(Denial),
    /// The agent exceeded its ring's rate (HTTP 429 with Retry-After).
    #[error("{reason}")]
    RateLimited {
        /// How long to wait before retrying.
        retry_after: Duration,
        /// Human-readable reason.
        reason: String,
    },
}

impl EngineError {
    /// A stable machine-readable code for the error, as sent in API error bodies.
    pub fn code(&self) -> &'static str {
        match self {
            EngineError::Invalid(_) => "invalid_input",
            EngineError::NotFound { .. } => "not_found",
            EngineError::Conflict(_) => "conflict",
            EngineError::Forbidden(_) => "forbidden",
            EngineError::Denied(d) => d.code.as_str(),
            EngineError::RateLimited { .. } => "rate_limited",
        }
    }

    /// Shorthand for a not-found error.
    pub fn not_found(kind: &'static str, id: impl std::fmt::Display) -> Self {
        EngineError::NotFound {
            kind,
            id: id.to_string(),
        }
    }

    /// Shorthand for a denial.
    pub fn denied(code: DenyCode, reason: impl Into<String>) -> Self {
        EngineError::Denied(Denial::new(code, reason))
    }
}

impl From<crate::id::IdError> for EngineError {
    fn from(e: crate::id::IdError) -> Self {
        EngineError::Invalid(e.to_string())
    }
}

impl From<crate::score::ScoreError> for EngineError {
    fn from(e: crate::score::ScoreError) -> Self {
        EngineError::Invalid(e.to_string())
    }
}

/// Result alias for engine operations.
pub type Result<T, E = EngineError> = std::result::Result<T, E>;
