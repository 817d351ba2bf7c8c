//! The audit record appended for every governed action or state change.
//!
//! Why this exists: the reference hashed only some fields of a delta (a change's `agent_did`
//! was never hashed) and its verifier recomputed hashes in place, so the last record could be
//! rewritten undetectably. Here every field of [`AuditEntry`] goes into its canonical encoding
//! (checked by a test against the serde form), the leaf hash is a pure function of the entry,
//! and entries are never rewritten: the log only appends.
//!
//! Canonical encoding (format version 1): the entry as a JSON object with the keys
//! `agent_did` (string or null), `at` (milliseconds since the epoch), `decision`
//! (`"allowed"`/`"denied"`), `detail` (any JSON), `kind`, `reason`, `seq`, `session_id`
//! (string or null), written by [`crate::audit::canonical`] (sorted keys, no whitespace). The
//! leaf hash is `SHA-256(0x00 ‖ canonical bytes)`.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::audit::canonical;
use crate::audit::detail::{Detail, push_u64};
use crate::audit::digest::Digest32;
use crate::audit::merkle;
use crate::id::{AgentDid, SessionId};
use crate::time::Timestamp;

/// Longest accepted `kind`, in bytes.
pub const MAX_KIND_LEN: usize = 128;
/// Longest accepted `reason`, in bytes.
pub const MAX_REASON_LEN: usize = 4096;
/// Largest accepted canonical encoding of `detail`, in bytes.
pub const MAX_DETAIL_BYTES: usize = 64 * 1024;

/// Whether the governed action was allowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    /// The action or change went ahead.
    Allowed,
    /// The action was refused; `reason` says why.
    Denied,
}

impl Decision {
    /// The wire form, `allowed` or `denied`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Decision::Allowed => "allowed",
            Decision::Denied => "denied",
        }
    }
}

/// Why an entry is not acceptable for the log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EntryError {
    /// `kind` is empty, too long or contains whitespace or control characters.
    #[error("audit kind `{kind}` must be 1 to {MAX_KIND_LEN} bytes without whitespace")]
    BadKind {
        /// The offending kind (escaped, shortened).
        kind: String,
    },
    /// `reason` is longer than [`MAX_REASON_LEN`].
    #[error("audit reason is {len} bytes long; the limit is {MAX_REASON_LEN}")]
    ReasonTooLong {
        /// Its length in bytes.
        len: usize,
    },
    /// `detail` encodes to more than [`MAX_DETAIL_BYTES`].
    #[error("audit detail is {len} bytes when encoded; the limit is {MAX_DETAIL_BYTES}")]
    DetailTooLarge {
        /// Its canonical length in bytes.
        len: usize,
    },
}

/// One record of the audit log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Position in its log (0-based); equals the Merkle leaf index.
    pub seq: u64,
    /// When the action was decided.
    pub at: Timestamp,
    /// The session concerned, if any.
    pub session_id: Option<SessionId>,
    /// The acting agent, if any.
    pub agent_did: Option<AgentDid>,
    /// What happened, dotted lowercase by convention, e.g. `vfs.write`, `ring.elevate`.
    pub kind: Cow<'static, str>,
    /// Allowed or denied.
    pub decision: Decision,
    /// Human-readable reason (the denial message for denials).
    pub reason: String,
    /// Structured detail of the action (arguments, paths, scores…), as canonical JSON.
    pub detail: Detail,
}

impl AuditEntry {
    /// Checks the size limits and the shape of `kind`. The engine calls this before appending.
    pub fn validate(&self) -> Result<(), EntryError> {
        self.check_kind_and_reason()?;
        let len = self.detail.len();
        if len > MAX_DETAIL_BYTES {
            return Err(EntryError::DetailTooLarge { len });
        }
        Ok(())
    }

    fn check_kind_and_reason(&self) -> Result<(), EntryError> {
        let k = &self.kind;
        // Kinds are short ASCII names: check bytes, and characters only when not ASCII.
        let bad_char = if k.is_ascii() {
            k.bytes().any(|b| b <= b' ' || b == 0x7f)
        } else {
            k.chars().any(|c| c.is_whitespace() || c.is_control())
        };
        if k.is_empty() || k.len() > MAX_KIND_LEN || bad_char {
            return Err(EntryError::BadKind {
                kind: k
                    .chars()
                    .take(MAX_KIND_LEN)
                    .collect::<String>()
                    .escape_debug()
                    .to_string(),
            });
        }
        if self.reason.len() > MAX_REASON_LEN {
            return Err(EntryError::ReasonTooLong {
                len: self.reason.len(),
            });
        }
        Ok(())
    }

