//! Quarantine: an agent suspected of misbehaving is confined within a session to read-only
//! actions until released or until its quarantine expires, with forensic data kept for review.
//!
//! Departures from the reference (spec §4.5, §17 item 30):
//! - `duration: None` means indefinite (the reference turned None and 0 into 300 s); a zero
//!   duration is refused;
//! - escalating an active quarantine extends its expiry to the later of the old and the new one
//!   (indefinite beats any instant) instead of keeping the old expiry; the original reason is
//!   kept and the new details appended as `; escalated: {details}`;
//! - an expired-but-unswept record never counts as quarantined and is closed (at its expiry
//!   instant) before a new quarantine opens, so at most one record per (agent, session) is active;
//! - lookups use an index by (agent, session) and an expiry index instead of linear scans;
//! - history is bounded: released records beyond [`DEFAULT_QUARANTINE_HISTORY`] are evicted
//!   oldest first (active records are never evicted);
//! - [`QuarantinePolicy`] is enforced by [`QuarantineBook::check_action`]: only reads pass.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::action::ActionDescriptor;
use crate::id::{AgentDid, IdGen, RecordId, SessionId};
use crate::time::Timestamp;

/// The reference's default quarantine length, for callers that want a finite default.
pub const DEFAULT_QUARANTINE_DURATION: Duration = Duration::from_secs(300);
/// Released records kept for history queries.
pub const DEFAULT_QUARANTINE_HISTORY: usize = 10_000;
/// Longest `details` text accepted per call and kept per record (bytes).
pub const MAX_DETAILS_LEN: usize = 4096;
/// Most forensic entries a record may hold.
pub const MAX_FORENSIC_ENTRIES: usize = 64;
/// Longest forensic key or value (bytes).
pub const MAX_FORENSIC_LEN: usize = 1024;

/// Why a quarantine call was refused or an action blocked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuarantineError {
    /// A zero duration would expire immediately.
    #[error("quarantine duration must be greater than 0 (use none for indefinite)")]
    ZeroDuration,
    /// `details` is too long.
    #[error("quarantine details are {0} bytes long; the limit is {MAX_DETAILS_LEN}")]
    DetailsTooLong(usize),
    /// Too many forensic entries (after merging).
    #[error("quarantine would hold {0} forensic entries; the limit is {MAX_FORENSIC_ENTRIES}")]
    TooManyForensicEntries(usize),
    /// A forensic key or value is too long.
    #[error("forensic entry `{0}` is longer than {MAX_FORENSIC_LEN} bytes")]
    ForensicEntryTooLong(String),
    /// The agent is quarantined and the action is not allowed.
    #[error(
        "agent `{agent}` is quarantined in session `{session}` ({reason}): {class} actions are not allowed"
    )]
    Restricted {
        /// The agent.
        agent: AgentDid,
        /// The session.
        session: SessionId,
        /// Why it is quarantined.
        reason: QuarantineReason,
        /// The refused class of action.
        class: ActionClass,
    },
    /// A snapshot holds two active records for one (agent, session).
    #[error("quarantine snapshot holds two active records for `{agent}` in session `{session}`")]
    DuplicateActive {
        /// The agent.
        agent: AgentDid,
        /// The session.
        session: SessionId,
    },
}

/// Why an agent was quarantined.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QuarantineReason {
    /// Behaviour drifted from its claimed profile.
    BehavioralDrift,
    /// It broke its liability obligations.
    LiabilityViolation,
    /// It tried to act above its ring.
    RingBreach,
    /// It exceeded its rate limit.
    RateLimitExceeded,
    /// An operator decided.
    Manual,
    /// It was slashed in a cascade.
    CascadeSlash,
}

impl QuarantineReason {
    /// The wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            QuarantineReason::BehavioralDrift => "behavioral_drift",
            QuarantineReason::LiabilityViolation => "liability_violation",
            QuarantineReason::RingBreach => "ring_breach",
            QuarantineReason::RateLimitExceeded => "rate_limit_exceeded",
            QuarantineReason::Manual => "manual",
            QuarantineReason::CascadeSlash => "cascade_slash",
        }
    }
}

