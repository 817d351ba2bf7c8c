//! Identifiers. Every id is a validated string newtype so that an agent DID can never be passed
//! where a session id is expected, and so that outside input is checked once, at the edge.
//!
//! Fresh ids come from an [`IdGen`] seeded by the runtime with per-command entropy; the core
//! itself has no randomness, so replaying a logged command reproduces the same ids.

use std::fmt;
use std::sync::Arc;

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
        ///
        /// Shared text: ids are cloned into every audit entry, event and index that names them,
        /// so a clone is a reference-count increment, not a copy.
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(Arc<str>);

        impl $name {
            /// Validates and wraps an id received from outside.
            pub fn new(s: impl Into<String>) -> Result<Self, IdError> {
                let s = s.into();
                validate($kind, &s)?;
                Ok(Self(Arc::from(s)))
            }

            /// Wraps a generated id (already valid by construction).
            #[allow(dead_code)] // only some id kinds are generated
            fn generated(s: String) -> Self {
                Self(Arc::from(s))
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

        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
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

/// Appends the lowercase hex of `bytes` to `out` (ids, digests and hashes are written often
/// enough that `hex::encode`'s iterator shows in profiles).
pub(crate) fn push_hex(out: &mut String, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.reserve(bytes.len() * 2);
    for &b in bytes {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 15)]));
    }
}

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

    #[cfg(test)]
    fn next_bytes_after(&mut self, skip: u64) -> [u8; 16] {
        self.counter += skip - 1;
        self.next_bytes()
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
        let mut out = String::with_capacity(36);
        self.push_uuid(&mut out);
        out
    }

    fn push_uuid(&mut self, out: &mut String) {
        let mut b = self.next_bytes();
        b[6] = (b[6] & 0x0f) | 0x40;
        b[8] = (b[8] & 0x3f) | 0x80;
        for (i, chunk) in [&b[0..4], &b[4..6], &b[6..8], &b[8..10], &b[10..16]]
            .into_iter()
            .enumerate()
        {
            if i > 0 {
                out.push('-');
            }
            push_hex(out, chunk);
        }
    }

    /// `n` fresh lowercase hex characters (at most 32).
    pub fn hex(&mut self, n: usize) -> String {
        let mut out = String::with_capacity(32);
        push_hex(&mut out, &self.next_bytes());
        out.truncate(n.min(32));
        out
    }

    /// `{prefix}:{uuid}`, e.g. `session:…`.
    pub fn prefixed_uuid(&mut self, prefix: &str) -> String {
        let mut out = String::with_capacity(prefix.len() + 37);
        out.push_str(prefix);
        out.push(':');
        self.push_uuid(&mut out);
        out
    }

    /// `{prefix}:{n hex}`, e.g. `lock:1a2b3c4d`. Uses 16 hex characters by default callers to
    /// keep collisions negligible; the reference used 8.
    pub fn prefixed_hex(&mut self, prefix: &str, n: usize) -> String {
        let n = n.min(32);
        let mut out = String::with_capacity(prefix.len() + 33);
        out.push_str(prefix);
        out.push(':');
        push_hex(&mut out, &self.next_bytes());
        out.truncate(prefix.len() + 1 + n);
        out
    }

    /// A fresh [`RecordId`] `{prefix}:{16 hex}`.
    pub fn record(&mut self, prefix: &str) -> RecordId {
        RecordId::generated(self.prefixed_hex(prefix, 16))
    }

    /// A fresh [`SessionId`] `session:{uuid}`.
    pub fn session(&mut self) -> SessionId {
        SessionId::generated(self.prefixed_uuid("session"))
    }

    /// A fresh [`SagaId`] `saga:{uuid}`.
    pub fn saga(&mut self) -> SagaId {
        SagaId::generated(self.prefixed_uuid("saga"))
    }

    /// A fresh [`StepId`] `step:{uuid}`.
    pub fn step(&mut self) -> StepId {
        StepId::generated(self.prefixed_uuid("step"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_have_the_documented_shapes() {
        let mut g = IdGen::new([3; 16]);
        let mut raw = g.clone();
        let u = g.uuid();
        let mut b = raw.next_bytes();
        b[6] = (b[6] & 0x0f) | 0x40;
        b[8] = (b[8] & 0x3f) | 0x80;
        let h = hex::encode(b);
        let want = format!(
            "{}-{}-{}-{}-{}",
            &h[0..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..32]
        );
        assert_eq!(u, want);
        let r = g.record("vouch");
        assert_eq!(
            r.as_str(),
            format!("vouch:{}", &hex::encode(raw.next_bytes_after(1))[..16])
        );
        assert!(g.session().as_str().starts_with("session:"));
        assert_eq!(g.hex(40).len(), 32);
        assert_eq!(g.prefixed_hex("lock", 8).len(), "lock:".len() + 8);
    }

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
