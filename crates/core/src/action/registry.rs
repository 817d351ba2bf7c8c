//! The per-session action registry (spec §5): which actions the session's agents declared,
//! how reversible each is, its risk weight and whether its undo endpoint is healthy.
//!
//! Departures from the reference:
//! - [`ActionRegistry::has_non_reversible_actions`] ignores read-only actions: a read changes
//!   nothing, so it cannot make a session irreversible (the reference counted them, unlike its
//!   own IATP adapter);
//! - the registry is bounded ([`MAX_ACTIONS`] per session) and descriptors are validated
//!   (text fields at most [`MAX_TEXT_LEN`] bytes);
//! - [`ActionRegistry::register_many`] is all-or-nothing.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::action::{ActionDescriptor, Reversibility};
use crate::id::ActionId;
use crate::score::Score;
use crate::time::Timestamp;

/// Most actions one session's registry holds.
pub const MAX_ACTIONS: usize = 1000;
/// Longest accepted name, API or compensation text, in bytes.
pub const MAX_TEXT_LEN: usize = 2048;
/// Risk weight reported for an action the registry does not know (fail closed: riskiest).
pub const UNKNOWN_RISK_WEIGHT: f64 = 0.95;

/// Why the registry refused a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    /// The registry is full.
    #[error("cannot register `{action_id}`: the session already has {MAX_ACTIONS} actions")]
    Full {
        /// The first action that did not fit.
        action_id: ActionId,
    },
    /// A text field is too long.
    #[error(
        "action `{action_id}` field `{field}` is {len} bytes long; the limit is {MAX_TEXT_LEN}"
    )]
    FieldTooLong {
        /// The action.
        action_id: ActionId,
        /// The field.
        field: &'static str,
        /// Its length in bytes.
        len: usize,
    },
    /// The same id appears twice in one batch.
    #[error("action `{0}` appears more than once in the batch")]
    DuplicateInBatch(ActionId),
    /// No such action.
    #[error("action `{0}` is not registered")]
    NotFound(ActionId),
}

/// One registered action.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RegistryEntry {
    /// The action's id.
    pub action_id: ActionId,
    /// Where it is executed.
    pub execute_api: String,
    /// Where it is undone, if anywhere.
    pub undo_api: Option<String>,
    /// How far it can be undone.
    pub reversibility: Reversibility,
    /// Undo window in seconds (0 = none declared).
    pub undo_window_seconds: u64,
    /// Name of the compensation method.
    pub compensation_method: Option<String>,
    /// Risk weight ω from the descriptor.
    pub risk_weight: Score,
    /// Reads only.
    pub is_read_only: bool,
    /// Administrative action (ring 0).
    #[serde(default)]
    pub is_admin: bool,
    /// Whether the undo endpoint is believed healthy.
    pub undo_api_healthy: bool,
    /// When health was last set.
    pub last_health_check: Option<Timestamp>,
}

impl RegistryEntry {
    fn from_descriptor(a: &ActionDescriptor) -> Self {
        RegistryEntry {
            action_id: a.action_id.clone(),
            execute_api: a.execute_api.clone(),
            undo_api: a.undo_api.clone(),
            reversibility: a.reversibility,
            undo_window_seconds: a.undo_window_seconds,
            compensation_method: a.compensation_method.clone(),
            risk_weight: a.risk_weight(),
            is_read_only: a.is_read_only,
            is_admin: a.is_admin,
            undo_api_healthy: true,
            last_health_check: None,
        }
    }

    /// The descriptor this entry was registered from (name and health aside).
    pub fn descriptor(&self) -> ActionDescriptor {
        ActionDescriptor {
            action_id: self.action_id.clone(),
            name: String::new(),
            execute_api: self.execute_api.clone(),
            undo_api: self.undo_api.clone(),
            reversibility: self.reversibility,
            undo_window_seconds: self.undo_window_seconds,
            compensation_method: self.compensation_method.clone(),
            is_read_only: self.is_read_only,
            is_admin: self.is_admin,
        }
    }

    /// Whether this action changes state that cannot be undone.
    pub fn is_non_reversible(&self) -> bool {
        self.reversibility == Reversibility::None && !self.is_read_only
    }
}

/// The actions registered in one session.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ActionRegistry {
    // INVARIANT: len ≤ MAX_ACTIONS.
    entries: BTreeMap<ActionId, RegistryEntry>,
}

