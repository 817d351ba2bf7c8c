//! The action classifier: maps an [`ActionDescriptor`] to the ring it requires, its risk weight
//! and reversibility, with administrator overrides per action id.
//!
//! Two reference bugs are fixed here (spec §3.2, §17 item 23):
//! - overrides are `Option`s, so an override to ring 0 or to ω 0.0 is honoured (the reference's
//!   Python truthiness turned them into "no override");
//! - the result cache remembers the descriptor it classified, so a changed descriptor with the
//!   same action id is classified afresh (the reference returned the stale result).
//!
//! Unlike the reference, an override is applied on top of the descriptor being classified: the
//! parts it leaves unset come from that descriptor, not from whatever happened to be cached.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::action::{ActionDescriptor, Reversibility};
use crate::id::ActionId;
use crate::ring::Ring;
use crate::score::Score;

/// Most cached classifications; beyond it the oldest entry is evicted.
pub const MAX_CACHE_ENTRIES: usize = 10_000;
/// Most overrides; beyond it new overrides are refused.
pub const MAX_OVERRIDES: usize = 10_000;
/// Confidence of a classification computed from the descriptor alone.
pub const COMPUTED_CONFIDENCE: f64 = 1.0;
/// Confidence of a classification changed by an override (reference value).
pub const OVERRIDE_CONFIDENCE: f64 = 0.9;

/// Why the classifier refused a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClassifierError {
    /// The override table is full.
    #[error(
        "cannot override `{action_id}`: the classifier already holds {MAX_OVERRIDES} overrides"
    )]
    TooManyOverrides {
        /// The action that could not be overridden.
        action_id: ActionId,
    },
}

/// What the classifier decided about one action.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Classification {
    /// The classified action.
    pub action_id: ActionId,
    /// The ring it requires.
    pub ring: Ring,
    /// Its risk weight ω.
    pub risk_weight: Score,
    /// How far it can be undone.
    pub reversibility: Reversibility,
    /// 1.0 when computed, 0.9 when an override changed it.
    pub confidence: Score,
}

/// An administrator's override for one action id; `None` parts keep the computed value.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Override {
    /// Ring to require instead of the computed one.
    pub ring: Option<Ring>,
    /// Risk weight to use instead of the computed one.
    pub risk_weight: Option<Score>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct CacheEntry {
    // INVARIANT: `result` is exactly `compute(&descriptor)`.
    descriptor: ActionDescriptor,
    result: Classification,
    seq: u64,
}

/// Classifies actions, caching results and applying overrides.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Classifier {
    overrides: BTreeMap<ActionId, Override>,
    cache: BTreeMap<ActionId, CacheEntry>,
    // INVARIANT: `order` maps each cache entry's `seq` to its key, one to one.
    order: BTreeMap<u64, ActionId>,
    next_seq: u64,
}

/// The classification a descriptor earns on its own (reference rule, confidence 1.0).
pub fn compute(action: &ActionDescriptor) -> Classification {
    Classification {
        action_id: action.action_id.clone(),
        ring: action.required_ring(),
        risk_weight: action.risk_weight(),
        reversibility: action.reversibility,
        confidence: Score::clamped(COMPUTED_CONFIDENCE),
    }
}

impl Classifier {
    /// An empty classifier.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets (or, with both parts `None`, clears) the override for `action_id`.
    ///
    /// `Some(Ring::Root)` and `Some(Score::ZERO)` are real overrides.
    pub fn set_override(
        &mut self,
        action_id: ActionId,
        ring: Option<Ring>,
        risk_weight: Option<Score>,
    ) -> Result<(), ClassifierError> {
        if ring.is_none() && risk_weight.is_none() {
            self.overrides.remove(&action_id);
            return Ok(());
        }
        if !self.overrides.contains_key(&action_id) && self.overrides.len() >= MAX_OVERRIDES {
            return Err(ClassifierError::TooManyOverrides { action_id });
        }
        self.overrides
            .insert(action_id, Override { ring, risk_weight });
        Ok(())
    }

    /// Removes the override for `action_id`; returns whether there was one.
    pub fn clear_override(&mut self, action_id: &ActionId) -> bool {
        self.overrides.remove(action_id).is_some()
    }

    /// The override for `action_id`, if any.
    pub fn override_for(&self, action_id: &ActionId) -> Option<&Override> {
        self.overrides.get(action_id)
    }

    /// Classifies `action`: the cached result if the same descriptor was classified before,
    /// otherwise a fresh one (cached), then the override for its id, if any.
    pub fn classify(&mut self, action: &ActionDescriptor) -> Classification {
        let base = self.cached_or_compute(action);
        match self.overrides.get(&action.action_id) {
            None => base,
            Some(o) => Classification {
                ring: o.ring.unwrap_or(base.ring),
                risk_weight: o.risk_weight.unwrap_or(base.risk_weight),
                confidence: Score::clamped(OVERRIDE_CONFIDENCE),
                ..base
            },
        }
    }

