//! What a saga is meant to do, independent of how far it got: steps, fan-out groups, the
//! saga-level deadline. Built by the DSL ([`super::dsl`]) or programmatically; validated here
//! so both paths obey the same rules.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::retry::RetryPolicy;
use crate::id::{ActionId, AgentDid, RecordId, SagaId, SessionId, StepId};

/// Default time an execute (or undo) call may take before its outcome is `unknown`.
pub const DEFAULT_STEP_TIMEOUT: Duration = Duration::from_secs(300);
/// Shortest accepted step timeout.
pub const MIN_STEP_TIMEOUT: Duration = Duration::from_secs(1);
/// Longest accepted step timeout.
pub const MAX_STEP_TIMEOUT: Duration = Duration::from_secs(24 * 3600);
/// Shortest accepted saga deadline.
pub const MIN_SAGA_TIMEOUT: Duration = Duration::from_secs(1);
/// Longest accepted saga deadline.
pub const MAX_SAGA_TIMEOUT: Duration = Duration::from_secs(7 * 24 * 3600);
/// Most steps one saga may hold (DSL and step-by-step alike); bounds every per-saga list.
pub const MAX_STEPS: usize = 1000;
/// Longest saga name, checkpoint goal or api name, in bytes.
pub const MAX_TEXT_LEN: usize = 1024;
/// Longest execute/undo URL, in bytes.
pub const MAX_URL_LEN: usize = 2048;

/// How a fan-out group decides whether it succeeded, once every branch settled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FanOutPolicy {
    /// Every branch must commit.
    #[default]
    AllMustSucceed,
    /// Strictly more than half of the branches must commit (2 of 4 fails).
    MajorityMustSucceed,
    /// At least one branch must commit.
    AnyMustSucceed,
}

impl FanOutPolicy {
    /// Every policy, for listing valid names in errors.
    pub const ALL: [FanOutPolicy; 3] = [
        FanOutPolicy::AllMustSucceed,
        FanOutPolicy::MajorityMustSucceed,
        FanOutPolicy::AnyMustSucceed,
    ];

    /// Snake-case name used in the DSL and events.
    pub fn name(self) -> &'static str {
        match self {
            FanOutPolicy::AllMustSucceed => "all_must_succeed",
            FanOutPolicy::MajorityMustSucceed => "majority_must_succeed",
            FanOutPolicy::AnyMustSucceed => "any_must_succeed",
        }
    }

    /// Parses a DSL policy name.
    pub fn from_name(s: &str) -> Option<FanOutPolicy> {
        FanOutPolicy::ALL.into_iter().find(|p| p.name() == s)
    }

    /// Whether `succeeded` successes out of `total` branches satisfy the policy. A timed-out
    /// branch is a failure, never a silent non-count (reference bug, spec §6.3).
    pub fn is_satisfied(self, succeeded: usize, total: usize) -> bool {
        match self {
            FanOutPolicy::AllMustSucceed => succeeded == total,
            FanOutPolicy::MajorityMustSucceed => succeeded.saturating_mul(2) > total,
            FanOutPolicy::AnyMustSucceed => succeeded >= 1,
        }
    }
}

impl fmt::Display for FanOutPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One unit of work: a call to `execute_api` for `agent`, undone by `undo_api`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepDefinition {
    /// Unique within the saga; part of the idempotency keys.
    pub step_id: StepId,
    /// The registered action this step performs.
    pub action_id: ActionId,
    /// The agent responsible for the step (liable if its undo fails).
    pub agent: AgentDid,
    /// `http(s)://…` URL or plain api name the runtime resolves (see [`check_api`]).
    pub execute_api: String,
    /// How to undo the step; without it a committed step cannot be compensated.
    pub undo_api: Option<String>,
    /// Deadline of each execute attempt.
    pub timeout: Duration,
    /// Deadline of each undo attempt; `None` reuses `timeout`.
    pub undo_timeout: Option<Duration>,
    /// Retry policy for both the execute and the undo calls.
    pub retry: RetryPolicy,
    /// When set, a commit saves a checkpoint for this goal and a replay may skip the step.
    pub checkpoint_goal: Option<String>,
    /// Request body handed to the executor.
    pub input: serde_json::Value,
}

