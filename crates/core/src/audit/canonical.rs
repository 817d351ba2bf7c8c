//! Canonical JSON bytes for hashing.
//!
//! A hash over JSON is only meaningful if the same value always gives the same bytes. The
//! reference relied on Python's `json.dumps(sort_keys=True)` with its default separators. Our
//! canonical form is:
//!
//! - object keys sorted by Unicode code point (byte order of their UTF-8), at every depth;
//! - no whitespace: `,` between items and `:` after keys;
//! - strings as UTF-8 with only `"` and `\` and the control characters U+0000–U+001F escaped
//!   (`\b \f \n \r \t`, others as `\u00XX` in lowercase hex); everything else, including
//!   non-ASCII, is written as-is;
//! - numbers exactly as `serde_json` prints them (integers in decimal, floats in the shortest
//!   form that reads back to the same `f64`, e.g. `1.0`, `1e+20`); `serde_json` cannot hold NaN or
//!   infinities;
//! - `null`, `true`, `false` literally.
//!
//! This is close to RFC 8785 (JCS) but not identical (JCS sorts keys by UTF-16 code units and
//! prints numbers the ECMAScript way); it is stable under a JSON round trip through `serde_json`,
//! which is what lets a third party re-hash entries read from an export bundle.
//!
//! The writer uses an explicit stack, not recursion, so a deeply nested value cannot overflow
//! the call stack.

use std::fmt::Write as _;

use serde_json::Value;

/// Nesting depth up to which [`write_canonical`] recurses; deeper subtrees go through the
/// explicit-stack writer.
const FAST_DEPTH: usize = 64;

enum Item<'a> {
    Value(&'a Value),
    Raw(&'static str),
    Key(&'a str),
}

/// The canonical text of `value` (see the module docs for the rules).
pub fn to_canonical_string(value: &Value) -> String {
    let mut out = String::new();
    let mut stack = vec![Item::Value(value)];
    while let Some(item) = stack.pop() {
        match item {
            Item::Raw(s) => out.push_str(s),
            Item::Key(k) => {
                write_str(&mut out, k);
                out.push(':');
            }
            Item::Value(v) => match v {
                Value::Null => out.push_str("null"),
                Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
                Value::Number(n) => out.push_str(&n.to_string()),
                Value::String(s) => write_str(&mut out, s),
                Value::Array(items) => {
                    out.push('[');
                    stack.push(Item::Raw("]"));
                    for (i, v) in items.iter().enumerate().rev() {
                        stack.push(Item::Value(v));
                        if i > 0 {
                            stack.push(Item::Raw(","));
                        }
                    }
                }
                Value::Object(map) => {
                    out.push('{');
                    stack.push(Item::Raw("}"));
                    let mut entries: Vec<(&String, &Value)> = map.iter().collect();
                    entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
                    for (i, (k, v)) in entries.into_iter().enumerate().rev() {
                        stack.push(Item::Value(v));
                        stack.push(Item::Key(k));
                        if i > 0 {
                            stack.push(Item::Raw(","));
                        }
                    }
                }
            },
        }
    }
    out
}

/// The canonical bytes of `value` (UTF-8 of [`to_canonical_string`]).
pub fn to_canonical_bytes(value: &Value) -> Vec<u8> {
    to_canonical_string(value).into_bytes()
}

/// Appends the canonical text of `value` to `out`: the same bytes as [`to_canonical_string`]
/// (a test checks this on random values), without its per-call stack and, for objects whose
/// keys are already in order (always, with `serde_json`'s default sorted map), without sorting.
pub fn write_canonical(out: &mut String, value: &Value) {
    write_fast(out, value, 0);
}

fn write_fast(out: &mut String, value: &Value, depth: usize) {
    if depth >= FAST_DEPTH {
        out.push_str(&to_canonical_string(value));
        return;
    }
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        // Writing to a `String` cannot fail.
        Value::Number(n) => {
            let _ = write!(out, "{n}");
        }
        Value::String(s) => write_str_fast(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_fast(out, v, depth + 1);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            let mut prev: Option<&String> = None;
            let sorted = map.keys().all(|k| {
                let ok = prev.is_none_or(|p| p < k);
                prev = Some(k);
                ok
            });
            if sorted {
                for (i, (k, v)) in map.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_str_fast(out, k);
                    out.push(':');
                    write_fast(out, v, depth + 1);
                }
            } else {
                let mut entries: Vec<(&String, &Value)> = map.iter().collect();
                entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
                for (i, (k, v)) in entries.into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_str_fast(out, k);
                    out.push(':');
                    write_fast(out, v, depth + 1);
                }
            }
            out.push('}');
        }
    }
}

/// [`write_str`] copying runs of characters that need no escape in one go.
pub(crate) fn write_str_fast(out: &mut String, s: &str) {
    if !needs_escape(s.as_bytes()) {
        out.reserve(s.len() + 2);
        out.push('"');
        out.push_str(s);
        out.push('"');
    } else {
        write_str(out, s);
    }
}

