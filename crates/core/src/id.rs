//! Identifiers. Every id is a validated string newtype so that an agent DID can never be passed
//! where a session id is expected, and so that outside input is checked once, at the edge.
//!
//! Fresh ids come from an [`IdGen`] seeded by the runtime with per-command entropy; the core
//! itself has no randomness, so replaying a logged command reproduces the same ids.

use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Longest accepted id or DID, in bytes. Longer input is refused rather than truncated.
pub const MAX_ID_LEN: usize = 256;

/// Why a string is not a valid identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// The string was empty.
    #[error("{kind} must not be empty")]
    Empty {
        /// What kind of id was being parsed.
        kind: &'static str,
    },
    /// The string was longer than [`MAX_ID_LEN`].
    #[error("{kind} is {len} bytes long; the limit is {MAX_ID_LEN}")]
    TooLong {
        /// What kind of id was being parsed.
        kind: &'static str,
        /// Its length in bytes.
        len: usize,
    },
    /// The string held whitespace or a control character.
    #[error("{kind} `{value}` contains whitespace or a control character")]
    BadChar {
        /// What kind of id was being parsed.
        kind: &'static str,
        /// The offending value (escaped).
        value: String,
    },
}

fn validate(kind: &'static str, s: &str) -> Result<(), IdError> {
    if s.is_empty() {
        return Err(IdError::Empty { kind });
    }
    if s.len() > MAX_ID_LEN {
        return Err(IdError::TooLong { kind, len: s.len() });
    }
    if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(IdError::BadChar {
            kind,
            value: s.escape_debug().to_string(),
        });
    }
    Ok(())
}

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Validates and wraps an id received from outside.
            pub fn new(s: impl Into<String>) -> Result<Self, IdError> {
                let s = s.into();
                validate($kind, &s)?;
                Ok(Self(s))
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl std::str::FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                Self::new(s)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::new(s).map_err(serde::de::Error::custom)
            }
        }
    };
}

string_id!(
    /// An agent's decentralised identifier, e.g. `did:mesh:alpha` or `did:key:z6Mk…`.
    AgentDid, "agent DID"
);
string_id!(
    /// A shared session, `session:{uuid}` when generated.
    SessionId, "session id"
);
string_id!(
    /// A saga, `saga:{uuid}` when generated.
    SagaId, "saga id"
);
string_id!(
    /// A step of a saga, `step:{uuid}` when generated or the DSL's own id.
    StepId, "step id"
);
string_id!(
    /// A registered action (tool) an agent may perform, e.g. `deploy`.
    ActionId, "action id"
);
string_id!(
    /// Any other generated record id (vouch, slash, lock, elevation, quarantine, …).
    RecordId, "record id"
);

/// Deterministic generator of fresh ids.
///
/// The runtime seeds one per command with random entropy and logs the seed with the command;
/// replaying the command with the same seed yields the same ids. Ids look like the reference's
/// (`session:{uuid4}`, `lock:{8 hex}`), but are derived as SHA-256(seed ‖ counter).
#[derive(Debug, Clone)]
pub struct IdGen {
    seed: [u8; 16],
    counter: u64,
}

impl IdGen {
    /// A generator for one command, from its logged seed.
    pub fn new(seed: [u8; 16]) -> Self {
        IdGen { seed, counter: 0 }
    }

    fn next_bytes(&mut self) -> [u8; 16] {
        self.counter += 1;
        let mut h = Sha256::new();
        h.update(self.seed);
        h.update(self.counter.to_be_bytes());
        let out = h.finalize();
        let mut b = [0u8; 16];
        b.copy_from_slice(&out[..16]);
        b
    }

    /// A fresh RFC 4122 version-4-shaped UUID string (hyphenated, lowercase).
    pub fn uuid(&mut self) -> String {
        let mut b = self.next_bytes();
        b[6] = (b[6] & 0x0f) | 0x40;
        b[8] = (b[8] & 0x3f) | 0x80;
        let h = hex::encode(b);
        format!(
            "{}-{}-{}-{}-{}",
            &h[0..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..32]
        )
    }

    /// `n` fresh lowercase hex characters (at most 32).
    pub fn hex(&mut self, n: usize) -> String {
        let h = hex::encode(self.next_bytes());
        h[..n.min(32)].to_string()
    }

    /// `{prefix}:{uuid}`, e.g. `session:…`.
    pub fn prefixed_uuid(&mut self, prefix: &str) -> String {
        format!("{prefix}:{}", self.uuid())
    }

    /// `{prefix}:{n hex}`, e.g. `lock:1a2b3c4d`. Uses 16 hex characters by default callers to
    /// keep collisions negligible; the reference used 8.
    pub fn prefixed_hex(&mut self, prefix: &str, n: usize) -> String {
        format!("{prefix}:{}", self.hex(n))
    }

    /// A fresh [`RecordId`] `{prefix}:{16 hex}`.
    pub fn record(&mut self, prefix: &str) -> RecordId {
        RecordId(self.prefixed_hex(prefix, 16))
    }

    /// A fresh [`SessionId`] `session:{uuid}`.
    pub fn session(&mut self) -> SessionId {
        SessionId(self.prefixed_uuid("session"))
    }

    /// A fresh [`SagaId`] `saga:{uuid}`.
    pub fn saga(&mut self) -> SagaId {
        SagaId(self.prefixed_uuid("saga"))
    }

    /// A fresh [`StepId`] `step:{uuid}`.
    pub fn step(&mut self) -> StepId {
        StepId(self.prefixed_uuid("step"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_bad_ids() {
        assert!(matches!(AgentDid::new(""), Err(IdError::Empty { .. })));
        assert!(matches!(AgentDid::new("a b"), Err(IdError::BadChar { .. })));
        assert!(matches!(
            AgentDid::new("x".repeat(300)),
            Err(IdError::TooLong { .. })
        ));
        assert!(AgentDid::new("did:mesh:a/b").is_ok());
        let e = AgentDid::new("").unwrap_err().to_string();
        assert_eq!(e, "agent DID must not be empty");
    }

    #[test]
    fn deserialisation_validates() {
        let r: Result<AgentDid, _> = serde_json::from_str("\"\"");
        assert!(r.is_err());
        let ok: AgentDid = serde_json::from_str("\"did:mesh:a\"").unwrap();
        assert_eq!(ok.as_str(), "did:mesh:a");
    }

    #[test]
    fn idgen_is_deterministic_and_distinct() {
        let mut a = IdGen::new([7; 16]);
        let mut b = IdGen::new([7; 16]);
        let x = a.session();
        assert_eq!(x, b.session());
        assert_ne!(a.session(), x);
        assert!(x.as_str().starts_with("session:"));
        assert_eq!(x.as_str().len(), "session:".len() + 36);
        assert_eq!(a.hex(8).len(), 8);
    }
}
