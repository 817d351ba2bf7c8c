//! Ring-breach detection: notices an agent repeatedly calling actions above its ring and trips
//! a circuit breaker that the enforcement path consults.
//!
//! The maths follow the reference (spec §3.5): per (agent, session) a sliding window of the last
//! 60 s (at most 1,000 calls); once at least 5 calls are in the window, the anomaly rate is the
//! share of calls in the window whose called ring is more privileged than the *current* call's
//! agent ring; 0.3 / 0.5 / 0.7 / 0.9 map to low / medium / high / critical; high and critical
//! trip the breaker; for the cooldown (30 s) after a trip no new events are raised.
//!
//! Departures from the reference, each deliberate:
//! - the key is an `(AgentDid, SessionId)` tuple (the reference concatenated strings, and DIDs
//!   contain `:`);
//! - [`BreachDetector::is_tripped`] is a pure query (the reference reset the flag inside the
//!   getter);
//! - the breaker is governed by [`BreakerPolicy`]: by default (`auto_reset = false`) a tripped
//!   breaker stays tripped — and the agent stays denied — until an admin calls
//!   [`BreachDetector::reset`]; with `auto_reset = true` it clears itself once the cooldown has
//!   passed, as the reference's getter did;
//! - each call costs O(1) amortised: per-ring counts of the calls in the window are kept up to
//!   date as calls enter and leave, instead of rescanning the window;
//! - time never runs backwards within a profile (an earlier `now` is read as the last one seen);
//! - at most [`MAX_PROFILES`] profiles (least recently used evicted) and [`MAX_HISTORY`] events.

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::id::{AgentDid, SessionId};
use crate::ring::Ring;
use crate::score::Score;
use crate::time::Timestamp;

/// Length of the sliding window.
pub const WINDOW: Duration = Duration::from_secs(60);
/// Fewest calls in the window before any analysis.
pub const MIN_CALLS: usize = 5;
/// Anomaly rate at or above which a breach is low.
pub const LOW_THRESHOLD: f64 = 0.3;
/// Anomaly rate at or above which a breach is medium.
pub const MEDIUM_THRESHOLD: f64 = 0.5;
/// Anomaly rate at or above which a breach is high (trips the breaker).
pub const HIGH_THRESHOLD: f64 = 0.7;
/// Anomaly rate at or above which a breach is critical (trips the breaker).
pub const CRITICAL_THRESHOLD: f64 = 0.9;
/// Most calls remembered per profile; older ones are dropped first.
pub const MAX_CALLS_PER_PROFILE: usize = 1000;
/// Default breaker cooldown.
pub const DEFAULT_COOLDOWN: Duration = Duration::from_secs(30);
/// Default bound on the number of (agent, session) profiles.
pub const MAX_PROFILES: usize = 100_000;
/// Most breach events kept in the history.
pub const MAX_HISTORY: usize = 10_000;

/// How bad a breach is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BreachSeverity {
    /// Rate ≥ 0.3.
    Low,
    /// Rate ≥ 0.5.
    Medium,
    /// Rate ≥ 0.7; trips the breaker.
    High,
    /// Rate ≥ 0.9; trips the breaker.
    Critical,
}

impl BreachSeverity {
    /// The severity of an anomaly rate, or `None` below the low threshold.
    pub fn from_rate(rate: f64) -> Option<BreachSeverity> {
        if rate >= CRITICAL_THRESHOLD {
            Some(BreachSeverity::Critical)
        } else if rate >= HIGH_THRESHOLD {
            Some(BreachSeverity::High)
        } else if rate >= MEDIUM_THRESHOLD {
            Some(BreachSeverity::Medium)
        } else if rate >= LOW_THRESHOLD {
            Some(BreachSeverity::Low)
        } else {
            None
        }
    }

    /// Whether this severity trips the circuit breaker.
    pub const fn trips_breaker(self) -> bool {
        matches!(self, BreachSeverity::High | BreachSeverity::Critical)
    }

    /// Wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            BreachSeverity::Low => "low",
            BreachSeverity::Medium => "medium",
            BreachSeverity::High => "high",
            BreachSeverity::Critical => "critical",
        }
    }
}

impl fmt::Display for BreachSeverity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How the circuit breaker behaves once tripped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BreakerPolicy {
    /// After a trip, no new breach events are raised for this long; with `auto_reset` the
    /// breaker also clears itself after it.
    pub cooldown: Duration,
    /// Whether the breaker clears itself after the cooldown. Default `false`: only an admin's
    /// [`BreachDetector::reset`] clears it, so a tripped agent stays denied (fail closed).
    pub auto_reset: bool,
}

impl Default for BreakerPolicy {
    fn default() -> Self {
        BreakerPolicy {
            cooldown: DEFAULT_COOLDOWN,
            auto_reset: false,
        }
    }
}