impl std::fmt::Display for QuarantineReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The coarse kind of an action, which is all quarantine looks at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionClass {
    /// Observes state only.
    Read,
    /// Changes session state (e.g. the VFS).
    Write,
    /// Runs an external action.
    Execute,
    /// Raises privileges (elevation, admin actions).
    Escalate,
}

impl ActionClass {
    /// The class of a registered action: admin → escalate, read-only → read, else execute.
    pub fn of(action: &ActionDescriptor) -> ActionClass {
        if action.is_admin {
            ActionClass::Escalate
        } else if action.is_read_only {
            ActionClass::Read
        } else {
            ActionClass::Execute
        }
    }

    /// The wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            ActionClass::Read => "read",
            ActionClass::Write => "write",
            ActionClass::Execute => "execute",
            ActionClass::Escalate => "escalate",
        }
    }
}

impl std::fmt::Display for ActionClass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a quarantined agent may still do: read, nothing else.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuarantinePolicy;

impl QuarantinePolicy {
    /// True when a quarantined agent may perform an action of this class.
    pub const fn allows(self, class: ActionClass) -> bool {
        matches!(class, ActionClass::Read)
    }
}

/// One quarantine of one agent in one session.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QuarantineRecord {
    /// `quar:{16 hex}`.
    pub quarantine_id: RecordId,
    /// The agent.
    pub agent: AgentDid,
    /// The session.
    pub session_id: SessionId,
    /// The reason given when the quarantine opened (escalations keep it).
    pub reason: QuarantineReason,
    /// Free text, with `; escalated: …` appended per escalation while it fits.
    pub details: String,
    /// When it began.
    pub entered_at: Timestamp,
    /// It ends strictly after this instant; `None` = indefinite.
    pub expires_at: Option<Timestamp>,
    /// When it ended (release, or the expiry instant).
    pub released_at: Option<Timestamp>,
    /// False once ended.
    pub is_active: bool,
    /// Evidence for review (escalations merge into it; a new value replaces an old one).
    pub forensic_data: BTreeMap<String, String>,
    /// How many times it was escalated.
    pub escalations: u32,
}

impl QuarantineRecord {
    /// True when `now` is strictly after the expiry.
    pub fn is_expired(&self, now: Timestamp) -> bool {
        self.expires_at.is_some_and(|e| now > e)
    }

    /// True when the agent is confined at `now`.
    pub fn is_in_force(&self, now: Timestamp) -> bool {
        self.is_active && !self.is_expired(now)
    }

    /// Time from entry to release (or to `now` while active).
    pub fn duration(&self, now: Timestamp) -> Duration {
        self.released_at.unwrap_or(now).since(self.entered_at)
    }
}

fn check_forensic(f: &BTreeMap<String, String>) -> Result<(), QuarantineError> {
    if f.len() > MAX_FORENSIC_ENTRIES {
        return Err(QuarantineError::TooManyForensicEntries(f.len()));
    }
    for (k, v) in f {
        if k.len() > MAX_FORENSIC_LEN || v.len() > MAX_FORENSIC_LEN {
            return Err(QuarantineError::ForensicEntryTooLong(
                k.chars().take(64).collect(),
            ));
        }
    }
    Ok(())
}

/// All quarantines, indexed by (agent, session) and by expiry.
///
/// Memory bound: active records (at most one per (agent, session)) plus at most `max_history`
/// released records, the oldest released evicted first.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(try_from = "QuarantineBookState", into = "QuarantineBookState")]
pub struct QuarantineBook {
    max_history: usize,
    next_seq: u64,
    records: BTreeMap<u64, QuarantineRecord>,
    // INVARIANT: `active` and `expiring` index exactly the records with `is_active`;
    // `released` lists exactly the retained inactive records, oldest release first.
    active: BTreeMap<AgentDid, BTreeMap<SessionId, u64>>,
    expiring: BTreeSet<(Timestamp, u64)>,
    released: VecDeque<u64>,
}

/// Serialised form of a [`QuarantineBook`]; indexes are rebuilt on load.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct QuarantineBookState {
    /// Released records kept.
    pub max_history: usize,
    /// Every retained record, oldest first.
    pub records: Vec<QuarantineRecord>,
}

