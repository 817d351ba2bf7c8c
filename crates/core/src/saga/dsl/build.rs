//! Validation of a parsed document and its conversion into a typed [`SagaDefinition`]. Every
//! problem is collected (not just the first) with the line and column of the offending node.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde_saphyr::{Location, Spanned};

use super::raw::{RawFanOut, RawRetry, RawSaga, RawStep, Seconds};
use super::{DslError, DslProblem};
use crate::id::{ActionId, AgentDid, IdError, RecordId, SagaId, SessionId, StepId};
use crate::saga::model::{
    FanOutDefinition, FanOutPolicy, MAX_SAGA_TIMEOUT, MAX_STEP_TIMEOUT, MAX_STEPS,
    MIN_SAGA_TIMEOUT, MIN_STEP_TIMEOUT, SagaDefinition, StepDefinition, check_api, check_range,
    check_text,
};
use crate::saga::retry::{MAX_ATTEMPTS, RetryPolicy};

/// Collected problems.
#[derive(Default)]
struct Problems(Vec<DslProblem>);

impl Problems {
    fn at(&mut self, loc: Location, message: impl Into<String>) {
        self.0.push(DslProblem::at(loc, message));
    }
}

fn line_of(loc: Location) -> String {
    if loc.line() > 0 {
        format!(" at line {}", loc.line())
    } else {
        String::new()
    }
}

/// A required id-typed field: reports absence at `parent`, invalid text at the value.
fn required_id<T>(
    p: &mut Problems,
    field: Option<Spanned<String>>,
    name: &str,
    owner: &str,
    parent: Location,
    parse: impl FnOnce(String) -> Result<T, IdError>,
) -> Option<T> {
    let Some(f) = field else {
        let who = if owner.is_empty() { "" } else { "is " };
        p.at(
            parent,
            format!("{owner}{who}missing required field `{name}`"),
        );
        return None;
    };
    match parse(f.value) {
        Ok(v) => Some(v),
        Err(e) => {
            p.at(f.referenced, format!("{owner}{name}: {e}"));
            None
        }
    }
}

fn seconds(
    p: &mut Problems,
    field: Option<Spanned<Seconds>>,
    what: &str,
    min: Duration,
    max: Duration,
) -> Option<Option<Duration>> {
    let Some(f) = field else {
        return Some(None);
    };
    let d = Duration::from_secs(f.value.0);
    match check_range(d, min, max) {
        Ok(()) => Some(Some(d)),
        Err(m) => {
            p.at(f.referenced, format!("{what}: {m}"));
            None
        }
    }
}

fn api(p: &mut Problems, field: Spanned<String>, what: &str) -> Option<String> {
    match check_api(&field.value) {
        Ok(()) => Some(field.value),
        Err(m) => {
            p.at(field.referenced, format!("{what}: {m}"));
            None
        }
    }
}

