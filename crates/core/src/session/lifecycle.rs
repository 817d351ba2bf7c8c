//! The lifecycle transitions of a session and the guard every operation uses.

use crate::time::Timestamp;

use super::Session;
use super::config::ConsistencyMode;
use super::err::SessionError;
use super::state::SessionState;

use SessionState::{Active, Archived, Created, Handshaking, Terminating};

impl Session {
    /// Refuses `operation` unless the session is in one of `allowed`.
    pub(super) fn require(
        &self,
        operation: &'static str,
        allowed: &'static [SessionState],
    ) -> Result<(), SessionError> {
        if allowed.contains(&self.state) {
            Ok(())
        } else {
            Err(SessionError::InvalidState {
                operation,
                state: self.state,
                allowed,
            })
        }
    }

    /// Refuses if the session has outlived its maximum duration.
    pub(super) fn require_unexpired(&self, now: Timestamp) -> Result<(), SessionError> {
        if self.is_expired(now) {
            Err(SessionError::Expired {
                expires_at: self.expires_at,
            })
        } else {
            Ok(())
        }
    }

    /// `created → handshaking`: the session starts accepting members.
    pub fn begin_handshake(&mut self) -> Result<(), SessionError> {
        self.require("begin_handshake", &[Created])?;
        self.state = Handshaking;
        Ok(())
    }

    /// `handshaking → active`. Needs at least one member that has not left, and an unexpired
    /// session.
    pub fn activate(&mut self, now: Timestamp) -> Result<(), SessionError> {
        self.require("activate", &[Handshaking])?;
        self.require_unexpired(now)?;
        if self.active_count() == 0 {
            return Err(SessionError::NoActiveParticipants);
        }
        self.state = Active;
        self.activated_at = Some(now);
        Ok(())
    }

    /// `active | handshaking → terminating`. Allowed after expiry, so expired sessions can be
    /// wound down.
    pub fn terminate(&mut self, now: Timestamp) -> Result<(), SessionError> {
        self.require("terminate", &[Active, Handshaking])?;
        self.state = Terminating;
        self.terminated_at = Some(now);
        Ok(())
    }

    /// `terminating → archived`: the session is frozen.
    pub fn archive(&mut self, now: Timestamp) -> Result<(), SessionError> {
        self.require("archive", &[Terminating])?;
        self.state = Archived;
        self.archived_at = Some(now);
        Ok(())
    }

    /// Overrides the consistency mode (the engine forces `strong` when an irreversible action
    /// is registered). Refused once the session is terminating or archived.
    pub fn force_consistency_mode(&mut self, mode: ConsistencyMode) -> Result<(), SessionError> {
        self.require("force_consistency_mode", &[Created, Handshaking, Active])?;
        self.consistency_mode = mode;
        Ok(())
    }
}