/// Whether any byte of `b` is a control character, `"` or `\\` (what JSON must escape). Eight
/// bytes at a time (SWAR): strings here are ids, kinds and reasons, checked on every append.
fn needs_escape(b: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // A byte of `w` is below 0x20, or zero after xor with `"`/`\\`, iff its high bit is set here
    // (the classic has-less/has-zero tests; a byte ≥ 0x80 can set a high bit on its own, so the
    // `!w` mask keeps only bytes that were below 0x80).
    let flag = |w: u64| {
        let below = w.wrapping_sub(ONES * 0x20);
        let quote = (w ^ (ONES * u64::from(b'"'))).wrapping_sub(ONES);
        let slash = (w ^ (ONES * u64::from(b'\\'))).wrapping_sub(ONES);
        (below | quote | slash) & !w & HIGH != 0
    };
    let mut chunks = b.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        if flag(u64::from_le_bytes(w)) {
            // The tests can report false positives across byte borrows: confirm bytewise.
            if c.iter().any(|&x| x < 0x20 || x == b'"' || x == b'\\') {
                return true;
            }
        }
    }
    chunks
        .remainder()
        .iter()
        .any(|&x| x < 0x20 || x == b'"' || x == b'\\')
}

fn write_str(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => {
                let b = u32::from(c) as usize;
                out.push_str("\\u00");
                out.push(char::from(HEX[b >> 4]));
                out.push(char::from(HEX[b & 15]));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_word_at_a_time_escape_check_agrees_with_the_bytewise_one() {
        let naive = |b: &[u8]| b.iter().any(|&x| x < 0x20 || x == b'"' || x == b'\\');
        for len in 0..20 {
            for fill in [b'a', 0x7f, 0xc3, 0xff, 0x20, 0x21, 0x23, 0x5b, 0x5d] {
                for at in 0..len {
                    for byte in 0..=255u8 {
                        let mut v = vec![fill; len];
                        v[at] = byte;
                        assert_eq!(needs_escape(&v), naive(&v), "{v:?}");
                    }
                }
                assert_eq!(needs_escape(&vec![fill; len]), naive(&vec![fill; len]));
            }
        }
    }

    #[test]
    fn sorts_keys_at_every_depth_without_whitespace() {
        let v = json!({"b": 1, "a": {"z": [3, {"y": null, "x": true}], "c": "s"}});
        assert_eq!(
            to_canonical_string(&v),
            r#"{"a":{"c":"s","z":[3,{"x":true,"y":null}]},"b":1}"#
        );
    }

    #[test]
    fn escapes_only_what_json_requires() {
        let v = json!([
            "q\"b\\n\n\t\u{1}é😀",
            1.5,
            -0,
            1e20,
            10_000_000_000u64,
            false
        ]);
        assert_eq!(
            to_canonical_string(&v),
            "[\"q\\\"b\\\\n\\n\\t\\u0001é😀\",1.5,0,1e+20,10000000000,false]"
        );
        assert_eq!(to_canonical_string(&json!({})), "{}");
        assert_eq!(to_canonical_string(&json!([])), "[]");
    }

    #[test]
    fn is_stable_under_a_json_round_trip() {
        let v = json!({"k": [1.0, 0.1, -2.5e-8, u64::MAX, i64::MIN, "\u{7f}\u{1f}"], "é": {}});
        let text = to_canonical_string(&v);
        let back: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(to_canonical_string(&back), text);
    }

    #[test]
    fn fast_writer_matches_the_reference_writer() {
        let mut v =
            json!({"b": [1, 2.5, -3, u64::MAX, "q\"\\\n\u{1}é"], "a": {"z": null, "": true}});
        for _ in 0..100 {
            v = json!({"n": v, "a": [v.clone()]});
            let mut out = String::new();
            write_canonical(&mut out, &v);
            assert_eq!(out, to_canonical_string(&v));
            if out.len() > 1 << 20 {
                break;
            }
        }
        let mut deep = json!({"k": "v"});
        for _ in 0..200 {
            deep = json!({"d": [deep]});
        }
        let mut out = String::new();
        write_canonical(&mut out, &deep);
        assert_eq!(out, to_canonical_string(&deep));
    }

    #[test]
    fn deep_nesting_does_not_overflow_the_stack() {
        let mut v = json!(0);
        for _ in 0..10_000 {
            v = Value::Array(vec![v]);
        }
        let s = to_canonical_string(&v);
        assert_eq!(s.len(), 20_001);
        // Drop iteratively too: serde_json's own Drop recurses.
        let mut cur = v;
        while let Value::Array(mut inner) = cur {
            cur = inner.pop().unwrap_or(Value::Null);
        }
    }
}
