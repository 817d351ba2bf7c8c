//! The per-session clock table: one clock per path, one per agent, and the write check.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::id::AgentDid;

use super::clock::{MAX_CLOCK_ENTRIES, VectorClock};
use super::err::ClockError;
use super::isolation::IsolationLevel;
use super::path::validate_path;

/// Most agents one table tracks (readers and writers). Equal to [`MAX_CLOCK_ENTRIES`], so no clock
/// built by the table can exceed that bound. A new agent beyond it gets
/// [`ClockError::TooManyAgents`]; agents already tracked are unaffected.
pub const MAX_TRACKED_AGENTS: usize = MAX_CLOCK_ENTRIES;

/// Most paths one table tracks. Writing a *new* path beyond it gets [`ClockError::TooManyPaths`];
/// [`ClockTable::forget_path`] (called when the VFS deletes a file) frees a slot.
pub const MAX_TRACKED_PATHS: usize = 100_000;

/// Vector clocks of one session: which version of each path each agent has seen.
///
/// The VFS calls [`observe_read`](Self::observe_read) on every read, and
/// [`check_write`](Self::check_write) then [`record_write`](Self::record_write) (or
/// [`write`](Self::write) for both) on every write.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClockTable {
    // INVARIANT: at most MAX_TRACKED_PATHS entries; every clock is non-empty.
    paths: BTreeMap<String, VectorClock>,
    // INVARIANT: at most MAX_TRACKED_AGENTS entries; every clock is non-empty; every agent with a
    // non-zero counter in any clock of this table is a key here.
    agents: BTreeMap<AgentDid, VectorClock>,
    conflicts: u64,
}

impl ClockTable {
    /// An empty table for a new session.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records that `agent` read `path`: the agent's clock absorbs the path's clock. Returns the
    /// path's clock as read (empty for a path never written; no entry is created then).
    pub fn observe_read(
        &mut self,
        path: &str,
        agent: &AgentDid,
    ) -> Result<VectorClock, ClockError> {
        validate_path(path)?;
        let Some(seen) = self.paths.get(path).cloned() else {
            return Ok(VectorClock::new());
        };
        self.admit_agent(agent)?;
        self.agents
            .entry(agent.clone())
            .or_default()
            .merge_in(&seen);
        Ok(seen)
    }

    /// Decides whether `agent` may write `path` under `isolation`.
    ///
    /// Under `read_committed` and `serializable` the agent's clock must dominate or equal the
    /// path's clock: the agent must have seen the path's latest version. A stale writer *and* a
    /// concurrent one (it wrote elsewhere but never read this path) are refused, and the conflict
    /// counter goes up; the reference accepted concurrent overwrites. A path with no clock (a new
    /// file) accepts any writer. Under `snapshot` every write is accepted.
    pub fn check_write(
        &mut self,
        path: &str,
        agent: &AgentDid,
        isolation: IsolationLevel,
    ) -> Result<(), ClockError> {
        validate_path(path)?;
        if !isolation.requires_vector_clocks() {
            return Ok(());
        }
        let Some(path_clock) = self.paths.get(path) else {
            return Ok(());
        };
        let agent_clock = self.agents.get(agent).cloned().unwrap_or_default();
        if agent_clock.dominates_or_equals(path_clock) {
            return Ok(());
        }
        self.conflicts = self.conflicts.saturating_add(1);
        Err(ClockError::Stale {
            agent: agent.clone(),
            path: path.to_string(),
            agent_clock,
            path_clock: path_clock.clone(),
        })
    }

    /// Records a write of `path` by `agent` that has been accepted: the agent ticks, the path's
    /// clock becomes path ⊔ agent. Returns the path's new clock. Nothing changes on error.
    pub fn record_write(
        &mut self,
        path: &str,
        agent: &AgentDid,
    ) -> Result<VectorClock, ClockError> {
        validate_path(path)?;
        if !self.paths.contains_key(path) && self.paths.len() >= MAX_TRACKED_PATHS {
            return Err(ClockError::TooManyPaths {
                limit: MAX_TRACKED_PATHS,
            });
        }
        self.admit_agent(agent)?;
        let mut agent_clock = self.agents.get(agent).cloned().unwrap_or_default();
        agent_clock.tick(agent)?;
        let path_clock = match self.paths.get(path) {
            Some(p) => p.merge(&agent_clock),
            None => agent_clock.clone(),
        };
        self.agents.insert(agent.clone(), agent_clock);
        self.paths.insert(path.to_string(), path_clock.clone());
        Ok(path_clock)
    }

