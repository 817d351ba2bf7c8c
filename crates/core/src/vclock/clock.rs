//! The vector clock itself: one counter per agent, compared component-wise.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::id::AgentDid;

use super::err::ClockError;

/// Most agents one clock may hold a counter for.
///
/// [`VectorClock::tick`] refuses to add a counter for a new agent beyond this bound, and
/// deserialisation refuses a clock with more entries. [`VectorClock::merge`] never drops
/// causality information, so the union of two unrelated clocks can exceed the bound; clocks kept
/// by one [`super::ClockTable`] cannot, because the table admits at most
/// [`super::MAX_TRACKED_AGENTS`] (= this bound) distinct agents and only those agents tick.
pub const MAX_CLOCK_ENTRIES: usize = 1024;

/// How two vector clocks relate causally.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClockOrder {
    /// Every counter is the same (missing counters are 0). Not "concurrent", unlike the reference.
    Equal,
    /// `self` happened before `other`: every counter ≤, at least one <.
    Before,
    /// `self` happened after `other`: every counter ≥, at least one >.
    After,
    /// Neither saw the other: some counter is < and another is >.
    Concurrent,
}

/// A map agent → counter; a missing agent counts as 0.
///
/// Used to decide whether the writer of a path has seen the path's latest version.
#[derive(Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "BTreeMap<AgentDid, u64>", into = "BTreeMap<AgentDid, u64>")]
pub struct VectorClock {
    // INVARIANT: no entry is 0 (a zero counter is stored as a missing key), so derived equality
    // is causal equality.
    // INVARIANT: `tick` never grows the map beyond MAX_CLOCK_ENTRIES.
    entries: BTreeMap<AgentDid, u64>,
}

impl VectorClock {
    /// The empty clock: nothing has happened yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The counter of `agent` (0 if absent).
    pub fn get(&self, agent: &AgentDid) -> u64 {
        self.entries.get(agent).copied().unwrap_or(0)
    }

    /// Number of agents with a non-zero counter.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True if every counter is 0.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The non-zero counters in agent order.
    pub fn iter(&self) -> impl Iterator<Item = (&AgentDid, u64)> {
        self.entries.iter().map(|(a, n)| (a, *n))
    }

    /// Records one event of `agent` and returns its new counter.
    ///
    /// Refuses a new agent once the clock holds [`MAX_CLOCK_ENTRIES`] counters, and a counter that
    /// would overflow.
    pub fn tick(&mut self, agent: &AgentDid) -> Result<u64, ClockError> {
        if let Some(n) = self.entries.get_mut(agent) {
            *n = n
                .checked_add(1)
                .ok_or_else(|| ClockError::CounterOverflow {
                    agent: agent.clone(),
                })?;
            return Ok(*n);
        }
        if self.entries.len() >= MAX_CLOCK_ENTRIES {
            return Err(ClockError::TooManyAgents {
                limit: MAX_CLOCK_ENTRIES,
            });
        }
        self.entries.insert(agent.clone(), 1);
        Ok(1)
    }

    /// The least clock that both `self` and `other` happened before or equal: the component-wise
    /// maximum. Commutative, associative and idempotent.
    pub fn merge(&self, other: &VectorClock) -> VectorClock {
        let mut out = self.clone();
        out.merge_in(other);
        out
    }

    /// In-place [`merge`](Self::merge): `self := self ⊔ other`.
    pub fn merge_in(&mut self, other: &VectorClock) {
        for (agent, &n) in &other.entries {
            let slot = self.entries.entry(agent.clone()).or_insert(0);
            *slot = (*slot).max(n);
        }
    }

    /// How `self` relates to `other` causally.
    pub fn compare(&self, other: &VectorClock) -> ClockOrder {
        let mut less = false;
        let mut greater = false;
        let keys = self.entries.keys().chain(other.entries.keys());
        for agent in keys {
            match self.get(agent).cmp(&other.get(agent)) {
                Ordering::Less => less = true,
                Ordering::Greater => greater = true,
                Ordering::Equal => {}
            }
            if less && greater {
                return ClockOrder::Concurrent;
            }
        }
        match (less, greater) {
            (false, false) => ClockOrder::Equal,
            (true, false) => ClockOrder::Before,
            (false, true) => ClockOrder::After,
            (true, true) => ClockOrder::Concurrent,
        }
    }