impl StepDefinition {
    /// A step with defaults: no undo, 300 s timeout, no retry, no checkpoint, `null` input.
    pub fn new(
        step_id: StepId,
        action_id: ActionId,
        agent: AgentDid,
        execute_api: impl Into<String>,
    ) -> Self {
        StepDefinition {
            step_id,
            action_id,
            agent,
            execute_api: execute_api.into(),
            undo_api: None,
            timeout: DEFAULT_STEP_TIMEOUT,
            undo_timeout: None,
            retry: RetryPolicy::default(),
            checkpoint_goal: None,
            input: serde_json::Value::Null,
        }
    }

    /// Sets the undo api.
    pub fn with_undo(mut self, undo_api: impl Into<String>) -> Self {
        self.undo_api = Some(undo_api.into());
        self
    }

    /// Sets the retry policy.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Sets the execute timeout.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets the checkpoint goal.
    pub fn with_checkpoint(mut self, goal: impl Into<String>) -> Self {
        self.checkpoint_goal = Some(goal.into());
        self
    }

    /// Sets the executor's input.
    pub fn with_input(mut self, input: serde_json::Value) -> Self {
        self.input = input;
        self
    }

    /// Deadline of each undo attempt.
    pub fn effective_undo_timeout(&self) -> Duration {
        self.undo_timeout.unwrap_or(self.timeout)
    }

    /// Every problem with this step, located by `path` (e.g. `steps[2]`).
    pub fn problems(&self, path: &str) -> Vec<DefinitionProblem> {
        self.problems_at(path)
    }

    /// [`StepDefinition::problems`] with a path that is only written out when there is a
    /// problem (a valid step, the common case, allocates nothing).
    pub(crate) fn problems_at(&self, path: impl fmt::Display) -> Vec<DefinitionProblem> {
        let mut out = Vec::new();
        let mut push = |field: &str, message: String| {
            out.push(DefinitionProblem::new(format!("{path}.{field}"), message));
        };
        if let Err(m) = check_api(&self.execute_api) {
            push("execute_api", m);
        }
        if let Some(u) = &self.undo_api
            && let Err(m) = check_api(u)
        {
            push("undo_api", m);
        }
        if let Err(m) = check_range(self.timeout, MIN_STEP_TIMEOUT, MAX_STEP_TIMEOUT) {
            push("timeout", m);
        }
        if let Some(t) = self.undo_timeout
            && let Err(m) = check_range(t, MIN_STEP_TIMEOUT, MAX_STEP_TIMEOUT)
        {
            push("undo_timeout", m);
        }
        if let Some(g) = &self.checkpoint_goal
            && let Err(m) = check_text(g)
        {
            push("checkpoint_goal", m);
        }
        out
    }
}

/// The path `steps[i]` of a step, written out only when a problem needs it.
pub(crate) struct StepPath(pub(crate) usize);

impl fmt::Display for StepPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "steps[{}]", self.0)
    }
}

/// Branches that run concurrently and resolve together by `policy`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FanOutDefinition {
    /// Unique within the saga (`fanout:{n}` when the DSL gives none).
    pub group_id: RecordId,
    /// How the group decides success.
    pub policy: FanOutPolicy,
    /// Step ids of the branches (at least two, each in no other group).
    pub branches: Vec<StepId>,
}

/// A whole saga: ordered steps, fan-out groups over some of them, optional deadline.
///
/// Execution order: steps run in list order; a fan-out group runs all its branches at once,
/// at the position of its first branch in `steps`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SagaDefinition {
    /// Human-readable name.
    pub name: String,
    /// Session the saga belongs to.
    pub session_id: SessionId,
    /// Requested saga id; the runtime generates one when absent.
    pub saga_id: Option<SagaId>,
    /// Steps in execution order.
    pub steps: Vec<StepDefinition>,
    /// Fan-out groups over `steps`.
    pub fan_outs: Vec<FanOutDefinition>,
    /// Deadline of the whole saga, counted from `Start`.
    pub timeout: Option<Duration>,
    /// Free-form data carried along (not interpreted).
    pub metadata: BTreeMap<String, serde_json::Value>,
}

