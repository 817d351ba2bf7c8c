//! Vouching: a trusted agent (the voucher) bonds part of its own trust score σ to back another
//! agent (the vouchee) inside one session, and loses part of σ if the vouchee is slashed.
//!
//! The [`VouchBook`] keeps every bond indexed by (session, voucher), (session, vouchee), voucher
//! across sessions and expiry, so that each query touches only the bonds it is about. The
//! reference scanned every vouch ever created for every query (spec §17 item 28).
//!
//! Departures from the reference (spec §4.1, §17 item 20), each with a test:
//! - the cycle check refuses a bond whenever the vouchee can already reach the voucher through
//!   active bonds of the session (cycles of any length) and accepts diamonds;
//! - the exposure cap is summed over *all* sessions of the voucher, not per session;
//! - a second active bond for the same (session, voucher, vouchee) is refused instead of stacking;
//! - an expiry that is not in the future and a zero bond fraction are refused;
//! - released bonds are pruned after a per-session retention count, so memory is bounded.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use serde::{Deserialize, Serialize};

use crate::id::{AgentDid, IdGen, RecordId, SessionId};
use crate::score::Score;
use crate::time::Timestamp;

/// Reference constant: a voucher needs at least this σ.
pub const MIN_VOUCHER_SIGMA: f64 = 0.50;
/// Reference constant: fraction of σ bonded when the caller gives none.
pub const DEFAULT_BOND_PCT: f64 = 0.20;
/// Reference constant: a voucher may have at most this fraction of σ bonded at once.
pub const DEFAULT_MAX_EXPOSURE: f64 = 0.80;
/// Released bonds kept per session for history queries before the oldest are pruned.
pub const DEFAULT_RELEASED_RETENTION: usize = 1024;

/// Why a vouch, a release or a policy was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum VouchError {
    /// Voucher and vouchee are the same agent.
    #[error("cannot vouch for yourself")]
    SelfVouch,
    /// The voucher's σ is below the policy minimum.
    #[error("voucher σ ({sigma:.2}) below minimum ({min:.2})")]
    SigmaTooLow {
        /// The voucher's σ.
        sigma: f64,
        /// The policy minimum.
        min: f64,
    },
    /// The requested expiry is now or in the past.
    #[error("expiry `{expiry}` is not in the future (now `{now}`)")]
    ExpiryNotInFuture {
        /// The requested expiry.
        expiry: Timestamp,
        /// The current time.
        now: Timestamp,
    },
    /// The same voucher already backs the same vouchee in this session.
    #[error(
        "`{voucher}` already has active bond `{existing}` for `{vouchee}` in session `{session}`"
    )]
    Duplicate {
        /// The voucher.
        voucher: AgentDid,
        /// The vouchee.
        vouchee: AgentDid,
        /// The session.
        session: SessionId,
        /// The bond that already exists.
        existing: RecordId,
    },
    /// The vouchee already vouches for the voucher, directly or through other agents.
    #[error(
        "circular vouching detected: `{vouchee}` already vouches, directly or transitively, for `{voucher}` in session `{session}`"
    )]
    Circular {
        /// The voucher.
        voucher: AgentDid,
        /// The vouchee.
        vouchee: AgentDid,
        /// The session.
        session: SessionId,
    },
    /// A bond fraction of zero would back nothing.
    #[error("bond percentage must be greater than 0")]
    ZeroBond,
    /// The new bond would push the voucher's total bonded amount over its cap.
    #[error(
        "voucher `{voucher}` would exceed max exposure ({:.0}% of σ). current: {current:.3}, requested: {requested:.3}, limit: {limit:.3}",
        max_exposure * 100.0
    )]
    ExceedsExposure {
        /// The voucher.
        voucher: AgentDid,
        /// The policy's max exposure fraction.
        max_exposure: f64,
        /// Bonded amount already active over all sessions.
        current: f64,
        /// Bonded amount requested.
        requested: f64,
        /// σ × max exposure.
        limit: f64,
    },
    /// No bond with this id is known (never created, or pruned after release).
    #[error("vouch `{0}` not found")]
    NotFound(String),
    /// The policy is not usable.
    #[error("invalid vouch policy: {0}")]
    InvalidPolicy(String),
    /// A snapshot holds two bonds with the same id.
    #[error("vouch snapshot holds duplicate id `{0}`")]
    DuplicateId(RecordId),
}

/// The tunable limits of vouching. Defaults are the reference's constants.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VouchPolicy {
    /// A voucher's σ must be at least this.
    pub min_voucher_sigma: Score,
    /// Bond fraction used when the caller gives none.
    pub default_bond_pct: Score,
    /// Total active bonded amount of a voucher, over all sessions, may not exceed σ × this.
    pub max_exposure: Score,
    /// Released bonds kept per session; older released bonds are pruned (and then unknown to
    /// [`VouchBook::get`] and [`VouchBook::release`]).
    pub released_retention_per_session: usize,
}

impl Default for VouchPolicy {
    fn default() -> Self {
        VouchPolicy {
            min_voucher_sigma: Score::clamped(MIN_VOUCHER_SIGMA),
            default_bond_pct: Score::clamped(DEFAULT_BOND_PCT),
            max_exposure: Score::clamped(DEFAULT_MAX_EXPOSURE),
            released_retention_per_session: DEFAULT_RELEASED_RETENTION,
        }
    }
}

