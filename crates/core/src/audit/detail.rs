//! Structured details of audit entries and payloads of events, held as canonical JSON text.
//!
//! Why this exists: every governed action appends an audit entry and emits events, so their
//! details are on the hottest path of the engine. Building a `serde_json::Value` tree for each
//! (a map node and a string per key and value) and then encoding it again for the hash cost
//! more than the hash itself. A [`Detail`] is written once, straight into its canonical form
//! (see [`crate::audit::canonical`]), by the [`detail!`](crate::detail) macro; hashing copies
//! its text, and only readers (API, export) ever parse it back.
//!
//! The macro checks at compile time that keys are written in canonical (byte) order and need no
//! escaping, so a hand-written detail can never differ from the canonical encoding of the same
//! value; a test checks the writers against that encoding for every value type.

use std::collections::BTreeSet;
use std::fmt;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::audit::canonical;
use crate::id::{ActionId, AgentDid, RecordId, SagaId, SessionId, StepId};
use crate::score::Score;
use crate::time::Timestamp;

/// Canonical JSON text of a detail or payload (an object for everything the engine writes).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Detail(String);

impl Detail {
    /// `{}`.
    pub fn empty() -> Self {
        Detail(String::from("{}"))
    }

    /// The canonical encoding of `value`.
    pub fn from_value(value: &Value) -> Self {
        let mut out = String::new();
        canonical::write_canonical(&mut out, value);
        Detail(out)
    }

    /// The canonical JSON text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Length of the canonical text in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the text is empty (never, for a detail built by this module).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The detail as a JSON value (parsed; for readers, not for the hot path).
    pub fn to_value(&self) -> Value {
        serde_json::from_str(&self.0).unwrap_or(Value::Null)
    }

    /// The value of top-level field `key`, if the detail is an object that has it.
    pub fn get(&self, key: &str) -> Option<Value> {
        match self.to_value() {
            Value::Object(mut m) => m.remove(key),
            _ => None,
        }
    }

    /// This object with field `key` set to `value`, still canonical: the field is spliced in at
    /// its sorted place without parsing the rest. (A detail that is not an object, or whose
    /// top-level keys need escaping, or already has `key`, goes through a JSON value instead.)
    pub fn with_field<T: JsonField + ?Sized>(&self, key: &'static str, value: &T) -> Detail {
        let mut v = String::with_capacity(16);
        value.write_json(&mut v);
        let Some(at) = splice_point(&self.0, key) else {
            let mut map = match self.to_value() {
                Value::Object(m) => m,
                other => serde_json::Map::from_iter([("value".to_string(), other)]),
            };
            map.insert(
                key.to_string(),
                serde_json::from_str(&v).unwrap_or(Value::Null),
            );
            return Detail::from_value(&Value::Object(map));
        };
        let (head, tail) = self.0.split_at(at);
        let mut out = String::with_capacity(self.0.len() + key.len() + v.len() + 4);
        out.push_str(head);
        // `head` ends with `{` or `,` when `tail` starts with a key; with the last value when
        // `tail` is the closing `}`.
        let last = tail.starts_with('}');
        if last && !head.ends_with('{') {
            out.push(',');
        }
        out.push('"');
        out.push_str(key);
        out.push_str("\":");
        out.push_str(&v);
        if !last {
            out.push(',');
        }
        out.push_str(tail);
        Detail(out)
    }

    /// Wraps text already in canonical form (written by [`ObjectWriter`]).
    fn from_canonical(text: String) -> Self {
        Detail(text)
    }
}

impl Default for Detail {
    fn default() -> Self {
        Detail::empty()
    }
}

impl From<Value> for Detail {
    fn from(v: Value) -> Self {
        Detail::from_value(&v)
    }
}

impl fmt::Debug for Detail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for Detail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for Detail {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_value().serialize(s)
    }
}

impl<'de> Deserialize<'de> for Detail {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Value::deserialize(d).map(|v| Detail::from_value(&v))
    }
}

