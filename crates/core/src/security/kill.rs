//! Kill switch planning: when an agent is killed, decide who takes over each of its in-flight
//! saga steps, and record the kill.
//!
//! This module only *plans*; the engine applies the plan (reassigns steps, starts
//! compensation, revokes elevations, quarantines, emits events).
//!
//! Departures from the reference (spec §10.2):
//! - a substitute must be an active session member, other than the killed agent, whose ring
//!   is at least the ring the step requires (the reference took the first pool entry, with no
//!   ring, liveness or membership check);
//! - steps are spread round-robin over eligible substitutes (the reference gave every step to
//!   the same one);
//! - a step nobody can take is marked `compensate` and the engine really compensates it;
//! - the substitute pool is a set per session (no duplicates) and bounded.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::id::{AgentDid, IdGen, RecordId, SagaId, SessionId, StepId};
use crate::ring::Ring;
use crate::time::Timestamp;

/// Most substitutes per session.
pub const MAX_SUBSTITUTES_PER_SESSION: usize = 1000;
/// Most sessions with a substitute pool.
pub const MAX_POOLS: usize = 100_000;
/// Most kill records kept in a [`KillLog`].
pub const MAX_KILL_HISTORY: usize = 10_000;
/// Longest accepted details text, in bytes.
pub const MAX_DETAILS_LEN: usize = 4096;

/// Why a kill-switch request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KillError {
    /// The session's pool is full.
    #[error("substitute pool of session `{0}` is full ({MAX_SUBSTITUTES_PER_SESSION} agents)")]
    PoolFull(SessionId),
    /// Too many sessions have pools.
    #[error("too many substitute pools (limit {MAX_POOLS})")]
    TooManyPools,
    /// The details text is too long.
    #[error("kill details are {len} bytes long; the limit is {MAX_DETAILS_LEN}")]
    DetailsTooLong {
        /// Its length in bytes.
        len: usize,
    },
}

/// Why an agent was killed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KillReason {
    /// Its behaviour drifted from its claims.
    BehavioralDrift,
    /// It kept exceeding its rate limit.
    RateLimit,
    /// It tripped the ring-breach breaker.
    RingBreach,
    /// An operator killed it.
    Manual,
    /// Its quarantine ran out without release.
    QuarantineTimeout,
    /// Its session timed out.
    SessionTimeout,
}

impl KillReason {
    /// Wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            KillReason::BehavioralDrift => "behavioral_drift",
            KillReason::RateLimit => "rate_limit",
            KillReason::RingBreach => "ring_breach",
            KillReason::Manual => "manual",
            KillReason::QuarantineTimeout => "quarantine_timeout",
            KillReason::SessionTimeout => "session_timeout",
        }
    }
}

impl fmt::Display for KillReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What happens to one in-flight step of the killed agent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HandoffStatus {
    /// A substitute takes the step over.
    HandedOff,
    /// Nobody can take it; the saga must compensate.
    Compensate,
}

/// The plan for one in-flight step.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepHandoff {
    /// The step.
    pub step_id: StepId,
    /// Its saga.
    pub saga_id: SagaId,
    /// The killed agent.
    pub from: AgentDid,
    /// The substitute, if any.
    pub to: Option<AgentDid>,
    /// Handed off or compensate.
    pub status: HandoffStatus,
}

/// An in-flight step: its saga, its id and the ring it requires.
pub type PendingStep = (SagaId, StepId, Ring);
/// A candidate substitute: its DID, its current ring and whether it is an active member.
pub type Candidate = (AgentDid, Ring, bool);

/// Plans the hand-off of `pending_steps` from `killed` to `candidates`.
///
/// Eligible substitutes are the active candidates other than `killed` (first occurrence of
/// each DID, in the given order). Steps are assigned round-robin: each step goes to the next
/// eligible substitute after the previous assignee whose ring is sufficient for the step;
/// if none is sufficient, the step is marked [`HandoffStatus::Compensate`].
pub fn plan_handoffs(
    killed: &AgentDid,
    pending_steps: &[PendingStep],
    candidates: &[Candidate],
) -> Vec<StepHandoff> {
    let mut seen = BTreeSet::new();
    let eligible: Vec<(&AgentDid, Ring)> = candidates
        .iter()
        .filter(|(did, _, active)| *active && did != killed)
        .filter(|(did, _, _)| seen.insert(did))
        .map(|(did, ring, _)| (did, *ring))
        .collect();
    let n = eligible.len();
    let mut cursor = 0usize;
    pending_steps
        .iter()
        .map(|(saga_id, step_id, required)| {
            let pick = (0..n)
                .map(|k| (cursor + k) % n)
                .find(|&i| eligible.get(i).is_some_and(|(_, r)| r.at_least(*required)));
            let to = pick.and_then(|i| {
                cursor = (i + 1) % n.max(1);
                eligible.get(i).map(|(d, _)| (*d).clone())
            });
            StepHandoff {
                step_id: step_id.clone(),
                saga_id: saga_id.clone(),
                from: killed.clone(),
                status: if to.is_some() {
                    HandoffStatus::HandedOff
                } else {
                    HandoffStatus::Compensate
                },
                to,
            }
        })
        .collect()
}

