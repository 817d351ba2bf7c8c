//! Session configuration: what a creator may choose, with defaults and range checks.
//!
//! The reference accepted any value (zero or negative `max_participants`) and never enforced
//! `max_duration_seconds`. Here [`SessionConfig::validate`] refuses values outside the documented
//! ranges and the session enforces the duration through `Session::is_expired`.

use serde::{Deserialize, Serialize};

use crate::score::Score;

use super::err::SessionError;

/// Largest accepted `max_participants`.
pub const MAX_PARTICIPANTS_LIMIT: u32 = 10_000;
/// Largest accepted `max_duration_seconds`: 30 days.
pub const MAX_DURATION_SECONDS_LIMIT: u64 = 30 * 24 * 3600;

/// How strictly writes in a session are ordered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsistencyMode {
    /// Every write is ordered; forced when an irreversible action is registered.
    Strong,
    /// Writes may be concurrent and are reconciled later (the default).
    #[default]
    Eventual,
}

impl ConsistencyMode {
    /// The wire name (`strong` or `eventual`).
    pub const fn as_str(self) -> &'static str {
        match self {
            ConsistencyMode::Strong => "strong",
            ConsistencyMode::Eventual => "eventual",
        }
    }
}

/// What a creator chooses for a session. Every field has a default, so `{}` is a valid config.
///
/// Unknown fields are ignored (the reference's `enable_blockchain_commitment` may still be sent).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SessionConfig {
    /// Initial consistency mode (default `eventual`).
    pub consistency_mode: ConsistencyMode,
    /// Most members active at once, 1..=10 000 (default 10).
    pub max_participants: u32,
    /// Lifetime from creation in seconds, 1..=30 days (default 3600).
    pub max_duration_seconds: u64,
    /// Lowest σ_eff admitted to the session, whatever the ring (default 0: everyone is admitted
    /// and the ring rule alone decides privilege, so low-trust agents land in the sandbox as in
    /// the reference). The reference's default of 0.60 applied only to non-sandbox agents; here
    /// the one rule applies to all, so its default had to move to keep sandbox admission.
    pub min_sigma_eff: Score,
    /// Whether the session's deltas are committed to the audit log on termination (default true).
    pub enable_audit: bool,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            consistency_mode: ConsistencyMode::Eventual,
            max_participants: 10,
            max_duration_seconds: 3600,
            min_sigma_eff: Score::ZERO,
            enable_audit: true,
        }
    }
}

impl SessionConfig {
    /// Checks every field against its documented range.
    pub fn validate(&self) -> Result<(), SessionError> {
        if !(1..=MAX_PARTICIPANTS_LIMIT).contains(&self.max_participants) {
            return Err(SessionError::InvalidConfig {
                field: "max_participants",
                reason: format!(
                    "must be between 1 and {MAX_PARTICIPANTS_LIMIT}, got {}",
                    self.max_participants
                ),
            });
        }
        if !(1..=MAX_DURATION_SECONDS_LIMIT).contains(&self.max_duration_seconds) {
            return Err(SessionError::InvalidConfig {
                field: "max_duration_seconds",
                reason: format!(
                    "must be between 1 and {MAX_DURATION_SECONDS_LIMIT} (30 days), got {}",
                    self.max_duration_seconds
                ),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_reference_and_are_valid() {
        let c: SessionConfig = serde_json::from_str("{}").unwrap();
        assert_eq!(c, SessionConfig::default());
        assert_eq!(c.consistency_mode, ConsistencyMode::Eventual);
        assert_eq!(c.max_participants, 10);
        assert_eq!(c.max_duration_seconds, 3600);
        assert_eq!(c.min_sigma_eff.get(), 0.0);
        assert!(c.enable_audit);
        assert!(c.validate().is_ok());
    }

    #[test]
    fn unknown_reference_fields_are_ignored() {
        let c: SessionConfig = serde_json::from_str(
            r#"{"consistency_mode":"strong","enable_blockchain_commitment":true}"#,
        )
        .unwrap();
        assert_eq!(c.consistency_mode, ConsistencyMode::Strong);
    }

    #[test]
    fn zero_participants_is_refused_unlike_reference() {
        let c = SessionConfig {
            max_participants: 0,
            ..SessionConfig::default()
        };
        assert_eq!(
            c.validate().unwrap_err().to_string(),
            "invalid session config: max_participants must be between 1 and 10000, got 0"
        );
        let c = SessionConfig {
            max_participants: 10_001,
            ..SessionConfig::default()
        };
        assert!(c.validate().is_err());
        let c = SessionConfig {
            max_participants: 10_000,
            ..SessionConfig::default()
        };
        assert!(c.validate().is_ok());
    }

    #[test]
    fn duration_bounds_are_enforced() {
        let zero = SessionConfig {
            max_duration_seconds: 0,
            ..SessionConfig::default()
        };
        assert_eq!(
            zero.validate().unwrap_err().to_string(),
            "invalid session config: max_duration_seconds must be between 1 and 2592000 (30 days), got 0"
        );
        let long = SessionConfig {
            max_duration_seconds: MAX_DURATION_SECONDS_LIMIT + 1,
            ..SessionConfig::default()
        };
        assert!(long.validate().is_err());
        let max = SessionConfig {
            max_duration_seconds: MAX_DURATION_SECONDS_LIMIT,
            ..SessionConfig::default()
        };
        assert!(max.validate().is_ok());
    }

    #[test]
    fn out_of_range_sigma_is_refused_at_deserialisation() {
        let r: Result<SessionConfig, _> = serde_json::from_str(r#"{"min_sigma_eff":1.5}"#);
        assert!(r.is_err());
        let r: Result<SessionConfig, _> = serde_json::from_str(r#"{"max_participants":-1}"#);
        assert!(r.is_err());
    }
}
