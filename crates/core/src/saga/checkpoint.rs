//! Semantic checkpoints: durable records that a step's goal was achieved, so a replayed saga
//! (same saga id, after a crash or a retry of the whole saga) skips the steps already done.
//!
//! Keyed by (saga id, step id, full SHA-256 of the goal): the reference indexed by a 64-bit
//! hash of `"{goal}:{step_id}"` only, so saving the same goal in saga B made saga A's
//! checkpoint unreachable (spec §6.4, §17 item 26).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::model::{SagaDefinition, check_text};
use super::protocol::SagaInput;
use crate::id::{IdGen, RecordId, SagaId, StepId};
use crate::time::Timestamp;

/// Default bound on stored checkpoints (valid and invalidated) across all sagas.
pub const DEFAULT_CHECKPOINT_CAPACITY: usize = 100_000;

/// Why a checkpoint operation was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointError {
    /// The goal text is blank or too long.
    #[error("checkpoint goal {0}")]
    Goal(String),
    /// The store holds its maximum number of checkpoints.
    #[error("checkpoint store is full ({0} checkpoints); remove finished sagas first")]
    Full(usize),
}

/// One achieved goal.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// `ckpt:{16 hex}`.
    pub checkpoint_id: RecordId,
    /// The saga it belongs to.
    pub saga_id: SagaId,
    /// The step whose goal was achieved.
    pub step_id: StepId,
    /// The goal, as written in the step definition.
    pub goal: String,
    /// Full lowercase hex SHA-256 of the goal.
    pub goal_hash: String,
    /// When it was saved.
    pub achieved_at: Timestamp,
    /// Optional state captured with it (owned copy, not a shared reference).
    pub state_snapshot: Option<serde_json::Value>,
    /// False once invalidated; invalid checkpoints never cause a skip.
    pub valid: bool,
    /// Why it was invalidated.
    pub invalidated_reason: Option<String>,
}

/// The outcome of [`CheckpointStore::replay_plan`]: which steps to skip and which to run.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplayPlan {
    /// Steps whose goal a valid checkpoint records.
    pub skip: Vec<StepId>,
    /// Steps to execute (no goal, or no valid checkpoint for the current goal).
    pub run: Vec<StepId>,
}

impl ReplayPlan {
    /// The `Start` input that applies this plan.
    pub fn start_input(&self) -> SagaInput {
        SagaInput::Start {
            skip: self.skip.clone(),
        }
    }
}

/// Full lowercase hex SHA-256 of a goal description (64 characters; never truncated).
pub fn goal_hash(goal: &str) -> String {
    hex::encode(Sha256::digest(goal.as_bytes()))
}

type GoalMap = BTreeMap<String, Checkpoint>;

/// All checkpoints, indexed saga → step → goal hash.
///
/// Bounded by `capacity` (saving beyond it is refused, never silently evicted, because a
/// lost checkpoint means re-executing a step); [`CheckpointStore::remove_saga`] frees the
/// entries of a saga that finished.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckpointStore {
    // INVARIANT: `len` equals the number of checkpoints in `by_saga` and is ≤ `capacity`;
    // every checkpoint sits under its own (saga_id, step_id, goal_hash).
    by_saga: BTreeMap<SagaId, BTreeMap<StepId, GoalMap>>,
    len: usize,
    capacity: usize,
}

impl Default for CheckpointStore {
    fn default() -> Self {
        CheckpointStore::new(DEFAULT_CHECKPOINT_CAPACITY)
    }
}

impl CheckpointStore {
    /// An empty store holding at most `capacity` checkpoints.
    pub fn new(capacity: usize) -> Self {
        CheckpointStore {
            by_saga: BTreeMap::new(),
            len: 0,
            capacity,
        }
    }

