//! Fault attribution for a failed saga by true Shapley values.
//!
//! The reference called its attribution "Shapley-value inspired" but summed fixed per-node
//! weights, ignored step dependencies and ordered ties by set iteration (spec §4.4, §17 item 27).
//! Here liability is the Shapley value of a cooperative "harm" game over the saga's agents.
//!
//! # The characteristic function
//!
//! Let F be the failed steps (the declared failure step always counts as failed), ω(s) a step's
//! risk weight, and A(s) the agents of `s` and of every step `s` transitively depends on. Each
//! failed step carries harm `h(s) = (1 + ω(s)) × m(s)`, with `m = 2` ([`ROOT_CAUSE_MULTIPLIER`])
//! for the failure step and 1 otherwise. For a coalition S of agents:
//!
//! ```text
//! v(S) = Σ_{s ∈ F} h(s) · ( α · [agent(s) ∈ S]  +  (1 − α) · [A(s) ⊆ S] ),   α = 0.5
//! ```
//!
//! Read: the agent that executed a failing step can cause the direct part α of its harm on its
//! own; the rest needs the whole causal chain that fed the step (every upstream agent whose
//! output it consumed). v(∅) = 0 and v is monotone. An agent none of whose steps is a failed
//! step or an ancestor of one is a null player and gets 0; the failure step's agent collects
//! the doubled direct part, so it carries the largest share unless others fail more.
//!
//! # Computation
//!
//! For n ≤ [`MAX_ENUMERATED_AGENTS`] agents, φᵢ = Σ_{S ⊆ N∖{i}} |S|!(n−|S|−1)!/n! ·
//! (v(S ∪ {i}) − v(S)) is computed by enumerating all 2ⁿ coalitions (the table v is built with a
//! subset-sum transform in O(n·2ⁿ)). Above that, enumeration is infeasible; because v is a
//! non-negative sum of unanimity games, its Shapley value has the exact closed form
//! φᵢ = Σ_{s ∈ F} h(s)·(α·[i = agent(s)] + (1 − α)·[i ∈ A(s)] / |A(s)|), which is used instead
//! (tests check both agree). This is exact, not an approximation.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use serde::{Deserialize, Serialize};

use crate::id::{ActionId, AgentDid, IdGen, RecordId, SagaId, SessionId, StepId};
use crate::score::Score;
use crate::time::Timestamp;

/// Share α of a failed step's harm its own agent can cause alone (the reference's
/// DIRECT_CAUSE_WEIGHT, reused).
pub const DIRECT_CAUSE_WEIGHT: f64 = 0.5;
/// Harm multiplier of the declared failure step relative to other failed steps.
pub const ROOT_CAUSE_MULTIPLIER: f64 = 2.0;
/// Largest agent count for which coalitions are enumerated.
pub const MAX_ENUMERATED_AGENTS: usize = 16;
/// Largest agent count accepted at all.
pub const MAX_AGENTS: usize = 1024;
/// Largest step count accepted.
pub const MAX_STEPS: usize = 4096;

/// Why an attribution could not be computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AttributionError {
    /// No steps were given.
    #[error("attribution needs at least one step")]
    NoSteps,
    /// More than [`MAX_STEPS`] steps.
    #[error("attribution got {0} steps; the limit is {MAX_STEPS}")]
    TooManySteps(usize),
    /// More than [`MAX_AGENTS`] agents.
    #[error("attribution got {0} agents; the limit is {MAX_AGENTS}")]
    TooManyAgents(usize),
    /// Two steps share an id.
    #[error("step `{0}` appears more than once")]
    DuplicateStep(StepId),
    /// A dependency names no step of the saga.
    #[error("step `{step}` depends on unknown step `{dependency}`")]
    UnknownDependency {
        /// The depending step.
        step: StepId,
        /// The missing dependency.
        dependency: StepId,
    },
    /// The dependencies contain a cycle.
    #[error("step `{0}` is part of a dependency cycle")]
    DependencyCycle(StepId),
    /// The failure step is not among the steps.
    #[error("failure step `{0}` is not a step of the saga")]
    UnknownFailureStep(StepId),
    /// The failure step was run by another agent than the one named.
    #[error("failure step `{step}` was run by `{actual}`, not `{claimed}`")]
    FailureAgentMismatch {
        /// The failure step.
        step: StepId,
        /// The agent named as failing.
        claimed: AgentDid,
        /// The agent that ran the step.
        actual: AgentDid,
    },
    /// A value table has the wrong length for its player count.
    #[error("a game of {players} players needs {expected} coalition values, got {got}")]
    BadTable {
        /// Player count.
        players: usize,
        /// 2^players.
        expected: usize,
        /// Values given.
        got: usize,
    },
    /// Too many players to enumerate.
    #[error("cannot enumerate coalitions of {0} players; the limit is {MAX_ENUMERATED_AGENTS}")]
    TooManyPlayers(usize),
}

