//! Slashing: when an agent is caught misbehaving its σ drops to zero and every agent that
//! vouched for it in the session loses a share ω of its own σ (the "collateral clip").
//!
//! Rules (spec §4.3, with fixes):
//! 1. the vouchee's score becomes 0.0 (it is inserted if absent: blacklisting never raises);
//! 2. for each bond in force into the vouchee in the session, in creation order:
//!    `after = max(before × (1 − ω), 0.05)`, but never above `before` (the reference raised a
//!    score that was already below the floor up to it); the bond is released and a
//!    [`VoucherClip`] recorded;
//! 3. a voucher missing from `scores` is left absent (the reference treated it as 0.0 and
//!    raised it to the 0.05 floor, inventing a score): its bond is still released and its clip
//!    is recorded with `scored = false`, `before = after = 0`, and it never cascades;
//! 4. cascade: while depth < [`MAX_CASCADE_DEPTH`], a clipped voucher whose score ends below
//!    [`CASCADE_THRESHOLD`] and who is itself backed by bonds in force in the session is slashed
//!    in turn (depth + 1, reason `cascade from {vouchee}: {reason}`), which sets it to 0.0.
//!
//! The function only mutates the [`VouchBook`] and the caller's score map; the caller applies
//! the outcome to participants, rings and the ledger and keeps it in a [`SlashHistory`].

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use serde::{Deserialize, Serialize};

use crate::id::{AgentDid, IdGen, RecordId, SessionId};
use crate::liability::vouch::VouchBook;
use crate::score::Score;
use crate::time::Timestamp;

/// Reference constant: cascades go at most this deep (depths 0, 1, 2 → at most 3 agents
/// blacklisted along one chain).
pub const MAX_CASCADE_DEPTH: u8 = 2;
/// Reference constant: a clip never takes a voucher below this σ.
pub const SIGMA_FLOOR: f64 = 0.05;
/// Reference constant: a clipped voucher below this (floor + 0.01) cascades.
pub const CASCADE_THRESHOLD: f64 = 0.06;
/// Default number of slash results a [`SlashHistory`] keeps.
pub const DEFAULT_SLASH_HISTORY: usize = 10_000;

/// The collateral taken from one voucher.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VoucherClip {
    /// The voucher that lost σ.
    pub voucher: AgentDid,
    /// Its score before the clip (0 when `scored` is false).
    pub before: Score,
    /// Its score after the clip (0 when `scored` is false).
    pub after: Score,
    /// The ω applied.
    pub omega: Score,
    /// The bond that was released.
    pub vouch_id: RecordId,
    /// False when the voucher had no score in the map: nothing was written for it.
    pub scored: bool,
}

/// One slash of one agent (the original or a cascade).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SlashResult {
    /// `slash:{16 hex}`.
    pub slash_id: RecordId,
    /// The agent slashed.
    pub vouchee: AgentDid,
    /// Its score before (0 if it had none).
    pub vouchee_sigma_before: Score,
    /// Always 0.
    pub vouchee_sigma_after: Score,
    /// Collateral taken from its vouchers, in bond creation order.
    pub clips: Vec<VoucherClip>,
    /// Why.
    pub reason: String,
    /// The session.
    pub session_id: SessionId,
    /// When.
    pub at: Timestamp,
    /// 0 for the original slash, 1 and 2 for cascades.
    pub cascade_depth: u8,
}

/// Everything one call to [`slash`] did.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SlashOutcome {
    /// The original slash first, each parent before its cascades (depth-first).
    pub results: Vec<SlashResult>,
    /// Every agent whose score entry was written (their σ_eff and ring must be recomputed).
    pub changed_agents: BTreeSet<AgentDid>,
}

impl SlashOutcome {
    /// Every bond released by this slash.
    pub fn released_bonds(&self) -> impl Iterator<Item = &RecordId> {
        self.results
            .iter()
            .flat_map(|r| r.clips.iter().map(|c| &c.vouch_id))
    }
}

/// Slashes `vouchee` in `session` with weight `omega` (see the module docs for the rules).
#[expect(
    clippy::too_many_arguments,
    reason = "each argument is a distinct input of the slash rule"
)]
pub fn slash(
    book: &mut VouchBook,
    scores: &mut BTreeMap<AgentDid, Score>,
    ids: &mut IdGen,
    session: &SessionId,
    vouchee: &AgentDid,
    omega: Score,
    reason: &str,
    now: Timestamp,
) -> SlashOutcome {
    let mut out = SlashOutcome::default();
    let mut ctx = Ctx {
        book,
        scores,
        ids,
        session,
        omega,
        now,
        out: &mut out,
    };
    ctx.slash_at(vouchee, reason, 0);
    out
}

