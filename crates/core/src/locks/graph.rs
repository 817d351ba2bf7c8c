//! The wait-for graph: agent → the agents it waits for. A cycle is a deadlock.
//!
//! The table keeps the graph acyclic: the only operation that adds edges is a queued acquire, and
//! it is refused if its new edges would close a cycle. Grants, releases, cancellations and expiry
//! only move or remove edges (see the argument at `LockTable::pump`).

use std::collections::{BTreeMap, BTreeSet};

use crate::id::AgentDid;

/// Edges of the wait-for graph, each agent mapped to the agents it waits for.
pub type WaitForGraph = BTreeMap<AgentDid, BTreeSet<AgentDid>>;

/// If adding edges `from → t` for every `t` in `targets` closes a cycle in `edges`, returns it as
/// `[from, t, …, last]` where each waits for the next and `last` waits for `from`. Depth-first
/// search from the targets; cycles of any length are found. Deterministic (ordered sets).
pub(crate) fn find_cycle(
    edges: &WaitForGraph,
    from: &AgentDid,
    targets: &BTreeSet<AgentDid>,
) -> Option<Vec<AgentDid>> {
    // Visited nodes, each with the node it was discovered from (None for a start node).
    let mut parent: BTreeMap<&AgentDid, Option<&AgentDid>> = BTreeMap::new();
    for start in targets {
        if start == from {
            return Some(vec![from.clone()]);
        }
        if parent.contains_key(start) {
            continue;
        }
        parent.insert(start, None);
        let mut stack = vec![start];
        while let Some(node) = stack.pop() {
            for next in edges.get(node).into_iter().flatten() {
                if next == from {
                    return Some(path_to(&parent, from, node));
                }
                if !parent.contains_key(next) {
                    parent.insert(next, Some(node));
                    stack.push(next);
                }
            }
        }
    }
    None
}

/// `[from, start, …, node]` following discovery parents back from `node`.
fn path_to(
    parent: &BTreeMap<&AgentDid, Option<&AgentDid>>,
    from: &AgentDid,
    node: &AgentDid,
) -> Vec<AgentDid> {
    let mut back = vec![node.clone()];
    let mut cur = node;
    // INVARIANT: parent links form a tree rooted at start nodes, so this walk terminates.
    while let Some(Some(p)) = parent.get(cur) {
        back.push((*p).clone());
        cur = p;
    }
    back.push(from.clone());
    back.reverse();
    back
}

/// True if the graph has a cycle anywhere (used by property tests).
#[cfg(test)]
pub(crate) fn has_cycle(edges: &WaitForGraph) -> bool {
    edges
        .iter()
        .any(|(from, targets)| find_cycle(edges, from, targets).is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn did(s: &str) -> AgentDid {
        AgentDid::new(s).unwrap()
    }

    fn graph(pairs: &[(&str, &str)]) -> WaitForGraph {
        let mut g = WaitForGraph::new();
        for (a, b) in pairs {
            g.entry(did(a)).or_default().insert(did(b));
        }
        g
    }

    fn set(xs: &[&str]) -> BTreeSet<AgentDid> {
        xs.iter().map(|x| did(x)).collect()
    }

    #[test]
    fn finds_two_and_three_cycles() {
        let g = graph(&[("a", "b")]);
        assert_eq!(
            find_cycle(&g, &did("b"), &set(&["a"])),
            Some(vec![did("b"), did("a")])
        );
        let g = graph(&[("a", "b"), ("b", "c")]);
        assert_eq!(
            find_cycle(&g, &did("c"), &set(&["a"])),
            Some(vec![did("c"), did("a"), did("b")])
        );
        assert_eq!(find_cycle(&g, &did("a"), &set(&["c"])), None);
    }

    #[test]
    fn diamonds_are_not_cycles() {
        let g = graph(&[("a", "b"), ("a", "c"), ("b", "d"), ("c", "d")]);
        assert!(!has_cycle(&g));
        assert_eq!(find_cycle(&g, &did("e"), &set(&["a", "d"])), None);
        assert!(has_cycle(&graph(&[("a", "b"), ("b", "c"), ("c", "a")])));
    }
}
