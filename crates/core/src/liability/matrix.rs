//! Graph queries over a session's vouch bonds: who backs whom, and along which paths a slash
//! can cascade.
//!
//! The reference kept a separate edge list (`LiabilityMatrix`) that nothing kept in sync with the
//! vouching engine and that its DFS rescanned per node (spec §4.2, §17 item 29). [`VouchGraph`]
//! is a borrowed view of the [`VouchBook`]'s own indexes: the bonds in force in one session at
//! one instant, so it can never disagree with the book.

use std::collections::BTreeMap;

use crate::id::{AgentDid, SessionId};
use crate::liability::vouch::{VouchBook, VouchRecord};
use crate::time::Timestamp;

/// Deepest cascade path [`VouchGraph::cascade_path`] explores (larger requests are capped).
pub const MAX_PATH_DEPTH: usize = 8;
/// Most paths [`VouchGraph::cascade_path`] returns; the enumeration stops there.
pub const MAX_PATHS: usize = 10_000;

/// The bonds in force in one session at one instant, as a directed graph voucher → vouchee.
#[derive(Clone, Copy, Debug)]
pub struct VouchGraph<'a> {
    book: &'a VouchBook,
    session: &'a SessionId,
    now: Timestamp,
}

impl<'a> VouchGraph<'a> {
    /// The graph of `session` in `book` at `now`.
    pub fn new(book: &'a VouchBook, session: &'a SessionId, now: Timestamp) -> Self {
        VouchGraph { book, session, now }
    }

