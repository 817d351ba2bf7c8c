//! Actions (tools) an agent can perform, their reversibility and the ring each requires.
//!
//! An [`ActionDescriptor`] is what an agent declares when it joins (or what a manifest lists).
//! The per-session registry of descriptors lives in the `registry` submodule; the ring a
//! descriptor requires is decided by the classifier in `crate::ring`.

use serde::{Deserialize, Serialize};

use crate::id::ActionId;
use crate::ring::Ring;
use crate::score::Score;

/// How far an action's effect can be undone.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reversibility {
    /// Fully undoable (ω in 0.1..0.3, default 0.2).
    Full,
    /// Partly undoable (ω in 0.5..0.8, default 0.65).
    Partial,
    /// Not undoable (ω in 0.9..1.0, default 0.95). The default, as in the reference: an action
    /// that says nothing about itself is treated as the riskiest kind.
    #[default]
    None,
}

impl Reversibility {
    /// The risk-weight range (lo, hi) of this level.
    pub const fn risk_range(self) -> (f64, f64) {
        match self {
            Reversibility::Full => (0.1, 0.3),
            Reversibility::Partial => (0.5, 0.8),
            Reversibility::None => (0.9, 1.0),
        }
    }

    /// The default risk weight ω: the midpoint of the range (0.2, 0.65, 0.95).
    pub fn default_risk_weight(self) -> Score {
        let (lo, hi) = self.risk_range();
        Score::clamped((lo + hi) / 2.0)
    }

    /// Wire name (`full`, `partial`, `none`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Reversibility::Full => "full",
            Reversibility::Partial => "partial",
            Reversibility::None => "none",
        }
    }
}

/// An action an agent may perform, as declared by the agent or a manifest.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionDescriptor {
    /// Stable id of the action, unique within a session's registry.
    pub action_id: ActionId,
    /// Human-readable name.
    #[serde(default)]
    pub name: String,
    /// Where the action is executed (a URL or an opaque API name).
    #[serde(default)]
    pub execute_api: String,
    /// Where its effect is undone, if anywhere.
    #[serde(default)]
    pub undo_api: Option<String>,
    /// How far the effect can be undone.
    #[serde(default)]
    pub reversibility: Reversibility,
    /// How long after execution an undo is still possible (0 = no limit declared).
    #[serde(default)]
    pub undo_window_seconds: u64,
    /// Free-form name of the compensation method.
    #[serde(default)]
    pub compensation_method: Option<String>,
    /// Reads only; changes nothing.
    #[serde(default)]
    pub is_read_only: bool,
    /// Administrative action (always ring 0).
    #[serde(default)]
    pub is_admin: bool,
}

impl ActionDescriptor {
    /// A minimal descriptor with defaults (irreversible, not read-only, not admin).
    pub fn new(action_id: ActionId) -> Self {
        ActionDescriptor {
            action_id,
            name: String::new(),
            execute_api: String::new(),
            undo_api: None,
            reversibility: Reversibility::None,
            undo_window_seconds: 0,
            compensation_method: None,
            is_read_only: false,
            is_admin: false,
        }
    }

    /// Risk weight ω of the action: its reversibility's default.
    pub fn risk_weight(&self) -> Score {
        self.reversibility.default_risk_weight()
    }

    /// The ring this action requires (reference rule, kept): admin → 0; read-only → 3;
    /// irreversible → 1; otherwise → 2.
    pub fn required_ring(&self) -> Ring {
        if self.is_admin {
            Ring::Root
        } else if self.is_read_only {
            Ring::Sandbox
        } else if self.reversibility == Reversibility::None {
            Ring::Privileged
        } else {
            Ring::Standard
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn action(rev: Reversibility, ro: bool, admin: bool) -> ActionDescriptor {
        let mut a = ActionDescriptor::new(ActionId::new("a").unwrap());
        a.reversibility = rev;
        a.is_read_only = ro;
        a.is_admin = admin;
        a
    }

    #[test]
    fn required_rings_follow_the_reference() {
        assert_eq!(
            action(Reversibility::Full, false, true).required_ring(),
            Ring::Root
        );
        assert_eq!(
            action(Reversibility::None, false, false).required_ring(),
            Ring::Privileged
        );
        assert_eq!(
            action(Reversibility::None, true, false).required_ring(),
            Ring::Sandbox
        );
        assert_eq!(
            action(Reversibility::Partial, false, false).required_ring(),
            Ring::Standard
        );
        assert_eq!(
            action(Reversibility::Full, false, false).required_ring(),
            Ring::Standard
        );
    }

    #[test]
    fn risk_weights_are_midpoints() {
        assert!((Reversibility::Full.default_risk_weight().get() - 0.2).abs() < 1e-12);
        assert!((Reversibility::Partial.default_risk_weight().get() - 0.65).abs() < 1e-12);
        assert!((Reversibility::None.default_risk_weight().get() - 0.95).abs() < 1e-12);
    }

    #[test]
    fn explicit_reversibility_parses_and_unknown_keys_fail() {
        let a: ActionDescriptor =
            serde_json::from_str(r#"{"action_id":"wire","reversibility":"full"}"#).unwrap();
        assert_eq!(a.reversibility, Reversibility::Full);
        assert!(
            serde_json::from_str::<ActionDescriptor>(r#"{"action_id":"x","bogus":1}"#).is_err()
        );
    }
}

pub mod registry;
