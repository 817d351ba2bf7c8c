//! Causal trace ids that encode the delegation tree.
//!
//! A [`TraceId`] is a trace (16 hex) plus the *full path* of span ids from the root span to
//! this span, written `{trace}/{root span}/{child span}/…` (8 hex per span). Because every id
//! carries its whole ancestry:
//! - [`TraceId::is_ancestor_of`] is a true lineage check — a deeper span in a sibling branch is
//!   not a descendant (the reference compared depths only; spec §9.2, §17 item 27);
//! - parsing the text form restores the depth (the reference's `from_string` reset it to 0),
//!   and `Display`/`FromStr` round-trip exactly.
//!
//! The text form differs from the reference's `trace/span/parent` (parent last): the path is
//! root first. Depth is bounded by [`MAX_DEPTH`].

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::id::IdGen;

/// Deepest allowed span (the root span has depth 0).
pub const MAX_DEPTH: usize = 64;
/// Hex characters in a trace id.
pub const TRACE_HEX_LEN: usize = 16;
/// Hex characters in a span id.
pub const SPAN_HEX_LEN: usize = 8;

/// Why a trace id could not be built or parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TraceError {
    /// A child would exceed [`MAX_DEPTH`].
    #[error("trace is already at the maximum depth {MAX_DEPTH}")]
    TooDeep,
    /// The text is not a trace id.
    #[error("invalid causal trace id `{input}`: {why}")]
    Malformed {
        /// The rejected text (shortened if long).
        input: String,
        /// What is wrong with it.
        why: &'static str,
    },
}

/// A span's position in a trace: the trace id and the span path from the root.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TraceId {
    // INVARIANT: TRACE_HEX_LEN lowercase hex characters.
    trace: String,
    // INVARIANT: 1 ≤ len ≤ MAX_DEPTH + 1; the last element is this span's id.
    path: Vec<u32>,
}

fn fresh_span(ids: &mut IdGen) -> u32 {
    u32::from_str_radix(&ids.hex(SPAN_HEX_LEN), 16).unwrap_or_default()
}

fn is_lower_hex(s: &str, len: usize) -> bool {
    s.len() == len
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

impl TraceId {
    /// The root span of a new trace.
    pub fn root(ids: &mut IdGen) -> TraceId {
        TraceId {
            trace: ids.hex(TRACE_HEX_LEN),
            path: vec![fresh_span(ids)],
        }
    }

    /// A new span delegated from this one (one level deeper).
    pub fn child(&self, ids: &mut IdGen) -> Result<TraceId, TraceError> {
        if self.depth() >= MAX_DEPTH {
            return Err(TraceError::TooDeep);
        }
        let mut path = self.path.clone();
        path.push(fresh_span(ids));
        Ok(TraceId {
            trace: self.trace.clone(),
            path,
        })
    }

    /// A new span with the same parent (for the root: another root span of the same trace).
    pub fn sibling(&self, ids: &mut IdGen) -> TraceId {
        let mut path = self.path.clone();
        let mut span = fresh_span(ids);
        // A sibling must differ from this span; retry the (2^-32) collision a few times.
        for _ in 0..4 {
            if Some(&span) != self.path.last() {
                break;
            }
            span = fresh_span(ids);
        }
        if let Some(last) = path.last_mut() {
            *last = span;
        }
        TraceId {
            trace: self.trace.clone(),
            path,
        }
    }

    /// The parent span, or `None` for a root span.
    pub fn parent(&self) -> Option<TraceId> {
        let (_, rest) = self.path.split_last()?;
        if rest.is_empty() {
            return None;
        }
        Some(TraceId {
            trace: self.trace.clone(),
            path: rest.to_vec(),
        })
    }

    /// Whether `other` descends from this span (same trace, and this span's path is a strict
    /// prefix of `other`'s).
    pub fn is_ancestor_of(&self, other: &TraceId) -> bool {
        self.trace == other.trace
            && other.path.len() > self.path.len()
            && other.path.starts_with(&self.path)
    }

    /// Distance from the root span (0 for the root).
    pub fn depth(&self) -> usize {
        self.path.len().saturating_sub(1)
    }

    /// The trace id (16 hex).
    pub fn trace(&self) -> &str {
        &self.trace
    }

    /// This span's id.
    pub fn span_id(&self) -> u32 {
        self.path.last().copied().unwrap_or_default()
    }

    /// Span ids from the root to this span.
    pub fn path(&self) -> &[u32] {
        &self.path
    }
}

impl fmt::Display for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.trace)?;
        for s in &self.path {
            write!(f, "/{s:08x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TraceId({self})")
    }
}

impl FromStr for TraceId {
    type Err = TraceError;
    fn from_str(s: &str) -> Result<Self, TraceError> {
        let bad = |why| TraceError::Malformed {
            input: s.chars().take(80).collect(),
            why,
        };
        if s.len() > TRACE_HEX_LEN + (MAX_DEPTH + 1) * (SPAN_HEX_LEN + 1) {
            return Err(bad("too long"));
        }
        let mut parts = s.split('/');
        let trace = parts.next().unwrap_or_default();
        if !is_lower_hex(trace, TRACE_HEX_LEN) {
            return Err(bad("trace must be 16 lowercase hex characters"));
        }
        let mut path = Vec::new();
        for p in parts {
            if !is_lower_hex(p, SPAN_HEX_LEN) {
                return Err(bad("each span must be 8 lowercase hex characters"));
            }
            path.push(u32::from_str_radix(p, 16).map_err(|_| bad("span is not hex"))?);
        }
        if path.is_empty() {
            return Err(bad("at least one span is required"));
        }
        if path.len() > MAX_DEPTH + 1 {
            return Err(bad("too deep"));
        }
        Ok(TraceId {
            trace: trace.to_string(),
            path,
        })
    }
}