/// Converts and validates a whole document.
pub(super) fn build(doc: Spanned<RawSaga>) -> Result<SagaDefinition, DslError> {
    let mut p = Problems::default();
    let root = doc.referenced;
    let raw = doc.value;

    let name = match raw.name {
        None => {
            p.at(root, "missing required field `name`");
            None
        }
        Some(n) => match check_text(&n.value) {
            Ok(()) => Some(n.value),
            Err(m) => {
                p.at(n.referenced, format!("name: {m}"));
                None
            }
        },
    };
    let session_id = required_id(
        &mut p,
        raw.session_id,
        "session_id",
        "",
        root,
        SessionId::new,
    );
    let saga_id = match raw.saga_id {
        None => Some(None),
        Some(s) => required_id(&mut p, Some(s), "saga_id", "", root, SagaId::new).map(Some),
    };
    let timeout = seconds(
        &mut p,
        raw.timeout,
        "timeout",
        MIN_SAGA_TIMEOUT,
        MAX_SAGA_TIMEOUT,
    );

    // Steps.
    let raw_steps = match raw.steps {
        None => {
            p.at(root, "missing required field `steps`");
            Vec::new()
        }
        Some(s) => {
            if s.value.is_empty() {
                p.at(s.referenced, "saga must have at least one step");
            } else if s.value.len() > MAX_STEPS {
                p.at(
                    s.referenced,
                    format!("{} steps exceed the limit of {MAX_STEPS}", s.value.len()),
                );
            }
            s.value
        }
    };
    let mut first_seen: BTreeMap<String, Location> = BTreeMap::new();
    let mut steps = Vec::with_capacity(raw_steps.len());
    for (i, s) in raw_steps.into_iter().enumerate() {
        if let Some(id) = &s.value.id {
            if let Some(first) = first_seen.get(&id.value) {
                p.at(
                    id.referenced,
                    format!(
                        "duplicate step id `{}` (first defined{})",
                        id.value,
                        line_of(*first)
                    ),
                );
            } else {
                first_seen.insert(id.value.clone(), id.referenced);
            }
        }
        steps.push(build_step(&mut p, i, s));
    }

    // Fan-out groups.
    let mut fan_outs = Vec::new();
    let mut owner: BTreeMap<String, String> = BTreeMap::new();
    let mut group_ids = BTreeSet::new();
    for (g, f) in raw.fan_out.unwrap_or_default().into_iter().enumerate() {
        fan_outs.push(build_fan_out(
            &mut p,
            g,
            f,
            &first_seen,
            &mut owner,
            &mut group_ids,
        ));
    }

    let metadata = raw.metadata.unwrap_or_default();
    if !p.0.is_empty() {
        // Report in document order; problems without a position come last.
        p.0.sort_by_key(|x| (x.line.is_none(), x.line, x.column));
        return Err(DslError::Invalid(p.0));
    }
    let (Some(name), Some(session_id), Some(saga_id), Some(timeout)) =
        (name, session_id, saga_id, timeout)
    else {
        return Err(DslError::Invalid(vec![DslProblem::at(
            root,
            "invalid saga definition",
        )]));
    };
    let def = SagaDefinition {
        name,
        session_id,
        saga_id,
        steps: steps.into_iter().flatten().collect(),
        fan_outs: fan_outs.into_iter().flatten().collect(),
        timeout,
        metadata,
    };
    // Safety net: the model's own rules (already covered above, so normally silent).
    def.validate().map_err(|e| {
        DslError::Invalid(
            e.problems
                .into_iter()
                .map(|pr| DslProblem::at(root, pr.to_string()))
                .collect(),
        )
    })?;
    Ok(def)
}

fn build_step(p: &mut Problems, i: usize, s: Spanned<RawStep>) -> Option<StepDefinition> {
    let at = s.referenced;
    let raw = s.value;
    let label = match &raw.id {
        Some(id) => format!("step `{}` ", id.value),
        None => format!("step {} ", i + 1),
    };
    let step_id = required_id(p, raw.id, "id", &label, at, StepId::new);
    let action_id = required_id(p, raw.action_id, "action_id", &label, at, ActionId::new);
    let agent = required_id(p, raw.agent, "agent", &label, at, AgentDid::new);
    let execute_api = match raw.execute_api {
        None => {
            p.at(
                at,
                format!("{label}is missing required field `execute_api`"),
            );
            None
        }
        Some(e) => api(p, e, &format!("{label}execute_api")),
    };
    let undo_api = match raw.undo_api {
        None => Some(None),
        Some(u) => api(p, u, &format!("{label}undo_api")).map(Some),
    };
    let timeout = seconds(
        p,
        raw.timeout,
        &format!("{label}timeout"),
        MIN_STEP_TIMEOUT,
        MAX_STEP_TIMEOUT,
    );
    let undo_timeout = seconds(
        p,
        raw.undo_timeout,
        &format!("{label}undo_timeout"),
        MIN_STEP_TIMEOUT,
        MAX_STEP_TIMEOUT,
    );
    let retry = build_retry(p, &label, at, raw.retries, raw.retry);
    let checkpoint_goal = match raw.checkpoint_goal {
        None => Some(None),
        Some(g) => match check_text(&g.value) {
            Ok(()) => Some(Some(g.value)),
            Err(m) => {
                p.at(g.referenced, format!("{label}checkpoint_goal: {m}"));
                None
            }
        },
    };
    let mut def = StepDefinition::new(step_id?, action_id?, agent?, execute_api?);
    def.undo_api = undo_api?;
    if let Some(t) = timeout? {
        def.timeout = t;
    }
    def.undo_timeout = undo_timeout?;
    def.retry = retry?;
    def.checkpoint_goal = checkpoint_goal?;
    def.input = raw.input.unwrap_or(serde_json::Value::Null);
    Some(def)
}

