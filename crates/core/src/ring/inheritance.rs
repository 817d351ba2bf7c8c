//! Ring inheritance: an agent spawned by another agent gets a ring one below its parent's, and
//! the spawn tree is remembered so a child can never climb above its ancestors.
//!
//! Rule: the child's ceiling is one below the parent's **base** ring (ring 0 → 1, 1 → 2,
//! 2 → 3, 3 → 3). A parent's active elevation is deliberately *not* considered: a temporary
//! "sudo" must not leak into a child that outlives it. (The reference took whatever ring the
//! caller passed; here the caller must pass the base ring.)
//!
//! Unlike the reference (spec §3.4), re-registering a child under a different parent is
//! refused (it used to overwrite the parent and duplicate the child), cycles are refused, and
//! the tree is bounded by [`MAX_AGENTS`].

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::id::AgentDid;
use crate::ring::Ring;

/// Most children recorded; further registrations are refused.
pub const MAX_AGENTS: usize = 100_000;

/// Why a spawn registration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpawnError {
    /// An agent named itself as its parent.
    #[error("agent `{0}` cannot be its own parent")]
    SelfParent(AgentDid),
    /// The child already has another parent.
    #[error("agent `{child}` is already a child of `{parent}`")]
    AlreadyChild {
        /// The child.
        child: AgentDid,
        /// Its existing parent.
        parent: AgentDid,
    },
    /// The child is an ancestor of the parent.
    #[error("registering `{child}` under `{parent}` would create a cycle")]
    Cycle {
        /// The child.
        child: AgentDid,
        /// The requested parent.
        parent: AgentDid,
    },
    /// The tree is full.
    #[error("spawn tree is full ({MAX_AGENTS} children)")]
    Full,
}

/// The most privileged ring a child of a parent with base ring `parent_base` may hold.
pub fn child_ring(parent_base: Ring) -> Ring {
    parent_base.one_below()
}

/// Child → parent links between agents (a forest).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct SpawnTree {
    // INVARIANT: acyclic; `children[p]` contains c iff `parent[c] == p`.
    parent: BTreeMap<AgentDid, AgentDid>,
    children: BTreeMap<AgentDid, BTreeSet<AgentDid>>,
}

impl SpawnTree {
    /// An empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records `child` as spawned by `parent` (whose base ring is `parent_ring`) and returns
    /// the child's ring ceiling. Registering the same pair again is idempotent.
    pub fn register_child(
        &mut self,
        parent: AgentDid,
        child: AgentDid,
        parent_ring: Ring,
    ) -> Result<Ring, SpawnError> {
        if parent == child {
            return Err(SpawnError::SelfParent(child));
        }
        if let Some(existing) = self.parent.get(&child) {
            if *existing == parent {
                return Ok(child_ring(parent_ring));
            }
            return Err(SpawnError::AlreadyChild {
                child,
                parent: existing.clone(),
            });
        }
        if self.ancestors(&parent).contains(&child) {
            return Err(SpawnError::Cycle { child, parent });
        }
        if self.parent.len() >= MAX_AGENTS {
            return Err(SpawnError::Full);
        }
        self.children
            .entry(parent.clone())
            .or_default()
            .insert(child.clone());
        self.parent.insert(child, parent);
        Ok(child_ring(parent_ring))
    }

    /// The agent that spawned `child`, if recorded.
    pub fn parent_of(&self, child: &AgentDid) -> Option<&AgentDid> {
        self.parent.get(child)
    }

    /// The agents `parent` spawned, in DID order.
    pub fn children_of(&self, parent: &AgentDid) -> Vec<AgentDid> {
        self.children
            .get(parent)
            .map(|c| c.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// `child`'s parent, grandparent, … up to the root, nearest first.
    pub fn ancestors(&self, child: &AgentDid) -> Vec<AgentDid> {
        let mut out = Vec::new();
        let mut cur = child;
        // INVARIANT: the tree is acyclic, so this walk ends; the length guard is belt and braces.
        while let Some(p) = self.parent.get(cur) {
            if out.len() > self.parent.len() {
                break;
            }
            out.push(p.clone());
            cur = p;
        }
        out
    }

    /// Number of recorded children.
    pub fn len(&self) -> usize {
        self.parent.len()
    }

    /// Whether no child is recorded.
    pub fn is_empty(&self) -> bool {
        self.parent.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn did(s: &str) -> AgentDid {
        AgentDid::new(s).unwrap()
    }

    #[test]
    fn child_is_one_below_parent() {
        assert_eq!(child_ring(Ring::Root), Ring::Privileged);
        assert_eq!(child_ring(Ring::Privileged), Ring::Standard);
        assert_eq!(child_ring(Ring::Standard), Ring::Sandbox);
        assert_eq!(child_ring(Ring::Sandbox), Ring::Sandbox);
    }

    #[test]
    fn registers_and_walks_the_tree() {
        let mut t = SpawnTree::new();
        assert_eq!(
            t.register_child(did("p"), did("c1"), Ring::Privileged),
            Ok(Ring::Standard)
        );
        t.register_child(did("p"), did("c2"), Ring::Privileged)
            .unwrap();
        t.register_child(did("c1"), did("g"), Ring::Standard)
            .unwrap();
        assert_eq!(t.parent_of(&did("g")), Some(&did("c1")));
        assert_eq!(t.children_of(&did("p")), vec![did("c1"), did("c2")]);
        assert_eq!(t.ancestors(&did("g")), vec![did("c1"), did("p")]);
        assert!(t.ancestors(&did("p")).is_empty());
        // Idempotent re-registration does not duplicate the child.
        t.register_child(did("p"), did("c1"), Ring::Privileged)
            .unwrap();
        assert_eq!(t.children_of(&did("p")).len(), 2);
        assert_eq!(t.len(), 3);
    }

    #[test]
    fn reparenting_is_refused_unlike_reference() {
        let mut t = SpawnTree::new();
        t.register_child(did("p"), did("c"), Ring::Standard)
            .unwrap();
        let e = t
            .register_child(did("q"), did("c"), Ring::Root)
            .unwrap_err();
        assert_eq!(e.to_string(), "agent `c` is already a child of `p`");
        assert_eq!(t.parent_of(&did("c")), Some(&did("p")));
    }

    #[test]
    fn cycles_and_self_parent_are_refused() {
        let mut t = SpawnTree::new();
        let e = t
            .register_child(did("a"), did("a"), Ring::Standard)
            .unwrap_err();
        assert_eq!(e.to_string(), "agent `a` cannot be its own parent");
        t.register_child(did("a"), did("b"), Ring::Standard)
            .unwrap();
        t.register_child(did("b"), did("c"), Ring::Standard)
            .unwrap();
        let e = t
            .register_child(did("c"), did("a"), Ring::Standard)
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "registering `a` under `c` would create a cycle"
        );
    }

    #[test]
    fn round_trips_through_json() {
        let mut t = SpawnTree::new();
        t.register_child(did("a"), did("b"), Ring::Standard)
            .unwrap();
        let back: SpawnTree = serde_json::from_str(&serde_json::to_string(&t).unwrap()).unwrap();
        assert_eq!(back.parent_of(&did("b")), Some(&did("a")));
    }
}