    /// Records that `goal` of `step_id` in `saga_id` was achieved. Saving the same goal again
    /// replaces (and re-validates) the previous checkpoint.
    pub fn save(
        &mut self,
        saga_id: &SagaId,
        step_id: &StepId,
        goal: &str,
        state_snapshot: Option<serde_json::Value>,
        now: Timestamp,
        ids: &mut IdGen,
    ) -> Result<&Checkpoint, CheckpointError> {
        check_text(goal).map_err(CheckpointError::Goal)?;
        let hash = goal_hash(goal);
        let exists = self
            .by_saga
            .get(saga_id)
            .and_then(|s| s.get(step_id))
            .is_some_and(|g| g.contains_key(&hash));
        if !exists && self.len >= self.capacity {
            return Err(CheckpointError::Full(self.capacity));
        }
        if !exists {
            self.len += 1;
        }
        let cp = Checkpoint {
            checkpoint_id: ids.record("ckpt"),
            saga_id: saga_id.clone(),
            step_id: step_id.clone(),
            goal: goal.to_string(),
            goal_hash: hash.clone(),
            achieved_at: now,
            state_snapshot,
            valid: true,
            invalidated_reason: None,
        };
        let goals = self
            .by_saga
            .entry(saga_id.clone())
            .or_default()
            .entry(step_id.clone())
            .or_default();
        goals.insert(hash.clone(), cp);
        goals.get(&hash).ok_or(CheckpointError::Full(self.capacity))
    }

    /// The valid checkpoint for this exact (saga, step, goal), if any.
    pub fn get(&self, saga_id: &SagaId, step_id: &StepId, goal: &str) -> Option<&Checkpoint> {
        self.by_saga
            .get(saga_id)?
            .get(step_id)?
            .get(&goal_hash(goal))
            .filter(|c| c.valid)
    }

    /// Whether a valid checkpoint records this goal for this step of this saga.
    pub fn is_achieved(&self, saga_id: &SagaId, step_id: &StepId, goal: &str) -> bool {
        self.get(saga_id, step_id, goal).is_some()
    }

    /// Marks every valid checkpoint of the step invalid; returns how many changed.
    pub fn invalidate(&mut self, saga_id: &SagaId, step_id: &StepId, reason: &str) -> usize {
        let Some(goals) = self
            .by_saga
            .get_mut(saga_id)
            .and_then(|s| s.get_mut(step_id))
        else {
            return 0;
        };
        let mut n = 0;
        for cp in goals.values_mut().filter(|c| c.valid) {
            cp.valid = false;
            cp.invalidated_reason = Some(reason.to_string());
            n += 1;
        }
        n
    }

    /// The saga's valid checkpoints, ordered by step id then goal hash.
    pub fn saga_checkpoints(&self, saga_id: &SagaId) -> Vec<&Checkpoint> {
        self.by_saga
            .get(saga_id)
            .into_iter()
            .flat_map(|steps| steps.values())
            .flat_map(|goals| goals.values())
            .filter(|c| c.valid)
            .collect()
    }

    /// Which steps of `definition`, run as saga `saga_id`, can be skipped: those with a
    /// `checkpoint_goal` and a valid checkpoint for that very goal (a changed goal reruns the
    /// step, unlike the reference, which ignored the goal here).
    pub fn replay_plan(&self, saga_id: &SagaId, definition: &SagaDefinition) -> ReplayPlan {
        let mut plan = ReplayPlan::default();
        for step in &definition.steps {
            let done = step
                .checkpoint_goal
                .as_deref()
                .is_some_and(|g| self.is_achieved(saga_id, &step.step_id, g));
            if done {
                plan.skip.push(step.step_id.clone());
            } else {
                plan.run.push(step.step_id.clone());
            }
        }
        plan
    }

    /// Drops every checkpoint of a saga (valid or not); returns how many were removed.
    pub fn remove_saga(&mut self, saga_id: &SagaId) -> usize {
        let n = self
            .by_saga
            .remove(saga_id)
            .map_or(0, |s| s.values().map(BTreeMap::len).sum());
        self.len = self.len.saturating_sub(n);
        n
    }