/// One step of the failed saga, as recorded by the orchestrator.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepFact {
    /// The step.
    pub step_id: StepId,
    /// The agent that ran it.
    pub agent: AgentDid,
    /// What it did.
    pub action_id: ActionId,
    /// Whether it failed.
    pub failed: bool,
    /// The action's risk weight ω.
    pub risk_weight: Score,
    /// Steps whose output it consumed.
    pub depends_on: Vec<StepId>,
}

/// Everything needed to attribute one saga failure.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AttributionInput {
    /// The saga.
    pub saga_id: SagaId,
    /// Its session.
    pub session_id: SessionId,
    /// Its steps.
    pub steps: Vec<StepFact>,
    /// The step at which the saga failed.
    pub failure_step: StepId,
    /// The agent that ran it.
    pub failure_agent: AgentDid,
}

/// How the Shapley values were obtained.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShapleyMethod {
    /// All 2ⁿ coalitions enumerated.
    Enumeration,
    /// The exact unanimity-game closed form (n above [`MAX_ENUMERATED_AGENTS`]).
    UnanimityClosedForm,
}

/// One agent's liability.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AgentLiability {
    /// The agent.
    pub agent: AgentDid,
    /// Its Shapley value φ (in harm units; Σφ = v(N)).
    pub shapley_value: f64,
    /// φ / v(N), unrounded.
    pub share_exact: f64,
    /// φ / v(N) rounded to 4 decimals, for display.
    pub liability_share: f64,
    /// True for the agent of the failure step.
    pub is_direct_cause: bool,
    /// Why it carries liability, in words.
    pub reason: String,
}

/// The attribution of one saga failure.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AttributionResult {
    /// `attr:{16 hex}`.
    pub attribution_id: RecordId,
    /// The saga.
    pub saga_id: SagaId,
    /// Its session.
    pub session_id: SessionId,
    /// When computed.
    pub at: Timestamp,
    /// Every agent of the saga, by share descending then DID.
    pub attributions: Vec<AgentLiability>,
    /// The failure step's agent.
    pub root_cause_agent: AgentDid,
    /// v(N): the total harm of the failure.
    pub total_harm: f64,
    /// How φ was computed.
    pub method: ShapleyMethod,
}

impl AttributionResult {
    /// The exact share of `agent` (0 if not involved).
    pub fn share_of(&self, agent: &AgentDid) -> f64 {
        self.attributions
            .iter()
            .find(|a| a.agent == *agent)
            .map_or(0.0, |a| a.share_exact)
    }
}

/// The harm game: v(S) = Σ weight over terms whose coalition ⊆ S.
#[derive(Debug)]
struct Game {
    agents: Vec<AgentDid>,
    /// (weight, sorted agent indices) — each a weighted unanimity game.
    terms: Vec<(f64, Vec<usize>)>,
}

impl Game {
    fn value(&self, members: &BTreeSet<usize>) -> f64 {
        self.terms
            .iter()
            .filter(|(_, c)| c.iter().all(|i| members.contains(i)))
            .fold(0.0, |acc, (w, _)| acc + w)
    }

    fn table(&self) -> Result<Vec<f64>, AttributionError> {
        let n = self.agents.len();
        if n > MAX_ENUMERATED_AGENTS {
            return Err(AttributionError::TooManyPlayers(n));
        }
        let size = 1usize << n;
        let mut g = vec![0.0; size];
        for (w, c) in &self.terms {
            let mask = c.iter().fold(0usize, |m, i| m | (1 << i));
            if let Some(slot) = g.get_mut(mask) {
                *slot += w;
            }
        }
        // Subset-sum (zeta) transform: g[S] becomes Σ_{T ⊆ S} g[T].
        for bit in 0..n {
            for mask in 0..size {
                if mask & (1 << bit) != 0 {
                    let lower = g.get(mask ^ (1 << bit)).copied().unwrap_or(0.0);
                    if let Some(slot) = g.get_mut(mask) {
                        *slot += lower;
                    }
                }
            }
        }
        Ok(g)
    }

