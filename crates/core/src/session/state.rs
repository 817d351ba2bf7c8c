//! The lifecycle states of a session, kept in their own file so the transition table in
//! `lifecycle.rs` and the error messages in `err.rs` can share one wire spelling.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Where a session is in its lifecycle.
///
/// `created → handshaking → active → terminating → archived`; a handshaking session may also
/// terminate directly. The wire form is snake_case, as in the reference.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionState {
    /// Just built; nobody may join yet.
    Created,
    /// Accepting members; not yet running.
    Handshaking,
    /// Running: members act, join and leave.
    Active,
    /// Shutting down: no joins, no activation; only leaving and archiving.
    Terminating,
    /// Frozen for the record. Nothing changes any more.
    Archived,
}

impl SessionState {
    /// The wire name (`created`, `handshaking`, …).
    pub const fn as_str(self) -> &'static str {
        match self {
            SessionState::Created => "created",
            SessionState::Handshaking => "handshaking",
            SessionState::Active => "active",
            SessionState::Terminating => "terminating",
            SessionState::Archived => "archived",
        }
    }
}

impl fmt::Display for SessionState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