impl From<QuarantineBook> for QuarantineBookState {
    fn from(b: QuarantineBook) -> Self {
        QuarantineBookState {
            max_history: b.max_history,
            records: b.records.into_values().collect(),
        }
    }
}

impl TryFrom<QuarantineBookState> for QuarantineBook {
    type Error = QuarantineError;
    fn try_from(s: QuarantineBookState) -> Result<Self, QuarantineError> {
        let mut b = QuarantineBook::new(s.max_history);
        for r in s.records {
            if r.is_active && b.active_seq(&r.agent, &r.session_id).is_some() {
                return Err(QuarantineError::DuplicateActive {
                    agent: r.agent,
                    session: r.session_id,
                });
            }
            b.insert(r);
        }
        Ok(b)
    }
}

impl Default for QuarantineBook {
    fn default() -> Self {
        QuarantineBook::new(DEFAULT_QUARANTINE_HISTORY)
    }
}

impl QuarantineBook {
    /// An empty book keeping at most `max_history` released records.
    pub fn new(max_history: usize) -> Self {
        QuarantineBook {
            max_history,
            next_seq: 0,
            records: BTreeMap::new(),
            active: BTreeMap::new(),
            expiring: BTreeSet::new(),
            released: VecDeque::new(),
        }
    }

    fn active_seq(&self, agent: &AgentDid, session: &SessionId) -> Option<u64> {
        self.active.get(agent).and_then(|m| m.get(session)).copied()
    }