/// A detected breach.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BreachEvent {
    /// The agent.
    pub agent: AgentDid,
    /// The session.
    pub session_id: SessionId,
    /// How bad.
    pub severity: BreachSeverity,
    /// The anomaly rate.
    pub anomaly_score: Score,
    /// Calls in the window when it was detected.
    pub call_count_window: usize,
    /// Expected anomaly rate (always 0, as in the reference).
    pub expected_rate: Score,
    /// Observed anomaly rate (same as `anomaly_score`).
    pub actual_rate: Score,
    /// When it was detected.
    pub timestamp: Timestamp,
    /// `"{anomalous}/{total} calls to more-privileged rings in {window}s window"`.
    pub details: String,
    /// Whether this event tripped the breaker.
    pub tripped_breaker: bool,
}

/// Counters for one (agent, session).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BreachStats {
    /// Calls ever recorded.
    pub total_calls: u64,
    /// Calls in the window at the queried instant.
    pub window_calls: usize,
    /// Whether the breaker is tripped at the queried instant.
    pub breaker_tripped: bool,
    /// When the breaker last tripped, if it is still set.
    pub tripped_at: Option<Timestamp>,
    /// Lifetime calls per called ring number.
    pub ring_distribution: BTreeMap<u8, u64>,
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
struct Call {
    at: Timestamp,
    called_ring: Ring,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct Profile {
    // INVARIANT: sorted by `at`; len ≤ MAX_CALLS_PER_PROFILE.
    calls: VecDeque<Call>,
    // INVARIANT: in_window[r] == number of entries in `calls` whose called ring number is r.
    in_window: [u32; 4],
    total_calls: u64,
    lifetime: [u64; 4],
    tripped_at: Option<Timestamp>,
    last_seen: Timestamp,
    lru: u64,
}

impl Profile {
    fn pop_front(&mut self) {
        if let Some(c) = self.calls.pop_front()
            && let Some(n) = self.in_window.get_mut(usize::from(c.called_ring.number()))
        {
            *n = n.saturating_sub(1);
        }
    }

    /// Calls more privileged than `agent_ring` among those in the window.
    fn anomalous(&self, agent_ring: Ring) -> u32 {
        self.in_window
            .iter()
            .take(usize::from(agent_ring.number()))
            .sum()
    }
}

type Key = (AgentDid, SessionId);

/// Breach detector and circuit breaker for every (agent, session).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BreachDetector {
    policy: BreakerPolicy,
    window: Duration,
    max_profiles: usize,
    #[serde(with = "crate::ring::pairs")]
    profiles: BTreeMap<Key, Profile>,
    // INVARIANT: `lru[p.lru] == key` for every profile, one to one.
    lru: BTreeMap<u64, Key>,
    next_seq: u64,
    history: VecDeque<BreachEvent>,
    breach_count: u64,
}

impl Default for BreachDetector {
    fn default() -> Self {
        Self::new(BreakerPolicy::default())
    }
}

impl BreachDetector {
    /// Replaces the breaker policy (reconfiguration); tripped breakers stay tripped.
    pub fn set_policy(&mut self, policy: BreakerPolicy) {
        self.policy = policy;
    }

    /// A detector with the reference window (60 s) and the given breaker policy.
    pub fn new(policy: BreakerPolicy) -> Self {
        BreachDetector {
            policy,
            window: WINDOW,
            max_profiles: MAX_PROFILES,
            profiles: BTreeMap::new(),
            lru: BTreeMap::new(),
            next_seq: 0,
            history: VecDeque::new(),
            breach_count: 0,
        }
    }

    /// Overrides the window length (zero keeps the default, as in the reference).
    pub fn with_window(mut self, window: Duration) -> Self {
        if !window.is_zero() {
            self.window = window;
        }
        self
    }

    /// Overrides the profile bound (at least 1).
    pub fn with_max_profiles(mut self, max: usize) -> Self {
        self.max_profiles = max.max(1);
        self
    }

    /// The breaker policy in use.
    pub fn policy(&self) -> BreakerPolicy {
        self.policy
    }