impl VouchPolicy {
    /// Checks that the policy can admit a bond at all. The reference silently replaced a zero
    /// max exposure by 0.80; here it is refused.
    pub fn validate(&self) -> Result<(), VouchError> {
        if self.max_exposure.get() <= 0.0 {
            return Err(VouchError::InvalidPolicy(
                "max_exposure must be greater than 0".into(),
            ));
        }
        if self.default_bond_pct.get() <= 0.0 {
            return Err(VouchError::InvalidPolicy(
                "default_bond_pct must be greater than 0".into(),
            ));
        }
        Ok(())
    }
}

/// One bond: `voucher` backs `vouchee` in `session_id` with `bonded_amount` of its σ.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VouchRecord {
    /// `vouch:{16 hex}`.
    pub vouch_id: RecordId,
    /// The agent putting its σ at stake.
    pub voucher: AgentDid,
    /// The agent being backed.
    pub vouchee: AgentDid,
    /// The session the bond lives in.
    pub session_id: SessionId,
    /// Fraction of the voucher's σ bonded.
    pub bonded_sigma_pct: Score,
    /// σ × pct at the time of bonding.
    pub bonded_amount: f64,
    /// When the bond was created.
    pub created_at: Timestamp,
    /// The bond stops counting strictly after this instant; `None` = until released.
    pub expiry: Option<Timestamp>,
    /// False once released (explicitly, by a slash, by session end or by expiry).
    pub is_active: bool,
    /// When the bond stopped being active (for expiry: the expiry instant itself).
    pub released_at: Option<Timestamp>,
}

impl VouchRecord {
    /// True when `now` is strictly after the expiry (the reference's rule).
    pub fn is_expired(&self, now: Timestamp) -> bool {
        self.expiry.is_some_and(|e| now > e)
    }

    /// True when the bond counts at `now`: active and not expired.
    pub fn is_in_force(&self, now: Timestamp) -> bool {
        self.is_active && !self.is_expired(now)
    }
}

/// Effective trust σ_eff = min(σ_raw + ω · Σ bonded, 1) (spec §4.1).
///
/// `bonded_total` is the sum of bonded amounts backing the agent ([`VouchBook::bonded_into`]).
/// A negative or NaN total counts as zero, so the result is never NaN and never below σ_raw.
pub fn sigma_eff(sigma_raw: Score, bonded_total: f64, omega: Score) -> Score {
    let bonded = if bonded_total.is_nan() {
        0.0
    } else {
        bonded_total.max(0.0)
    };
    let boost = omega.get() * bonded;
    // 0 × ∞ is NaN: no weight means no boost.
    let boost = if boost.is_nan() { 0.0 } else { boost };
    Score::clamped((sigma_raw.get() + boost).min(1.0))
}

/// session → agent → bond sequence numbers.
type PairIndex = BTreeMap<SessionId, BTreeMap<AgentDid, BTreeSet<u64>>>;
/// key → bond sequence numbers.
type Index<K> = BTreeMap<K, BTreeSet<u64>>;

fn pair_insert(ix: &mut PairIndex, s: &SessionId, a: &AgentDid, seq: u64) {
    ix.entry(s.clone())
        .or_default()
        .entry(a.clone())
        .or_default()
        .insert(seq);
}

fn pair_remove(ix: &mut PairIndex, s: &SessionId, a: &AgentDid, seq: u64) {
    if let Some(by_agent) = ix.get_mut(s) {
        if let Some(set) = by_agent.get_mut(a) {
            set.remove(&seq);
            if set.is_empty() {
                by_agent.remove(a);
            }
        }
        if by_agent.is_empty() {
            ix.remove(s);
        }
    }
}

fn pair_get<'a>(ix: &'a PairIndex, s: &SessionId, a: &AgentDid) -> Option<&'a BTreeSet<u64>> {
    ix.get(s).and_then(|m| m.get(a))
}

fn index_insert<K: Ord + Clone>(ix: &mut Index<K>, k: &K, seq: u64) {
    ix.entry(k.clone()).or_default().insert(seq);
}

fn index_remove<K: Ord>(ix: &mut Index<K>, k: &K, seq: u64) {
    if let Some(set) = ix.get_mut(k) {
        set.remove(&seq);
        if set.is_empty() {
            ix.remove(k);
        }
    }
}

/// All bonds of all sessions, indexed.
///
/// Memory bound: every active bond, plus at most
/// [`VouchPolicy::released_retention_per_session`] released bonds per session (oldest released
/// pruned first); [`VouchBook::forget_session`] drops a finished session's history entirely.
/// Iteration order everywhere is creation order (an internal sequence number).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(try_from = "VouchBookState", into = "VouchBookState")]
pub struct VouchBook {
    policy: VouchPolicy,
    next_seq: u64,
    records: BTreeMap<u64, VouchRecord>,
    by_id: BTreeMap<RecordId, u64>,
    // INVARIANT: `active_out`, `active_in`, `active_by_voucher` and `expiring` hold exactly the
    // records with `is_active`; `given`, `received`, `sessions` hold every retained record.
    active_out: PairIndex,
    active_in: PairIndex,
    active_by_voucher: Index<AgentDid>,
    expiring: BTreeSet<(Timestamp, u64)>,
    given: Index<AgentDid>,
    received: Index<AgentDid>,
    sessions: Index<SessionId>,
    // INVARIANT: holds exactly the retained inactive records, per session, in release order.
    released: BTreeMap<SessionId, VecDeque<u64>>,
}