    /// True if `self` strictly happened before `other`.
    pub fn happens_before(&self, other: &VectorClock) -> bool {
        self.compare(other) == ClockOrder::Before
    }

    /// True if `self` has seen everything `other` has: every counter ≥.
    pub fn dominates_or_equals(&self, other: &VectorClock) -> bool {
        matches!(self.compare(other), ClockOrder::After | ClockOrder::Equal)
    }

    /// True if neither clock has seen the other. Equal clocks are *not* concurrent.
    pub fn is_concurrent(&self, other: &VectorClock) -> bool {
        self.compare(other) == ClockOrder::Concurrent
    }
}

impl TryFrom<BTreeMap<AgentDid, u64>> for VectorClock {
    type Error = ClockError;

    /// Rebuilds a clock from snapshot data: drops zero counters, refuses too many agents.
    fn try_from(mut entries: BTreeMap<AgentDid, u64>) -> Result<Self, ClockError> {
        entries.retain(|_, n| *n > 0);
        if entries.len() > MAX_CLOCK_ENTRIES {
            return Err(ClockError::TooManyAgents {
                limit: MAX_CLOCK_ENTRIES,
            });
        }
        Ok(VectorClock { entries })
    }
}

impl From<VectorClock> for BTreeMap<AgentDid, u64> {
    fn from(c: VectorClock) -> Self {
        c.entries
    }
}

/// Compact form `{did:a: 2, did:b: 1}`, used in error messages.
impl fmt::Display for VectorClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (i, (agent, n)) in self.entries.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{agent}: {n}")?;
        }
        f.write_str("}")
    }
}

