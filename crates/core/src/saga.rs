//! Sagas (placeholder root; docs follow).

pub mod checkpoint;
pub mod dsl;
mod err;
pub mod machine;
pub mod model;
pub mod protocol;
pub mod retry;
pub mod state;

pub use checkpoint::{Checkpoint, CheckpointError, CheckpointStore, ReplayPlan, goal_hash};
pub use dsl::{DslError, DslProblem, parse_saga};
pub use err::SagaError;
pub use machine::{FanOutResolution, Saga, SagaMode, StepRuntime, StopCause, idempotency_key};
pub use model::*;
pub use protocol::{SagaCommand, SagaEventKind, SagaInput};
pub use retry::{ErrorClass, RetryPolicy, RetryPolicyError, classify_http_status};
pub use state::{Attempt, AttemptOutcome, Phase, SagaState, StepState, TransitionError};