impl TryFrom<String> for TraceId {
    type Error = TraceError;
    fn try_from(s: String) -> Result<Self, TraceError> {
        s.parse()
    }
}

impl From<TraceId> for String {
    fn from(t: TraceId) -> String {
        t.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids() -> IdGen {
        IdGen::new([9; 16])
    }

    #[test]
    fn children_and_siblings() {
        let mut g = ids();
        let root = TraceId::root(&mut g);
        assert_eq!(root.depth(), 0);
        assert_eq!(root.trace().len(), 16);
        let c = root.child(&mut g).unwrap();
        assert_eq!(c.depth(), 1);
        assert_eq!(c.trace(), root.trace());
        assert_eq!(c.parent(), Some(root.clone()));
        assert_eq!(root.parent(), None);
        let s = c.sibling(&mut g);
        assert_eq!(s.depth(), 1);
        assert_eq!(s.parent(), Some(root.clone()));
        assert_ne!(s.span_id(), c.span_id());
        assert!(root.is_ancestor_of(&c) && root.is_ancestor_of(&s));
        assert!(!c.is_ancestor_of(&s) && !c.is_ancestor_of(&c) && !c.is_ancestor_of(&root));
    }

    #[test]
    fn sibling_branch_is_not_a_descendant_unlike_reference() {
        let mut g = ids();
        let root = TraceId::root(&mut g);
        let a = root.child(&mut g).unwrap();
        let b = a.sibling(&mut g);
        let deep_in_b = b.child(&mut g).unwrap().child(&mut g).unwrap();
        // The reference said yes: same trace and deeper.
        assert!(!a.is_ancestor_of(&deep_in_b));
        assert!(b.is_ancestor_of(&deep_in_b));
        assert!(root.is_ancestor_of(&deep_in_b));
        // A different trace is never related.
        let other = TraceId::root(&mut g).child(&mut g).unwrap();
        assert!(!root.is_ancestor_of(&other));
    }

    #[test]
    fn text_round_trip_preserves_depth_unlike_reference() {
        let mut g = ids();
        let mut t = TraceId::root(&mut g);
        for _ in 0..3 {
            t = t.child(&mut g).unwrap();
        }
        let text = t.to_string();
        assert_eq!(text.split('/').count(), 5);
        let back: TraceId = text.parse().unwrap();
        assert_eq!(back, t);
        assert_eq!(back.depth(), 3);
        let json = serde_json::to_string(&t).unwrap();
        assert_eq!(json, format!("\"{text}\""));
        assert_eq!(serde_json::from_str::<TraceId>(&json).unwrap(), t);
    }

    #[test]
    fn depth_is_bounded() {
        let mut g = ids();
        let mut t = TraceId::root(&mut g);
        for _ in 0..MAX_DEPTH {
            t = t.child(&mut g).unwrap();
        }
        assert_eq!(t.depth(), MAX_DEPTH);
        assert_eq!(
            t.child(&mut g).unwrap_err().to_string(),
            "trace is already at the maximum depth 64"
        );
        let text = format!("{t}/00000000");
        assert!(text.parse::<TraceId>().is_err());
        assert_eq!(t.to_string().parse::<TraceId>().unwrap(), t);
    }

    #[test]
    fn malformed_ids_are_refused() {
        let e = "abc".parse::<TraceId>().unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid causal trace id `abc`: trace must be 16 lowercase hex characters"
        );
        let e = "0123456789abcdef".parse::<TraceId>().unwrap_err();
        assert!(e.to_string().ends_with("at least one span is required"));
        assert!("0123456789abcdef/0123456".parse::<TraceId>().is_err());
        assert!("0123456789abcdef/0123456G".parse::<TraceId>().is_err());
        assert!("0123456789ABCDEF/01234567".parse::<TraceId>().is_err());
        assert!("0123456789abcdef/01234567/".parse::<TraceId>().is_err());
        assert!("0123456789abcdef/01234567".parse::<TraceId>().is_ok());
        assert!(serde_json::from_str::<TraceId>("\"x\"").is_err());
    }

    proptest::proptest! {
        #[test]
        fn ancestry_is_prefix(seed: [u8; 16], moves in proptest::collection::vec(proptest::bool::ANY, 1..30)) {
            // Walk a random tree; every span's ancestors by `parent()` are exactly the spans
            // for which `is_ancestor_of` holds among those visited.
            let mut g = IdGen::new(seed);
            let mut cur = TraceId::root(&mut g);
            let mut all = vec![cur.clone()];
            for down in moves {
                cur = if down { cur.child(&mut g).unwrap() } else { cur.sibling(&mut g) };
                all.push(cur.clone());
            }
            let mut chain = Vec::new();
            let mut p = cur.parent();
            while let Some(x) = p { p = x.parent(); chain.push(x); }
            for x in &all {
                proptest::prop_assert_eq!(x.is_ancestor_of(&cur), chain.contains(x));
                proptest::prop_assert_eq!(x.to_string().parse::<TraceId>().unwrap(), x.clone());
            }
        }
    }
}