    fn closed_form(&self) -> Vec<f64> {
        let mut phi = vec![0.0; self.agents.len()];
        for (w, c) in &self.terms {
            // c is never empty: every term holds at least its step's agent.
            let share = w / c.len().max(1) as f64;
            for &i in c {
                if let Some(p) = phi.get_mut(i) {
                    *p += share;
                }
            }
        }
        phi
    }
}

/// Exact Shapley values of the game on `n` players whose coalition values are `v`, indexed by
/// bitmask (bit i set = player i in the coalition; `v.len()` must be 2ⁿ, n ≤ 16).
pub fn shapley_from_table(n: usize, v: &[f64]) -> Result<Vec<f64>, AttributionError> {
    if n > MAX_ENUMERATED_AGENTS {
        return Err(AttributionError::TooManyPlayers(n));
    }
    let size = 1usize << n;
    if v.len() != size {
        return Err(AttributionError::BadTable {
            players: n,
            expected: size,
            got: v.len(),
        });
    }
    // w[k] = k!(n−k−1)!/n!, built as w[0] = 1/n, w[k] = w[k−1]·k/(n−k).
    let mut w = Vec::with_capacity(n);
    let mut cur = if n == 0 { 0.0 } else { 1.0 / n as f64 };
    for k in 0..n {
        if k > 0 {
            cur = cur * k as f64 / (n - k) as f64;
        }
        w.push(cur);
    }
    let mut phi = vec![0.0; n];
    for (i, p) in phi.iter_mut().enumerate() {
        let bit = 1usize << i;
        for (mask, &without) in v.iter().enumerate() {
            if mask & bit != 0 {
                continue;
            }
            let with = v.get(mask | bit).copied().unwrap_or(without);
            let k = mask.count_ones() as usize;
            *p += w.get(k).copied().unwrap_or(0.0) * (with - without);
        }
    }
    Ok(phi)
}

