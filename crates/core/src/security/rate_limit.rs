//! Per-agent, per-session rate limiting with GCRA (the generic cell rate algorithm, an exact
//! token bucket that stores one instant per key instead of a token count).
//!
//! For a ring with `rate` calls per second and `burst` capacity, the emission interval is
//! T = 1/rate and the tolerance τ = burst·T. Each key stores its theoretical arrival time TAT.
//! A call of cost n at `now` is admitted iff `max(TAT, now) + n·T − now ≤ τ`, and then TAT
//! moves to that value. A fresh key (TAT = now) admits `burst` immediate calls.
//!
//! Departures from the reference (spec §10.1, §17 items 6 and 17):
//! - the quota applied is the ring passed with *each* call (the reference froze the first
//!   ring it saw), and a ring change keeps the key's TAT, so a demotion never refills the
//!   bucket (the reference's `update_ring` handed out a full one). With the default table
//!   (every ring has burst/rate = 2 s) the *fraction* of the bucket in use carries over;
//! - keys are `(AgentDid, SessionId)` tuples (the reference's `"{agent}:{session}"` strings
//!   collided because DIDs contain `:`);
//! - time never goes backwards: a `now` earlier than the key's last seen instant is read as
//!   that instant, so a clock step cannot mint tokens or make them negative;
//! - the key space is bounded ([`MAX_KEYS`] by default). When full, the key with the
//!   *smallest* TAT is evicted: it is the one closest to a full bucket, and if its TAT ≤ now
//!   its state is identical to a fresh key's, so eviction refills nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::id::{AgentDid, SessionId};
use crate::ring::Ring;
use crate::time::Timestamp;

/// Default bound on tracked (agent, session) keys.
pub const MAX_KEYS: usize = 100_000;
/// Largest accepted rate or burst.
pub const MAX_RATE: u32 = 1_000_000;

const MICROS_PER_SEC: u64 = 1_000_000;

/// A call refused because the quota of its ring is used up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error(
    "rate limit of ring {} exceeded ({}/s, burst {}); retry after {} ms",
    ring.number(), limit.rate_per_sec(), limit.burst(), retry_after.as_millis()
)]
pub struct RateLimited {
    /// How long until a call of the same cost would be admitted.
    pub retry_after: Duration,
    /// The ring whose quota applied.
    pub ring: Ring,
    /// That ring's policy.
    pub limit: RatePolicy,
}

/// Why the limiter refused a call or a configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RateLimitError {
    /// The quota is used up.
    #[error(transparent)]
    Limited(RateLimited),
    /// A call must cost at least one unit.
    #[error("rate-limit cost must be at least 1")]
    ZeroCost,
    /// A cost above the burst could never be admitted.
    #[error("cost {cost} exceeds the burst {burst} of ring {ring}; it can never be admitted")]
    CostExceedsBurst {
        /// The requested cost.
        cost: u32,
        /// The ring's burst.
        burst: u32,
        /// The ring number.
        ring: u8,
    },
    /// A policy's rate or burst is out of range.
    #[error(
        "rate policy needs 1 ≤ rate ≤ {MAX_RATE} and 1 ≤ burst ≤ {MAX_RATE}, got rate {rate} and burst {burst}"
    )]
    InvalidPolicy {
        /// The rejected rate.
        rate: u32,
        /// The rejected burst.
        burst: u32,
    },
}

/// Calls per second and burst capacity of one ring.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawPolicy", into = "RawPolicy")]
pub struct RatePolicy {
    // INVARIANT: 1 ≤ rate ≤ MAX_RATE and 1 ≤ burst ≤ MAX_RATE.
    rate: u32,
    burst: u32,
}

#[derive(Serialize, Deserialize)]
struct RawPolicy {
    rate_per_sec: u32,
    burst: u32,
}

impl TryFrom<RawPolicy> for RatePolicy {
    type Error = RateLimitError;
    fn try_from(r: RawPolicy) -> Result<Self, RateLimitError> {
        RatePolicy::new(r.rate_per_sec, r.burst)
    }
}

impl From<RatePolicy> for RawPolicy {
    fn from(p: RatePolicy) -> Self {
        RawPolicy {
            rate_per_sec: p.rate,
            burst: p.burst,
        }
    }
}