    fn insert(&mut self, r: QuarantineRecord) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        if r.is_active {
            self.active
                .entry(r.agent.clone())
                .or_default()
                .insert(r.session_id.clone(), seq);
            if let Some(e) = r.expires_at {
                self.expiring.insert((e, seq));
            }
        } else {
            self.released.push_back(seq);
        }
        self.records.insert(seq, r);
        self.evict();
        seq
    }

    fn evict(&mut self) {
        while self.released.len() > self.max_history {
            if let Some(old) = self.released.pop_front() {
                self.records.remove(&old);
            }
        }
    }

    /// Ends record `seq` at `at` and returns it as ended.
    fn close(&mut self, seq: u64, at: Timestamp) -> Option<QuarantineRecord> {
        let r = self.records.get_mut(&seq)?;
        if !r.is_active {
            return Some(r.clone());
        }
        r.is_active = false;
        r.released_at = Some(at);
        let out = r.clone();
        if let Some(m) = self.active.get_mut(&out.agent) {
            m.remove(&out.session_id);
            if m.is_empty() {
                self.active.remove(&out.agent);
            }
        }
        if let Some(e) = out.expires_at {
            self.expiring.remove(&(e, seq));
        }
        self.released.push_back(seq);
        self.evict();
        Some(out)
    }

    /// Quarantines `agent` in `session` for `duration` (`None` = indefinite), or escalates its
    /// quarantine in force (see the module docs). Returns the record as it now stands.
    #[expect(
        clippy::too_many_arguments,
        reason = "mirrors the reference call; every argument is a distinct input"
    )]
    pub fn quarantine(
        &mut self,
        ids: &mut IdGen,
        agent: &AgentDid,
        session: &SessionId,
        reason: QuarantineReason,
        details: &str,
        duration: Option<Duration>,
        forensic: BTreeMap<String, String>,
        now: Timestamp,
    ) -> Result<QuarantineRecord, QuarantineError> {
        if duration == Some(Duration::ZERO) {
            return Err(QuarantineError::ZeroDuration);
        }
        if details.len() > MAX_DETAILS_LEN {
            return Err(QuarantineError::DetailsTooLong(details.len()));
        }
        check_forensic(&forensic)?;
        let new_expiry = duration.map(|d| now.plus(d));

        if let Some(seq) = self.active_seq(agent, session) {
            let in_force = self.records.get(&seq).is_some_and(|r| r.is_in_force(now));
            if in_force && let Some(r) = self.escalate(seq, details, new_expiry, &forensic)? {
                return Ok(r);
            }
            // Expired but not yet swept: close it at its expiry before opening a new one.
            let at = self
                .records
                .get(&seq)
                .and_then(|r| r.expires_at)
                .unwrap_or(now);
            self.close(seq, at);
        }
        let record = QuarantineRecord {
            quarantine_id: ids.record("quar"),
            agent: agent.clone(),
            session_id: session.clone(),
            reason,
            details: details.to_string(),
            entered_at: now,
            expires_at: new_expiry,
            released_at: None,
            is_active: true,
            forensic_data: forensic,
            escalations: 0,
        };
        self.insert(record.clone());
        Ok(record)
    }

    fn escalate(
        &mut self,
        seq: u64,
        details: &str,
        new_expiry: Option<Timestamp>,
        forensic: &BTreeMap<String, String>,
    ) -> Result<Option<QuarantineRecord>, QuarantineError> {
        let Some(r) = self.records.get_mut(&seq) else {
            return Ok(None);
        };
        let merged = forensic
            .keys()
            .filter(|k| !r.forensic_data.contains_key(*k))
            .count()
            + r.forensic_data.len();
        if merged > MAX_FORENSIC_ENTRIES {
            return Err(QuarantineError::TooManyForensicEntries(merged));
        }
        let suffix = format!("; escalated: {details}");
        // Details stop growing at the cap; the escalation is still counted.
        if r.details.len() + suffix.len() <= MAX_DETAILS_LEN {
            r.details.push_str(&suffix);
        }
        r.escalations = r.escalations.saturating_add(1);
        r.forensic_data
            .extend(forensic.iter().map(|(k, v)| (k.clone(), v.clone())));
        let old = r.expires_at;
        // The later expiry wins; `None` (indefinite) is later than any instant.
        let later = match (old, new_expiry) {
            (None, _) | (_, None) => None,
            (Some(a), Some(b)) => Some(a.max(b)),
        };
        r.expires_at = later;
        let out = r.clone();
        if old != later {
            if let Some(e) = old {
                self.expiring.remove(&(e, seq));
            }
            if let Some(e) = later {
                self.expiring.insert((e, seq));
            }
        }
        Ok(Some(out))
    }

    /// Ends the active quarantine of `agent` in `session`, if any, and returns it. A record
    /// that had already expired is closed at its expiry instant.
    pub fn release(
        &mut self,
        agent: &AgentDid,
        session: &SessionId,
        now: Timestamp,
    ) -> Option<QuarantineRecord> {
        let seq = self.active_seq(agent, session)?;
        let at = match self.records.get(&seq) {
            Some(r) if r.is_expired(now) => r.expires_at.unwrap_or(now),
            _ => now,
        };
        self.close(seq, at)
    }

    /// True when `agent` is confined in `session` at `now` (an expired record does not count).
    pub fn is_quarantined(&self, agent: &AgentDid, session: &SessionId, now: Timestamp) -> bool {
        self.active(agent, session, now).is_some()
    }

    /// The quarantine in force for `agent` in `session` at `now`.
    pub fn active(
        &self,
        agent: &AgentDid,
        session: &SessionId,
        now: Timestamp,
    ) -> Option<&QuarantineRecord> {
        self.active_seq(agent, session)
            .and_then(|s| self.records.get(&s))
            .filter(|r| r.is_in_force(now))
    }

    /// Refuses an action of `class` by `agent` in `session` while it is quarantined, unless
    /// [`QuarantinePolicy`] allows the class.
    pub fn check_action(
        &self,
        agent: &AgentDid,
        session: &SessionId,
        class: ActionClass,
        now: Timestamp,
    ) -> Result<(), QuarantineError> {
        match self.active(agent, session, now) {
            Some(r) if !QuarantinePolicy.allows(class) => Err(QuarantineError::Restricted {
                agent: agent.clone(),
                session: session.clone(),
                reason: r.reason,
                class,
            }),
            _ => Ok(()),
        }
    }

    /// The earliest pending expiry, if any (so a caller can tell whether `expire` has work).
    pub fn next_expiry(&self) -> Option<Timestamp> {
        self.expiring.iter().next().map(|(t, _)| *t)
    }

    /// Closes every quarantine whose expiry is strictly before `now` (at its expiry instant)
    /// and returns them.
    pub fn expire(&mut self, now: Timestamp) -> Vec<QuarantineRecord> {
        let due: Vec<(Timestamp, u64)> = self.expiring.range(..(now, 0)).copied().collect();
        due.into_iter()
            .filter_map(|(at, seq)| self.close(seq, at))
            .collect()
    }

    /// Retained records, oldest first, filtered by agent and/or session. Scans the bounded
    /// history.
    pub fn history(
        &self,
        agent: Option<&AgentDid>,
        session: Option<&SessionId>,
    ) -> Vec<&QuarantineRecord> {
        self.records
            .values()
            .filter(|r| agent.is_none_or(|a| r.agent == *a))
            .filter(|r| session.is_none_or(|s| r.session_id == *s))
            .collect()
    }

    /// Quarantines in force at `now`, oldest first.
    pub fn active_records(&self, now: Timestamp) -> Vec<&QuarantineRecord> {
        let seqs: BTreeSet<u64> = self
            .active
            .values()
            .flat_map(|m| m.values().copied())
            .collect();
        seqs.iter()
            .filter_map(|s| self.records.get(s))
            .filter(|r| r.is_in_force(now))
            .collect()
    }

    /// Number of retained records (active and released).
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// True when nothing is retained.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn did(s: &str) -> AgentDid {
        AgentDid::new(s).unwrap()
    }
    fn sid(s: &str) -> SessionId {
        SessionId::new(s).unwrap()
    }
    const T0: Timestamp = Timestamp::from_secs(1_000);
    fn at(secs: u64) -> Timestamp {
        T0.plus(Duration::from_secs(secs))
    }

    struct Fx {
        book: QuarantineBook,
        ids: IdGen,
    }
    impl Fx {
        fn new() -> Self {
            Fx {
                book: QuarantineBook::default(),
                ids: IdGen::new([4; 16]),
            }
        }
        fn q(
            &mut self,
            a: &str,
            s: &str,
            details: &str,
            secs: Option<u64>,
            now: Timestamp,
        ) -> QuarantineRecord {
            self.book
                .quarantine(
                    &mut self.ids,
                    &did(a),
                    &sid(s),
                    QuarantineReason::BehavioralDrift,
                    details,
                    secs.map(Duration::from_secs),
                    BTreeMap::new(),
                    now,
                )
                .unwrap()
        }
    }

    #[test]
    fn quarantine_and_release() {
        let mut f = Fx::new();
        let r = f.q("a", "s", "drift", Some(60), T0);
        assert!(r.is_active);
        assert!(r.quarantine_id.as_str().starts_with("quar:"));
        assert_eq!(r.expires_at, Some(at(60)));
        assert!(f.book.is_quarantined(&did("a"), &sid("s"), T0));
        assert!(!f.book.is_quarantined(&did("a"), &sid("other"), T0));
        let rel = f.book.release(&did("a"), &sid("s"), at(10)).unwrap();
        assert!(!rel.is_active);
        assert_eq!(rel.released_at, Some(at(10)));
        assert_eq!(rel.duration(at(50)), Duration::from_secs(10));
        assert!(!f.book.is_quarantined(&did("a"), &sid("s"), at(10)));
        assert!(f.book.release(&did("a"), &sid("s"), at(10)).is_none());
    }

    #[test]
    fn indefinite_quarantine_is_expressible_unlike_reference() {
        let mut f = Fx::new();
        let r = f.q("a", "s", "", None, T0);
        assert_eq!(r.expires_at, None);
        let far = Timestamp::from_secs(u64::MAX / 1000);
        assert!(f.book.is_quarantined(&did("a"), &sid("s"), far));
        assert!(f.book.expire(far).is_empty());
    }

    #[test]
    fn zero_duration_is_refused_unlike_reference() {
        let mut f = Fx::new();
        let e = f
            .book
            .quarantine(
                &mut f.ids,
                &did("a"),
                &sid("s"),
                QuarantineReason::Manual,
                "",
                Some(Duration::ZERO),
                BTreeMap::new(),
                T0,
            )
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "quarantine duration must be greater than 0 (use none for indefinite)"
        );
    }

    #[test]
    fn input_limits_are_enforced() {
        let mut f = Fx::new();
        let long = "x".repeat(MAX_DETAILS_LEN + 1);
        let e = f
            .book
            .quarantine(
                &mut f.ids,
                &did("a"),
                &sid("s"),
                QuarantineReason::Manual,
                &long,
                None,
                BTreeMap::new(),
                T0,
            )
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "quarantine details are {} bytes long; the limit is 4096",
                MAX_DETAILS_LEN + 1
            )
        );
        let many: BTreeMap<String, String> = (0..=MAX_FORENSIC_ENTRIES)
            .map(|i| (format!("k{i}"), String::new()))
            .collect();
        let e = f
            .book
            .quarantine(
                &mut f.ids,
                &did("a"),
                &sid("s"),
                QuarantineReason::Manual,
                "",
                None,
                many,
                T0,
            )
            .unwrap_err();
        assert_eq!(e, QuarantineError::TooManyForensicEntries(65));
        let big: BTreeMap<String, String> = [("k".to_string(), "v".repeat(2000))].into();
        let e = f
            .book
            .quarantine(
                &mut f.ids,
                &did("a"),
                &sid("s"),
                QuarantineReason::Manual,
                "",
                None,
                big,
                T0,
            )
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "forensic entry `k` is longer than 1024 bytes"
        );
        assert!(f.book.is_empty());
    }

    #[test]
    fn escalation_appends_merges_and_extends_expiry() {
        let mut f = Fx::new();
        let first = f
            .book
            .quarantine(
                &mut f.ids,
                &did("a"),
                &sid("s"),
                QuarantineReason::BehavioralDrift,
                "drift 0.9",
                Some(Duration::from_secs(60)),
                [
                    ("drift".to_string(), "0.9".to_string()),
                    ("k".to_string(), "old".to_string()),
                ]
                .into(),
                T0,
            )
            .unwrap();
        let second = f
            .book
            .quarantine(
                &mut f.ids,
                &did("a"),
                &sid("s"),
                QuarantineReason::RingBreach,
                "breach",
                Some(Duration::from_secs(300)),
                [("k".to_string(), "new".to_string())].into(),
                at(30),
            )
            .unwrap();
        assert_eq!(second.quarantine_id, first.quarantine_id);
        assert_eq!(second.details, "drift 0.9; escalated: breach");
        assert_eq!(second.reason, QuarantineReason::BehavioralDrift);
        assert_eq!(second.forensic_data["drift"], "0.9");
        assert_eq!(second.forensic_data["k"], "new");
        assert_eq!(second.expires_at, Some(at(330)));
        assert_eq!(second.escalations, 1);
        // A shorter escalation does not shorten it.
        let third = f.q("a", "s", "minor", Some(1), at(40));
        assert_eq!(third.expires_at, Some(at(330)));
        // The expiry index follows the extension.
        assert!(f.book.expire(at(100)).is_empty());
        assert_eq!(f.book.expire(at(331)).len(), 1);
        // Indefinite escalation wins over any instant.
        f.q("b", "s", "", Some(10), T0);
        let r = f.q("b", "s", "", None, T0);
        assert_eq!(r.expires_at, None);
        assert!(f.book.expire(at(10_000)).is_empty());
        assert_eq!(f.book.len(), 2);
    }

    #[test]
    fn expiry_sweeps_and_expired_record_does_not_count() {
        let mut f = Fx::new();
        f.q("a", "s", "", Some(1), T0);
        assert!(f.book.is_quarantined(&did("a"), &sid("s"), at(1)));
        assert!(!f.book.is_quarantined(&did("a"), &sid("s"), at(2)));
        assert!(f.book.active_records(at(2)).is_empty());
        let gone = f.book.expire(at(2));
        assert_eq!(gone.len(), 1);
        assert_eq!(gone[0].released_at, Some(at(1)));
        assert!(f.book.expire(at(2)).is_empty());
    }

    #[test]
    fn requarantine_after_unswept_expiry_opens_a_new_record() {
        let mut f = Fx::new();
        let old = f.q("a", "s", "first", Some(1), T0);
        let new = f.q("a", "s", "second", Some(60), at(5));
        assert_ne!(old.quarantine_id, new.quarantine_id);
        let h = f.book.history(Some(&did("a")), None);
        assert_eq!(h.len(), 2);
        assert!(!h[0].is_active);
        assert_eq!(h[0].released_at, Some(at(1)));
        assert_eq!(
            f.book.active(&did("a"), &sid("s"), at(5)).unwrap().details,
            "second"
        );
    }

    #[test]
    fn history_filters_and_active_counts() {
        let mut f = Fx::new();
        f.q("a", "s1", "", None, T0);
        f.q("a", "s2", "", None, T0);
        f.q("b", "s1", "", None, T0);
        assert_eq!(f.book.history(Some(&did("a")), None).len(), 2);
        assert_eq!(f.book.history(None, Some(&sid("s1"))).len(), 2);
        assert_eq!(f.book.history(Some(&did("b")), Some(&sid("s2"))).len(), 0);
        assert_eq!(f.book.history(None, None).len(), 3);
        assert_eq!(f.book.active_records(T0).len(), 3);
    }

    #[test]
    fn history_is_bounded_but_active_records_are_kept() {
        let mut f = Fx::new();
        f.book = QuarantineBook::new(2);
        f.q("keep", "s", "", None, T0);
        for i in 0..5 {
            f.q(&format!("a{i}"), "s", "", None, T0);
            f.book.release(&did(&format!("a{i}")), &sid("s"), T0);
        }
        assert_eq!(f.book.len(), 3);
        assert!(f.book.is_quarantined(&did("keep"), &sid("s"), T0));
        let names: Vec<&str> = f
            .book
            .history(None, None)
            .iter()
            .map(|r| r.agent.as_str())
            .collect();
        assert_eq!(names, vec!["keep", "a3", "a4"]);
    }

    #[test]
    fn policy_allows_only_reads_while_quarantined() {
        let p = QuarantinePolicy;
        assert!(p.allows(ActionClass::Read));
        assert!(!p.allows(ActionClass::Write));
        assert!(!p.allows(ActionClass::Execute));
        assert!(!p.allows(ActionClass::Escalate));
        let mut f = Fx::new();
        f.q("a", "s", "", Some(60), T0);
        assert!(
            f.book
                .check_action(&did("a"), &sid("s"), ActionClass::Read, T0)
                .is_ok()
        );
        let e = f
            .book
            .check_action(&did("a"), &sid("s"), ActionClass::Write, T0)
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "agent `a` is quarantined in session `s` (behavioral_drift): write actions are not allowed"
        );
        assert!(
            f.book
                .check_action(&did("b"), &sid("s"), ActionClass::Escalate, T0)
                .is_ok()
        );
        assert!(
            f.book
                .check_action(&did("a"), &sid("s"), ActionClass::Execute, at(61))
                .is_ok()
        );
    }

    #[test]
    fn action_class_of_descriptor() {
        let mut d = ActionDescriptor::new(crate::id::ActionId::new("x").unwrap());
        assert_eq!(ActionClass::of(&d), ActionClass::Execute);
        d.is_read_only = true;
        assert_eq!(ActionClass::of(&d), ActionClass::Read);
        d.is_admin = true;
        assert_eq!(ActionClass::of(&d), ActionClass::Escalate);
    }

    #[test]
    fn wire_names_and_snapshot_round_trip() {
        assert_eq!(
            serde_json::to_string(&QuarantineReason::RateLimitExceeded).unwrap(),
            "\"rate_limit_exceeded\""
        );
        assert_eq!(
            serde_json::to_string(&ActionClass::Escalate).unwrap(),
            "\"escalate\""
        );
        let mut f = Fx::new();
        f.q("a", "s", "x", Some(60), T0);
        f.q("b", "s", "y", None, T0);
        f.book.release(&did("b"), &sid("s"), T0);
        let json = serde_json::to_string(&f.book).unwrap();
        let mut back: QuarantineBook = serde_json::from_str(&json).unwrap();
        assert!(back.is_quarantined(&did("a"), &sid("s"), T0));
        assert_eq!(back.len(), 2);
        assert_eq!(back.expire(at(61)).len(), 1);
        // Two active records for one pair are refused.
        let mut state: QuarantineBookState = f.book.clone().into();
        let dup = state.records[0].clone();
        state.records.push(dup);
        assert!(matches!(
            QuarantineBook::try_from(state),
            Err(QuarantineError::DuplicateActive { .. })
        ));
    }
}