/// Validates the saga's steps and builds the harm game (see the module docs).
fn build_game(input: &AttributionInput) -> Result<(Game, usize, Vec<bool>), AttributionError> {
    let steps = &input.steps;
    if steps.is_empty() {
        return Err(AttributionError::NoSteps);
    }
    if steps.len() > MAX_STEPS {
        return Err(AttributionError::TooManySteps(steps.len()));
    }
    let mut index: BTreeMap<&StepId, usize> = BTreeMap::new();
    for (i, s) in steps.iter().enumerate() {
        if index.insert(&s.step_id, i).is_some() {
            return Err(AttributionError::DuplicateStep(s.step_id.clone()));
        }
    }
    let agent_set: BTreeSet<&AgentDid> = steps.iter().map(|s| &s.agent).collect();
    if agent_set.len() > MAX_AGENTS {
        return Err(AttributionError::TooManyAgents(agent_set.len()));
    }
    let agents: Vec<AgentDid> = agent_set.into_iter().cloned().collect();
    let agent_ix: BTreeMap<&AgentDid, usize> =
        agents.iter().enumerate().map(|(i, a)| (a, i)).collect();

    // Resolve dependencies (deduplicated) and count in-degrees for Kahn's algorithm.
    let mut deps: Vec<BTreeSet<usize>> = Vec::with_capacity(steps.len());
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); steps.len()];
    for (i, s) in steps.iter().enumerate() {
        let mut d = BTreeSet::new();
        for dep in &s.depends_on {
            let j = *index
                .get(dep)
                .ok_or_else(|| AttributionError::UnknownDependency {
                    step: s.step_id.clone(),
                    dependency: dep.clone(),
                })?;
            if j == i {
                return Err(AttributionError::DependencyCycle(s.step_id.clone()));
            }
            d.insert(j);
        }
        for &j in &d {
            if let Some(c) = children.get_mut(j) {
                c.push(i);
            }
        }
        deps.push(d);
    }
    let mut indeg: Vec<usize> = deps.iter().map(BTreeSet::len).collect();
    let mut queue: VecDeque<usize> = (0..steps.len())
        .filter(|&i| indeg.get(i) == Some(&0))
        .collect();
    // A(s) per step, filled in topological order.
    let mut chain: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); steps.len()];
    let mut done = 0usize;
    while let Some(i) = queue.pop_front() {
        done += 1;
        let mut set = BTreeSet::new();
        if let Some(a) = steps.get(i).and_then(|s| agent_ix.get(&s.agent)) {
            set.insert(*a);
        }
        for &j in deps.get(i).into_iter().flatten() {
            if let Some(up) = chain.get(j) {
                set.extend(up.iter().copied());
            }
        }
        if let Some(slot) = chain.get_mut(i) {
            *slot = set;
        }
        for &c in children.get(i).into_iter().flatten() {
            if let Some(d) = indeg.get_mut(c) {
                *d -= 1;
                if *d == 0 {
                    queue.push_back(c);
                }
            }
        }
    }
    if done < steps.len() {
        let stuck = indeg
            .iter()
            .position(|&d| d > 0)
            .and_then(|i| steps.get(i))
            .map(|s| s.step_id.clone());
        if let Some(id) = stuck {
            return Err(AttributionError::DependencyCycle(id));
        }
    }

    let fi = *index
        .get(&input.failure_step)
        .ok_or_else(|| AttributionError::UnknownFailureStep(input.failure_step.clone()))?;
    if let Some(fs) = steps.get(fi)
        && fs.agent != input.failure_agent
    {
        return Err(AttributionError::FailureAgentMismatch {
            step: fs.step_id.clone(),
            claimed: input.failure_agent.clone(),
            actual: fs.agent.clone(),
        });
    }

    let mut terms = Vec::new();
    let mut has_failed = vec![false; agents.len()];
    for (i, s) in steps.iter().enumerate() {
        let is_root = i == fi;
        if !(s.failed || is_root) {
            continue;
        }
        let Some(&a) = agent_ix.get(&s.agent) else {
            continue;
        };
        if let Some(f) = has_failed.get_mut(a) {
            *f = true;
        }
        let mult = if is_root { ROOT_CAUSE_MULTIPLIER } else { 1.0 };
        let harm = (1.0 + s.risk_weight.get()) * mult;
        terms.push((DIRECT_CAUSE_WEIGHT * harm, vec![a]));
        let members: Vec<usize> = chain.get(i).into_iter().flatten().copied().collect();
        terms.push(((1.0 - DIRECT_CAUSE_WEIGHT) * harm, members));
    }
    let root_agent = steps
        .get(fi)
        .and_then(|s| agent_ix.get(&s.agent))
        .copied()
        .unwrap_or(0);
    Ok((Game { agents, terms }, root_agent, has_failed))
}

fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

/// Attributes the failure of `input`'s saga to its agents by Shapley value.
pub fn attribute(
    ids: &mut IdGen,
    input: &AttributionInput,
    now: Timestamp,
) -> Result<AttributionResult, AttributionError> {
    let (game, root, has_failed) = build_game(input)?;
    let (phi, method) = shapley(&game)?;
    Ok(assemble(
        ids,
        input,
        now,
        &game,
        root,
        &has_failed,
        phi,
        method,
    ))
}

fn shapley(game: &Game) -> Result<(Vec<f64>, ShapleyMethod), AttributionError> {
    if game.agents.len() <= MAX_ENUMERATED_AGENTS {
        let table = game.table()?;
        Ok((
            shapley_from_table(game.agents.len(), &table)?,
            ShapleyMethod::Enumeration,
        ))
    } else {
        Ok((game.closed_form(), ShapleyMethod::UnanimityClosedForm))
    }
}