/// A value that can be written as canonical JSON directly (no intermediate `Value`).
pub trait JsonField {
    /// Appends the canonical JSON of `self` to `out`.
    fn write_json(&self, out: &mut String);
}

impl<T: JsonField + ?Sized> JsonField for &T {
    fn write_json(&self, out: &mut String) {
        (**self).write_json(out);
    }
}

impl JsonField for str {
    fn write_json(&self, out: &mut String) {
        canonical::write_str_fast(out, self);
    }
}

impl JsonField for String {
    fn write_json(&self, out: &mut String) {
        canonical::write_str_fast(out, self);
    }
}

impl JsonField for bool {
    fn write_json(&self, out: &mut String) {
        out.push_str(if *self { "true" } else { "false" });
    }
}

macro_rules! unsigned_field {
    ($($t:ty),*) => {$(
        impl JsonField for $t {
            fn write_json(&self, out: &mut String) {
                push_u64(out, u64::from(*self));
            }
        }
    )*};
}
unsigned_field!(u8, u16, u32, u64);

impl JsonField for usize {
    fn write_json(&self, out: &mut String) {
        push_u64(out, *self as u64);
    }
}

impl JsonField for i64 {
    fn write_json(&self, out: &mut String) {
        if *self < 0 {
            out.push('-');
        }
        push_u64(out, self.unsigned_abs());
    }
}

impl JsonField for f64 {
    /// As `serde_json` prints it (shortest round-trip form); a non-finite value is `null`.
    fn write_json(&self, out: &mut String) {
        match serde_json::Number::from_f64(*self) {
            Some(n) => {
                let _ = write!(out, "{n}");
            }
            None => out.push_str("null"),
        }
    }
}

impl JsonField for Score {
    fn write_json(&self, out: &mut String) {
        self.get().write_json(out);
    }
}

macro_rules! id_field {
    ($($t:ty),*) => {$(
        impl JsonField for $t {
            fn write_json(&self, out: &mut String) {
                canonical::write_str_fast(out, self.as_str());
            }
        }
    )*};
}
id_field!(AgentDid, SessionId, SagaId, StepId, ActionId, RecordId);

impl<T: JsonField> JsonField for Option<T> {
    fn write_json(&self, out: &mut String) {
        match self {
            Some(v) => v.write_json(out),
            None => out.push_str("null"),
        }
    }
}

/// Writes the items of `items` as a JSON array.
fn write_array<'a, T: JsonField + 'a>(out: &mut String, items: impl Iterator<Item = &'a T>) {
    out.push('[');
    for (i, v) in items.enumerate() {
        if i > 0 {
            out.push(',');
        }
        v.write_json(out);
    }
    out.push(']');
}

impl<T: JsonField> JsonField for [T] {
    fn write_json(&self, out: &mut String) {
        write_array(out, self.iter());
    }
}

impl<T: JsonField, const N: usize> JsonField for [T; N] {
    fn write_json(&self, out: &mut String) {
        self.as_slice().write_json(out);
    }
}

impl<T: JsonField> JsonField for Vec<T> {
    fn write_json(&self, out: &mut String) {
        self.as_slice().write_json(out);
    }
}

impl JsonField for Value {
    fn write_json(&self, out: &mut String) {
        canonical::write_canonical(out, self);
    }
}

impl JsonField for Detail {
    fn write_json(&self, out: &mut String) {
        out.push_str(&self.0);
    }
}

impl JsonField for Timestamp {
    /// Milliseconds since the epoch, as `Timestamp` serializes.
    fn write_json(&self, out: &mut String) {
        push_u64(out, self.as_millis());
    }
}

impl<T: JsonField> JsonField for BTreeSet<T> {
    fn write_json(&self, out: &mut String) {
        write_array(out, self.iter());
    }
}