impl RatePolicy {
    /// A policy of `rate` calls per second with capacity `burst`.
    pub fn new(rate_per_sec: u32, burst: u32) -> Result<Self, RateLimitError> {
        if !(1..=MAX_RATE).contains(&rate_per_sec) || !(1..=MAX_RATE).contains(&burst) {
            return Err(RateLimitError::InvalidPolicy {
                rate: rate_per_sec,
                burst,
            });
        }
        Ok(RatePolicy {
            rate: rate_per_sec,
            burst,
        })
    }

    /// Calls per second.
    pub const fn rate_per_sec(&self) -> u32 {
        self.rate
    }

    /// Burst capacity.
    pub const fn burst(&self) -> u32 {
        self.burst
    }

    /// Emission interval T in µs (≥ 1).
    fn interval(&self) -> u64 {
        (MICROS_PER_SEC / u64::from(self.rate.max(1))).max(1)
    }

    /// Tolerance τ = burst·T in µs.
    fn tolerance(&self) -> u64 {
        self.interval().saturating_mul(u64::from(self.burst))
    }
}

/// The policy of each ring.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RingPolicies {
    /// Ring 0 (default 100/s, burst 200).
    pub ring0: RatePolicy,
    /// Ring 1 (default 50/s, burst 100).
    pub ring1: RatePolicy,
    /// Ring 2 (default 20/s, burst 40).
    pub ring2: RatePolicy,
    /// Ring 3 (default 5/s, burst 10).
    pub ring3: RatePolicy,
}

impl Default for RingPolicies {
    fn default() -> Self {
        RingPolicies {
            ring0: RatePolicy {
                rate: 100,
                burst: 200,
            },
            ring1: RatePolicy {
                rate: 50,
                burst: 100,
            },
            ring2: RatePolicy {
                rate: 20,
                burst: 40,
            },
            ring3: RatePolicy { rate: 5, burst: 10 },
        }
    }
}

impl RingPolicies {
    /// The policy of `ring`.
    pub fn for_ring(&self, ring: Ring) -> RatePolicy {
        match ring {
            Ring::Root => self.ring0,
            Ring::Privileged => self.ring1,
            Ring::Standard => self.ring2,
            Ring::Sandbox => self.ring3,
        }
    }
}

/// An admitted call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateDecision {
    /// Further unit-cost calls admissible right now.
    pub remaining: u32,
    /// The ring whose quota applied.
    pub ring: Ring,
    /// That ring's policy.
    pub limit: RatePolicy,
    /// How long until the bucket is full again.
    pub reset_after: Duration,
}

/// Counters for one (agent, session).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateStats {
    /// Ring of the last call.
    pub ring: Ring,
    /// Unit-cost calls admissible at the queried instant under that ring.
    pub available: u32,
    /// That ring's burst.
    pub capacity: u32,
    /// Calls checked.
    pub total: u64,
    /// Calls refused.
    pub rejected: u64,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
struct KeyState {
    tat_us: u64,
    last_seen_us: u64,
    ring: Ring,
    total: u64,
    rejected: u64,
}

type Key = (AgentDid, SessionId);

/// GCRA rate limiter over every (agent, session).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RateLimiter {
    policies: RingPolicies,
    max_keys: usize,
    #[serde(with = "crate::ring::pairs")]
    state: BTreeMap<Key, KeyState>,
    // INVARIANT: exactly one (tat_us, key) per entry of `state`.
    by_tat: BTreeSet<(u64, Key)>,
}

impl Default for RateLimiter {
    fn default() -> Self {
        Self::new(RingPolicies::default())
    }
}

fn micros(t: Timestamp) -> u64 {
    t.as_millis().saturating_mul(1000)
}

fn available(policy: RatePolicy, tat: u64, now: u64) -> u32 {
    let room = now
        .saturating_add(policy.tolerance())
        .saturating_sub(tat.max(now));
    u32::try_from(room / policy.interval()).unwrap_or(u32::MAX)
}

impl RateLimiter {
    /// A limiter with the given per-ring policies and [`MAX_KEYS`] keys.
    pub fn new(policies: RingPolicies) -> Self {
        RateLimiter {
            policies,
            max_keys: MAX_KEYS,
            state: BTreeMap::new(),
            by_tat: BTreeSet::new(),
        }
    }

