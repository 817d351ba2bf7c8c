//! The ring enforcer: decides whether an agent in a given ring, with a given σ_eff, may perform
//! an action that requires a given ring, and says why not.
//!
//! Rule order and reason texts follow the reference's `RingEnforcer.check` (spec §3.1), with one
//! deliberate change: the σ thresholds are evaluated with [`Ring::from_sigma`], the same
//! inclusive rule that *assigns* rings, so an agent is never assigned a ring whose σ check it
//! then fails (spec §17 item 23). The reason texts therefore print `≥` instead of `>`.

use serde::{Deserialize, Serialize};

use crate::ring::{RING_1_THRESHOLD, RING_2_THRESHOLD, Ring};
use crate::score::Score;

/// Reason given when access is granted.
pub const ACCESS_GRANTED: &str = "Access granted";
/// Reason given when a ring-0 action lacks a witness co-signature.
pub const RING_0_NEEDS_WITNESS: &str = "Ring 0 actions require SRE Witness co-sign";
/// Reason given when a ring-1 action lacks consensus.
pub const RING_1_NEEDS_CONSENSUS: &str = "Ring 1 non-reversible actions require consensus";

/// The outcome of one ring check, with everything a caller needs to explain a denial.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RingCheck {
    /// Whether the action may proceed.
    pub allowed: bool,
    /// The ring the action requires.
    pub required_ring: Ring,
    /// The ring the agent holds.
    pub agent_ring: Ring,
    /// The agent's effective trust score used for the check.
    pub sigma_eff: Score,
    /// Why the action was allowed or denied (reference wording).
    pub reason: String,
    /// The denial would be lifted by consensus.
    pub requires_consensus: bool,
    /// The denial would be lifted by an SRE witness co-signature.
    pub requires_witness: bool,
}

/// Checks an action requiring `required` for an agent holding `agent_ring` with `sigma_eff`.
///
/// First failing rule wins:
/// 1. ring 0 without a witness → denied (`requires_witness`);
/// 2. ring 1: σ_eff below the ring-1 threshold → denied; then no consensus → denied
///    (`requires_consensus`);
/// 3. ring 2: σ_eff below the ring-2 threshold → denied;
/// 4. the agent's ring is less privileged than required → denied;
/// 5. allowed.
///
/// Ring 0 and ring 3 actions have no σ requirement (as in the reference).
pub fn check(
    agent_ring: Ring,
    required: Ring,
    sigma_eff: Score,
    has_consensus: bool,
    has_witness: bool,
) -> RingCheck {
    let mut out = RingCheck {
        allowed: false,
        required_ring: required,
        agent_ring,
        sigma_eff,
        reason: String::new(),
        requires_consensus: false,
        requires_witness: false,
    };
    let sigma = sigma_eff.get();
    match required {
        Ring::Root if !has_witness => {
            out.reason = RING_0_NEEDS_WITNESS.to_string();
            out.requires_witness = true;
            return out;
        }
        Ring::Privileged => {
            // The σ part of ring 1 is "from_sigma would grant ring 1 given consensus".
            if !Ring::from_sigma(sigma_eff, true).at_least(Ring::Privileged) {
                out.reason =
                    format!("Ring 1 requires σ_eff ≥ {RING_1_THRESHOLD:.2}, got {sigma:.3}");
                return out;
            }
            if !has_consensus {
                out.reason = RING_1_NEEDS_CONSENSUS.to_string();
                out.requires_consensus = true;
                return out;
            }
        }
        Ring::Standard if !Ring::from_sigma(sigma_eff, false).at_least(Ring::Standard) => {
            out.reason = format!("Ring 2 requires σ_eff ≥ {RING_2_THRESHOLD:.2}, got {sigma:.3}");
            return out;
        }
        _ => {}
    }
    if !agent_ring.at_least(required) {
        out.reason = format!(
            "Agent ring {} insufficient for required ring {}",
            agent_ring.number(),
            required.number()
        );
        return out;
    }
    out.allowed = true;
    out.reason = ACCESS_GRANTED.to_string();
    out
}