impl SagaDefinition {
    /// An empty definition (for step-by-step sagas, which add steps later).
    pub fn new(name: impl Into<String>, session_id: SessionId) -> Self {
        SagaDefinition {
            name: name.into(),
            session_id,
            saga_id: None,
            steps: Vec::new(),
            fan_outs: Vec::new(),
            timeout: None,
            metadata: BTreeMap::new(),
        }
    }

    /// Position of a step in `steps`.
    pub fn position(&self, step_id: &StepId) -> Option<usize> {
        self.steps.iter().position(|s| &s.step_id == step_id)
    }

    /// The step with this id.
    pub fn step(&self, step_id: &StepId) -> Option<&StepDefinition> {
        self.steps.iter().find(|s| &s.step_id == step_id)
    }

    /// Fan-out group index of each step that belongs to one.
    pub fn group_of(&self) -> BTreeMap<&StepId, usize> {
        let mut m = BTreeMap::new();
        for (g, group) in self.fan_outs.iter().enumerate() {
            for b in &group.branches {
                m.entry(b).or_insert(g);
            }
        }
        m
    }

    /// Every problem with the definition (empty when valid). Does not require steps: a
    /// step-by-step saga starts empty.
    pub fn problems(&self) -> Vec<DefinitionProblem> {
        let mut out = Vec::new();
        if let Err(m) = check_text(&self.name) {
            out.push(DefinitionProblem::new("name", m));
        }
        if self.steps.len() > MAX_STEPS {
            out.push(DefinitionProblem::new(
                "steps",
                format!("{} steps exceed the limit of {MAX_STEPS}", self.steps.len()),
            ));
        }
        let mut seen = BTreeSet::new();
        for (i, s) in self.steps.iter().enumerate() {
            if !seen.insert(&s.step_id) {
                out.push(DefinitionProblem::new(
                    format!("steps[{i}].id"),
                    format!("duplicate step id `{}`", s.step_id),
                ));
            }
            out.extend(s.problems_at(StepPath(i)));
        }
        if let Some(t) = self.timeout
            && let Err(m) = check_range(t, MIN_SAGA_TIMEOUT, MAX_SAGA_TIMEOUT)
        {
            out.push(DefinitionProblem::new("timeout", m));
        }
        let mut groups = BTreeSet::new();
        let mut owner: BTreeMap<&StepId, &RecordId> = BTreeMap::new();
        for (g, group) in self.fan_outs.iter().enumerate() {
            let path = format!("fan_out[{g}]");
            if !groups.insert(&group.group_id) {
                out.push(DefinitionProblem::new(
                    format!("{path}.id"),
                    format!("duplicate fan-out id `{}`", group.group_id),
                ));
            }
            if group.branches.len() < 2 {
                out.push(DefinitionProblem::new(
                    format!("{path}.branches"),
                    format!(
                        "fan-out needs at least 2 branches, got {}",
                        group.branches.len()
                    ),
                ));
            }
            for b in &group.branches {
                if !seen.contains(b) {
                    out.push(DefinitionProblem::new(
                        format!("{path}.branches"),
                        format!("branch `{b}` is not a step id of this saga"),
                    ));
                } else if let Some(prev) = owner.insert(b, &group.group_id) {
                    out.push(DefinitionProblem::new(
                        format!("{path}.branches"),
                        if prev == &group.group_id {
                            format!("step `{b}` is listed twice in fan-out `{prev}`")
                        } else {
                            format!("step `{b}` is already a branch of fan-out `{prev}`")
                        },
                    ));
                }
            }
        }
        out
    }

    /// `Ok` when [`SagaDefinition::problems`] is empty.
    pub fn validate(&self) -> Result<(), DefinitionError> {
        let problems = self.problems();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(DefinitionError { problems })
        }
    }
}