/// Domain types written through their `Serialize` form (rare in details, or nested records).
macro_rules! via_serde {
    ($($t:ty),* $(,)?) => {$(
        impl JsonField for $t {
            fn write_json(&self, out: &mut String) {
                Ser(self).write_json(out);
            }
        }
    )*};
}
via_serde!(
    crate::liability::shapley::AgentLiability,
    crate::liability::slash::VoucherClip,
    crate::liability::quarantine::QuarantineReason,
    crate::ring::breach::BreachSeverity,
    crate::security::kill::KillReason,
    crate::security::kill::HandoffStatus,
    crate::security::kill::StepHandoff,
    crate::saga::SagaState,
);

impl JsonField for crate::session::SessionConfig {
    /// Every field, as `serde` writes it (a test checks this), without going through a value:
    /// it is audited on every session creation.
    fn write_json(&self, out: &mut String) {
        let d = crate::detail! {
            "consistency_mode": self.consistency_mode.as_str(),
            "enable_audit": self.enable_audit,
            "max_duration_seconds": self.max_duration_seconds,
            "max_participants": self.max_participants,
            "min_sigma_eff": self.min_sigma_eff,
        };
        out.push_str(d.as_str());
    }
}

impl JsonField for crate::vfs::EditOp {
    fn write_json(&self, out: &mut String) {
        use crate::vfs::EditOp as E;
        out.push_str(match self {
            E::Create => "\"create\"",
            E::Update => "\"update\"",
            E::Delete => "\"delete\"",
            E::Permission => "\"permission\"",
            E::Restore => "\"restore\"",
            E::Purge => "\"purge\"",
        });
    }
}

/// Any `Serialize` value, written through its JSON value (the slow path, for rare or nested
/// structures such as a session's configuration).
#[derive(Debug)]
pub struct Ser<'a, T: Serialize + ?Sized>(pub &'a T);

impl<T: Serialize + ?Sized> Ser<'_, T> {
    /// The value as a detail of its own.
    pub fn to_detail(&self) -> Detail {
        let mut out = String::new();
        self.write_json(&mut out);
        Detail(out)
    }
}

impl<T: Serialize + ?Sized> JsonField for Ser<'_, T> {
    fn write_json(&self, out: &mut String) {
        match serde_json::to_value(self.0) {
            Ok(v) => canonical::write_canonical(out, &v),
            Err(_) => out.push_str("null"),
        }
    }
}

/// Writes one JSON object field by field, in the order given (the [`detail!`](crate::detail)
/// macro checks that order at compile time).
#[derive(Debug)]
pub struct ObjectWriter {
    out: String,
}

impl Default for ObjectWriter {
    fn default() -> Self {
        Self::new()
    }
}

impl ObjectWriter {
    /// An empty object.
    pub fn new() -> Self {
        let mut out = String::with_capacity(96);
        out.push('{');
        ObjectWriter { out }
    }

    /// Appends `"key":value`. `key` must need no JSON escaping (the macro checks this).
    pub fn field<T: JsonField + ?Sized>(&mut self, key: &str, value: &T) {
        if self.out.len() > 1 {
            self.out.push(',');
        }
        self.out.push('"');
        self.out.push_str(key);
        self.out.push_str("\":");
        value.write_json(&mut self.out);
    }

    /// The finished object.
    pub fn finish(mut self) -> Detail {
        self.out.push('}');
        Detail::from_canonical(self.out)
    }
}

/// Whether `keys` are strictly increasing in byte order and each is 1–64 bytes of
/// `[A-Za-z0-9_]` (so it needs no escaping). Evaluated at compile time by [`detail!`](crate::detail).
pub const fn keys_in_order(keys: &[&str]) -> bool {
    let mut i = 0;
    while i < keys.len() {
        let k = keys[i].as_bytes();
        if k.is_empty() || k.len() > 64 {
            return false;
        }
        let mut j = 0;
        while j < k.len() {
            let c = k[j];
            if !(c.is_ascii_alphanumeric() || c == b'_') {
                return false;
            }
            j += 1;
        }
        if i > 0 && !bytes_less(keys[i - 1].as_bytes(), k) {
            return false;
        }
        i += 1;
    }
    true
}

