//! The saga DSL: YAML (or JSON, which is YAML) text → a validated [`SagaDefinition`].
//!
//! The reference took an already-parsed dict, checked only a few required keys, and never ran
//! the result (spec §6.5). Here the text is parsed with `serde-saphyr` into strict structs
//! (unknown keys are errors), then every problem is collected with its line and column:
//!
//! ```yaml
//! name: deploy-model            # required
//! session_id: session:1         # required
//! saga_id: saga:deploy-1        # optional; generated when absent
//! timeout: 3600                 # optional saga deadline, seconds (1 s – 7 days)
//! metadata: { team: ml }        # optional, free-form
//! steps:                        # required, at least one
//!   - id: reserve               # required, unique
//!     action_id: reserve_gpu    # required
//!     agent: did:mesh:alpha     # required
//!     execute_api: https://gpu.example/reserve   # required: http(s) url or api name
//!     undo_api: gpu.release     # optional
//!     timeout: 300              # seconds, 1 s – 24 h (default 300)
//!     undo_timeout: 60          # optional, defaults to `timeout`
//!     retries: 2                # retries after the first attempt (max_attempts = retries + 1)
//!     retry: { initial_delay_ms: 1000, multiplier: 2.0, max_delay_ms: 60000, jitter: 0.1 }
//!     checkpoint_goal: gpu reserved
//!     input: { gpus: 4 }        # any value, passed to the executor
//! fan_out:                      # optional
//!   - id: shards                # optional (default `fanout:{index}`)
//!     policy: majority_must_succeed   # all_must_succeed (default) | majority_… | any_…
//!     branches: [a, b, c]       # at least two existing step ids, each in one group only
//! ```
//!
//! `retries` and `retry.max_attempts` are alternatives; giving both is an error.
//! An api is either an `http://`/`https://` URL (with a host, without credentials) or a plain
//! api name the runtime resolves: an ASCII letter followed by letters, digits and `_ - . : /`.
//! `execute_api` is required (the reference defaulted it to an empty string nothing could call).

mod build;
mod raw;
#[cfg(test)]
mod tests;

use std::fmt;

use serde_saphyr::{Location, Spanned};

use super::model::SagaDefinition;
use raw::RawSaga;

/// Largest accepted DSL text, in bytes.
pub const MAX_DSL_BYTES: usize = 1 << 20;

/// One problem in a DSL text, with its position when known (1-based line and column).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DslProblem {
    /// 1-based line, when known.
    pub line: Option<u64>,
    /// 1-based column, when known.
    pub column: Option<u64>,
    /// What is wrong.
    pub message: String,
}

impl DslProblem {
    fn at(loc: Location, message: impl Into<String>) -> Self {
        let known = loc.line() > 0;
        DslProblem {
            line: known.then(|| loc.line()),
            column: known.then(|| loc.column()),
            message: message.into(),
        }
    }
}

impl fmt::Display for DslProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.column) {
            (Some(l), Some(c)) => write!(f, "line {l} column {c}: {}", self.message),
            (Some(l), None) => write!(f, "line {l}: {}", self.message),
            _ => f.write_str(&self.message),
        }
    }
}

/// Why a DSL text was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DslError {
    /// The text is not well-formed YAML/JSON or a value has the wrong type or key (first
    /// such problem only: parsing stops there).
    #[error("{0}")]
    Syntax(DslProblem),
    /// The document parsed but breaks the rules; every problem found is listed.
    #[error("invalid saga definition: {}", join(.0))]
    Invalid(Vec<DslProblem>),
    /// The text exceeds [`MAX_DSL_BYTES`].
    #[error("saga definition is {0} bytes; the limit is {MAX_DSL_BYTES}")]
    TooLarge(usize),
}

fn join(p: &[DslProblem]) -> String {
    p.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

impl DslError {
    /// Every problem carried by the error.
    pub fn problems(&self) -> &[DslProblem] {
        match self {
            DslError::Syntax(p) => std::slice::from_ref(p),
            DslError::Invalid(ps) => ps,
            DslError::TooLarge(_) => &[],
        }
    }

    /// Line of the first problem, when known.
    pub fn line(&self) -> Option<u64> {
        self.problems().first().and_then(|p| p.line)
    }

    /// Column of the first problem, when known.
    pub fn column(&self) -> Option<u64> {
        self.problems().first().and_then(|p| p.column)
    }
}

/// Parses and validates a saga definition written in YAML or JSON.
pub fn parse_saga(text: &str) -> Result<SagaDefinition, DslError> {
    if text.len() > MAX_DSL_BYTES {
        return Err(DslError::TooLarge(text.len()));
    }
    if text.trim().is_empty() {
        return Err(DslError::Syntax(DslProblem {
            line: None,
            column: None,
            message: "saga definition is empty".into(),
        }));
    }
    let doc: Spanned<RawSaga> = serde_saphyr::from_str(text).map_err(syntax)?;
    build::build(doc)
}

/// Turns a parser error into a one-line problem with its location.
fn syntax(e: serde_saphyr::Error) -> DslError {
    let loc = e.location().unwrap_or(Location::UNKNOWN);
    let rendered = e.render_with_options(serde_saphyr::render_options! {
        formatter: &serde_saphyr::UserMessageFormatter,
        snippets: serde_saphyr::SnippetMode::Off,
    });
    // The plain rendering ends with " at line L, column C"; the location is kept separately.
    let suffix = format!(" at line {}, column {}", loc.line(), loc.column());
    let message = rendered
        .strip_suffix(&suffix)
        .unwrap_or(&rendered)
        .trim()
        .to_string();
    DslError::Syntax(DslProblem::at(loc, message))
}