/// The serialised form of a [`VouchBook`]: the policy and the retained bonds in creation order.
/// Indexes are rebuilt on load, so a snapshot can never hold an inconsistent index.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct VouchBookState {
    /// The policy.
    pub policy: VouchPolicy,
    /// Every retained bond, oldest first.
    pub records: Vec<VouchRecord>,
}

impl From<VouchBook> for VouchBookState {
    fn from(b: VouchBook) -> Self {
        VouchBookState {
            policy: b.policy,
            records: b.records.into_values().collect(),
        }
    }
}

impl TryFrom<VouchBookState> for VouchBook {
    type Error = VouchError;
    fn try_from(s: VouchBookState) -> Result<Self, VouchError> {
        let mut book = VouchBook::new(s.policy)?;
        for r in s.records {
            if book.by_id.contains_key(&r.vouch_id) {
                return Err(VouchError::DuplicateId(r.vouch_id));
            }
            book.insert(r);
        }
        Ok(book)
    }
}

impl Default for VouchBook {
    fn default() -> Self {
        VouchBook::empty(VouchPolicy::default())
    }
}

impl VouchBook {
    /// An empty book with a validated policy.
    pub fn new(policy: VouchPolicy) -> Result<Self, VouchError> {
        policy.validate()?;
        Ok(VouchBook::empty(policy))
    }

    /// Replaces the policy after validating it (reconfiguration). Bonds already made stand;
    /// the new limits apply to the next vouch.
    pub fn set_policy(&mut self, policy: VouchPolicy) -> Result<(), VouchError> {
        policy.validate()?;
        self.policy = policy;
        Ok(())
    }

    fn empty(policy: VouchPolicy) -> Self {
        VouchBook {
            policy,
            next_seq: 0,
            records: BTreeMap::new(),
            by_id: BTreeMap::new(),
            active_out: PairIndex::new(),
            active_in: PairIndex::new(),
            active_by_voucher: Index::new(),
            expiring: BTreeSet::new(),
            given: Index::new(),
            received: Index::new(),
            sessions: Index::new(),
            released: BTreeMap::new(),
        }
    }

    /// The policy in force.
    pub fn policy(&self) -> &VouchPolicy {
        &self.policy
    }

    /// Number of retained bonds (active and released).
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// True when no bond is retained.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Number of active bonds (including expired ones not yet swept by [`VouchBook::expire`]).
    pub fn active_count(&self) -> usize {
        self.active_by_voucher.values().map(BTreeSet::len).sum()
    }