#[expect(
    clippy::too_many_arguments,
    reason = "private assembly step sharing the pieces computed by attribute"
)]
fn assemble(
    ids: &mut IdGen,
    input: &AttributionInput,
    now: Timestamp,
    game: &Game,
    root: usize,
    has_failed: &[bool],
    phi: Vec<f64>,
    method: ShapleyMethod,
) -> AttributionResult {
    let all: BTreeSet<usize> = (0..game.agents.len()).collect();
    let total = game.value(&all);
    let mut attributions: Vec<AgentLiability> = game
        .agents
        .iter()
        .zip(phi)
        .enumerate()
        .map(|(i, (agent, value))| {
            let share = if total > 0.0 { value / total } else { 0.0 };
            let direct = i == root;
            let reason = if direct {
                "direct cause of failure"
            } else if has_failed.get(i).copied().unwrap_or(false) {
                "contributing failure"
            } else if value > 0.0 {
                "enabled a failed step"
            } else {
                "no causal contribution"
            };
            AgentLiability {
                agent: agent.clone(),
                shapley_value: value,
                share_exact: share,
                liability_share: round4(share),
                is_direct_cause: direct,
                reason: reason.to_string(),
            }
        })
        .collect();
    attributions.sort_by(|a, b| {
        b.share_exact
            .total_cmp(&a.share_exact)
            .then_with(|| a.agent.cmp(&b.agent))
    });
    AttributionResult {
        attribution_id: ids.record("attr"),
        saga_id: input.saga_id.clone(),
        session_id: input.session_id.clone(),
        at: now,
        attributions,
        root_cause_agent: input.failure_agent.clone(),
        total_harm: total,
        method,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn did(s: &str) -> AgentDid {
        AgentDid::new(s).unwrap()
    }
    fn step(id: &str, agent: &str, failed: bool, omega: f64, deps: &[&str]) -> StepFact {
        StepFact {
            step_id: StepId::new(id).unwrap(),
            agent: did(agent),
            action_id: ActionId::new(format!("act-{id}")).unwrap(),
            failed,
            risk_weight: Score::new(omega).unwrap(),
            depends_on: deps.iter().map(|d| StepId::new(*d).unwrap()).collect(),
        }
    }
    fn input(steps: Vec<StepFact>, failure_step: &str, failure_agent: &str) -> AttributionInput {
        AttributionInput {
            saga_id: SagaId::new("saga:1").unwrap(),
            session_id: SessionId::new("s1").unwrap(),
            steps,
            failure_step: StepId::new(failure_step).unwrap(),
            failure_agent: did(failure_agent),
        }
    }
    fn run(i: &AttributionInput) -> AttributionResult {
        attribute(&mut IdGen::new([3; 16]), i, Timestamp::from_secs(5)).unwrap()
    }
    fn phi_sum(r: &AttributionResult) -> f64 {
        r.attributions.iter().map(|a| a.shapley_value).sum()
    }

    #[test]
    fn single_failing_agent_carries_everything() {
        let r = run(&input(vec![step("1", "a", true, 0.5, &[])], "1", "a"));
        assert_eq!(r.attributions.len(), 1);
        assert_eq!(r.attributions[0].liability_share, 1.0);
        assert!(r.attributions[0].is_direct_cause);
        assert_eq!(r.attributions[0].reason, "direct cause of failure");
        assert_eq!(r.root_cause_agent, did("a"));
        assert!(r.attribution_id.as_str().starts_with("attr:"));
        assert_eq!(r.method, ShapleyMethod::Enumeration);
    }

    #[test]
    fn root_cause_gets_the_largest_share_documented_example() {
        // a (ok) → b (failed) → c (the failure step), ω 0.5 everywhere.
        // h(b) = 1.5, A(b) = {a,b}; h(c) = 3, A(c) = {a,b,c}.
        // φa = 0.5·1.5/2 + 0.5·3/3 = 0.875; φb = 0.5·1.5 + 0.5·1.5/2 + 0.5·3/3 = 1.625;
        // φc = 0.5·3 + 0.5·3/3 = 2.0; v(N) = 4.5 → shares c 0.4444, b 0.3611, a 0.1944.
        let r = run(&input(
            vec![
                step("1", "a", false, 0.5, &[]),
                step("2", "b", true, 0.5, &["1"]),
                step("3", "c", true, 0.5, &["2"]),
            ],
            "3",
            "c",
        ));
        let got: Vec<(&str, f64, f64)> = r
            .attributions
            .iter()
            .map(|a| (a.agent.as_str(), a.shapley_value, a.liability_share))
            .collect();
        assert_eq!(got[0].0, "c");
        assert!((got[0].1 - 2.0).abs() < 1e-12);
        assert_eq!(got[0].2, 0.4444);
        assert_eq!(got[1].0, "b");
        assert!((got[1].1 - 1.625).abs() < 1e-12);
        assert_eq!(got[1].2, 0.3611);
        assert_eq!(got[2].0, "a");
        assert!((got[2].1 - 0.875).abs() < 1e-12);
        assert_eq!(got[2].2, 0.1944);
        assert!((r.total_harm - 4.5).abs() < 1e-12);
        assert_eq!(r.attributions[1].reason, "contributing failure");
        assert_eq!(r.attributions[2].reason, "enabled a failed step");
    }

    #[test]
    fn efficiency_sum_of_values_is_total_harm() {
        let r = run(&input(
            vec![
                step("1", "a", true, 0.2, &[]),
                step("2", "b", false, 0.9, &["1"]),
                step("3", "c", true, 0.7, &["1", "2"]),
                step("4", "d", false, 0.1, &[]),
            ],
            "3",
            "c",
        ));
        assert!((phi_sum(&r) - r.total_harm).abs() < 1e-9);
        let shares: f64 = r.attributions.iter().map(|a| a.share_exact).sum();
        assert!((shares - 1.0).abs() < 1e-12);
    }

    #[test]
    fn symmetric_agents_get_equal_shares_ordered_by_did() {
        let r = run(&input(
            vec![
                step("1", "y", false, 0.4, &[]),
                step("2", "x", false, 0.4, &[]),
                step("3", "root", true, 0.4, &["1", "2"]),
            ],
            "3",
            "root",
        ));
        assert_eq!(r.share_of(&did("x")), r.share_of(&did("y")));
        assert!(r.share_of(&did("x")) > 0.0);
        assert_eq!(r.attributions[1].agent, did("x"));
        assert_eq!(r.attributions[2].agent, did("y"));
    }

    #[test]
    fn null_player_gets_zero() {
        let r = run(&input(
            vec![
                step("1", "a", false, 0.9, &[]),
                step("2", "idle", false, 0.9, &[]),
                step("3", "b", true, 0.5, &["1"]),
                step("4", "idle", false, 0.9, &["3"]),
            ],
            "3",
            "b",
        ));
        let idle = r
            .attributions
            .iter()
            .find(|a| a.agent == did("idle"))
            .unwrap();
        assert_eq!(idle.shapley_value, 0.0);
        assert_eq!(idle.liability_share, 0.0);
        assert_eq!(idle.reason, "no causal contribution");
        assert_eq!(r.attributions.last().unwrap().agent, did("idle"));
    }

    #[test]
    fn unmarked_failure_step_still_counts_as_failed() {
        let r = run(&input(vec![step("1", "a", false, 0.0, &[])], "1", "a"));
        assert!((r.total_harm - 2.0).abs() < 1e-12);
        assert_eq!(r.attributions[0].liability_share, 1.0);
    }

    #[test]
    fn glove_game_from_table() {
        // Player 0 holds a left glove, 1 and 2 right gloves; a pair is worth 1.
        let v: Vec<f64> = (0..8usize)
            .map(|m| if m & 1 == 1 && m & 6 != 0 { 1.0 } else { 0.0 })
            .collect();
        let phi = shapley_from_table(3, &v).unwrap();
        assert!((phi[0] - 2.0 / 3.0).abs() < 1e-12);
        assert!((phi[1] - 1.0 / 6.0).abs() < 1e-12);
        assert!((phi[2] - 1.0 / 6.0).abs() < 1e-12);
    }

    #[test]
    fn table_errors() {
        assert_eq!(
            shapley_from_table(2, &[0.0; 3]).unwrap_err().to_string(),
            "a game of 2 players needs 4 coalition values, got 3"
        );
        assert_eq!(
            shapley_from_table(17, &[]).unwrap_err().to_string(),
            "cannot enumerate coalitions of 17 players; the limit is 16"
        );
    }

    #[test]
    fn sixteen_agents_are_enumerated_and_agree_with_closed_form() {
        let mut steps = vec![step("0", "a00", true, 0.3, &[])];
        for i in 1..16 {
            let prev = format!("{}", i - 1);
            steps.push(step(
                &format!("{i}"),
                &format!("a{i:02}"),
                i % 2 == 0,
                0.7,
                &[&prev, "0"],
            ));
        }
        let i = input(steps, "15", "a15");
        let r = run(&i);
        assert_eq!(r.method, ShapleyMethod::Enumeration);
        let (game, _, _) = build_game(&i).unwrap();
        let closed = game.closed_form();
        for (k, a) in game.agents.iter().enumerate() {
            let got = r.attributions.iter().find(|x| x.agent == *a).unwrap();
            assert!((got.shapley_value - closed[k]).abs() < 1e-9);
        }
    }

    #[test]
    fn large_sagas_use_the_exact_closed_form() {
        let mut steps = vec![step("0", "a00", false, 0.5, &[])];
        for i in 1..20 {
            let prev = format!("{}", i - 1);
            steps.push(step(
                &format!("{i}"),
                &format!("a{i:02}"),
                i % 3 == 0,
                0.5,
                &[&prev],
            ));
        }
        let r = run(&input(steps, "19", "a19"));
        assert_eq!(r.method, ShapleyMethod::UnanimityClosedForm);
        assert_eq!(r.attributions.len(), 20);
        assert!((phi_sum(&r) - r.total_harm).abs() < 1e-9);
        assert_eq!(r.attributions[0].agent, did("a19"));
    }

    #[test]
    fn input_errors_have_clear_messages() {
        let mut ids = IdGen::new([0; 16]);
        let mut f = |i: AttributionInput| {
            attribute(&mut ids, &i, Timestamp::ZERO)
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            f(input(vec![], "1", "a")),
            "attribution needs at least one step"
        );
        assert_eq!(
            f(input(
                vec![
                    step("1", "a", true, 0.5, &[]),
                    step("1", "b", true, 0.5, &[])
                ],
                "1",
                "a"
            )),
            "step `1` appears more than once"
        );
        assert_eq!(
            f(input(vec![step("1", "a", true, 0.5, &["9"])], "1", "a")),
            "step `1` depends on unknown step `9`"
        );
        assert_eq!(
            f(input(vec![step("1", "a", true, 0.5, &["1"])], "1", "a")),
            "step `1` is part of a dependency cycle"
        );
        assert_eq!(
            f(input(
                vec![
                    step("1", "a", true, 0.5, &["2"]),
                    step("2", "b", true, 0.5, &["1"])
                ],
                "1",
                "a"
            )),
            "step `1` is part of a dependency cycle"
        );
        assert_eq!(
            f(input(vec![step("1", "a", true, 0.5, &[])], "7", "a")),
            "failure step `7` is not a step of the saga"
        );
        assert_eq!(
            f(input(vec![step("1", "a", true, 0.5, &[])], "1", "b")),
            "failure step `1` was run by `a`, not `b`"
        );
    }

    fn arb_input() -> impl Strategy<Value = AttributionInput> {
        (1usize..9).prop_flat_map(|n| {
            (
                proptest::collection::vec(
                    (0usize..6, any::<bool>(), 0.0f64..=1.0, any::<u16>()),
                    n,
                ),
                0..n,
            )
                .prop_map(|(raw, fail)| {
                    let steps: Vec<StepFact> = raw
                        .iter()
                        .enumerate()
                        .map(|(i, (agent, failed, omega, depmask))| {
                            let deps: Vec<String> = (0..i)
                                .filter(|j| depmask & (1 << j) != 0)
                                .map(|j| format!("s{j}"))
                                .collect();
                            let deps: Vec<&str> = deps.iter().map(String::as_str).collect();
                            step(
                                &format!("s{i}"),
                                &format!("ag{agent}"),
                                *failed,
                                *omega,
                                &deps,
                            )
                        })
                        .collect();
                    let fa = steps[fail].agent.to_string();
                    input(steps, &format!("s{fail}"), &fa)
                })
        })
    }

    proptest! {
        #[test]
        fn enumeration_matches_closed_form_and_is_efficient(i in arb_input()) {
            let (game, _, _) = build_game(&i).unwrap();
            let table = game.table().unwrap();
            let enumerated = shapley_from_table(game.agents.len(), &table).unwrap();
            let closed = game.closed_form();
            for (a, b) in enumerated.iter().zip(&closed) {
                prop_assert!((a - b).abs() < 1e-9, "{a} vs {b}");
            }
            let full = table.last().copied().unwrap();
            let sum: f64 = enumerated.iter().sum();
            prop_assert!((sum - full).abs() < 1e-9);
            let r = run(&i);
            let shares: f64 = r.attributions.iter().map(|a| a.share_exact).sum();
            prop_assert!((shares - 1.0).abs() < 1e-9);
            prop_assert!(r.share_of(&i.failure_agent) > 0.0);
        }
    }
}