const fn bytes_less(a: &[u8], b: &[u8]) -> bool {
    let mut i = 0;
    while i < a.len() && i < b.len() {
        if a[i] != b[i] {
            return a[i] < b[i];
        }
        i += 1;
    }
    a.len() < b.len()
}

/// Builds a [`Detail`] object: `detail!{ "path": path, "version": v }`. Keys must be string
/// literals in byte order (checked at compile time); values implement [`JsonField`] (wrap any
/// other `Serialize` value in [`Ser`]).
#[macro_export]
macro_rules! detail {
    () => { $crate::audit::detail::Detail::empty() };
    ($($key:literal : $val:expr),+ $(,)?) => {{
        const _: () = assert!(
            $crate::audit::detail::keys_in_order(&[$($key),+]),
            "detail! keys must be plain [A-Za-z0-9_] literals in byte order"
        );
        let mut w = $crate::audit::detail::ObjectWriter::new();
        $( w.field($key, &$val); )+
        w.finish()
    }};
}

/// Where `key` belongs among the top-level keys of canonical object text `text`: the byte
/// index just after the `{` or `,` that precedes the first greater key (or before the closing
/// `}`). `None` if `text` is not an object, a top-level key contains an escape, or `key` is
/// already present.
fn splice_point(text: &str, key: &str) -> Option<usize> {
    let b = text.as_bytes();
    if b.first() != Some(&b'{') || b.last() != Some(&b'}') {
        return None;
    }
    let mut i = 1;
    if b.get(i) == Some(&b'}') {
        return Some(1);
    }
    loop {
        // At the start of a key: `"name":value` then `,` or `}`.
        if b.get(i) != Some(&b'"') {
            return None;
        }
        let start = i + 1;
        let len = b.get(start..)?.iter().position(|&c| c == b'"')?;
        let name = b.get(start..start + len)?;
        if name.contains(&b'\\') {
            return None;
        }
        match name.cmp(key.as_bytes()) {
            std::cmp::Ordering::Greater => return Some(i),
            std::cmp::Ordering::Equal => return None,
            std::cmp::Ordering::Less => {}
        }
        // Skip `":` and the value, to the `,` or `}` at depth 0.
        let mut j = start + len + 2;
        let (mut depth, mut in_str) = (0usize, false);
        loop {
            let c = *b.get(j)?;
            if in_str {
                match c {
                    b'\\' => j += 1,
                    b'"' => in_str = false,
                    _ => {}
                }
            } else {
                match c {
                    b'"' => in_str = true,
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' if depth > 0 => depth -= 1,
                    b'}' => return Some(j),
                    b',' if depth == 0 => break,
                    _ => {}
                }
            }
            j += 1;
        }
        i = j + 1;
    }
}