impl fmt::Debug for VectorClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VectorClock{self}")
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn did(s: &str) -> AgentDid {
        AgentDid::new(s).unwrap()
    }

    fn clock(pairs: &[(&str, u64)]) -> VectorClock {
        let map: BTreeMap<AgentDid, u64> = pairs.iter().map(|(a, n)| (did(a), *n)).collect();
        VectorClock::try_from(map).unwrap()
    }

    #[test]
    fn tick_and_get() {
        let mut c = VectorClock::new();
        assert_eq!(c.get(&did("a")), 0);
        assert_eq!(c.tick(&did("a")).unwrap(), 1);
        assert_eq!(c.tick(&did("a")).unwrap(), 2);
        assert_eq!(c.get(&did("a")), 2);
        assert_eq!(c.get(&did("b")), 0);
        assert_eq!(c.len(), 1);
    }

    #[test]
    fn equal_clocks_are_equal_not_concurrent_unlike_reference() {
        let a = clock(&[("a", 1), ("b", 2)]);
        let b = clock(&[("b", 2), ("a", 1), ("c", 0)]);
        assert_eq!(a, b, "missing keys count as zero");
        assert_eq!(a.compare(&b), ClockOrder::Equal);
        assert!(!a.is_concurrent(&b));
        assert!(!a.happens_before(&b));
        assert!(a.dominates_or_equals(&b));
        assert_eq!(
            VectorClock::new().compare(&VectorClock::new()),
            ClockOrder::Equal
        );
    }

    #[test]
    fn orders() {
        let a = clock(&[("a", 1)]);
        let ab = clock(&[("a", 1), ("b", 1)]);
        let b = clock(&[("b", 1)]);
        assert_eq!(a.compare(&ab), ClockOrder::Before);
        assert_eq!(ab.compare(&a), ClockOrder::After);
        assert_eq!(a.compare(&b), ClockOrder::Concurrent);
        assert!(a.happens_before(&ab));
        assert!(ab.dominates_or_equals(&a));
        assert!(!a.dominates_or_equals(&b));
        assert!(a.is_concurrent(&b));
        assert_eq!(VectorClock::new().compare(&a), ClockOrder::Before);
    }

    #[test]
    fn display_is_compact() {
        assert_eq!(clock(&[("b", 2), ("a", 1)]).to_string(), "{a: 1, b: 2}");
        assert_eq!(VectorClock::new().to_string(), "{}");
    }

    #[test]
    fn tick_refuses_agent_beyond_bound() {
        let mut c = VectorClock::new();
        for i in 0..MAX_CLOCK_ENTRIES {
            c.tick(&did(&format!("did:a:{i}"))).unwrap();
        }
        let err = c.tick(&did("did:a:extra")).unwrap_err();
        assert_eq!(
            err,
            ClockError::TooManyAgents {
                limit: MAX_CLOCK_ENTRIES
            }
        );
        // Existing agents still tick.
        assert_eq!(c.tick(&did("did:a:0")).unwrap(), 2);
    }

    #[test]
    fn tick_refuses_overflow() {
        let mut c = clock(&[("a", u64::MAX)]);
        assert!(matches!(
            c.tick(&did("a")),
            Err(ClockError::CounterOverflow { .. })
        ));
        assert_eq!(c.get(&did("a")), u64::MAX);
    }

    #[test]
    fn serde_round_trip_and_validation() {
        let c = clock(&[("a", 3), ("b", 1)]);
        let json = serde_json::to_string(&c).unwrap();
        assert_eq!(json, r#"{"a":3,"b":1}"#);
        let back: VectorClock = serde_json::from_str(&json).unwrap();
        assert_eq!(back, c);
        let zero: VectorClock = serde_json::from_str(r#"{"a":0}"#).unwrap();
        assert!(zero.is_empty());
        let big: BTreeMap<String, u64> = (0..=MAX_CLOCK_ENTRIES)
            .map(|i| (format!("did:a:{i}"), 1))
            .collect();
        let text = serde_json::to_string(&big).unwrap();
        assert!(serde_json::from_str::<VectorClock>(&text).is_err());
    }

    fn arb_clock() -> impl Strategy<Value = VectorClock> {
        proptest::collection::btree_map(
            prop_oneof![Just("a"), Just("b"), Just("c"), Just("d")],
            0u64..4,
            0..4,
        )
        .prop_map(|m| {
            let map: BTreeMap<AgentDid, u64> = m.into_iter().map(|(a, n)| (did(a), n)).collect();
            VectorClock::try_from(map).unwrap()
        })
    }

    proptest! {
        #[test]
        fn merge_is_commutative(a in arb_clock(), b in arb_clock()) {
            prop_assert_eq!(a.merge(&b), b.merge(&a));
        }

        #[test]
        fn merge_is_associative(a in arb_clock(), b in arb_clock(), c in arb_clock()) {
            prop_assert_eq!(a.merge(&b).merge(&c), a.merge(&b.merge(&c)));
        }

        #[test]
        fn merge_is_idempotent(a in arb_clock()) {
            prop_assert_eq!(a.merge(&a), a);
        }

        #[test]
        fn merge_is_an_upper_bound(a in arb_clock(), b in arb_clock()) {
            let m = a.merge(&b);
            prop_assert!(m.dominates_or_equals(&a));
            prop_assert!(m.dominates_or_equals(&b));
            prop_assert!(matches!(a.compare(&m), ClockOrder::Before | ClockOrder::Equal));
        }

        #[test]
        fn compare_is_antisymmetric(a in arb_clock(), b in arb_clock()) {
            let expected = match a.compare(&b) {
                ClockOrder::Equal => ClockOrder::Equal,
                ClockOrder::Before => ClockOrder::After,
                ClockOrder::After => ClockOrder::Before,
                ClockOrder::Concurrent => ClockOrder::Concurrent,
            };
            prop_assert_eq!(b.compare(&a), expected);
            prop_assert_eq!(a.compare(&b) == ClockOrder::Equal, a == b);
        }

        #[test]
        fn tick_moves_strictly_forward(a in arb_clock()) {
            let mut t = a.clone();
            t.tick(&did("a")).unwrap();
            prop_assert!(a.happens_before(&t));
        }
    }
}
