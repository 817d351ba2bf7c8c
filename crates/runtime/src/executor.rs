//! How saga steps reach the outside world.
//!
//! A step whose `execute_api` / `undo_api` is an `http://` or `https://` URL is POSTed by the
//! runtime (see `saga_runner`); a step naming an API registered here runs in process; any other
//! step is a *recorded* step: the hypervisor gates and records it, and the agent performs the
//! effect itself (the reference's built-in no-op executor answered the same way).

use std::future::Future;
use std::pin::Pin;

use ahv_core::id::{AgentDid, SagaId, StepId};
use ahv_core::saga::Phase;
use serde::Serialize;

/// One call of a step (or its undo).
#[derive(Clone, Debug, Serialize)]
pub struct StepCall {
    /// The saga.
    pub saga_id: SagaId,
    /// The step.
    pub step_id: StepId,
    /// The agent the step runs as.
    pub agent_did: AgentDid,
    /// The step's action.
    pub action_id: String,
    /// The step's input.
    pub input: serde_json::Value,
    /// Attempt number, from 1.
    pub attempt: u32,
    /// Stable across retries of the same call; a receiver deduplicates on it.
    #[serde(skip)]
    pub idempotency_key: String,
    /// Execute or compensate.
    #[serde(skip)]
    pub phase: Phase,
}

/// What a step call came to.
#[derive(Clone, Debug, PartialEq)]
pub enum StepResult {
    /// It succeeded with this output.
    Ok(serde_json::Value),
    /// It failed; `retryable` says whether trying again may help.
    Failed {
        /// What went wrong.
        message: String,
        /// Whether a retry may succeed.
        retryable: bool,
    },
    /// It did not answer in time (its effect may or may not have happened).
    Timeout,
}

/// A boxed step future.
pub type StepFuture = Pin<Box<dyn Future<Output = StepResult> + Send>>;

/// An in-process step implementation a Rust program registers under an API name.
pub trait StepExecutor: Send + Sync {
    /// Runs one call. The runtime applies the step's timeout around it.
    fn call(&self, call: StepCall) -> StepFuture;
}

impl<F, Fut> StepExecutor for F
where
    F: Fn(StepCall) -> Fut + Send + Sync,
    Fut: Future<Output = StepResult> + Send + 'static,
{
    fn call(&self, call: StepCall) -> StepFuture {
        Box::pin((self)(call))
    }
}