/// The ring an agent should be demoted to, if σ_eff no longer supports its current ring.
///
/// Rule (fixing spec §17 item 23, where rings 0 and 1 were *always* "should demote"):
/// - ring 0 is held by an admin witness grant, not by σ, so σ never demotes it here (`None`);
///   withdrawing ring 0 is the witness's decision;
/// - rings 1–3: `Some(earned)` only when `Ring::from_sigma(σ_eff, has_consensus)` is less
///   privileged than the current ring; an agent whose σ still supports its ring keeps it, and
///   this function never promotes.
pub fn should_demote(current: Ring, sigma_eff: Score, has_consensus: bool) -> Option<Ring> {
    if current == Ring::Root {
        return None;
    }
    let earned = Ring::from_sigma(sigma_eff, has_consensus);
    if current.at_least(earned) && earned != current {
        Some(earned)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: f64) -> Score {
        Score::new(v).unwrap()
    }

    #[test]
    fn ring0_without_witness_is_denied_with_reason() {
        let r = check(Ring::Root, Ring::Root, s(1.0), true, false);
        assert!(!r.allowed);
        assert!(r.requires_witness);
        assert!(!r.requires_consensus);
        assert_eq!(r.reason, "Ring 0 actions require SRE Witness co-sign");
        // With a witness, ring 0 has no σ requirement (reference behaviour).
        let r = check(Ring::Root, Ring::Root, s(0.0), false, true);
        assert!(r.allowed);
        assert_eq!(r.reason, "Access granted");
    }

    #[test]
    fn ring0_action_by_lower_ring_with_witness_is_insufficient() {
        let r = check(Ring::Privileged, Ring::Root, s(1.0), true, true);
        assert!(!r.allowed);
        assert_eq!(r.reason, "Agent ring 1 insufficient for required ring 0");
    }

    #[test]
    fn ring1_low_sigma_is_denied_with_reason() {
        let r = check(Ring::Privileged, Ring::Privileged, s(0.9), true, false);
        assert!(!r.allowed);
        assert_eq!(r.reason, "Ring 1 requires σ_eff ≥ 0.95, got 0.900");
        assert!(!r.requires_consensus);
    }

    #[test]
    fn ring1_without_consensus_is_denied_with_reason() {
        let r = check(Ring::Privileged, Ring::Privileged, s(0.96), false, false);
        assert!(!r.allowed);
        assert!(r.requires_consensus);
        assert_eq!(r.reason, "Ring 1 non-reversible actions require consensus");
        let r = check(Ring::Privileged, Ring::Privileged, s(0.96), true, false);
        assert!(r.allowed);
    }

    #[test]
    fn ring2_low_sigma_is_denied_with_reason() {
        let r = check(Ring::Standard, Ring::Standard, s(0.5), false, false);
        assert!(!r.allowed);
        assert_eq!(r.reason, "Ring 2 requires σ_eff ≥ 0.60, got 0.500");
    }

    #[test]
    fn insufficient_ring_is_denied_with_reason() {
        let r = check(Ring::Sandbox, Ring::Standard, s(0.7), false, false);
        assert!(!r.allowed);
        assert_eq!(r.reason, "Agent ring 3 insufficient for required ring 2");
    }

    #[test]
    fn ring3_actions_have_no_sigma_requirement() {
        let r = check(Ring::Sandbox, Ring::Sandbox, s(0.3), false, false);
        assert!(r.allowed);
        assert_eq!(r.reason, "Access granted");
    }

    #[test]
    fn thresholds_are_inclusive_like_assignment() {
        assert!(check(Ring::Standard, Ring::Standard, s(0.60), false, false).allowed);
        assert!(check(Ring::Privileged, Ring::Privileged, s(0.95), true, false).allowed);
        assert!(!check(Ring::Standard, Ring::Standard, s(0.5999), false, false).allowed);
    }

    #[test]
    fn should_demote_keeps_supported_rings_unlike_reference() {
        // The reference demoted every ring-0 and ring-1 agent whatever its σ.
        assert_eq!(should_demote(Ring::Privileged, s(0.97), true), None);
        assert_eq!(should_demote(Ring::Root, s(0.0), false), None);
        // σ no longer supports ring 1.
        assert_eq!(
            should_demote(Ring::Privileged, s(0.97), false),
            Some(Ring::Standard)
        );
        assert_eq!(
            should_demote(Ring::Privileged, s(0.3), true),
            Some(Ring::Sandbox)
        );
        // Reference test: ring 2 with σ 0.3 → demote; σ 0.7 → keep.
        assert_eq!(
            should_demote(Ring::Standard, s(0.3), false),
            Some(Ring::Sandbox)
        );
        assert_eq!(should_demote(Ring::Standard, s(0.7), false), None);
        // Never promotes.
        assert_eq!(should_demote(Ring::Sandbox, s(1.0), true), None);
    }

    proptest::proptest! {
        #[test]
        fn assignment_and_check_agree(sigma in 0.0f64..=1.0, consensus: bool) {
            let sigma = s(sigma);
            let ring = Ring::from_sigma(sigma, consensus);
            // An agent assigned `ring` passes every check of an action requiring `ring`.
            let r = check(ring, ring, sigma, consensus, false);
            proptest::prop_assert!(r.allowed, "{:?}", r);
            // Conversely, passing the σ checks of ring 1/2 implies from_sigma grants that ring.
            for required in [Ring::Privileged, Ring::Standard] {
                if check(Ring::Root, required, sigma, consensus, true).allowed {
                    proptest::prop_assert!(Ring::from_sigma(sigma, consensus).at_least(required));
                }
            }
            // A freshly assigned ring is never "should demote".
            proptest::prop_assert_eq!(should_demote(ring, sigma, consensus), None);
        }
    }
}