/// The agents willing to stand in for others, per session.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct SubstitutePool {
    pools: BTreeMap<SessionId, BTreeSet<AgentDid>>,
}

impl SubstitutePool {
    /// An empty pool.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `agent` to `session`'s pool; returns whether it was new.
    pub fn register(&mut self, session: &SessionId, agent: AgentDid) -> Result<bool, KillError> {
        if !self.pools.contains_key(session) && self.pools.len() >= MAX_POOLS {
            return Err(KillError::TooManyPools);
        }
        let pool = self.pools.entry(session.clone()).or_default();
        if pool.contains(&agent) {
            return Ok(false);
        }
        if pool.len() >= MAX_SUBSTITUTES_PER_SESSION {
            return Err(KillError::PoolFull(session.clone()));
        }
        Ok(pool.insert(agent))
    }

    /// Removes `agent` from `session`'s pool; returns whether it was there.
    pub fn unregister(&mut self, session: &SessionId, agent: &AgentDid) -> bool {
        let Some(pool) = self.pools.get_mut(session) else {
            return false;
        };
        let removed = pool.remove(agent);
        if pool.is_empty() {
            self.pools.remove(session);
        }
        removed
    }

    /// Forgets `session`'s pool (when the session ends).
    pub fn remove_session(&mut self, session: &SessionId) {
        self.pools.remove(session);
    }

    /// Members of `session`'s pool in DID order.
    pub fn members(&self, session: &SessionId) -> Vec<AgentDid> {
        self.pools
            .get(session)
            .map(|p| p.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Whether `agent` is in `session`'s pool.
    pub fn contains(&self, session: &SessionId, agent: &AgentDid) -> bool {
        self.pools.get(session).is_some_and(|p| p.contains(agent))
    }

    /// [`plan_handoffs`] restricted to candidates in `session`'s pool.
    pub fn plan_handoffs(
        &self,
        killed: &AgentDid,
        session: &SessionId,
        pending_steps: &[PendingStep],
        candidates: &[Candidate],
    ) -> Vec<StepHandoff> {
        let in_pool: Vec<Candidate> = candidates
            .iter()
            .filter(|(did, _, _)| self.contains(session, did))
            .cloned()
            .collect();
        plan_handoffs(killed, pending_steps, &in_pool)
    }
}

/// The record of one kill.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KillRecord {
    /// `kill:{16 hex}`.
    pub kill_id: RecordId,
    /// The killed agent.
    pub agent: AgentDid,
    /// Its session.
    pub session_id: SessionId,
    /// Why.
    pub reason: KillReason,
    /// When.
    pub at: Timestamp,
    /// What happens to its in-flight steps.
    pub handoffs: Vec<StepHandoff>,
    /// Free-form operator text.
    pub details: String,
}

impl KillRecord {
    /// Builds the record of a kill with a fresh id, validating `details`.
    #[allow(clippy::too_many_arguments)] // each argument is a distinct fact of the kill
    pub fn new(
        ids: &mut IdGen,
        agent: AgentDid,
        session_id: SessionId,
        reason: KillReason,
        at: Timestamp,
        handoffs: Vec<StepHandoff>,
        details: String,
    ) -> Result<Self, KillError> {
        if details.len() > MAX_DETAILS_LEN {
            return Err(KillError::DetailsTooLong { len: details.len() });
        }
        Ok(KillRecord {
            kill_id: ids.record("kill"),
            agent,
            session_id,
            reason,
            at,
            handoffs,
            details,
        })
    }

    /// Steps handed to a substitute.
    pub fn handoff_success_count(&self) -> usize {
        self.handoffs
            .iter()
            .filter(|h| h.status == HandoffStatus::HandedOff)
            .count()
    }

    /// Whether any step must be compensated.
    pub fn compensation_triggered(&self) -> bool {
        self.handoffs
            .iter()
            .any(|h| h.status == HandoffStatus::Compensate)
    }
}

/// Bounded history of kills with lifetime totals.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct KillLog {
    // INVARIANT: len ≤ MAX_KILL_HISTORY, oldest first.
    records: VecDeque<KillRecord>,
    total_kills: u64,
    total_handoffs: u64,
}

impl KillLog {
    /// An empty log.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a kill, evicting the oldest beyond [`MAX_KILL_HISTORY`].
    pub fn record(&mut self, kill: KillRecord) {
        self.total_kills = self.total_kills.saturating_add(1);
        self.total_handoffs = self
            .total_handoffs
            .saturating_add(kill.handoff_success_count() as u64);
        self.records.push_back(kill);
        while self.records.len() > MAX_KILL_HISTORY {
            self.records.pop_front();
        }
    }

    /// Retained kills, oldest first.
    pub fn history(&self) -> impl Iterator<Item = &KillRecord> {
        self.records.iter()
    }

    /// Kills ever recorded.
    pub fn total_kills(&self) -> u64 {
        self.total_kills
    }

    /// Successful hand-offs ever recorded.
    pub fn total_handoffs(&self) -> u64 {
        self.total_handoffs
    }
}

#[cfg(test)]
mod tests;
