//! The lock table of one session: held locks, the FIFO wait queue and the wait-for graph.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::ops::Bound;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::id::{AgentDid, IdGen, RecordId};
use crate::time::Timestamp;

use super::err::LockError;
use super::graph::{WaitForGraph, find_cycle};
use super::intent::LockIntent;
use super::path::{ancestors, descendant_prefix, overlaps, validate_path};
use super::record::{
    Acquire, DEFAULT_LOCK_TTL, Lock, LockLimits, LockRequest, MAX_LOCK_TTL, TicketState, WaitTicket,
};

/// A queued request and the agents it currently waits for (its wait-for edges).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Waiter {
    ticket: WaitTicket,
    blocked_by: BTreeSet<AgentDid>,
}

/// Intent locks of one session.
///
/// The runtime keeps one table per session, so locks are session-scoped by construction (the
/// reference kept one global table keyed by path, so a lock in one session blocked another).
///
/// Rules:
/// - Locks of different agents conflict when their paths overlap (equal, or one an ancestor of
///   the other by whole segments) and their intents are incompatible (only read + read is
///   compatible). Locks of one agent never conflict with each other.
/// - An expired lock never blocks, even before [`expire`](Self::expire) purges it.
/// - Waiters are served first come, first served: a request (new or queued) is blocked by an
///   incompatible overlapping request of another agent queued before it, so a stream of readers
///   cannot starve a queued writer. Consequently an agent cannot upgrade read → write past a
///   queued writer that waits for its read lock: that is reported as a deadlock.
/// - A queued request that would close a cycle in the wait-for graph is refused with
///   [`LockError::Deadlock`] and nothing is queued, so the graph is always acyclic.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockTable {
    limits: LockLimits,
    // INVARIANT: `by_path`, `by_agent` and `by_expiry` index exactly the locks in `locks`, and
    // hold no empty sets; `locks.len() <= limits.max_locks`.
    locks: BTreeMap<RecordId, Lock>,
    by_path: BTreeMap<String, BTreeSet<RecordId>>,
    by_agent: BTreeMap<AgentDid, BTreeSet<RecordId>>,
    by_expiry: BTreeSet<(Timestamp, RecordId)>,
    // INVARIANT: FIFO order; `waiters.len() <= limits.max_waiters`; each `blocked_by` is exact as
    // of the last mutation (only the passage of time past a lock's TTL can make it stale, and
    // `acquire` refreshes then).
    waiters: VecDeque<Waiter>,
    // INVARIANT: `resolved_order` lists the keys of `resolved` oldest first; at most
    // `limits.max_resolved_tickets` of them.
    resolved: BTreeMap<RecordId, TicketState>,
    resolved_order: VecDeque<RecordId>,
}

impl LockTable {
    /// An empty table with the default [`LockLimits`].
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty table with the given limits.
    pub fn with_limits(limits: LockLimits) -> Self {
        LockTable {
            limits,
            ..Self::default()
        }
    }

    /// The table's bounds.
    pub fn limits(&self) -> LockLimits {
        self.limits
    }

    /// Requests a lock.
    ///
    /// Granted at once if nothing is in the way. Otherwise: without `wait`,
    /// [`LockError::Contention`] naming the agents in the way; with `wait`, the request is queued
    /// ([`Acquire::Queued`]) unless waiting would close a cycle in the wait-for graph
    /// ([`LockError::Deadlock`], nothing queued). Never grants other waiters (only release,
    /// cancel and expiry do), so call [`expire`](Self::expire) at [`next_expiry`](Self::next_expiry).
    pub fn acquire(
        &mut self,
        ids: &mut IdGen,
        req: LockRequest,
        now: Timestamp,
    ) -> Result<Acquire, LockError> {
        validate_path(&req.path)?;
        let ttl = resolve_ttl(req.ttl)?;
        let blockers = self.blockers(&req.agent, &req.path, req.intent, now);
        if blockers.is_empty() {
            if self.locks.len() >= self.limits.max_locks {
                return Err(LockError::TooManyLocks {
                    limit: self.limits.max_locks,
                });
            }
            let lock = Lock {
                lock_id: ids.record("lock"),
                agent: req.agent,
                path: req.path,
                intent: req.intent,
                acquired_at: now,
                expires_at: now.plus(ttl),
                saga_step_id: req.saga_step_id,
            };
            self.insert_lock(lock.clone());
            return Ok(Acquire::Granted(lock));
        }
        if !req.wait {
            return Err(LockError::Contention {
                path: req.path,
                agent: req.agent,
                intent: req.intent,
                holders: blockers.into_iter().collect(),
            });
        }
        if self.waiters.len() >= self.limits.max_waiters {
            return Err(LockError::TooManyWaiters {
                limit: self.limits.max_waiters,
            });
        }
        if self.next_expiry().is_some_and(|t| t <= now) {
            // A lock lapsed since the last mutation: bring the stored edges up to date.
            self.pump(now, false);
        }
        if let Some(cycle) = find_cycle(&self.wait_for_edges(), &req.agent, &blockers) {
            return Err(LockError::Deadlock { cycle });
        }
        let ticket = WaitTicket {
            id: ids.record("lock"),
            agent: req.agent,
            path: req.path,
            intent: req.intent,
            ttl,
            saga_step_id: req.saga_step_id,
            queued_at: now,
        };
        self.waiters.push_back(Waiter {
            ticket: ticket.clone(),
            blocked_by: blockers,
        });
        Ok(Acquire::Queued(ticket))
    }