struct Ctx<'a> {
    book: &'a mut VouchBook,
    scores: &'a mut BTreeMap<AgentDid, Score>,
    ids: &'a mut IdGen,
    session: &'a SessionId,
    omega: Score,
    now: Timestamp,
    out: &'a mut SlashOutcome,
}

impl Ctx<'_> {
    fn slash_at(&mut self, vouchee: &AgentDid, reason: &str, depth: u8) {
        let before = self.scores.get(vouchee).copied().unwrap_or(Score::ZERO);
        self.scores.insert(vouchee.clone(), Score::ZERO);
        self.out.changed_agents.insert(vouchee.clone());

        let bonds: Vec<RecordId> = self
            .book
            .vouchers_of(self.session, vouchee, self.now)
            .into_iter()
            .map(|r| r.vouch_id.clone())
            .collect();
        let keep = 1.0 - self.omega.get();
        let mut clips = Vec::with_capacity(bonds.len());
        let mut cascade: Vec<AgentDid> = Vec::new();
        for id in bonds {
            let Ok(bond) = self.book.release(&id, self.now) else {
                continue;
            };
            let voucher = bond.voucher;
            let clip = match self.scores.get(&voucher).copied() {
                Some(b) => {
                    // The floor limits how far a clip lowers σ; it never raises σ.
                    let after = Score::clamped((b.get() * keep).max(SIGMA_FLOOR).min(b.get()));
                    self.scores.insert(voucher.clone(), after);
                    self.out.changed_agents.insert(voucher.clone());
                    if depth < MAX_CASCADE_DEPTH
                        && after.get() < CASCADE_THRESHOLD
                        && !cascade.contains(&voucher)
                    {
                        cascade.push(voucher.clone());
                    }
                    VoucherClip {
                        voucher,
                        before: b,
                        after,
                        omega: self.omega,
                        vouch_id: id,
                        scored: true,
                    }
                }
                None => VoucherClip {
                    voucher,
                    before: Score::ZERO,
                    after: Score::ZERO,
                    omega: self.omega,
                    vouch_id: id,
                    scored: false,
                },
            };
            clips.push(clip);
        }
        self.out.results.push(SlashResult {
            slash_id: self.ids.record("slash"),
            vouchee: vouchee.clone(),
            vouchee_sigma_before: before,
            vouchee_sigma_after: Score::ZERO,
            clips,
            reason: reason.to_string(),
            session_id: self.session.clone(),
            at: self.now,
            cascade_depth: depth,
        });
        let cascade_reason = format!("cascade from {vouchee}: {reason}");
        for v in cascade {
            if !self.book.vouchers_of(self.session, &v, self.now).is_empty() {
                self.slash_at(&v, &cascade_reason, depth + 1);
            }
        }
    }
}

/// The most recent slash results, oldest evicted first once `capacity` is reached.
///
/// Queries scan the buffer (O(capacity)); the bound keeps that cheap.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SlashHistory {
    capacity: usize,
    results: VecDeque<SlashResult>,
}

impl Default for SlashHistory {
    fn default() -> Self {
        SlashHistory::new(DEFAULT_SLASH_HISTORY)
    }
}

impl SlashHistory {
    /// A history keeping at most `capacity` results (at least 1).
    pub fn new(capacity: usize) -> Self {
        SlashHistory {
            capacity: capacity.max(1),
            results: VecDeque::new(),
        }
    }

    /// Appends every result of `outcome`, evicting the oldest beyond capacity.
    pub fn record(&mut self, outcome: &SlashOutcome) {
        for r in &outcome.results {
            self.results.push_back(r.clone());
        }
        while self.results.len() > self.capacity {
            self.results.pop_front();
        }
    }

    /// Number of results held.
    pub fn len(&self) -> usize {
        self.results.len()
    }

    /// True when nothing is held.
    pub fn is_empty(&self) -> bool {
        self.results.is_empty()
    }