    /// Records that `agent`, holding `agent_ring`, called an action of `called_ring`, and
    /// returns a breach event if the window now looks anomalous. High and critical events trip
    /// the breaker. The call is recorded even during the cooldown.
    pub fn record_call(
        &mut self,
        agent: &AgentDid,
        session: &SessionId,
        agent_ring: Ring,
        called_ring: Ring,
        now: Timestamp,
    ) -> Option<BreachEvent> {
        let (window, policy) = (self.window, self.policy);
        let p = self.touch(agent, session);
        // Time never goes backwards within a profile.
        let now = now.max(p.last_seen);
        p.last_seen = now;

        p.calls.push_back(Call {
            at: now,
            called_ring,
        });
        let r = usize::from(called_ring.number());
        if let Some(n) = p.in_window.get_mut(r) {
            *n = n.saturating_add(1);
        }
        if let Some(n) = p.lifetime.get_mut(r) {
            *n = n.saturating_add(1);
        }
        p.total_calls = p.total_calls.saturating_add(1);
        if p.calls.len() > MAX_CALLS_PER_PROFILE {
            p.pop_front();
        }
        let cutoff = now.minus(window);
        while p.calls.front().is_some_and(|c| c.at < cutoff) {
            p.pop_front();
        }

        if let Some(t) = p.tripped_at
            && now < t.plus(policy.cooldown)
        {
            return None;
        }
        let n = p.calls.len();
        if n < MIN_CALLS {
            return None;
        }
        let anomalous = p.anomalous(agent_ring);
        let rate = f64::from(anomalous) / n as f64;
        let severity = BreachSeverity::from_rate(rate)?;
        let tripped = severity.trips_breaker();
        if tripped {
            p.tripped_at = Some(now);
        }
        let event = BreachEvent {
            agent: agent.clone(),
            session_id: session.clone(),
            severity,
            anomaly_score: Score::clamped(rate),
            call_count_window: n,
            expected_rate: Score::ZERO,
            actual_rate: Score::clamped(rate),
            timestamp: now,
            details: format!(
                "{anomalous}/{n} calls to more-privileged rings in {}s window",
                window.as_secs()
            ),
            tripped_breaker: tripped,
        };
        self.history.push_back(event.clone());
        while self.history.len() > MAX_HISTORY {
            self.history.pop_front();
        }
        self.breach_count = self.breach_count.saturating_add(1);
        Some(event)
    }

    /// Whether the breaker of (agent, session) denies at `now`. A pure query.
    pub fn is_tripped(&self, agent: &AgentDid, session: &SessionId, now: Timestamp) -> bool {
        self.profile(agent, session)
            .and_then(|p| p.tripped_at)
            .is_some_and(|t| !self.policy.auto_reset || now < t.plus(self.policy.cooldown))
    }

    /// Clears the breaker of (agent, session); returns whether it was set. The calls in the
    /// window are forgotten too (lifetime counters stay): otherwise the very next call would
    /// find the same anomalous window and trip the breaker again at once.
    pub fn reset(&mut self, agent: &AgentDid, session: &SessionId) -> bool {
        let key = (agent.clone(), session.clone());
        let Some(p) = self.profiles.get_mut(&key) else {
            return false;
        };
        let was = p.tripped_at.take().is_some();
        if was {
            p.calls.clear();
            p.in_window = [0; 4];
        }
        was
    }

    /// Forgets everything about (agent, session) (e.g. when it leaves the session).
    pub fn forget(&mut self, agent: &AgentDid, session: &SessionId) {
        let key = (agent.clone(), session.clone());
        if let Some(p) = self.profiles.remove(&key) {
            self.lru.remove(&p.lru);
        }
    }

    /// Counters of (agent, session) at `now` (zeros for an unknown pair).
    pub fn stats(&self, agent: &AgentDid, session: &SessionId, now: Timestamp) -> BreachStats {
        let Some(p) = self.profile(agent, session) else {
            return BreachStats::default();
        };
        let cutoff = now.max(p.last_seen).minus(self.window);
        let stale = p.calls.partition_point(|c| c.at < cutoff);
        BreachStats {
            total_calls: p.total_calls,
            window_calls: p.calls.len().saturating_sub(stale),
            breaker_tripped: self.is_tripped(agent, session, now),
            tripped_at: p.tripped_at,
            ring_distribution: Ring::ALL
                .iter()
                .zip(p.lifetime.iter())
                .filter(|(_, n)| **n > 0)
                .map(|(r, n)| (r.number(), *n))
                .collect(),
        }
    }

    /// Recent breach events, oldest first (at most [`MAX_HISTORY`]).
    pub fn history(&self) -> impl Iterator<Item = &BreachEvent> {
        self.history.iter()
    }

    /// Breach events ever raised (including those evicted from the history).
    pub fn breach_count(&self) -> u64 {
        self.breach_count
    }

    /// Number of tracked (agent, session) profiles.
    pub fn profile_count(&self) -> usize {
        self.profiles.len()
    }

    fn profile(&self, agent: &AgentDid, session: &SessionId) -> Option<&Profile> {
        self.profiles.get(&(agent.clone(), session.clone()))
    }

    /// The profile of (agent, session), created if needed, marked most recently used.
    fn touch(&mut self, agent: &AgentDid, session: &SessionId) -> &mut Profile {
        let key = (agent.clone(), session.clone());
        let seq = self.next_seq;
        self.next_seq = self.next_seq.wrapping_add(1);
        if !self.profiles.contains_key(&key) {
            while self.profiles.len() >= self.max_profiles {
                let Some((_, victim)) = self.lru.pop_first() else {
                    break;
                };
                self.profiles.remove(&victim);
            }
        }
        let p = self.profiles.entry(key.clone()).or_default();
        self.lru.remove(&p.lru);
        p.lru = seq;
        self.lru.insert(seq, key);
        p
    }
}

#[cfg(test)]
mod tests;