    /// Releases a lock and returns the locks this grants to waiters (so the runtime can wake
    /// them). Does not check who asks; see [`release_as`](Self::release_as).
    pub fn release(&mut self, lock_id: &RecordId, now: Timestamp) -> Result<Vec<Lock>, LockError> {
        self.remove_lock(lock_id)
            .ok_or_else(|| LockError::NotFound {
                lock_id: lock_id.clone(),
            })?;
        Ok(self.pump(now, true))
    }

    /// [`release`](Self::release) on behalf of `agent`, refused unless `agent` holds the lock.
    pub fn release_as(
        &mut self,
        agent: &AgentDid,
        lock_id: &RecordId,
        now: Timestamp,
    ) -> Result<Vec<Lock>, LockError> {
        match self.locks.get(lock_id) {
            Some(lock) if lock.agent != *agent => Err(LockError::NotHolder {
                lock_id: lock_id.clone(),
                agent: agent.clone(),
                holder: lock.agent.clone(),
            }),
            _ => self.release(lock_id, now),
        }
    }

    /// Withdraws a queued request (e.g. its wait timed out) and returns the locks this grants to
    /// the waiters behind it. `None` if the ticket is not waiting (unknown, already granted or
    /// cancelled; see [`ticket_status`](Self::ticket_status)).
    pub fn cancel_wait(&mut self, ticket: &RecordId, now: Timestamp) -> Option<Vec<Lock>> {
        let pos = self.waiters.iter().position(|w| w.ticket.id == *ticket)?;
        let waiter = self.waiters.remove(pos)?;
        self.resolve(waiter.ticket.id, TicketState::Cancelled);
        Some(self.pump(now, true))
    }

    /// Releases every lock of `agent` and cancels its queued requests (when it leaves or is
    /// killed). Returns `(released, granted)`: its locks, and the locks this grants to others.
    pub fn release_agent(&mut self, agent: &AgentDid, now: Timestamp) -> (Vec<Lock>, Vec<Lock>) {
        self.cancel_waiters(|w| w.ticket.agent == *agent);
        let ids = self.by_agent.get(agent).cloned().unwrap_or_default();
        let released: Vec<Lock> = ids.iter().filter_map(|id| self.remove_lock(id)).collect();
        let granted = self.pump(now, true);
        (released, granted)
    }

    /// Releases every lock and cancels every queued request (session end). Returns the released
    /// locks; cancelled tickets report [`TicketState::Cancelled`].
    pub fn release_all(&mut self, _now: Timestamp) -> Vec<Lock> {
        self.cancel_waiters(|_| true);
        self.by_path.clear();
        self.by_agent.clear();
        self.by_expiry.clear();
        std::mem::take(&mut self.locks).into_values().collect()
    }

    /// Purges locks whose TTL has run out at `now`. Returns `(expired, granted)`: the purged
    /// locks, and the locks this grants to waiters.
    pub fn expire(&mut self, now: Timestamp) -> (Vec<Lock>, Vec<Lock>) {
        let due: Vec<RecordId> = self
            .by_expiry
            .iter()
            .take_while(|(t, _)| *t <= now)
            .map(|(_, id)| id.clone())
            .collect();
        let expired: Vec<Lock> = due.iter().filter_map(|id| self.remove_lock(id)).collect();
        let granted = if expired.is_empty() {
            Vec::new()
        } else {
            self.pump(now, true)
        };
        (expired, granted)
    }

    /// When the next lock lapses, so the runtime can schedule [`expire`](Self::expire).
    pub fn next_expiry(&self) -> Option<Timestamp> {
        self.by_expiry.first().map(|(t, _)| *t)
    }

    /// Where a queued request stands. `None` for an unknown ticket or one resolved so long ago
    /// that it was forgotten (see [`LockLimits::max_resolved_tickets`]).
    pub fn ticket_status(&self, ticket: &RecordId) -> Option<TicketState> {
        if self.waiters.iter().any(|w| w.ticket.id == *ticket) {
            return Some(TicketState::Waiting);
        }
        self.resolved.get(ticket).cloned()
    }