/// One thing wrong with a definition, located by a field path such as `steps[2].undo_api`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DefinitionProblem {
    /// Where: a field path.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

impl DefinitionProblem {
    /// A problem at `path`.
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        DefinitionProblem {
            path: path.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for DefinitionProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Every problem found in a definition.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid saga definition: {}", join_problems(.problems))]
pub struct DefinitionError {
    /// The problems, in field order.
    pub problems: Vec<DefinitionProblem>,
}

fn join_problems(p: &[DefinitionProblem]) -> String {
    p.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// Checks an execute/undo api: either an `http://` / `https://` URL with a host, no
/// credentials and no whitespace (≤ [`MAX_URL_LEN`] bytes), or a plain api name — an ASCII
/// letter followed by letters, digits and `_ - . : /` (≤ [`MAX_TEXT_LEN`] bytes) — that the
/// runtime resolves through its registry. Returns the reason when it is neither.
pub fn check_api(api: &str) -> Result<(), String> {
    if api.is_empty() {
        return Err("must not be empty".into());
    }
    // Case-insensitive scheme test on the bytes (no lowercased copy).
    let has_prefix = |p: &str| {
        api.as_bytes()
            .get(..p.len())
            .is_some_and(|b| b.eq_ignore_ascii_case(p.as_bytes()))
    };
    let rest = if has_prefix("https://") {
        api.get(8..)
    } else if has_prefix("http://") {
        api.get(7..)
    } else {
        None
    };
    if let Some(rest) = rest {
        if api.len() > MAX_URL_LEN {
            return Err(format!("url is longer than {MAX_URL_LEN} bytes"));
        }
        if api.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(format!("`{}` contains whitespace", api.escape_debug()));
        }
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        if authority.contains('@') {
            return Err(format!("`{api}` embeds credentials; pass them out of band"));
        }
        let host = authority.rsplit_once(':').map_or(authority, |(h, _)| h);
        if host.is_empty() {
            return Err(format!("`{api}` has no host"));
        }
        return Ok(());
    }
    if api.contains("://") {
        return Err(format!(
            "`{}` is not an http(s) url; other schemes are refused",
            api.escape_debug()
        ));
    }
    if api.len() > MAX_TEXT_LEN {
        return Err(format!("api name is longer than {MAX_TEXT_LEN} bytes"));
    }
    // Every allowed character is ASCII, so testing bytes gives the same answer as testing
    // characters (a byte of a multi-byte character is never ASCII).
    let mut bytes = api.bytes();
    let first_ok = bytes.next().is_some_and(|b| b.is_ascii_alphabetic());
    let rest_ok =
        bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b':' | b'/'));
    if first_ok && rest_ok {
        Ok(())
    } else {
        Err(format!(
            "`{}` is neither an http(s) url nor an api name (a letter, then letters, digits, `_ - . : /`)",
            api.escape_debug()
        ))
    }
}

/// Checks that a duration lies in `[min, max]`.
pub fn check_range(d: Duration, min: Duration, max: Duration) -> Result<(), String> {
    if d < min || d > max {
        Err(format!(
            "{} s is out of range; allowed {} s to {} s",
            d.as_secs_f64(),
            min.as_secs(),
            max.as_secs()
        ))
    } else {
        Ok(())
    }
}