    /// [`check_write`](Self::check_write) then [`record_write`](Self::record_write).
    pub fn write(
        &mut self,
        path: &str,
        agent: &AgentDid,
        isolation: IsolationLevel,
    ) -> Result<VectorClock, ClockError> {
        self.check_write(path, agent, isolation)?;
        self.record_write(path, agent)
    }

    /// Drops the clock of a deleted path; a later write of it counts as a new file. Returns
    /// whether the path was tracked.
    pub fn forget_path(&mut self, path: &str) -> bool {
        self.paths.remove(path).is_some()
    }

    /// The clock of `path`, if it has ever been written (and not forgotten).
    pub fn path_clock(&self, path: &str) -> Option<&VectorClock> {
        self.paths.get(path)
    }

    /// The clock of `agent`, if it has read or written anything.
    pub fn agent_clock(&self, agent: &AgentDid) -> Option<&VectorClock> {
        self.agents.get(agent)
    }

    /// How many writes [`check_write`](Self::check_write) has refused.
    pub fn conflict_count(&self) -> u64 {
        self.conflicts
    }

    /// Number of paths with a clock.
    pub fn tracked_paths(&self) -> usize {
        self.paths.len()
    }

    /// Number of agents with a clock.
    pub fn tracked_agents(&self) -> usize {
        self.agents.len()
    }