    /// Bonds into `agent` (its vouchers), creation order.
    pub fn who_vouches_for(&self, agent: &AgentDid) -> Vec<&'a VouchRecord> {
        self.book.vouchers_of(self.session, agent, self.now)
    }

    /// Bonds out of `agent` (the agents it backs), creation order.
    pub fn who_is_vouched_by(&self, agent: &AgentDid) -> Vec<&'a VouchRecord> {
        self.book.vouchees_of(self.session, agent, self.now)
    }

    /// Σ bonded amounts `voucher` has in force in this session.
    pub fn total_exposure(&self, voucher: &AgentDid) -> f64 {
        self.who_is_vouched_by(voucher)
            .iter()
            .fold(0.0, |acc, r| acc + r.bonded_amount)
    }

    /// True when the bonds in force contain a cycle. [`VouchBook::vouch`] refuses cycles, so
    /// this is an invariant check (coloured DFS, O(V + E)).
    pub fn has_cycle(&self) -> bool {
        // 1 = on the current path, 2 = finished.
        let mut colour: BTreeMap<&AgentDid, u8> = BTreeMap::new();
        for start in self.book.session_vouchers(self.session) {
            if colour.contains_key(start) {
                continue;
            }
            // Iterative DFS: (node, its children, next child index).
            let mut stack: Vec<(&AgentDid, Vec<&AgentDid>, usize)> =
                vec![(start, self.children(start), 0)];
            colour.insert(start, 1);
            while let Some((node, kids, next)) = stack.last_mut() {
                if let Some(&child) = kids.get(*next) {
                    *next += 1;
                    match colour.get(child) {
                        Some(1) => return true,
                        Some(_) => {}
                        None => {
                            colour.insert(child, 1);
                            let grandkids = self.children(child);
                            stack.push((child, grandkids, 0));
                        }
                    }
                } else {
                    colour.insert(node, 2);
                    stack.pop();
                }
            }
        }
        false
    }

    fn children(&self, agent: &AgentDid) -> Vec<&'a AgentDid> {
        self.who_is_vouched_by(agent)
            .into_iter()
            .map(|r| &r.vouchee)
            .collect()
    }

    /// Paths a liability cascade can follow from `agent` down its vouchees, with the
    /// reference's shape: depth-first in bond order, a path of more than `max_depth + 1` agents
    /// is abandoned, a leaf records its path, an inner node records its own path after its
    /// children (post-order), single-agent paths are never recorded. Example: A→B, B→C, A→D
    /// gives `[[A,B,C],[A,B],[A,D]]`; with `max_depth` 1, `[[A,B],[A,D]]`.
    /// `max_depth` is capped at [`MAX_PATH_DEPTH`] and the output at [`MAX_PATHS`] paths.
    pub fn cascade_path(&self, agent: &AgentDid, max_depth: usize) -> Vec<Vec<AgentDid>> {
        let max_nodes = max_depth.min(MAX_PATH_DEPTH) + 1;
        let mut out = Vec::new();
        let mut path = vec![agent.clone()];
        self.walk(&mut path, max_nodes, &mut out);
        out
    }

    fn walk(&self, path: &mut Vec<AgentDid>, max_nodes: usize, out: &mut Vec<Vec<AgentDid>>) {
        let Some(node) = path.last() else {
            return;
        };
        let kids: Vec<&AgentDid> = self
            .children(node)
            .into_iter()
            .filter(|k| !path.contains(k))
            .collect();
        for k in &kids {
            if out.len() >= MAX_PATHS {
                return;
            }
            if path.len() < max_nodes {
                path.push((*k).clone());
                self.walk(path, max_nodes, out);
                path.pop();
            }
        }
        if path.len() >= 2 && out.len() < MAX_PATHS {
            out.push(path.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::IdGen;
    use crate::score::Score;

    fn did(s: &str) -> AgentDid {
        AgentDid::new(s).unwrap()
    }
    const T0: Timestamp = Timestamp::from_secs(1);

    fn book(edges: &[(&str, &str, f64)]) -> (VouchBook, SessionId) {
        let mut b = VouchBook::default();
        let mut ids = IdGen::new([6; 16]);
        let s = SessionId::new("s").unwrap();
        for (a, c, pct) in edges {
            b.vouch(
                &mut ids,
                &s,
                &did(a),
                Score::ONE,
                &did(c),
                Some(Score::new(*pct).unwrap()),
                None,
                T0,
            )
            .unwrap();
        }
        (b, s)
    }
    fn names(p: &[Vec<AgentDid>]) -> Vec<Vec<&str>> {
        p.iter()
            .map(|v| v.iter().map(AgentDid::as_str).collect())
            .collect()
    }

    #[test]
    fn queries_and_exposure() {
        let (b, s) = book(&[("a", "b", 0.2), ("a", "c", 0.3)]);
        let g = VouchGraph::new(&b, &s, T0);
        assert_eq!(g.who_vouches_for(&did("b")).len(), 1);
        assert_eq!(g.who_is_vouched_by(&did("a")).len(), 2);
        assert!((g.total_exposure(&did("a")) - 0.5).abs() < 1e-12);
        assert!(!g.has_cycle());
    }

    #[test]
    fn cascade_paths_match_reference_shape() {
        let (b, s) = book(&[("A", "B", 0.1), ("B", "C", 0.1), ("A", "D", 0.1)]);
        let g = VouchGraph::new(&b, &s, T0);
        assert_eq!(
            names(&g.cascade_path(&did("A"), 2)),
            vec![vec!["A", "B", "C"], vec!["A", "B"], vec!["A", "D"]]
        );
        assert_eq!(
            names(&g.cascade_path(&did("A"), 1)),
            vec![vec!["A", "B"], vec!["A", "D"]]
        );
        assert!(g.cascade_path(&did("Z"), 2).is_empty());
        assert!(g.cascade_path(&did("C"), 2).is_empty());
    }

    #[test]
    fn diamond_has_no_cycle_and_both_paths() {
        let (b, s) = book(&[
            ("a", "b", 0.1),
            ("a", "c", 0.1),
            ("b", "d", 0.1),
            ("c", "d", 0.1),
        ]);
        let g = VouchGraph::new(&b, &s, T0);
        assert!(!g.has_cycle());
        assert_eq!(
            names(&g.cascade_path(&did("a"), 2)),
            vec![
                vec!["a", "b", "d"],
                vec!["a", "b"],
                vec!["a", "c", "d"],
                vec!["a", "c"]
            ]
        );
    }

    #[test]
    fn has_cycle_detects_a_cycle_from_a_snapshot() {
        // vouch() refuses cycles, but a hand-made snapshot can hold one; the check finds it.
        let (b, s) = book(&[("a", "b", 0.1), ("b", "c", 0.1)]);
        let mut state: crate::liability::vouch::VouchBookState = b.into();
        let mut back = state.records[0].clone();
        back.vouch_id = crate::id::RecordId::new("vouch:x").unwrap();
        back.voucher = did("c");
        back.vouchee = did("a");
        state.records.push(back);
        let b = VouchBook::try_from(state).unwrap();
        let g = VouchGraph::new(&b, &s, T0);
        assert!(g.has_cycle());
        // Paths never revisit an agent on the current path.
        assert_eq!(
            names(&g.cascade_path(&did("a"), 8)),
            vec![vec!["a", "b", "c"], vec!["a", "b"]]
        );
    }
}

#[cfg(test)]
mod props {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;
    use crate::id::IdGen;
    use crate::liability::slash::slash;
    use crate::score::Score;

    fn agent(i: u8) -> AgentDid {
        AgentDid::new(format!("a{i}")).unwrap()
    }

    proptest! {
        /// Whatever bonds are attempted, the bonds in force never form a cycle, every voucher
        /// stays within its exposure cap, and a slash never raises anyone's score.
        #[test]
        fn random_vouches_keep_invariants(
            edges in proptest::collection::vec((0u8..7, 0u8..7, 1u8..=5), 0..40),
            sigmas in proptest::collection::vec(0.5f64..=1.0, 7),
            victim in 0u8..7,
            omega in 0.0f64..=1.0,
        ) {
            let mut book = VouchBook::default();
            let mut ids = IdGen::new([8; 16]);
            let s = SessionId::new("s").unwrap();
            let now = Timestamp::from_secs(1);
            for (a, b, pct) in edges {
                let sigma = Score::new(sigmas[a as usize]).unwrap();
                let pct = Score::new(f64::from(pct) / 10.0).unwrap();
                let _ = book.vouch(&mut ids, &s, &agent(a), sigma, &agent(b), Some(pct), None, now);
            }
            prop_assert!(!VouchGraph::new(&book, &s, now).has_cycle());
            for i in 0..7u8 {
                let cap = sigmas[i as usize] * 0.8;
                prop_assert!(book.exposure(&agent(i), now) <= cap + 1e-12);
            }
            let mut scores: BTreeMap<AgentDid, Score> =
                (0..7u8).map(|i| (agent(i), Score::new(sigmas[i as usize]).unwrap())).collect();
            let before = scores.clone();
            let out = slash(&mut book, &mut scores, &mut ids, &s, &agent(victim),
                Score::new(omega).unwrap(), "x", now);
            prop_assert_eq!(scores[&agent(victim)].get(), 0.0);
            for (a, v) in &scores {
                prop_assert!(v.get() <= before[a].get());
            }
            prop_assert!(out.results.iter().all(|r| r.cascade_depth <= 2));
            prop_assert!(book.vouchers_of(&s, &agent(victim), now).is_empty());
        }
    }
}