/// Checks free text (names, goals): non-blank and at most [`MAX_TEXT_LEN`] bytes.
pub fn check_text(s: &str) -> Result<(), String> {
    if s.trim().is_empty() {
        Err("must not be empty".into())
    } else if s.len() > MAX_TEXT_LEN {
        Err(format!("is longer than {MAX_TEXT_LEN} bytes"))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(id: &str) -> StepDefinition {
        StepDefinition::new(
            StepId::new(id).unwrap(),
            ActionId::new("deploy").unwrap(),
            AgentDid::new("did:mesh:a").unwrap(),
            "https://svc.example/deploy",
        )
    }

    #[test]
    fn majority_is_strict() {
        let m = FanOutPolicy::MajorityMustSucceed;
        assert!(!m.is_satisfied(2, 4));
        assert!(m.is_satisfied(3, 4));
        assert!(m.is_satisfied(2, 3));
        assert!(!m.is_satisfied(0, 0));
        assert!(FanOutPolicy::AnyMustSucceed.is_satisfied(1, 5));
        assert!(!FanOutPolicy::AnyMustSucceed.is_satisfied(0, 5));
        assert!(!FanOutPolicy::AllMustSucceed.is_satisfied(4, 5));
    }

    #[test]
    fn apis_are_urls_or_names() {
        assert!(check_api("https://svc.example/deploy").is_ok());
        assert!(check_api("http://localhost:8080/x?y=1").is_ok());
        assert!(check_api("payments.charge/v1").is_ok());
        assert_eq!(check_api("").unwrap_err(), "must not be empty");
        assert!(
            check_api("ftp://x/y")
                .unwrap_err()
                .contains("other schemes")
        );
        assert!(
            check_api("https://u:p@host/x")
                .unwrap_err()
                .contains("credentials")
        );
        assert!(check_api("https:///x").unwrap_err().contains("no host"));
        assert!(check_api("1abc").unwrap_err().contains("neither"));
        assert!(check_api("a b").unwrap_err().contains("neither"));
    }

    #[test]
    fn definition_problems_are_collected() {
        let mut d = SagaDefinition::new(" ", SessionId::new("session:1").unwrap());
        d.steps = vec![step("a"), step("a"), step("b").with_undo("ftp://x")];
        d.steps[2].timeout = Duration::ZERO;
        d.timeout = Some(Duration::from_secs(10 * 24 * 3600));
        d.fan_outs = vec![
            FanOutDefinition {
                group_id: RecordId::new("g1").unwrap(),
                policy: FanOutPolicy::AnyMustSucceed,
                branches: vec![StepId::new("a").unwrap(), StepId::new("zz").unwrap()],
            },
            FanOutDefinition {
                group_id: RecordId::new("g2").unwrap(),
                policy: FanOutPolicy::AnyMustSucceed,
                branches: vec![StepId::new("a").unwrap()],
            },
        ];
        let p: Vec<String> = d.problems().iter().map(ToString::to_string).collect();
        assert_eq!(
            p,
            vec![
                "name: must not be empty",
                "steps[1].id: duplicate step id `a`",
                "steps[2].undo_api: `ftp://x` is not an http(s) url; other schemes are refused",
                "steps[2].timeout: 0 s is out of range; allowed 1 s to 86400 s",
                "timeout: 864000 s is out of range; allowed 1 s to 604800 s",
                "fan_out[0].branches: branch `zz` is not a step id of this saga",
                "fan_out[1].branches: fan-out needs at least 2 branches, got 1",
                "fan_out[1].branches: step `a` is already a branch of fan-out `g1`",
            ]
        );
        assert!(
            d.validate()
                .unwrap_err()
                .to_string()
                .starts_with("invalid saga definition: name")
        );
    }

    #[test]
    fn check_api_accepts_urls_and_names_and_refuses_the_rest() {
        for ok in [
            "http://h",
            "HTTPS://h:8080/x?y",
            "HtTp://h/é",
            "api.0",
            "a_b-c.d:e/f",
            "Z",
        ] {
            assert_eq!(check_api(ok), Ok(()), "{ok}");
        }
        for (bad, why) in [
            ("", "must not be empty"),
            ("ftp://x", "is not an http(s) url"),
            ("https://u:p@h", "embeds credentials"),
            ("https://:80/x", "has no host"),
            ("http://h x", "contains whitespace"),
            ("9lives", "neither an http(s) url nor an api name"),
            ("api é", "neither an http(s) url nor an api name"),
            ("apié", "neither an http(s) url nor an api name"),
            ("éapi", "neither an http(s) url nor an api name"),
        ] {
            let e = check_api(bad).unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
    }
}
