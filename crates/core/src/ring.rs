//! Execution rings: privilege levels derived from an agent's effective trust score σ_eff.
//!
//! Ring 0 (root) is the most privileged, ring 3 (sandbox) the least. One threshold rule,
//! [`Ring::from_sigma`], is used both to *assign* a ring and to *check* an action, so the two can
//! never disagree (the reference assigned with `σ > t` but checked with `σ ≥ t`). Here every
//! threshold is inclusive: σ_eff = 0.60 is ring 2.
//!
//! Submodules hold the machinery around rings: the action classifier, the enforcer that gates
//! every action, elevation ("sudo with TTL") and inheritance, and the breach detector.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::score::Score;

/// σ_eff at or above which an agent may hold ring 1, given consensus.
pub const RING_1_THRESHOLD: f64 = 0.95;
/// σ_eff at or above which an agent holds ring 2.
pub const RING_2_THRESHOLD: f64 = 0.60;

/// A privilege level. Lower numbers are more privileged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub enum Ring {
    /// Ring 0: root. Only with an admin witness.
    Root = 0,
    /// Ring 1: privileged. Needs σ_eff ≥ 0.95 and consensus.
    Privileged = 1,
    /// Ring 2: standard. Needs σ_eff ≥ 0.60.
    Standard = 2,
    /// Ring 3: sandbox. Everyone else.
    Sandbox = 3,
}

/// A ring number outside 0..=3.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("ring must be 0, 1, 2 or 3, got {0}")]
pub struct InvalidRing(pub i64);

impl Ring {
    /// All rings from most to least privileged.
    pub const ALL: [Ring; 4] = [Ring::Root, Ring::Privileged, Ring::Standard, Ring::Sandbox];

    /// The ring number, 0..=3.
    pub const fn number(self) -> u8 {
        self as u8
    }

    /// Parses a ring number from outside input.
    pub fn from_number(n: i64) -> Result<Ring, InvalidRing> {
        match n {
            0 => Ok(Ring::Root),
            1 => Ok(Ring::Privileged),
            2 => Ok(Ring::Standard),
            3 => Ok(Ring::Sandbox),
            other => Err(InvalidRing(other)),
        }
    }

    /// The reference's enum name, e.g. `RING_2_STANDARD` (kept for API compatibility).
    pub const fn name(self) -> &'static str {
        match self {
            Ring::Root => "RING_0_ROOT",
            Ring::Privileged => "RING_1_PRIVILEGED",
            Ring::Standard => "RING_2_STANDARD",
            Ring::Sandbox => "RING_3_SANDBOX",
        }
    }

    /// The ring an agent earns from σ_eff alone (never ring 0; ring 1 only with consensus).
    ///
    /// This is the single threshold rule of the project: the enforcer's σ checks call it too.
    pub fn from_sigma(sigma_eff: Score, has_consensus: bool) -> Ring {
        let s = sigma_eff.get();
        if s >= RING_1_THRESHOLD && has_consensus {
            Ring::Privileged
        } else if s >= RING_2_THRESHOLD {
            Ring::Standard
        } else {
            Ring::Sandbox
        }
    }

    /// Whether this ring is at least as privileged as `other` (number ≤ other's).
    pub fn at_least(self, other: Ring) -> bool {
        self.number() <= other.number()
    }

    /// The next less privileged ring (ring 3 stays ring 3).
    pub fn one_below(self) -> Ring {
        match self {
            Ring::Root => Ring::Privileged,
            Ring::Privileged => Ring::Standard,
            Ring::Standard | Ring::Sandbox => Ring::Sandbox,
        }
    }
}

impl fmt::Display for Ring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ring {}", self.number())
    }
}

impl TryFrom<u8> for Ring {
    type Error = InvalidRing;
    fn try_from(n: u8) -> Result<Self, InvalidRing> {
        Ring::from_number(i64::from(n))
    }
}

impl From<Ring> for u8 {
    fn from(r: Ring) -> u8 {
        r.number()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: f64) -> Score {
        Score::new(v).unwrap()
    }

    #[test]
    fn thresholds_are_inclusive_and_consistent() {
        assert_eq!(Ring::from_sigma(s(0.60), false), Ring::Standard);
        assert_eq!(Ring::from_sigma(s(0.5999), false), Ring::Sandbox);
        assert_eq!(Ring::from_sigma(s(0.95), false), Ring::Standard);
        assert_eq!(Ring::from_sigma(s(0.95), true), Ring::Privileged);
        assert_eq!(Ring::from_sigma(s(1.0), true), Ring::Privileged);
        assert_eq!(Ring::from_sigma(s(0.0), true), Ring::Sandbox);
    }

    #[test]
    fn parses_numbers() {
        assert_eq!(Ring::from_number(2), Ok(Ring::Standard));
        assert_eq!(
            Ring::from_number(7).unwrap_err().to_string(),
            "ring must be 0, 1, 2 or 3, got 7"
        );
        assert!(serde_json::from_str::<Ring>("4").is_err());
        assert_eq!(serde_json::to_string(&Ring::Sandbox).unwrap(), "3");
    }

    proptest::proptest! {
        #[test]
        fn ring_is_monotone_in_sigma(a in 0.0f64..=1.0, b in 0.0f64..=1.0, c: bool) {
            let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
            // More trust never yields a less privileged ring.
            proptest::prop_assert!(Ring::from_sigma(s(hi), c).at_least(Ring::from_sigma(s(lo), c)));
            // Consensus never lowers privilege.
            proptest::prop_assert!(Ring::from_sigma(s(a), true).at_least(Ring::from_sigma(s(a), false)));
        }
    }
}

pub mod breach;
pub mod classifier;
pub mod elevation;
pub mod enforcer;
pub mod inheritance;
pub mod pairs;