    /// Overrides the key bound (at least 1).
    pub fn with_max_keys(mut self, max: usize) -> Self {
        self.max_keys = max.max(1);
        self
    }

    /// Replaces the per-ring policies (reconfiguration). Each key's state carries over: its
    /// next call is judged by the new quota of its ring.
    pub fn set_policies(&mut self, policies: RingPolicies) {
        self.policies = policies;
    }

    /// The per-ring policies.
    pub fn policies(&self) -> &RingPolicies {
        &self.policies
    }

    /// Admits or refuses a call of `cost` units by `agent` in `session`, under the quota of
    /// `ring` (the agent's ring now).
    pub fn check(
        &mut self,
        agent: &AgentDid,
        session: &SessionId,
        ring: Ring,
        cost: u32,
        now: Timestamp,
    ) -> Result<RateDecision, RateLimitError> {
        let policy = self.policies.for_ring(ring);
        if cost == 0 {
            return Err(RateLimitError::ZeroCost);
        }
        if cost > policy.burst {
            return Err(RateLimitError::CostExceedsBurst {
                cost,
                burst: policy.burst,
                ring: ring.number(),
            });
        }
        let key = (agent.clone(), session.clone());
        let mut now_us = micros(now);
        let mut st = match self.state.get(&key) {
            Some(s) => *s,
            None => {
                self.make_room();
                KeyState {
                    tat_us: now_us,
                    last_seen_us: now_us,
                    ring,
                    total: 0,
                    rejected: 0,
                }
            }
        };
        self.by_tat.remove(&(st.tat_us, key.clone()));
        now_us = now_us.max(st.last_seen_us);
        st.last_seen_us = now_us;
        st.ring = ring;
        st.total = st.total.saturating_add(1);

        let new_tat = st
            .tat_us
            .max(now_us)
            .saturating_add(u64::from(cost).saturating_mul(policy.interval()));
        let horizon = now_us.saturating_add(policy.tolerance());
        let result = if new_tat > horizon {
            st.rejected = st.rejected.saturating_add(1);
            Err(RateLimitError::Limited(RateLimited {
                retry_after: Duration::from_micros(new_tat - horizon),
                ring,
                limit: policy,
            }))
        } else {
            st.tat_us = new_tat;
            Ok(RateDecision {
                remaining: available(policy, new_tat, now_us),
                ring,
                limit: policy,
                reset_after: Duration::from_micros(new_tat.saturating_sub(now_us)),
            })
        };
        self.by_tat.insert((st.tat_us, key.clone()));
        self.state.insert(key, st);
        result
    }

    /// Counters for (agent, session) at `now`, if it was ever checked (and not evicted).
    pub fn stats(
        &self,
        agent: &AgentDid,
        session: &SessionId,
        now: Timestamp,
    ) -> Option<RateStats> {
        let st = self.state.get(&(agent.clone(), session.clone()))?;
        let policy = self.policies.for_ring(st.ring);
        let now_us = micros(now).max(st.last_seen_us);
        Some(RateStats {
            ring: st.ring,
            available: available(policy, st.tat_us, now_us),
            capacity: policy.burst,
            total: st.total,
            rejected: st.rejected,
        })
    }

    /// Drops every key whose bucket is full at `now` (its state equals a fresh key's, apart
    /// from its counters); returns how many were dropped.
    pub fn prune(&mut self, now: Timestamp) -> usize {
        let now_us = micros(now);
        let mut n = 0;
        while let Some((tat, key)) = self.by_tat.first().cloned() {
            if tat > now_us {
                break;
            }
            self.by_tat.pop_first();
            self.state.remove(&key);
            n += 1;
        }
        n
    }

    /// Number of tracked keys.
    pub fn tracked(&self) -> usize {
        self.state.len()
    }

    /// Evicts smallest-TAT keys until a new key fits.
    fn make_room(&mut self) {
        while self.state.len() >= self.max_keys {
            let Some((_, victim)) = self.by_tat.pop_first() else {
                break;
            };
            self.state.remove(&victim);
        }
    }
}

#[cfg(test)]
mod tests;