/// Appends `n` in decimal.
pub(crate) fn push_u64(out: &mut String, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        // INVARIANT: `n % 10 < 10`, so the digit is ASCII; 20 digits hold any u64.
        if let Some(d) = digits.get_mut(i) {
            *d = b'0' + (n % 10) as u8;
        }
        n /= 10;
        if n == 0 || i == 0 {
            break;
        }
    }
    for &d in digits.get(i..).unwrap_or(&[]) {
        out.push(char::from(d));
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    #[test]
    fn macro_writes_the_canonical_encoding_of_the_same_value() {
        let sid = SessionId::new("session:é\"1").unwrap();
        let agent = AgentDid::new("did:mesh:a").unwrap();
        let d = crate::detail! {
            "agent": agent,
            "count": 3usize,
            "id": Some(sid),
            "missing": None::<String>,
            "nested": crate::detail!{ "a": true, "b": -5i64 },
            "paths": vec!["/a".to_string(), "/b\n".to_string()],
            "score": Score::clamped(0.6),
            "sigma": 1.0f64,
            "state": Ser(&crate::ring::Ring::Standard),
            "value": json!({"z": 1, "y": [null, 2.5]}),
        };
        let same = json!({
            "agent": "did:mesh:a", "count": 3, "id": "session:é\"1", "missing": null,
            "nested": {"a": true, "b": -5}, "paths": ["/a", "/b\n"], "score": 0.6,
            "sigma": 1.0, "state": 2, "value": {"y": [null, 2.5], "z": 1},
        });
        assert_eq!(d.as_str(), canonical::to_canonical_string(&same));
        assert_eq!(d, Detail::from_value(&same));
        assert_eq!(d.to_value(), same);
        assert_eq!(d.get("count"), Some(json!(3)));
        assert_eq!(crate::detail! {}.as_str(), "{}");
    }

    #[test]
    fn hand_written_domain_writers_match_serde() {
        use crate::session::{ConsistencyMode, SessionConfig};
        use crate::vfs::EditOp;
        let config = SessionConfig {
            consistency_mode: ConsistencyMode::Strong,
            min_sigma_eff: Score::clamped(0.7),
            ..SessionConfig::default()
        };
        let ops = [
            EditOp::Create,
            EditOp::Update,
            EditOp::Delete,
            EditOp::Permission,
            EditOp::Restore,
            EditOp::Purge,
        ];
        let d = crate::detail! { "config": config, "ops": ops };
        let want = json!({ "config": config, "ops": ops });
        assert_eq!(d, Detail::from_value(&want));
    }

    #[test]
    fn key_order_and_shape_are_checked() {
        assert!(keys_in_order(&["a", "b", "b_c", "ba", "z"]));
        assert!(!keys_in_order(&["b", "a"]));
        assert!(!keys_in_order(&["a", "a"]));
        assert!(!keys_in_order(&["a b"]));
        assert!(!keys_in_order(&["é"]));
        assert!(!keys_in_order(&[""]));
        // Upper case sorts before lower case in byte order.
        assert!(keys_in_order(&["Z", "a"]));
    }

    #[test]
    fn serde_round_trip_keeps_the_canonical_text() {
        let d = crate::detail! { "b": 1u64, "c": "x" };
        let text = serde_json::to_string(&d).unwrap();
        assert_eq!(text, r#"{"b":1,"c":"x"}"#);
        let back: Detail = serde_json::from_str(r#"{ "c" : "x", "b" : 1 }"#).unwrap();
        assert_eq!(back, d);
    }

    #[test]
    fn with_field_splices_at_the_sorted_place() {
        let base = json!({"b": {"x": [1, "}"]}, "d": "q\"", "f": null});
        for key in ["a", "c", "e", "g", "d"] {
            let spliced = Detail::from_value(&base).with_field(key, &7u64);
            let mut want = base.clone();
            want[key] = json!(7);
            assert_eq!(spliced, Detail::from_value(&want), "{key}");
        }
        assert_eq!(
            crate::detail! {}.with_field("k", "v").as_str(),
            r#"{"k":"v"}"#
        );
        let not_object = Detail::from_value(&json!("allowed")).with_field("code", "x");
        assert_eq!(
            not_object.to_value(),
            json!({"code": "x", "value": "allowed"})
        );
        let escaped = Detail::from_value(&json!({"a\"": 1})).with_field("b", &2u64);
        assert_eq!(escaped.to_value(), json!({"a\"": 1, "b": 2}));
    }

    proptest! {
        #[test]
        fn scalar_writers_match_the_canonical_encoding(
            f in any::<f64>(), u in any::<u64>(), i in any::<i64>(), s in ".{0,16}",
        ) {
            let d = crate::detail! { "f": f, "i": i, "s": s, "u": u };
            let v = json!({ "f": serde_json::Number::from_f64(f), "i": i, "s": s, "u": u });
            prop_assert_eq!(d.as_str(), canonical::to_canonical_string(&v));
        }
    }
}