fn validate(a: &ActionDescriptor) -> Result<(), RegistryError> {
    let fields = [
        ("name", Some(&a.name)),
        ("execute_api", Some(&a.execute_api)),
        ("undo_api", a.undo_api.as_ref()),
        ("compensation_method", a.compensation_method.as_ref()),
    ];
    for (field, value) in fields {
        if let Some(v) = value
            && v.len() > MAX_TEXT_LEN
        {
            return Err(RegistryError::FieldTooLong {
                action_id: a.action_id.clone(),
                field,
                len: v.len(),
            });
        }
    }
    Ok(())
}

impl ActionRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers `action`, replacing any entry with the same id (health is reset).
    pub fn register(&mut self, action: &ActionDescriptor) -> Result<(), RegistryError> {
        validate(action)?;
        if !self.entries.contains_key(&action.action_id) && self.entries.len() >= MAX_ACTIONS {
            return Err(RegistryError::Full {
                action_id: action.action_id.clone(),
            });
        }
        self.entries.insert(
            action.action_id.clone(),
            RegistryEntry::from_descriptor(action),
        );
        Ok(())
    }

    /// Registers every action or none; returns how many were registered.
    pub fn register_many(&mut self, actions: &[ActionDescriptor]) -> Result<usize, RegistryError> {
        let mut seen = std::collections::BTreeSet::new();
        let mut new = 0usize;
        for a in actions {
            validate(a)?;
            if !seen.insert(&a.action_id) {
                return Err(RegistryError::DuplicateInBatch(a.action_id.clone()));
            }
            if !self.entries.contains_key(&a.action_id) {
                new += 1;
                if self.entries.len() + new > MAX_ACTIONS {
                    return Err(RegistryError::Full {
                        action_id: a.action_id.clone(),
                    });
                }
            }
        }
        for a in actions {
            self.entries
                .insert(a.action_id.clone(), RegistryEntry::from_descriptor(a));
        }
        Ok(actions.len())
    }

    /// The entry for `id`.
    pub fn get(&self, id: &ActionId) -> Option<&RegistryEntry> {
        self.entries.get(id)
    }

    /// The undo endpoint of `id`, if registered and declared.
    pub fn undo_api(&self, id: &ActionId) -> Option<&str> {
        self.entries.get(id).and_then(|e| e.undo_api.as_deref())
    }

    /// Whether `id` can be undone at least partly (unknown → false).
    pub fn is_reversible(&self, id: &ActionId) -> bool {
        self.entries
            .get(id)
            .is_some_and(|e| e.reversibility != Reversibility::None)
    }

    /// Risk weight ω of `id` (unknown → 0.95).
    pub fn risk_weight(&self, id: &ActionId) -> Score {
        self.entries
            .get(id)
            .map_or(Score::clamped(UNKNOWN_RISK_WEIGHT), |e| e.risk_weight)
    }

    /// Whether any registered action changes state irreversibly (read-only ones do not count).
    pub fn has_non_reversible_actions(&self) -> bool {
        self.entries.values().any(RegistryEntry::is_non_reversible)
    }

    /// The registered actions that change state irreversibly.
    pub fn non_reversible_actions(&self) -> Vec<&RegistryEntry> {
        self.entries
            .values()
            .filter(|e| e.is_non_reversible())
            .collect()
    }

    /// Records that the undo endpoint of `id` is unhealthy as of `now`.
    pub fn mark_undo_unhealthy(
        &mut self,
        id: &ActionId,
        now: Timestamp,
    ) -> Result<(), RegistryError> {
        self.set_health(id, false, now)
    }

    /// Records that the undo endpoint of `id` is healthy as of `now`.
    pub fn mark_undo_healthy(
        &mut self,
        id: &ActionId,
        now: Timestamp,
    ) -> Result<(), RegistryError> {
        self.set_health(id, true, now)
    }

    fn set_health(
        &mut self,
        id: &ActionId,
        healthy: bool,
        now: Timestamp,
    ) -> Result<(), RegistryError> {
        let e = self
            .entries
            .get_mut(id)
            .ok_or_else(|| RegistryError::NotFound(id.clone()))?;
        e.undo_api_healthy = healthy;
        e.last_health_check = Some(now);
        Ok(())
    }

    /// All entries in id order.
    pub fn entries(&self) -> impl Iterator<Item = &RegistryEntry> {
        self.entries.values()
    }

    /// Number of registered actions.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is registered.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn action(id: &str, rev: Reversibility, ro: bool) -> ActionDescriptor {
        let mut a = ActionDescriptor::new(ActionId::new(id).unwrap());
        a.reversibility = rev;
        a.is_read_only = ro;
        a.execute_api = format!("https://api/{id}");
        a
    }
    fn id(s: &str) -> ActionId {
        ActionId::new(s).unwrap()
    }

    #[test]
    fn registers_overwrites_and_answers() {
        let mut r = ActionRegistry::new();
        r.register(&action("a", Reversibility::Full, false))
            .unwrap();
        assert!(r.is_reversible(&id("a")));
        assert!((r.risk_weight(&id("a")).get() - 0.2).abs() < 1e-12);
        r.register(&action("a", Reversibility::None, false))
            .unwrap();
        assert!(!r.is_reversible(&id("a")));
        assert_eq!(r.len(), 1);
        assert!(!r.is_reversible(&id("unknown")));
        assert!((r.risk_weight(&id("unknown")).get() - 0.95).abs() < 1e-12);
        assert_eq!(r.get(&id("a")).unwrap().execute_api, "https://api/a");
        assert_eq!(r.undo_api(&id("a")), None);
    }

    #[test]
    fn read_only_actions_are_not_non_reversible_unlike_reference() {
        let mut r = ActionRegistry::new();
        r.register(&action("read", Reversibility::None, true))
            .unwrap();
        assert!(!r.has_non_reversible_actions());
        r.register(&action("wire", Reversibility::None, false))
            .unwrap();
        assert!(r.has_non_reversible_actions());
        let ids: Vec<_> = r
            .non_reversible_actions()
            .iter()
            .map(|e| e.action_id.as_str())
            .collect();
        assert_eq!(ids, vec!["wire"]);
    }

    #[test]
    fn health_is_tracked() {
        let mut r = ActionRegistry::new();
        r.register(&action("a", Reversibility::Full, false))
            .unwrap();
        r.mark_undo_unhealthy(&id("a"), Timestamp::from_secs(5))
            .unwrap();
        let e = r.get(&id("a")).unwrap();
        assert!(!e.undo_api_healthy);
        assert_eq!(e.last_health_check, Some(Timestamp::from_secs(5)));
        let err = r
            .mark_undo_unhealthy(&id("zz"), Timestamp::ZERO)
            .unwrap_err();
        assert_eq!(err.to_string(), "action `zz` is not registered");
    }

    #[test]
    fn register_many_is_all_or_nothing_and_bounded() {
        let mut r = ActionRegistry::new();
        let batch: Vec<_> = (0..MAX_ACTIONS)
            .map(|i| action(&format!("a{i}"), Reversibility::Full, false))
            .collect();
        assert_eq!(r.register_many(&batch).unwrap(), MAX_ACTIONS);
        let err = r
            .register(&action("extra", Reversibility::Full, false))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot register `extra`: the session already has 1000 actions"
        );
        // Overwriting an existing id still works when full.
        r.register(&action("a0", Reversibility::None, false))
            .unwrap();
        let err = r
            .register_many(&[
                action("a1", Reversibility::None, false),
                action("new", Reversibility::Full, false),
            ])
            .unwrap_err();
        assert!(matches!(err, RegistryError::Full { .. }));
        // Nothing from the failed batch was applied.
        assert!(r.is_reversible(&id("a1")));
        let mut r = ActionRegistry::new();
        let err = r
            .register_many(&[
                action("d", Reversibility::Full, false),
                action("d", Reversibility::None, false),
            ])
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "action `d` appears more than once in the batch"
        );
        assert!(r.is_empty());
    }

    #[test]
    fn long_fields_are_refused() {
        let mut r = ActionRegistry::new();
        let mut a = action("a", Reversibility::Full, false);
        a.undo_api = Some("x".repeat(3000));
        let err = r.register(&a).unwrap_err();
        assert_eq!(
            err.to_string(),
            "action `a` field `undo_api` is 3000 bytes long; the limit is 2048"
        );
    }

    #[test]
    fn round_trips_through_json() {
        let mut r = ActionRegistry::new();
        r.register(&action("a", Reversibility::Partial, false))
            .unwrap();
        let back: ActionRegistry =
            serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
        assert_eq!(back.get(&id("a")), r.get(&id("a")));
    }
}