    /// Stored checkpoints, valid or not.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Valid checkpoints across all sagas.
    pub fn valid_count(&self) -> usize {
        self.by_saga
            .values()
            .flat_map(|s| s.values())
            .flat_map(|g| g.values())
            .filter(|c| c.valid)
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::{ActionId, AgentDid, SessionId};
    use crate::saga::model::StepDefinition;

    fn saga(s: &str) -> SagaId {
        SagaId::new(s).unwrap()
    }
    fn step(s: &str) -> StepId {
        StepId::new(s).unwrap()
    }
    fn ids() -> IdGen {
        IdGen::new([3; 16])
    }

    #[test]
    fn checkpoints_of_two_sagas_never_collide_unlike_reference() {
        let mut store = CheckpointStore::default();
        let mut g = ids();
        let (a, b, s) = (saga("saga:a"), saga("saga:b"), step("s1"));
        store
            .save(&a, &s, "db migrated", None, Timestamp::ZERO, &mut g)
            .unwrap();
        store
            .save(&b, &s, "db migrated", None, Timestamp::ZERO, &mut g)
            .unwrap();
        // The reference answered A → false, B → true here.
        assert!(store.is_achieved(&a, &s, "db migrated"));
        assert!(store.is_achieved(&b, &s, "db migrated"));
        assert_eq!(store.len(), 2);
        assert_eq!(store.invalidate(&a, &s, "rolled back"), 1);
        assert!(!store.is_achieved(&a, &s, "db migrated"));
        assert!(store.is_achieved(&b, &s, "db migrated"));
    }

    #[test]
    fn goal_hash_is_full_sha256_unlike_reference() {
        let h = goal_hash("db migrated");
        assert_eq!(h.len(), 64);
        assert!(
            h.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert_ne!(goal_hash("a"), goal_hash("b"));
    }

    #[test]
    fn replay_plan_skips_only_steps_with_a_valid_checkpoint_for_their_goal() {
        let mut def = SagaDefinition::new("x", SessionId::new("session:1").unwrap());
        for id in ["s1", "s2", "s3", "s4"] {
            def.steps.push(
                StepDefinition::new(
                    step(id),
                    ActionId::new("a").unwrap(),
                    AgentDid::new("did:mesh:a").unwrap(),
                    "api.do",
                )
                .with_checkpoint(format!("goal {id}")),
            );
        }
        let sg = saga("saga:a");
        let mut store = CheckpointStore::default();
        let mut g = ids();
        store
            .save(&sg, &step("s1"), "goal s1", None, Timestamp::ZERO, &mut g)
            .unwrap();
        store
            .save(&sg, &step("s3"), "goal s3", None, Timestamp::ZERO, &mut g)
            .unwrap();
        store
            .save(&sg, &step("s4"), "old goal", None, Timestamp::ZERO, &mut g)
            .unwrap();
        let plan = store.replay_plan(&sg, &def);
        assert_eq!(plan.skip, vec![step("s1"), step("s3")]);
        assert_eq!(plan.run, vec![step("s2"), step("s4")], "s4's goal changed");
        assert_eq!(
            plan.start_input(),
            SagaInput::Start {
                skip: vec![step("s1"), step("s3")]
            }
        );
        // Another saga id sees nothing.
        assert!(store.replay_plan(&saga("saga:b"), &def).skip.is_empty());
        store.invalidate(&sg, &step("s1"), "");
        assert_eq!(store.replay_plan(&sg, &def).skip, vec![step("s3")]);
        assert_eq!(store.saga_checkpoints(&sg).len(), 2);
        assert_eq!(store.valid_count(), 2);
    }

    #[test]
    fn store_is_bounded_and_saving_again_replaces() {
        let mut store = CheckpointStore::new(2);
        let mut g = ids();
        let sg = saga("saga:a");
        store
            .save(&sg, &step("s1"), "g", None, Timestamp::ZERO, &mut g)
            .unwrap();
        store.invalidate(&sg, &step("s1"), "x");
        let cp = store
            .save(
                &sg,
                &step("s1"),
                "g",
                Some(serde_json::json!({"v": 2})),
                Timestamp::from_secs(5),
                &mut g,
            )
            .unwrap();
        assert!(cp.valid, "saving again re-validates");
        assert_eq!(store.len(), 1);
        store
            .save(&sg, &step("s2"), "g", None, Timestamp::ZERO, &mut g)
            .unwrap();
        let e = store
            .save(&sg, &step("s3"), "g", None, Timestamp::ZERO, &mut g)
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "checkpoint store is full (2 checkpoints); remove finished sagas first"
        );
        assert_eq!(store.remove_saga(&sg), 2);
        assert!(store.is_empty());
        let e = store
            .save(&sg, &step("s3"), "  ", None, Timestamp::ZERO, &mut g)
            .unwrap_err();
        assert_eq!(e.to_string(), "checkpoint goal must not be empty");
    }

    #[test]
    fn store_round_trips_through_json() {
        let mut store = CheckpointStore::default();
        let mut g = ids();
        let cp = store
            .save(
                &saga("saga:a"),
                &step("s1"),
                "g",
                None,
                Timestamp::ZERO,
                &mut g,
            )
            .unwrap();
        assert!(cp.checkpoint_id.as_str().starts_with("ckpt:"));
        let back: CheckpointStore =
            serde_json::from_str(&serde_json::to_string(&store).unwrap()).unwrap();
        assert_eq!(back, store);
    }
}