    /// The lock with this id, if held (possibly expired but not yet purged).
    pub fn get(&self, lock_id: &RecordId) -> Option<&Lock> {
        self.locks.get(lock_id)
    }

    /// The locks `agent` holds, by id. Includes expired locks not yet purged.
    pub fn locks_of(&self, agent: &AgentDid) -> Vec<&Lock> {
        self.by_agent
            .get(agent)
            .into_iter()
            .flatten()
            .filter_map(|id| self.locks.get(id))
            .collect()
    }

    /// The locks held on exactly `path` (not its ancestors or descendants), by id. Includes
    /// expired locks not yet purged.
    pub fn holders(&self, path: &str) -> Vec<&Lock> {
        self.by_path
            .get(path)
            .into_iter()
            .flatten()
            .filter_map(|id| self.locks.get(id))
            .collect()
    }

    /// True if `agent` holds a live lock of at least `min` strength on `path` or an ancestor
    /// (`read < write < exclusive`). The runtime uses it to enforce
    /// `IsolationLevel::Serializable` (a writer must hold a write lock).
    pub fn holds(&self, agent: &AgentDid, path: &str, min: LockIntent, now: Timestamp) -> bool {
        self.locks_of(agent).into_iter().any(|l| {
            !l.is_expired(now)
                && l.intent >= min
                && (l.path == path || super::path::is_ancestor(&l.path, path))
        })
    }

    /// Number of locks held (including expired ones not yet purged).
    pub fn active_count(&self) -> usize {
        self.locks.len()
    }

    /// The queued requests, first come first.
    pub fn waiting(&self) -> impl Iterator<Item = &WaitTicket> {
        self.waiters.iter().map(|w| &w.ticket)
    }

    /// Number of queued requests.
    pub fn waiting_count(&self) -> usize {
        self.waiters.len()
    }

    /// Paths (exact) on which at least two distinct agents hold or wait for a lock, sorted.
    pub fn contention_points(&self) -> Vec<String> {
        let mut agents: BTreeMap<&str, BTreeSet<&AgentDid>> = BTreeMap::new();
        for lock in self.locks.values() {
            agents.entry(&lock.path).or_default().insert(&lock.agent);
        }
        for w in &self.waiters {
            agents
                .entry(&w.ticket.path)
                .or_default()
                .insert(&w.ticket.agent);
        }
        agents
            .into_iter()
            .filter(|(_, a)| a.len() >= 2)
            .map(|(p, _)| p.to_string())
            .collect()
    }

    /// The wait-for graph: each waiting agent mapped to the agents it waits for. Always acyclic.
    pub fn wait_for_edges(&self) -> WaitForGraph {
        let mut g = WaitForGraph::new();
        for w in &self.waiters {
            if !w.blocked_by.is_empty() {
                g.entry(w.ticket.agent.clone())
                    .or_default()
                    .extend(w.blocked_by.iter().cloned());
            }
        }
        g
    }

    /// The agents in the way of `agent` locking `path` with `intent` at `now`: holders of live,
    /// incompatible locks on overlapping paths, and agents with incompatible requests on
    /// overlapping paths queued in `self.waiters` (which, during [`pump`](Self::pump), holds only
    /// the requests queued before the one being served).
    fn blockers(
        &self,
        agent: &AgentDid,
        path: &str,
        intent: LockIntent,
        now: Timestamp,
    ) -> BTreeSet<AgentDid> {
        let mut out = BTreeSet::new();
        for lock in self.overlapping_locks(path) {
            if lock.agent != *agent && !lock.is_expired(now) && !intent.compatible_with(lock.intent)
            {
                out.insert(lock.agent.clone());
            }
        }
        for w in &self.waiters {
            let t = &w.ticket;
            if t.agent != *agent && !intent.compatible_with(t.intent) && overlaps(path, &t.path) {
                out.insert(t.agent.clone());
            }
        }
        out
    }

    /// Unexpired locks held by agents other than `agent` on `path`, its ancestors or its
    /// descendants that a `intent` access by `agent` would conflict with. The engine calls this
    /// before a VFS write (intent `Write`): any other agent's lock on an overlapping path blocks
    /// the write, since even a read lock promises its holder the content will not change.
    pub fn conflicting_locks(
        &self,
        agent: &AgentDid,
        path: &str,
        intent: LockIntent,
        now: Timestamp,
    ) -> Vec<&Lock> {
        self.overlapping_locks(path)
            .into_iter()
            .filter(|l| {
                l.agent != *agent && !l.is_expired(now) && !intent.compatible_with(l.intent)
            })
            .collect()
    }