    /// All held results, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = &SlashResult> {
        self.results.iter()
    }

    /// Results where `agent` was slashed or clipped, oldest first.
    pub fn for_agent(&self, agent: &AgentDid) -> Vec<&SlashResult> {
        self.results
            .iter()
            .filter(|r| r.vouchee == *agent || r.clips.iter().any(|c| c.voucher == *agent))
            .collect()
    }

    /// Results of `session`, oldest first.
    pub fn for_session(&self, session: &SessionId) -> Vec<&SlashResult> {
        self.results
            .iter()
            .filter(|r| r.session_id == *session)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn did(s: &str) -> AgentDid {
        AgentDid::new(s).unwrap()
    }
    fn sc(v: f64) -> Score {
        Score::new(v).unwrap()
    }
    const T0: Timestamp = Timestamp::from_secs(1_000);

    struct Fx {
        book: VouchBook,
        ids: IdGen,
        s: SessionId,
        scores: BTreeMap<AgentDid, Score>,
    }
    impl Fx {
        fn new(scores: &[(&str, f64)]) -> Self {
            Fx {
                book: VouchBook::default(),
                ids: IdGen::new([2; 16]),
                s: SessionId::new("s1").unwrap(),
                scores: scores.iter().map(|(a, v)| (did(a), sc(*v))).collect(),
            }
        }
        /// Vouches with a high asserted σ so the bond passes the voucher minimum even when the
        /// score map holds a low one.
        fn bond(&mut self, a: &str, b: &str) {
            let s = self.s.clone();
            self.book
                .vouch(
                    &mut self.ids,
                    &s,
                    &did(a),
                    sc(0.9),
                    &did(b),
                    Some(sc(0.1)),
                    None,
                    T0,
                )
                .unwrap();
        }
        fn slash(&mut self, who: &str, omega: f64) -> SlashOutcome {
            let s = self.s.clone();
            slash(
                &mut self.book,
                &mut self.scores,
                &mut self.ids,
                &s,
                &did(who),
                sc(omega),
                "drift",
                T0,
            )
        }
        fn score(&self, a: &str) -> f64 {
            self.scores[&did(a)].get()
        }
    }

    #[test]
    fn vouchee_is_blacklisted_and_voucher_clipped() {
        let mut f = Fx::new(&[("v", 0.9), ("e", 0.7)]);
        f.bond("v", "e");
        let out = f.slash("e", 0.5);
        assert_eq!(f.score("e"), 0.0);
        assert_eq!(f.score("v"), 0.45);
        let r = &out.results[0];
        assert_eq!(r.vouchee_sigma_before.get(), 0.7);
        assert_eq!(r.vouchee_sigma_after.get(), 0.0);
        assert_eq!(r.clips.len(), 1);
        assert_eq!(
            (r.clips[0].before.get(), r.clips[0].after.get()),
            (0.9, 0.45)
        );
        assert!(r.slash_id.as_str().starts_with("slash:"));
        assert_eq!(r.reason, "drift");
        // The bond is released.
        assert!(f.book.vouchers_of(&f.s, &did("e"), T0).is_empty());
        assert_eq!(
            out.changed_agents,
            [did("e"), did("v")].into_iter().collect()
        );
    }

    #[test]
    fn multiple_vouchers_all_clipped() {
        let mut f = Fx::new(&[("v1", 0.8), ("v2", 0.7), ("e", 0.5)]);
        f.bond("v1", "e");
        f.bond("v2", "e");
        let out = f.slash("e", 0.3);
        let clips = &out.results[0].clips;
        assert_eq!(clips.len(), 2);
        assert!((clips[0].after.get() - 0.56).abs() < 1e-12);
        assert!((clips[1].after.get() - 0.49).abs() < 1e-12);
        assert_eq!(clips[0].voucher, did("v1"));
    }

    #[test]
    fn floor_is_respected() {
        let mut f = Fx::new(&[("v", 0.06), ("e", 0.5)]);
        f.bond("v", "e");
        f.slash("e", 0.95);
        assert_eq!(f.score("v"), SIGMA_FLOOR);
    }

    #[test]
    fn clip_never_raises_a_score_below_the_floor_unlike_reference() {
        let mut f = Fx::new(&[("v", 0.01), ("e", 0.5)]);
        f.bond("v", "e");
        let out = f.slash("e", 0.5);
        assert_eq!(f.score("v"), 0.01);
        assert_eq!(out.results[0].clips[0].after.get(), 0.01);
    }

    #[test]
    fn unknown_voucher_is_not_bumped_to_floor_unlike_reference() {
        let mut f = Fx::new(&[("e", 0.5)]);
        f.bond("ghost", "e");
        let out = f.slash("e", 0.5);
        assert!(!f.scores.contains_key(&did("ghost")));
        let clip = &out.results[0].clips[0];
        assert!(!clip.scored);
        assert_eq!((clip.before.get(), clip.after.get()), (0.0, 0.0));
        assert!(!out.changed_agents.contains(&did("ghost")));
        // Its bond is still released, and it does not cascade.
        assert!(f.book.vouchers_of(&f.s, &did("e"), T0).is_empty());
        assert_eq!(out.results.len(), 1);
    }

    #[test]
    fn cascade_example_from_spec() {
        // A vouches B, B vouches C; A 0.9, B 0.06, C 0.5; slash C with ω 0.95.
        let mut f = Fx::new(&[("A", 0.9), ("B", 0.06), ("C", 0.5)]);
        f.bond("A", "B");
        f.bond("B", "C");
        let out = f.slash("C", 0.95);
        assert_eq!(out.results.len(), 2);
        assert_eq!(out.results[0].vouchee, did("C"));
        assert_eq!(out.results[0].cascade_depth, 0);
        assert_eq!(out.results[0].clips[0].after.get(), SIGMA_FLOOR);
        let b = &out.results[1];
        assert_eq!(b.vouchee, did("B"));
        assert_eq!(b.cascade_depth, 1);
        assert_eq!(b.vouchee_sigma_before.get(), SIGMA_FLOOR);
        assert_eq!(b.reason, "cascade from C: drift");
        assert_eq!(f.score("C"), 0.0);
        assert_eq!(f.score("B"), 0.0);
        // 0.9 × 0.05 = 0.045 → floor 0.05; A has no vouchers, so the cascade stops.
        assert_eq!(f.score("A"), SIGMA_FLOOR);
        assert_eq!(
            out.changed_agents,
            [did("A"), did("B"), did("C")].into_iter().collect()
        );
    }

    #[test]
    fn cascade_stops_at_max_depth() {
        // Z→A→B→C→D, everyone already near the floor; slash D.
        let mut f = Fx::new(&[
            ("Z", 0.06),
            ("A", 0.06),
            ("B", 0.06),
            ("C", 0.06),
            ("D", 0.5),
        ]);
        f.bond("Z", "A");
        f.bond("A", "B");
        f.bond("B", "C");
        f.bond("C", "D");
        let out = f.slash("D", 0.95);
        let depths: Vec<(String, u8)> = out
            .results
            .iter()
            .map(|r| (r.vouchee.to_string(), r.cascade_depth))
            .collect();
        assert_eq!(
            depths,
            vec![("D".into(), 0), ("C".into(), 1), ("B".into(), 2)]
        );
        // Depth 2 clips A but does not slash it; Z is untouched.
        assert_eq!(f.score("A"), SIGMA_FLOOR);
        assert_eq!(f.score("Z"), 0.06);
        assert_eq!(f.book.vouchers_of(&f.s, &did("A"), T0).len(), 1);
        assert_eq!(f.score("B"), 0.0);
        assert_eq!(out.released_bonds().count(), 3);
    }

    #[test]
    fn no_cascade_above_threshold_or_without_vouchers() {
        let mut f = Fx::new(&[("A", 0.9), ("B", 0.8), ("C", 0.5)]);
        f.bond("A", "B");
        f.bond("B", "C");
        let out = f.slash("C", 0.5);
        assert_eq!(out.results.len(), 1);
        assert_eq!(f.score("B"), 0.4);
        assert_eq!(f.score("A"), 0.9);
    }

    #[test]
    fn other_sessions_are_untouched() {
        let mut f = Fx::new(&[("v", 0.9), ("w", 0.9), ("e", 0.5)]);
        f.bond("v", "e");
        f.s = SessionId::new("s2").unwrap();
        f.bond("w", "e");
        f.s = SessionId::new("s1").unwrap();
        f.slash("e", 0.5);
        assert_eq!(f.score("w"), 0.9);
        assert_eq!(
            f.book
                .vouchers_of(&SessionId::new("s2").unwrap(), &did("e"), T0)
                .len(),
            1
        );
    }

    #[test]
    fn history_is_bounded_and_queryable() {
        let mut h = SlashHistory::new(2);
        let mut f = Fx::new(&[("v", 0.9), ("a", 0.5), ("b", 0.5), ("c", 0.5)]);
        f.bond("v", "a");
        h.record(&f.slash("a", 0.5));
        h.record(&f.slash("b", 0.5));
        assert_eq!(h.for_agent(&did("v")).len(), 1);
        h.record(&f.slash("c", 0.5));
        assert_eq!(h.len(), 2);
        assert!(h.for_agent(&did("a")).is_empty());
        assert!(h.for_agent(&did("v")).is_empty());
        assert_eq!(h.for_session(&f.s).len(), 2);
        assert_eq!(h.iter().next().unwrap().vouchee, did("b"));
    }
}
