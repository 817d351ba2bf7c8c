//! Shared sessions: the aggregate that says who is in a session and what state it is in.
//!
//! A [`Session`] is pure data with guarded transitions: every operation checks the lifecycle
//! state and returns a [`SessionError`] instead of changing anything when a rule is broken. The
//! engine decides rings and σ (from vouching, verification, adapters) and passes them in; the
//! session only enforces membership rules:
//!
//! - **Lifecycle** (`lifecycle.rs`): `created → handshaking → active → terminating → archived`.
//!   Activation needs at least one *active* member (the reference counted departed ones).
//! - **Membership** (`membership.rs`): join, leave, rejoin (the reference could never rejoin),
//!   capacity counted over active members only.
//! - **Minimum σ — the one rule:** an agent whose σ_eff is below `min_sigma_eff` is refused,
//!   whatever ring or probation flag it comes with. The reference checked σ only for agents
//!   headed for rings 0–2 and admitted lower ones to the sandbox, so with a minimum of 0.70 it
//!   refused σ 0.65 but admitted σ 0.55. A creator who wants sandboxed low-σ guests sets a lower
//!   `min_sigma_eff`.
//! - **Expiry:** a session expires `max_duration_seconds` after creation (the reference never
//!   enforced it). An expired session refuses joins and activation; terminating it stays allowed.
//!
//! Bound: the participant map holds every active member (at most `max_participants`) plus the
//! records of at most [`MAX_DEPARTED_RECORDS`] departed members; past that, the record of the
//! member that left earliest is dropped.

mod config;
mod err;
mod lifecycle;
mod membership;
mod participant;
mod state;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::id::{AgentDid, SessionId};
use crate::time::Timestamp;

pub use config::{
    ConsistencyMode, MAX_DURATION_SECONDS_LIMIT, MAX_PARTICIPANTS_LIMIT, SessionConfig,
};
pub use err::SessionError;
pub use participant::Participant;
pub use state::SessionState;

/// Most departed-member records kept per session; the earliest departure is evicted first.
pub const MAX_DEPARTED_RECORDS: usize = 1024;

/// A shared session: its configuration, lifecycle state and members.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Session {
    session_id: SessionId,
    creator_did: AgentDid,
    config: SessionConfig,
    state: SessionState,
    consistency_mode: ConsistencyMode,
    // INVARIANT: every key equals its record's `agent_did`; at most `config.max_participants`
    // records are active; every inactive record is in `departed`, and `departed` holds nothing
    // else, in the order the agents left.
    participants: BTreeMap<AgentDid, Participant>,
    departed: VecDeque<AgentDid>,
    created_at: Timestamp,
    activated_at: Option<Timestamp>,
    terminated_at: Option<Timestamp>,
    archived_at: Option<Timestamp>,
    expires_at: Timestamp,
}

impl Session {
    /// A new session in state `created`, after validating `config`.
    pub fn new(
        session_id: SessionId,
        creator_did: AgentDid,
        config: SessionConfig,
        now: Timestamp,
    ) -> Result<Session, SessionError> {
        config.validate()?;
        let expires_at = now.plus(Duration::from_secs(config.max_duration_seconds));
        Ok(Session {
            session_id,
            creator_did,
            consistency_mode: config.consistency_mode,
            config,
            state: SessionState::Created,
            participants: BTreeMap::new(),
            departed: VecDeque::new(),
            created_at: now,
            activated_at: None,
            terminated_at: None,
            archived_at: None,
            expires_at,
        })
    }

    /// The session's id.
    pub fn session_id(&self) -> &SessionId {
        &self.session_id
    }

    /// Who created the session (the engine lets the creator manage ACLs and snapshots).
    pub fn creator_did(&self) -> &AgentDid {
        &self.creator_did
    }

    /// The configuration the session was created with.
    pub fn config(&self) -> &SessionConfig {
        &self.config
    }

    /// The current lifecycle state.
    pub fn state(&self) -> SessionState {
        self.state
    }

    /// The consistency mode in force (the config's, unless forced since).
    pub fn consistency_mode(&self) -> ConsistencyMode {
        self.consistency_mode
    }

    /// Every membership record, departed members included, keyed by DID.
    pub fn participants(&self) -> &BTreeMap<AgentDid, Participant> {
        &self.participants
    }

    /// When the session was created.
    pub fn created_at(&self) -> Timestamp {
        self.created_at
    }

    /// When the session became active, if it has.
    pub fn activated_at(&self) -> Option<Timestamp> {
        self.activated_at
    }

    /// When termination began, if it has.
    pub fn terminated_at(&self) -> Option<Timestamp> {
        self.terminated_at
    }

    /// When the session was archived, if it has been.
    pub fn archived_at(&self) -> Option<Timestamp> {
        self.archived_at
    }

    /// When the session expires: creation time plus `max_duration_seconds`.
    pub fn expires_at(&self) -> Timestamp {
        self.expires_at
    }

    /// Whether the session has outlived its maximum duration (`now ≥ expires_at`).
    pub fn is_expired(&self, now: Timestamp) -> bool {
        now >= self.expires_at
    }
}