    fn cached_or_compute(&mut self, action: &ActionDescriptor) -> Classification {
        if let Some(e) = self.cache.get(&action.action_id)
            && e.descriptor == *action
        {
            return e.result.clone();
        }
        let result = compute(action);
        if let Some(old) = self.cache.remove(&action.action_id) {
            self.order.remove(&old.seq);
        }
        while self.cache.len() >= MAX_CACHE_ENTRIES {
            let Some((_, oldest)) = self.order.pop_first() else {
                break;
            };
            self.cache.remove(&oldest);
        }
        let seq = self.next_seq;
        self.next_seq = self.next_seq.wrapping_add(1);
        self.order.insert(seq, action.action_id.clone());
        self.cache.insert(
            action.action_id.clone(),
            CacheEntry {
                descriptor: action.clone(),
                result: result.clone(),
                seq,
            },
        );
        result
    }

    /// Forgets every cached classification (overrides stay).
    pub fn clear_cache(&mut self) {
        self.cache.clear();
        self.order.clear();
    }

    /// Number of cached classifications.
    pub fn cache_len(&self) -> usize {
        self.cache.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn action(id: &str, rev: Reversibility) -> ActionDescriptor {
        let mut a = ActionDescriptor::new(ActionId::new(id).unwrap());
        a.reversibility = rev;
        a
    }

    #[test]
    fn classifies_like_the_reference() {
        let mut c = Classifier::new();
        let r = c.classify(&action("a", Reversibility::Full));
        assert_eq!(r.ring, Ring::Standard);
        assert!((r.risk_weight.get() - 0.2).abs() < 1e-12);
        assert_eq!(r.confidence.get(), 1.0);
        let r = c.classify(&action("b", Reversibility::None));
        assert_eq!(r.ring, Ring::Privileged);
        assert!((r.risk_weight.get() - 0.95).abs() < 1e-12);
        // Second classification is served from the cache and is equal.
        assert_eq!(c.classify(&action("b", Reversibility::None)), r);
        assert_eq!(c.cache_len(), 2);
    }

    #[test]
    fn override_to_ring0_and_zero_risk_works_unlike_reference() {
        let mut c = Classifier::new();
        let a = action("wire", Reversibility::Full);
        c.set_override(a.action_id.clone(), Some(Ring::Root), Some(Score::ZERO))
            .unwrap();
        let r = c.classify(&a);
        assert_eq!(r.ring, Ring::Root);
        assert_eq!(r.risk_weight.get(), 0.0);
        assert!((r.confidence.get() - 0.9).abs() < 1e-12);
    }

    #[test]
    fn partial_override_keeps_computed_parts() {
        let mut c = Classifier::new();
        let a = action("x", Reversibility::Full);
        c.set_override(a.action_id.clone(), Some(Ring::Privileged), None)
            .unwrap();
        let r = c.classify(&a);
        assert_eq!(r.ring, Ring::Privileged);
        assert!((r.risk_weight.get() - 0.2).abs() < 1e-12);
        // Clearing with (None, None) removes the override.
        c.set_override(a.action_id.clone(), None, None).unwrap();
        assert_eq!(c.classify(&a).ring, Ring::Standard);
        assert!(!c.clear_override(&a.action_id));
    }

    #[test]
    fn changed_descriptor_is_reclassified_unlike_reference() {
        let mut c = Classifier::new();
        let a = action("deploy", Reversibility::Full);
        assert_eq!(c.classify(&a).ring, Ring::Standard);
        let mut changed = a.clone();
        changed.is_admin = true;
        // The reference returned the stale ring-2 result for the same action id.
        assert_eq!(c.classify(&changed).ring, Ring::Root);
        assert_eq!(c.cache_len(), 1);
    }

    #[test]
    fn cache_is_bounded_and_evicts_oldest() {
        let mut c = Classifier::new();
        for i in 0..MAX_CACHE_ENTRIES + 5 {
            c.classify(&action(&format!("a{i}"), Reversibility::Full));
        }
        assert_eq!(c.cache_len(), MAX_CACHE_ENTRIES);
        assert!(!c.cache.contains_key("a0"));
        assert!(
            c.cache
                .contains_key(format!("a{}", MAX_CACHE_ENTRIES + 4).as_str())
        );
        assert_eq!(c.order.len(), c.cache.len());
    }

    #[test]
    fn too_many_overrides_are_refused() {
        let mut c = Classifier::new();
        for i in 0..MAX_OVERRIDES {
            c.set_override(
                ActionId::new(format!("o{i}")).unwrap(),
                Some(Ring::Sandbox),
                None,
            )
            .unwrap();
        }
        let e = c
            .set_override(ActionId::new("extra").unwrap(), Some(Ring::Root), None)
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "cannot override `extra`: the classifier already holds 10000 overrides"
        );
        // Replacing an existing override is still allowed.
        c.set_override(ActionId::new("o1").unwrap(), Some(Ring::Root), None)
            .unwrap();
    }

    #[test]
    fn state_round_trips_through_json() {
        let mut c = Classifier::new();
        c.classify(&action("a", Reversibility::Partial));
        c.set_override(ActionId::new("a").unwrap(), None, Some(Score::ONE))
            .unwrap();
        let back: Classifier = serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
        assert_eq!(back.cache_len(), 1);
        assert_eq!(
            back.override_for(&ActionId::new("a").unwrap())
                .unwrap()
                .risk_weight,
            Some(Score::ONE)
        );
    }
}