fn build_retry(
    p: &mut Problems,
    label: &str,
    at: Location,
    retries: Option<Spanned<u32>>,
    retry: Option<Spanned<RawRetry>>,
) -> Option<RetryPolicy> {
    let d = RetryPolicy::default();
    let from_retries = match &retries {
        None => None,
        Some(r) if r.value >= MAX_ATTEMPTS => {
            p.at(
                r.referenced,
                format!(
                    "{label}retries: at most {} retries are allowed, got {}",
                    MAX_ATTEMPTS - 1,
                    r.value
                ),
            );
            return None;
        }
        Some(r) => Some(r.value + 1),
    };
    let Some(block) = retry else {
        return match from_retries {
            None => Some(d),
            Some(n) => RetryPolicy::with_max_attempts(n).ok(),
        };
    };
    let b = block.value;
    if from_retries.is_some() && b.max_attempts.is_some() {
        p.at(
            at,
            format!("{label}gives both `retries` and `retry.max_attempts`; keep one"),
        );
        return None;
    }
    let policy = RetryPolicy::new(
        b.max_attempts.or(from_retries).unwrap_or(d.max_attempts()),
        b.initial_delay_ms
            .map_or(d.initial_delay(), Duration::from_millis),
        b.multiplier.unwrap_or(d.multiplier()),
        b.max_delay_ms.map_or(d.max_delay(), Duration::from_millis),
        b.jitter.unwrap_or(d.jitter()),
    );
    match policy {
        Ok(p) => Some(p),
        Err(e) => {
            p.at(block.referenced, format!("{label}retry: {e}"));
            None
        }
    }
}

fn build_fan_out(
    p: &mut Problems,
    g: usize,
    f: Spanned<RawFanOut>,
    steps: &BTreeMap<String, Location>,
    owner: &mut BTreeMap<String, String>,
    group_ids: &mut BTreeSet<String>,
) -> Option<FanOutDefinition> {
    let at = f.referenced;
    let raw = f.value;
    let (id_text, id_at) = match raw.id {
        Some(id) => (id.value, id.referenced),
        None => (format!("fanout:{g}"), at),
    };
    let label = format!("fan-out `{id_text}`");
    let group_id = match RecordId::new(id_text.clone()) {
        Ok(id) => Some(id),
        Err(e) => {
            p.at(id_at, format!("{label} id: {e}"));
            None
        }
    };
    if !group_ids.insert(id_text.clone()) {
        p.at(id_at, format!("duplicate fan-out id `{id_text}`"));
    }
    let policy = match raw.policy {
        None => Some(FanOutPolicy::default()),
        Some(pol) => {
            let parsed = FanOutPolicy::from_name(&pol.value);
            if parsed.is_none() {
                let valid: Vec<&str> = FanOutPolicy::ALL.iter().map(|x| x.name()).collect();
                p.at(
                    pol.referenced,
                    format!(
                        "{label}: invalid policy `{}`; valid: {}",
                        pol.value,
                        valid.join(", ")
                    ),
                );
            }
            parsed
        }
    };
    let (branches, branches_at) = match raw.branches {
        None => (Vec::new(), at),
        Some(b) => (b.value, b.referenced),
    };
    if branches.len() < 2 {
        p.at(
            branches_at,
            format!("{label} needs at least 2 branches, got {}", branches.len()),
        );
    }
    let mut ids = Vec::with_capacity(branches.len());
    let mut ok = true;
    for b in branches {
        if !steps.contains_key(&b.value) {
            p.at(
                b.referenced,
                format!("{label} branch `{}` is not a step id of this saga", b.value),
            );
            ok = false;
            continue;
        }
        if let Some(prev) = owner.insert(b.value.clone(), id_text.clone()) {
            p.at(
                b.referenced,
                if prev == id_text {
                    format!("{label} lists step `{}` twice", b.value)
                } else {
                    format!("step `{}` is already a branch of fan-out `{prev}`", b.value)
                },
            );
            ok = false;
            continue;
        }
        match StepId::new(b.value) {
            Ok(id) => ids.push(id),
            Err(_) => ok = false, // already reported on the step itself
        }
    }
    if !ok {
        return None;
    }
    Some(FanOutDefinition {
        group_id: group_id?,
        policy: policy?,
        branches: ids,
    })
}