    /// Locks on `path`, on its ancestors and on its descendants, via the path index.
    fn overlapping_locks(&self, path: &str) -> Vec<&Lock> {
        let mut ids: BTreeSet<&RecordId> = BTreeSet::new();
        for key in std::iter::once(path).chain(ancestors(path)) {
            ids.extend(self.by_path.get(key).into_iter().flatten());
        }
        let prefix = descendant_prefix(path);
        let below = self
            .by_path
            .range::<str, _>((Bound::Included(prefix.as_str()), Bound::Unbounded))
            .take_while(|(k, _)| k.starts_with(&prefix));
        for (_, set) in below {
            ids.extend(set);
        }
        ids.into_iter()
            .filter_map(|id| self.locks.get(id))
            .collect()
    }

    /// Serves the queue in order at `now`: a request with nothing in its way is granted (if
    /// `grant` and there is capacity), every other request gets its wait-for edges recomputed.
    /// Returns the granted locks.
    ///
    /// Why this never adds a wait-for edge, so the graph stays acyclic: when G's request is
    /// granted, a later request Z (another agent) that G's new lock blocks was already blocked by
    /// G's queued request (same path overlap, same intents), so the edge Z → G existed; an
    /// earlier request cannot be blocked by it, or G's request would have been blocked by that
    /// earlier one and not granted. Removing locks or requests only removes edges.
    fn pump(&mut self, now: Timestamp, grant: bool) -> Vec<Lock> {
        let queue = std::mem::take(&mut self.waiters);
        let mut granted = Vec::new();
        for mut w in queue {
            let blockers = self.blockers(&w.ticket.agent, &w.ticket.path, w.ticket.intent, now);
            if grant && blockers.is_empty() && self.locks.len() < self.limits.max_locks {
                let t = w.ticket;
                let lock = Lock {
                    lock_id: t.id,
                    agent: t.agent,
                    path: t.path,
                    intent: t.intent,
                    acquired_at: now,
                    expires_at: now.plus(t.ttl),
                    saga_step_id: t.saga_step_id,
                };
                self.insert_lock(lock.clone());
                self.resolve(lock.lock_id.clone(), TicketState::Granted(lock.clone()));
                granted.push(lock);
            } else {
                w.blocked_by = blockers;
                self.waiters.push_back(w);
            }
        }
        granted
    }

    /// Removes the queued requests matching `pred`, marking them cancelled.
    fn cancel_waiters(&mut self, pred: impl Fn(&Waiter) -> bool) {
        let (cancelled, kept): (VecDeque<Waiter>, VecDeque<Waiter>) =
            std::mem::take(&mut self.waiters)
                .into_iter()
                .partition(pred);
        self.waiters = kept;
        for w in cancelled {
            self.resolve(w.ticket.id, TicketState::Cancelled);
        }
    }

    fn insert_lock(&mut self, lock: Lock) {
        let id = lock.lock_id.clone();
        self.by_path
            .entry(lock.path.clone())
            .or_default()
            .insert(id.clone());
        self.by_agent
            .entry(lock.agent.clone())
            .or_default()
            .insert(id.clone());
        self.by_expiry.insert((lock.expires_at, id.clone()));
        self.locks.insert(id, lock);
    }

    fn remove_lock(&mut self, id: &RecordId) -> Option<Lock> {
        let lock = self.locks.remove(id)?;
        remove_from(&mut self.by_path, lock.path.as_str(), id);
        remove_from(&mut self.by_agent, &lock.agent, id);
        self.by_expiry.remove(&(lock.expires_at, id.clone()));
        Some(lock)
    }

    fn resolve(&mut self, id: RecordId, state: TicketState) {
        if self.resolved.insert(id.clone(), state).is_none() {
            self.resolved_order.push_back(id);
        }
        while self.resolved_order.len() > self.limits.max_resolved_tickets {
            if let Some(old) = self.resolved_order.pop_front() {
                self.resolved.remove(&old);
            }
        }
    }
}

/// Removes `id` from the set under `key`, dropping the set when it empties.
fn remove_from<K, Q>(index: &mut BTreeMap<K, BTreeSet<RecordId>>, key: &Q, id: &RecordId)
where
    K: Ord + std::borrow::Borrow<Q>,
    Q: Ord + ?Sized,
{
    if let Some(set) = index.get_mut(key) {
        set.remove(id);
        if set.is_empty() {
            index.remove(key);
        }
    }
}

/// The TTL a request gets: the default when none is named; zero and over-long TTLs are refused.
fn resolve_ttl(ttl: Option<Duration>) -> Result<Duration, LockError> {
    match ttl {
        None => Ok(DEFAULT_LOCK_TTL),
        Some(d) if d.is_zero() => Err(LockError::ZeroTtl),
        Some(d) if d > MAX_LOCK_TTL => Err(LockError::TtlTooLong {
            requested_secs: d.as_secs(),
            max_secs: MAX_LOCK_TTL.as_secs(),
        }),
        Some(d) => Ok(d),
    }
}