    /// The entry as a JSON object covering every field (see the module docs).
    pub fn canonical_value(&self) -> Value {
        let opt = |s: Option<&str>| s.map_or(Value::Null, |s| Value::String(s.to_owned()));
        let mut m = Map::new();
        m.insert(
            "agent_did".into(),
            opt(self.agent_did.as_ref().map(AgentDid::as_str)),
        );
        m.insert("at".into(), Value::from(self.at.as_millis()));
        m.insert("decision".into(), Value::from(self.decision.as_str()));
        m.insert("detail".into(), self.detail.to_value());
        m.insert("kind".into(), Value::from(self.kind.as_ref()));
        m.insert("reason".into(), Value::from(self.reason.as_str()));
        m.insert("seq".into(), Value::from(self.seq));
        m.insert(
            "session_id".into(),
            opt(self.session_id.as_ref().map(SessionId::as_str)),
        );
        Value::Object(m)
    }

    /// The canonical bytes that are hashed. This is the reference implementation (through a
    /// `serde_json::Value`); [`AuditEntry::write_canonical`] writes the same bytes directly.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        canonical::to_canonical_bytes(&self.canonical_value())
    }

    /// Appends the canonical bytes of this entry to `out` (byte-for-byte those of
    /// [`AuditEntry::canonical_bytes`], without building an intermediate value) and returns the
    /// length of the encoded `detail`.
    pub fn write_canonical(&self, out: &mut String) -> usize {
        let opt = |out: &mut String, s: Option<&str>| match s {
            Some(s) => canonical::write_str_fast(out, s),
            None => out.push_str("null"),
        };
        // Keys in byte order, as the canonical form sorts them.
        out.push_str("{\"agent_did\":");
        opt(out, self.agent_did.as_ref().map(AgentDid::as_str));
        out.push_str(",\"at\":");
        push_u64(out, self.at.as_millis());
        out.push_str(",\"decision\":\"");
        out.push_str(self.decision.as_str());
        out.push_str("\",\"detail\":");
        out.push_str(self.detail.as_str());
        let detail_len = self.detail.len();
        out.push_str(",\"kind\":");
        canonical::write_str_fast(out, &self.kind);
        out.push_str(",\"reason\":");
        canonical::write_str_fast(out, &self.reason);
        out.push_str(",\"seq\":");
        push_u64(out, self.seq);
        out.push_str(",\"session_id\":");
        opt(out, self.session_id.as_ref().map(SessionId::as_str));
        out.push('}');
        detail_len
    }

    /// Validates the entry (as [`AuditEntry::validate`]) and returns its leaf hash, encoding it
    /// once into `buf` (cleared first; reuse it across calls to avoid allocating).
    pub fn checked_leaf_hash(&self, buf: &mut String) -> Result<Digest32, EntryError> {
        self.check_kind_and_reason()?;
        buf.clear();
        // Typical entries are a few hundred bytes: one allocation instead of several regrowths.
        buf.reserve(257 + self.reason.len() + self.detail.len());
        // The leaf prefix goes first, so the hash runs over one contiguous slice.
        buf.push(char::from(merkle::LEAF_PREFIX));
        let len = self.write_canonical(buf);
        if len > MAX_DETAIL_BYTES {
            return Err(EntryError::DetailTooLarge { len });
        }
        Ok(Digest32::sha256(buf.as_bytes()))
    }

    /// The Merkle leaf hash of this entry: SHA-256(0x00 ‖ canonical bytes).
    pub fn leaf_hash(&self) -> Digest32 {
        let mut buf = String::with_capacity(256);
        self.write_canonical(&mut buf);
        merkle::leaf_hash(buf.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    fn sample(seq: u64) -> AuditEntry {
        AuditEntry {
            seq,
            at: Timestamp::from_millis(1_795_669_784_123 + seq),
            session_id: Some(SessionId::new("session:s1").unwrap()),
            agent_did: Some(AgentDid::new("did:mesh:alpha").unwrap()),
            kind: "vfs.write".into(),
            decision: Decision::Allowed,
            reason: "ring 2 may write".into(),
            detail: json!({"path": "/notes.md", "bytes": 12}).into(),
        }
    }

    #[test]
    fn canonical_form_is_fixed() {
        let e = sample(0);
        assert_eq!(
            String::from_utf8(e.canonical_bytes()).unwrap(),
            r#"{"agent_did":"did:mesh:alpha","at":1795669784123,"decision":"allowed","detail":{"bytes":12,"path":"/notes.md"},"kind":"vfs.write","reason":"ring 2 may write","seq":0,"session_id":"session:s1"}"#
        );
    }

    #[test]
    fn every_serialized_field_is_hashed() {
        // If a field is added to the struct but not to `canonical_value`, this fails.
        for e in [
            sample(3),
            AuditEntry {
                session_id: None,
                agent_did: None,
                ..sample(4)
            },
        ] {
            assert_eq!(serde_json::to_value(&e).unwrap(), e.canonical_value());
        }
    }

    #[test]
    fn changing_any_field_changes_the_leaf_hash_unlike_reference() {
        let base = sample(7); // the last entry of an 8-entry log
        let h = base.leaf_hash();
        let variants = [
            AuditEntry {
                seq: 8,
                ..base.clone()
            },
            AuditEntry {
                at: Timestamp::from_millis(1),
                ..base.clone()
            },
            AuditEntry {
                session_id: None,
                ..base.clone()
            },
            AuditEntry {
                session_id: Some(SessionId::new("session:s2").unwrap()),
                ..base.clone()
            },
            // The reference never hashed the acting agent's DID.
            AuditEntry {
                agent_did: None,
                ..base.clone()
            },
            AuditEntry {
                agent_did: Some(AgentDid::new("did:mesh:beta").unwrap()),
                ..base.clone()
            },
            AuditEntry {
                kind: "vfs.delete".into(),
                ..base.clone()
            },
            AuditEntry {
                decision: Decision::Denied,
                ..base.clone()
            },
            AuditEntry {
                reason: "ring 2 may write!".into(),
                ..base.clone()
            },
            AuditEntry {
                detail: json!({"path": "/notes.md", "bytes": 13}).into(),
                ..base.clone()
            },
            AuditEntry {
                detail: Value::Null.into(),
                ..base
            },
        ];
        // The tampered entry is the LAST one of the log: its root still changes.
        let mut log: Vec<Digest32> = (0..7).map(|i| sample(i).leaf_hash()).collect();
        log.push(h);
        let root = merkle::root(&log);
        for v in variants {
            assert_ne!(v.leaf_hash(), h, "{v:?}");
            let last = log.len() - 1;
            let mut tampered = log.clone();
            tampered[last] = v.leaf_hash();
            assert_ne!(merkle::root(&tampered), root, "{v:?}");
        }
    }

    fn arb_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(Value::from),
            ".{0,12}".prop_map(Value::from),
        ];
        leaf.prop_recursive(4, 32, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::btree_map(".{0,6}", inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn fast_encoding_equals_the_reference_encoding(
            seq in any::<u64>(),
            at in any::<u64>(),
            sid in proptest::option::of("[a-z0-9:-]{1,20}"),
            agent in proptest::option::of("did:[a-z]{1,5}:[a-z0-9]{1,10}"),
            kind in ".{0,20}",
            denied in any::<bool>(),
            reason in ".{0,40}",
            detail in arb_json(),
        ) {
            let e = AuditEntry {
                seq,
                at: Timestamp::from_millis(at),
                session_id: sid.and_then(|s| SessionId::new(s).ok()),
                agent_did: agent.and_then(|s| AgentDid::new(s).ok()),
                kind: kind.into(),
                decision: if denied { Decision::Denied } else { Decision::Allowed },
                reason,
                detail: detail.into(),
            };
            let mut fast = String::new();
            let detail_len = e.write_canonical(&mut fast);
            let reference = e.canonical_bytes();
            prop_assert_eq!(fast.as_bytes(), reference.as_slice());
            prop_assert_eq!(detail_len, canonical::to_canonical_string(&e.detail.to_value()).len());
            prop_assert_eq!(e.leaf_hash(), merkle::leaf_hash(&e.canonical_bytes()));
            let mut buf = String::from("stale");
            prop_assert_eq!(e.checked_leaf_hash(&mut buf).ok(), e.validate().ok().map(|()| e.leaf_hash()));
        }
    }

    #[test]
    fn hash_survives_a_json_round_trip() {
        let mut e = sample(1);
        e.detail = json!({"σ": 0.6, "nested": [1.0, null, "é\n"], "big": u64::MAX}).into();
        let back: AuditEntry = serde_json::from_str(&serde_json::to_string(&e).unwrap()).unwrap();
        assert_eq!(back.leaf_hash(), e.leaf_hash());
    }

    #[test]
    fn validation_refuses_bad_kinds_and_oversized_fields() {
        assert!(sample(0).validate().is_ok());
        let bad_kind = AuditEntry {
            kind: "vfs write".into(),
            ..sample(0)
        };
        assert_eq!(
            bad_kind.validate().unwrap_err().to_string(),
            "audit kind `vfs write` must be 1 to 128 bytes without whitespace"
        );
        assert!(
            AuditEntry {
                kind: String::new().into(),
                ..sample(0)
            }
            .validate()
            .is_err()
        );
        assert!(matches!(
            AuditEntry {
                reason: "x".repeat(MAX_REASON_LEN + 1),
                ..sample(0)
            }
            .validate(),
            Err(EntryError::ReasonTooLong { .. })
        ));
        assert!(matches!(
            AuditEntry {
                detail: json!("x".repeat(MAX_DETAIL_BYTES)).into(),
                ..sample(0)
            }
            .validate(),
            Err(EntryError::DetailTooLarge { .. })
        ));
    }
}