    /// Creates a bond after the checks of spec §4.1, in this order: self-vouch, voucher σ,
    /// expiry in the future, no duplicate active bond, no cycle, bond fraction, exposure cap.
    ///
    /// `voucher_sigma` is the voucher's current σ as known to the caller (the engine passes the
    /// participant's real score, never a self-asserted one).
    #[expect(
        clippy::too_many_arguments,
        reason = "mirrors the reference call; every argument is a distinct input"
    )]
    pub fn vouch(
        &mut self,
        ids: &mut IdGen,
        session: &SessionId,
        voucher: &AgentDid,
        voucher_sigma: Score,
        vouchee: &AgentDid,
        bond_pct: Option<Score>,
        expiry: Option<Timestamp>,
        now: Timestamp,
    ) -> Result<VouchRecord, VouchError> {
        if voucher == vouchee {
            return Err(VouchError::SelfVouch);
        }
        let min = self.policy.min_voucher_sigma.get();
        if voucher_sigma.get() < min {
            return Err(VouchError::SigmaTooLow {
                sigma: voucher_sigma.get(),
                min,
            });
        }
        if let Some(e) = expiry
            && e <= now
        {
            return Err(VouchError::ExpiryNotInFuture { expiry: e, now });
        }
        if let Some(existing) = self
            .bonds_out(session, voucher)
            .find(|r| r.vouchee == *vouchee && r.is_in_force(now))
        {
            return Err(VouchError::Duplicate {
                voucher: voucher.clone(),
                vouchee: vouchee.clone(),
                session: session.clone(),
                existing: existing.vouch_id.clone(),
            });
        }
        if self.reaches(session, vouchee, voucher, now) {
            return Err(VouchError::Circular {
                voucher: voucher.clone(),
                vouchee: vouchee.clone(),
                session: session.clone(),
            });
        }
        let pct = bond_pct.unwrap_or(self.policy.default_bond_pct);
        if pct.get() <= 0.0 {
            return Err(VouchError::ZeroBond);
        }
        let bonded = voucher_sigma.get() * pct.get();
        // Same f64 order of operations as the reference: Σ existing (from 0.0, creation
        // order) + new > σ × max. No epsilon is needed: with this order 0.9×0.4 + 0.9×0.4 equals
        // 0.9×0.8 exactly (both 0.7200000000000001), which the reference's test relies on.
        let current = self.exposure(voucher, now);
        let max = self.policy.max_exposure.get();
        let limit = voucher_sigma.get() * max;
        if current + bonded > limit {
            return Err(VouchError::ExceedsExposure {
                voucher: voucher.clone(),
                max_exposure: max,
                current,
                requested: bonded,
                limit,
            });
        }
        let record = VouchRecord {
            vouch_id: ids.record("vouch"),
            voucher: voucher.clone(),
            vouchee: vouchee.clone(),
            session_id: session.clone(),
            bonded_sigma_pct: pct,
            bonded_amount: bonded,
            created_at: now,
            expiry,
            is_active: true,
            released_at: None,
        };
        self.insert(record.clone());
        Ok(record)
    }

    /// True when `from` reaches `to` over bonds in force in `session` (breadth-first, each node
    /// visited once, so O(V + E) of the session's active graph and correct on any graph).
    fn reaches(&self, session: &SessionId, from: &AgentDid, to: &AgentDid, now: Timestamp) -> bool {
        let mut seen: BTreeSet<&AgentDid> = BTreeSet::new();
        let mut queue: VecDeque<&AgentDid> = VecDeque::new();
        seen.insert(from);
        queue.push_back(from);
        while let Some(node) = queue.pop_front() {
            if node == to {
                return true;
            }
            for r in self.bonds_out(session, node) {
                if r.is_in_force(now) && seen.insert(&r.vouchee) {
                    queue.push_back(&r.vouchee);
                }
            }
        }
        false
    }

    /// Active bonds given by `voucher` in `session` (expired ones included), creation order.
    fn bonds_out<'a>(
        &'a self,
        session: &SessionId,
        voucher: &AgentDid,
    ) -> impl Iterator<Item = &'a VouchRecord> + 'a {
        self.resolve(pair_get(&self.active_out, session, voucher))
    }

    /// Active bonds received by `vouchee` in `session` (expired ones included), creation order.
    fn bonds_in<'a>(
        &'a self,
        session: &SessionId,
        vouchee: &AgentDid,
    ) -> impl Iterator<Item = &'a VouchRecord> + 'a {
        self.resolve(pair_get(&self.active_in, session, vouchee))
    }

    fn resolve<'a>(
        &'a self,
        set: Option<&'a BTreeSet<u64>>,
    ) -> impl Iterator<Item = &'a VouchRecord> + 'a {
        set.into_iter()
            .flatten()
            .filter_map(|seq| self.records.get(seq))
    }

    fn insert(&mut self, r: VouchRecord) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.by_id.insert(r.vouch_id.clone(), seq);
        index_insert(&mut self.given, &r.voucher, seq);
        index_insert(&mut self.received, &r.vouchee, seq);
        index_insert(&mut self.sessions, &r.session_id, seq);
        if r.is_active {
            pair_insert(&mut self.active_out, &r.session_id, &r.voucher, seq);
            pair_insert(&mut self.active_in, &r.session_id, &r.vouchee, seq);
            index_insert(&mut self.active_by_voucher, &r.voucher, seq);
            if let Some(e) = r.expiry {
                self.expiring.insert((e, seq));
            }
        } else {
            self.released
                .entry(r.session_id.clone())
                .or_default()
                .push_back(seq);
        }
        self.records.insert(seq, r);
    }

    /// Marks bond `seq` inactive at `at`, moves it to the released history and prunes that
    /// session's history to the retention count. Returns the record as released.
    fn deactivate(&mut self, seq: u64, at: Timestamp) -> Option<VouchRecord> {
        let r = self.records.get_mut(&seq)?;
        if !r.is_active {
            return Some(r.clone());
        }
        r.is_active = false;
        r.released_at = Some(at);
        let out = r.clone();
        pair_remove(&mut self.active_out, &out.session_id, &out.voucher, seq);
        pair_remove(&mut self.active_in, &out.session_id, &out.vouchee, seq);
        index_remove(&mut self.active_by_voucher, &out.voucher, seq);
        if let Some(e) = out.expiry {
            self.expiring.remove(&(e, seq));
        }
        let queue = self.released.entry(out.session_id.clone()).or_default();
        queue.push_back(seq);
        let mut pruned = Vec::new();
        while queue.len() > self.policy.released_retention_per_session {
            if let Some(old) = queue.pop_front() {
                pruned.push(old);
            }
        }
        if queue.is_empty() {
            self.released.remove(&out.session_id);
        }
        for old in pruned {
            self.drop_record(old);
        }
        Some(out)
    }

    /// Removes a (released) record and its history index entries.
    fn drop_record(&mut self, seq: u64) {
        if let Some(r) = self.records.remove(&seq) {
            self.by_id.remove(&r.vouch_id);
            index_remove(&mut self.given, &r.voucher, seq);
            index_remove(&mut self.received, &r.vouchee, seq);
            index_remove(&mut self.sessions, &r.session_id, seq);
        }
    }

    /// Releases one bond. Releasing a released bond returns it unchanged (idempotent).
    pub fn release(
        &mut self,
        vouch_id: &RecordId,
        now: Timestamp,
    ) -> Result<VouchRecord, VouchError> {
        let seq = *self
            .by_id
            .get(vouch_id)
            .ok_or_else(|| VouchError::NotFound(vouch_id.to_string()))?;
        self.deactivate(seq, now)
            .ok_or_else(|| VouchError::NotFound(vouch_id.to_string()))
    }

    /// Releases every active bond of `session` (expired-but-unswept included, as the reference
    /// counted them) and returns them in creation order. Used when a session terminates.
    pub fn release_session(&mut self, session: &SessionId, now: Timestamp) -> Vec<VouchRecord> {
        let seqs: Vec<u64> = self
            .active_out
            .get(session)
            .into_iter()
            .flat_map(|m| m.values().flatten().copied())
            .collect::<BTreeSet<u64>>()
            .into_iter()
            .collect();
        seqs.into_iter()
            .filter_map(|s| self.deactivate(s, now))
            .collect()
    }

    /// Releases every active bond `agent` gave or received, in all sessions, in creation order.
    /// Used by the kill switch.
    pub fn release_agent(&mut self, agent: &AgentDid, now: Timestamp) -> Vec<VouchRecord> {
        let mut seqs: BTreeSet<u64> = BTreeSet::new();
        for ix in [&self.given, &self.received] {
            if let Some(set) = ix.get(agent) {
                seqs.extend(
                    set.iter()
                        .filter(|s| self.records.get(s).is_some_and(|r| r.is_active)),
                );
            }
        }
        seqs.into_iter()
            .filter_map(|s| self.deactivate(s, now))
            .collect()
    }

    /// The earliest pending expiry, if any (so a caller can tell whether `expire` has work).
    pub fn next_expiry(&self) -> Option<Timestamp> {
        self.expiring.iter().next().map(|(t, _)| *t)
    }

    /// Deactivates every bond whose expiry is strictly before `now` and returns them. Their
    /// `released_at` is the expiry instant, so the result does not depend on when this runs.
    pub fn expire(&mut self, now: Timestamp) -> Vec<VouchRecord> {
        let due: Vec<(Timestamp, u64)> = self.expiring.range(..(now, 0)).copied().collect();
        due.into_iter()
            .filter_map(|(at, seq)| self.deactivate(seq, at))
            .collect()
    }

    /// Drops the released history of `session` (active bonds stay). Returns how many records
    /// were dropped. Call after the session is archived.
    pub fn forget_session(&mut self, session: &SessionId) -> usize {
        let seqs = self.released.remove(session).unwrap_or_default();
        let n = seqs.len();
        for s in seqs {
            self.drop_record(s);
        }
        n
    }

    /// Σ bonded amounts of the bonds in force backing `vouchee` in `session`, creation order.
    pub fn bonded_into(&self, session: &SessionId, vouchee: &AgentDid, now: Timestamp) -> f64 {
        self.bonds_in(session, vouchee)
            .filter(|r| r.is_in_force(now))
            .fold(0.0, |acc, r| acc + r.bonded_amount)
    }

    /// The bonds in force backing `vouchee` in `session`, creation order.
    pub fn vouchers_of(
        &self,
        session: &SessionId,
        vouchee: &AgentDid,
        now: Timestamp,
    ) -> Vec<&VouchRecord> {
        self.bonds_in(session, vouchee)
            .filter(|r| r.is_in_force(now))
            .collect()
    }

    /// The bonds in force given by `voucher` in `session`, creation order.
    pub fn vouchees_of(
        &self,
        session: &SessionId,
        voucher: &AgentDid,
        now: Timestamp,
    ) -> Vec<&VouchRecord> {
        self.bonds_out(session, voucher)
            .filter(|r| r.is_in_force(now))
            .collect()
    }

    /// Agents with at least one active bond given in `session` (expired-but-unswept included),
    /// in DID order.
    pub fn session_vouchers(&self, session: &SessionId) -> Vec<&AgentDid> {
        self.active_out
            .get(session)
            .map(|m| m.keys().collect())
            .unwrap_or_default()
    }

    /// Every retained bond `voucher` gave (all sessions, active or released), creation order.
    pub fn given_by(&self, voucher: &AgentDid) -> Vec<&VouchRecord> {
        self.resolve(self.given.get(voucher)).collect()
    }

    /// Every retained bond `vouchee` received (all sessions, active or released), creation order.
    pub fn received_by(&self, vouchee: &AgentDid) -> Vec<&VouchRecord> {
        self.resolve(self.received.get(vouchee)).collect()
    }

    /// Every retained bond of `session`, creation order.
    pub fn for_session(&self, session: &SessionId) -> Vec<&VouchRecord> {
        self.resolve(self.sessions.get(session)).collect()
    }

    /// Σ bonded amounts of the bonds in force given by `voucher` across all sessions, summed
    /// from 0.0 in creation order.
    pub fn exposure(&self, voucher: &AgentDid, now: Timestamp) -> f64 {
        self.resolve(self.active_by_voucher.get(voucher))
            .filter(|r| r.is_in_force(now))
            .fold(0.0, |acc, r| acc + r.bonded_amount)
    }

    /// The bond with this id, if retained.
    pub fn get(&self, vouch_id: &RecordId) -> Option<&VouchRecord> {
        self.by_id.get(vouch_id).and_then(|s| self.records.get(s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn did(s: &str) -> AgentDid {
        AgentDid::new(format!("did:mesh:{s}")).unwrap()
    }
    fn sid(s: &str) -> SessionId {
        SessionId::new(s).unwrap()
    }
    fn sc(v: f64) -> Score {
        Score::new(v).unwrap()
    }
    const T0: Timestamp = Timestamp::from_secs(1_000);

    struct Fx {
        book: VouchBook,
        ids: IdGen,
        s: SessionId,
    }
    impl Fx {
        fn new() -> Self {
            Fx {
                book: VouchBook::default(),
                ids: IdGen::new([1; 16]),
                s: sid("s1"),
            }
        }
        fn v(
            &mut self,
            a: &str,
            b: &str,
            sigma: f64,
            pct: Option<f64>,
        ) -> Result<VouchRecord, VouchError> {
            let s = self.s.clone();
            self.book.vouch(
                &mut self.ids,
                &s,
                &did(a),
                sc(sigma),
                &did(b),
                pct.map(sc),
                None,
                T0,
            )
        }
    }

    #[test]
    fn basic_vouch_uses_default_pct() {
        let mut f = Fx::new();
        let r = f.v("a", "b", 0.8, None).unwrap();
        assert_eq!(r.bonded_sigma_pct.get(), 0.20);
        assert!((r.bonded_amount - 0.16).abs() < 1e-12);
        assert!(r.is_active);
        assert!(r.vouch_id.as_str().starts_with("vouch:"));
        assert_eq!(f.book.get(&r.vouch_id), Some(&r));
    }

    #[test]
    fn self_vouch_is_refused() {
        let mut f = Fx::new();
        let e = f.v("a", "a", 0.9, None).unwrap_err();
        assert_eq!(e.to_string(), "cannot vouch for yourself");
    }

    #[test]
    fn low_sigma_is_refused_with_two_decimals() {
        let mut f = Fx::new();
        let e = f.v("a", "b", 0.3, None).unwrap_err();
        assert_eq!(e.to_string(), "voucher σ (0.30) below minimum (0.50)");
        // Exactly the minimum is allowed.
        assert!(f.v("a", "b", 0.5, None).is_ok());
    }

    #[test]
    fn expiry_must_be_in_the_future() {
        let mut f = Fx::new();
        let s = f.s.clone();
        for e in [T0, Timestamp::from_secs(10)] {
            let err = f
                .book
                .vouch(
                    &mut f.ids,
                    &s,
                    &did("a"),
                    sc(0.9),
                    &did("b"),
                    None,
                    Some(e),
                    T0,
                )
                .unwrap_err();
            assert!(matches!(err, VouchError::ExpiryNotInFuture { .. }));
            assert!(err.to_string().contains("is not in the future"));
        }
    }

    #[test]
    fn duplicate_active_bond_is_refused_unlike_reference() {
        let mut f = Fx::new();
        let first = f.v("a", "b", 0.9, Some(0.1)).unwrap();
        let e = f.v("a", "b", 0.9, Some(0.1)).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "`did:mesh:a` already has active bond `{}` for `did:mesh:b` in session `s1`",
                first.vouch_id
            )
        );
        // After release a new bond is allowed.
        f.book.release(&first.vouch_id, T0).unwrap();
        assert!(f.v("a", "b", 0.9, Some(0.1)).is_ok());
        // The same pair in another session is a different bond.
        f.s = sid("s2");
        assert!(f.v("a", "b", 0.9, Some(0.1)).is_ok());
    }

    #[test]
    fn two_cycle_is_refused() {
        let mut f = Fx::new();
        f.v("a", "b", 0.9, None).unwrap();
        let e = f.v("b", "a", 0.9, None).unwrap_err();
        assert_eq!(
            e.to_string(),
            "circular vouching detected: `did:mesh:a` already vouches, directly or transitively, for `did:mesh:b` in session `s1`"
        );
    }

    #[test]
    fn three_cycle_is_refused_unlike_reference() {
        let mut f = Fx::new();
        f.v("a", "b", 0.9, Some(0.1)).unwrap();
        f.v("b", "c", 0.9, Some(0.1)).unwrap();
        let e = f.v("c", "a", 0.9, Some(0.1)).unwrap_err();
        assert!(matches!(e, VouchError::Circular { .. }));
        // A longer one too.
        f.v("c", "d", 0.9, Some(0.1)).unwrap();
        assert!(matches!(
            f.v("d", "a", 0.9, Some(0.1)).unwrap_err(),
            VouchError::Circular { .. }
        ));
    }

    #[test]
    fn diamond_is_allowed_unlike_reference() {
        let mut f = Fx::new();
        f.v("a", "b", 0.9, Some(0.1)).unwrap();
        f.v("a", "c", 0.9, Some(0.1)).unwrap();
        f.v("b", "d", 0.9, Some(0.1)).unwrap();
        f.v("c", "d", 0.9, Some(0.1)).unwrap();
        assert!(f.v("x", "a", 0.9, Some(0.1)).is_ok());
    }

    #[test]
    fn cycle_check_ignores_other_sessions_released_and_expired_bonds() {
        let mut f = Fx::new();
        let ab = f.v("a", "b", 0.9, Some(0.1)).unwrap();
        f.s = sid("s2");
        // a→b lives in s1 only.
        assert!(f.v("b", "a", 0.9, Some(0.1)).is_ok());
        f.s = sid("s1");
        f.book.release(&ab.vouch_id, T0).unwrap();
        assert!(f.v("b", "a", 0.9, Some(0.1)).is_ok());
        // An expired bond no longer closes a cycle.
        let s3 = sid("s3");
        let later = T0.plus(std::time::Duration::from_secs(10));
        f.book
            .vouch(
                &mut f.ids,
                &s3,
                &did("c"),
                sc(0.9),
                &did("d"),
                Some(sc(0.1)),
                Some(T0.plus(std::time::Duration::from_secs(5))),
                T0,
            )
            .unwrap();
        assert!(
            f.book
                .vouch(
                    &mut f.ids,
                    &s3,
                    &did("d"),
                    sc(0.9),
                    &did("c"),
                    Some(sc(0.1)),
                    None,
                    later
                )
                .is_ok()
        );
    }

    #[test]
    fn zero_bond_is_refused() {
        let mut f = Fx::new();
        assert_eq!(
            f.v("a", "b", 0.9, Some(0.0)).unwrap_err().to_string(),
            "bond percentage must be greater than 0"
        );
    }

    #[test]
    fn exposure_limit_equality_is_allowed_like_reference() {
        let mut f = Fx::new();
        f.v("a", "b", 0.9, Some(0.4)).unwrap();
        f.v("a", "c", 0.9, Some(0.4)).unwrap();
        assert_eq!(f.book.exposure(&did("a"), T0), 0.9 * 0.4 + 0.9 * 0.4);
        let e = f.v("a", "d", 0.9, Some(0.1)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "voucher `did:mesh:a` would exceed max exposure (80% of σ). current: 0.720, requested: 0.090, limit: 0.720"
        );
    }

    #[test]
    fn max_exposure_prevents_over_bonding() {
        let mut f = Fx::new();
        f.v("a", "b", 0.9, Some(0.5)).unwrap();
        let e = f.v("a", "c", 0.9, Some(0.5)).unwrap_err();
        assert!(e.to_string().contains("would exceed max exposure"));
    }

    #[test]
    fn exposure_is_capped_across_sessions_unlike_reference() {
        let mut f = Fx::new();
        f.v("a", "b", 0.9, Some(0.5)).unwrap();
        f.s = sid("s2");
        // Per-session accounting (the reference) would allow this second 0.45 bond.
        let e = f.v("a", "b", 0.9, Some(0.5)).unwrap_err();
        assert!(matches!(e, VouchError::ExceedsExposure { .. }));
        assert!((f.book.exposure(&did("a"), T0) - 0.45).abs() < 1e-12);
    }

    #[test]
    fn total_exposure_sums_bonds() {
        let mut f = Fx::new();
        f.v("a", "b", 0.8, Some(0.3)).unwrap();
        f.v("a", "c", 0.8, Some(0.2)).unwrap();
        assert!((f.book.exposure(&did("a"), T0) - 0.40).abs() < 1e-12);
    }

    #[test]
    fn sigma_eff_examples() {
        let mut f = Fx::new();
        f.v("h", "l", 0.9, Some(0.5)).unwrap();
        let b = f.book.bonded_into(&f.s, &did("l"), T0);
        assert!((b - 0.45).abs() < 1e-12);
        assert!((sigma_eff(sc(0.3), b, sc(0.2)).get() - 0.39).abs() < 1e-12);

        f.v("x", "y", 0.8, Some(0.5)).unwrap(); // 0.4
        f.v("z", "y", 0.6, Some(0.5)).unwrap(); // 0.3
        let b = f.book.bonded_into(&f.s, &did("y"), T0);
        assert!((b - 0.7).abs() < 1e-12);
        assert!((sigma_eff(sc(0.1), b, sc(0.5)).get() - 0.45).abs() < 1e-12);
    }

    #[test]
    fn sigma_eff_is_capped_and_never_nan() {
        assert_eq!(sigma_eff(sc(0.8), 0.72, sc(1.0)).get(), 1.0);
        assert_eq!(sigma_eff(sc(0.4), f64::NAN, sc(1.0)).get(), 0.4);
        assert_eq!(sigma_eff(sc(0.4), -3.0, sc(1.0)).get(), 0.4);
        assert_eq!(sigma_eff(sc(0.4), f64::INFINITY, sc(1.0)).get(), 1.0);
        assert_eq!(sigma_eff(sc(0.4), f64::INFINITY, sc(0.0)).get(), 0.4);
    }

    #[test]
    fn release_is_idempotent_and_unknown_is_an_error() {
        let mut f = Fx::new();
        let r = f.v("a", "b", 0.9, None).unwrap();
        let later = T0.plus(std::time::Duration::from_secs(1));
        let first = f.book.release(&r.vouch_id, T0).unwrap();
        assert!(!first.is_active);
        assert_eq!(first.released_at, Some(T0));
        let again = f.book.release(&r.vouch_id, later).unwrap();
        assert_eq!(again, first);
        let bogus = RecordId::new("vouch:nope").unwrap();
        assert_eq!(
            f.book.release(&bogus, T0).unwrap_err().to_string(),
            "vouch `vouch:nope` not found"
        );
        assert_eq!(f.book.exposure(&did("a"), T0), 0.0);
    }

    #[test]
    fn release_session_releases_only_that_session() {
        let mut f = Fx::new();
        f.v("a", "b", 0.9, Some(0.1)).unwrap();
        f.v("c", "b", 0.9, Some(0.1)).unwrap();
        f.s = sid("s2");
        f.v("a", "b", 0.9, Some(0.1)).unwrap();
        let out = f.book.release_session(&sid("s1"), T0);
        assert_eq!(out.len(), 2);
        assert!(out.iter().all(|r| !r.is_active));
        assert!(f.book.vouchers_of(&sid("s1"), &did("b"), T0).is_empty());
        assert_eq!(f.book.vouchers_of(&sid("s2"), &did("b"), T0).len(), 1);
        assert!(f.book.release_session(&sid("s1"), T0).is_empty());
        assert_eq!(f.book.for_session(&sid("s1")).len(), 2);
    }

    #[test]
    fn release_agent_releases_given_and_received() {
        let mut f = Fx::new();
        f.v("a", "b", 0.9, Some(0.1)).unwrap();
        f.v("b", "c", 0.9, Some(0.1)).unwrap();
        f.v("c", "d", 0.9, Some(0.1)).unwrap();
        let out = f.book.release_agent(&did("b"), T0);
        assert_eq!(out.len(), 2);
        assert_eq!(f.book.active_count(), 1);
        assert_eq!(f.book.given_by(&did("b")).len(), 1);
        assert_eq!(f.book.received_by(&did("b")).len(), 1);
    }

    #[test]
    fn expiry_is_honoured_by_queries_and_swept_by_expire() {
        let mut f = Fx::new();
        let s = f.s.clone();
        let exp = T0.plus(std::time::Duration::from_secs(60));
        let r = f
            .book
            .vouch(
                &mut f.ids,
                &s,
                &did("a"),
                sc(0.9),
                &did("b"),
                None,
                Some(exp),
                T0,
            )
            .unwrap();
        // At the expiry instant the bond still counts (strict `>`, as the reference).
        assert_eq!(f.book.vouchers_of(&s, &did("b"), exp).len(), 1);
        let after = exp.plus(std::time::Duration::from_millis(1));
        assert!(f.book.vouchers_of(&s, &did("b"), after).is_empty());
        assert_eq!(f.book.bonded_into(&s, &did("b"), after), 0.0);
        assert_eq!(f.book.exposure(&did("a"), after), 0.0);
        assert!(f.book.expire(exp).is_empty());
        let swept = f.book.expire(after);
        assert_eq!(swept.len(), 1);
        assert_eq!(swept[0].vouch_id, r.vouch_id);
        assert_eq!(swept[0].released_at, Some(exp));
        assert!(f.book.expire(after).is_empty());
        assert_eq!(f.book.active_count(), 0);
    }

    #[test]
    fn released_history_is_pruned_per_session() {
        let policy = VouchPolicy {
            released_retention_per_session: 2,
            ..VouchPolicy::default()
        };
        let mut f = Fx::new();
        f.book = VouchBook::new(policy).unwrap();
        let mut ids = Vec::new();
        for i in 0..4 {
            let r = f.v("a", &format!("b{i}"), 0.9, Some(0.1)).unwrap();
            ids.push(r.vouch_id);
        }
        for id in &ids {
            f.book.release(id, T0).unwrap();
        }
        assert_eq!(f.book.len(), 2);
        assert!(f.book.get(&ids[0]).is_none());
        assert!(f.book.get(&ids[3]).is_some());
        assert_eq!(f.book.given_by(&did("a")).len(), 2);
        assert_eq!(f.book.forget_session(&sid("s1")), 2);
        assert!(f.book.is_empty());
    }

    #[test]
    fn invalid_policy_is_refused() {
        let p = VouchPolicy {
            max_exposure: Score::ZERO,
            ..VouchPolicy::default()
        };
        assert_eq!(
            VouchBook::new(p).unwrap_err().to_string(),
            "invalid vouch policy: max_exposure must be greater than 0"
        );
        let p = VouchPolicy {
            default_bond_pct: Score::ZERO,
            ..VouchPolicy::default()
        };
        assert!(VouchBook::new(p).is_err());
    }

    #[test]
    fn snapshot_round_trip_rebuilds_indexes() {
        let mut f = Fx::new();
        f.v("a", "b", 0.9, Some(0.1)).unwrap();
        let r = f.v("b", "c", 0.9, Some(0.1)).unwrap();
        f.book.release(&r.vouch_id, T0).unwrap();
        let json = serde_json::to_string(&f.book).unwrap();
        let mut back: VouchBook = serde_json::from_str(&json).unwrap();
        assert_eq!(back.len(), 2);
        assert_eq!(back.active_count(), 1);
        assert_eq!(back.vouchers_of(&f.s, &did("b"), T0).len(), 1);
        assert_eq!(back.given_by(&did("b")).len(), 1);
        let s = f.s.clone();
        assert!(matches!(
            back.vouch(
                &mut f.ids,
                &s,
                &did("b"),
                sc(0.9),
                &did("a"),
                None,
                None,
                T0
            ),
            Err(VouchError::Circular { .. })
        ));
        // Duplicate ids in a snapshot are refused.
        let mut state: VouchBookState = f.book.clone().into();
        let dup = state.records[0].clone();
        state.records.push(dup);
        assert!(matches!(
            VouchBook::try_from(state),
            Err(VouchError::DuplicateId(_))
        ));
    }
}