    fn admit_agent(&self, agent: &AgentDid) -> Result<(), ClockError> {
        if !self.agents.contains_key(agent) && self.agents.len() >= MAX_TRACKED_AGENTS {
            return Err(ClockError::TooManyAgents {
                limit: MAX_TRACKED_AGENTS,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RC: IsolationLevel = IsolationLevel::ReadCommitted;

    fn did(s: &str) -> AgentDid {
        AgentDid::new(s).unwrap()
    }

    #[test]
    fn concurrent_overwrite_is_rejected_unlike_reference() {
        let (a1, a2) = (did("did:mesh:a1"), did("did:mesh:a2"));
        let mut t = ClockTable::new();
        t.write("/p", &a1, RC).unwrap();
        t.write("/q", &a2, RC).unwrap();
        // a2's clock {a2:1} is concurrent with /p's {a1:1}: a2 never saw a1's version.
        let err = t.write("/p", &a2, RC).unwrap_err();
        assert_eq!(
            err.to_string(),
            "agent `did:mesh:a2` has stale state for `/p`: must re-read before writing \
             (agent clock {did:mesh:a2: 1}, path clock {did:mesh:a1: 1})"
        );
        assert_eq!(t.conflict_count(), 1);
        // The same holds under serializable; snapshot accepts it (last writer wins by choice).
        assert!(
            t.check_write("/p", &a2, IsolationLevel::Serializable)
                .is_err()
        );
        assert!(t.check_write("/p", &a2, IsolationLevel::Snapshot).is_ok());
        assert_eq!(t.conflict_count(), 2);
    }

    #[test]
    fn read_then_write_is_accepted() {
        let (a1, a2) = (did("a1"), did("a2"));
        let mut t = ClockTable::new();
        t.write("/p", &a1, RC).unwrap();
        let seen = t.observe_read("/p", &a2).unwrap();
        assert_eq!(seen.get(&a1), 1);
        let p = t.write("/p", &a2, RC).unwrap();
        assert_eq!((p.get(&a1), p.get(&a2)), (1, 1));
        assert_eq!(t.path_clock("/p"), Some(&p));
        assert_eq!(t.agent_clock(&a2), Some(&p));
        // a1 is now strictly stale.
        let err = t.write("/p", &a1, RC).unwrap_err();
        assert!(matches!(err, ClockError::Stale { .. }));
        // An agent may keep writing its own latest version.
        t.write("/p", &a2, RC).unwrap();
        assert_eq!(t.path_clock("/p").unwrap().get(&a2), 2);
    }

    #[test]
    fn new_path_accepts_any_writer_but_fresh_agent_must_read_existing() {
        let (a1, a2) = (did("a1"), did("a2"));
        let mut t = ClockTable::new();
        t.check_write("/new", &a2, RC).unwrap();
        t.write("/p", &a1, RC).unwrap();
        assert!(t.write("/p", &a2, RC).is_err(), "never read /p");
        assert_eq!(t.agent_clock(&a2), None, "a refused write changes no clock");
        t.observe_read("/p", &a2).unwrap();
        t.write("/p", &a2, RC).unwrap();
    }

    #[test]
    fn reading_an_unknown_path_creates_nothing() {
        let mut t = ClockTable::new();
        let seen = t.observe_read("/nothing", &did("a")).unwrap();
        assert!(seen.is_empty());
        assert_eq!((t.tracked_paths(), t.tracked_agents()), (0, 0));
    }

    #[test]
    fn record_write_ticks_writer_and_merges_into_path() {
        let (a1, a2) = (did("a1"), did("a2"));
        let mut t = ClockTable::new();
        t.write("/x", &a2, RC).unwrap();
        t.write("/x", &a2, RC).unwrap();
        t.observe_read("/x", &a1).unwrap();
        t.write("/y", &a1, RC).unwrap();
        let y = t.path_clock("/y").unwrap();
        assert_eq!(
            (y.get(&a1), y.get(&a2)),
            (1, 2),
            "/y carries what a1 had seen"
        );
        assert_eq!(t.agent_clock(&a1).unwrap(), y);
    }

    #[test]
    fn forget_path_makes_it_new_again() {
        let (a1, a2) = (did("a1"), did("a2"));
        let mut t = ClockTable::new();
        t.write("/p", &a1, RC).unwrap();
        assert!(t.forget_path("/p"));
        assert!(!t.forget_path("/p"));
        assert_eq!(t.path_clock("/p"), None);
        t.write("/p", &a2, RC).unwrap();
    }

    #[test]
    fn refuses_bad_paths() {
        let mut t = ClockTable::new();
        let a = did("a");
        assert_eq!(t.record_write("", &a).unwrap_err(), ClockError::EmptyPath);
        let long = format!("/{}", "x".repeat(super::super::MAX_PATH_LEN));
        assert_eq!(
            t.observe_read(&long, &a).unwrap_err().to_string(),
            "path is 4097 bytes long; the limit is 4096"
        );
    }

    #[test]
    fn bounds_on_agents_and_paths() {
        let mut t = ClockTable::new();
        for i in 0..MAX_TRACKED_AGENTS {
            t.record_write("/shared", &did(&format!("did:a:{i}")))
                .unwrap();
        }
        let err = t.record_write("/shared", &did("did:a:extra")).unwrap_err();
        assert_eq!(
            err,
            ClockError::TooManyAgents {
                limit: MAX_TRACKED_AGENTS
            }
        );
        assert!(t.observe_read("/shared", &did("did:a:extra")).is_err());

        let mut t = ClockTable::new();
        let a = did("a");
        for i in 0..MAX_TRACKED_PATHS {
            t.record_write(&format!("/f{i}"), &a).unwrap();
        }
        assert_eq!(
            t.record_write("/one-more", &a).unwrap_err().to_string(),
            format!(
                "too many paths: a session tracks at most {MAX_TRACKED_PATHS} paths in its vector clocks"
            )
        );
        t.record_write("/f0", &a).unwrap();
        t.forget_path("/f0");
        t.record_write("/one-more", &a).unwrap();
    }

    #[test]
    fn table_round_trips_through_serde() {
        let mut t = ClockTable::new();
        t.write("/p", &did("a"), RC).unwrap();
        let _ = t.write("/p", &did("b"), RC);
        let json = serde_json::to_string(&t).unwrap();
        let back: ClockTable = serde_json::from_str(&json).unwrap();
        assert_eq!(back, t);
    }
}
