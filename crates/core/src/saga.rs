//! # Sagas: long-running multi-agent work with compensation
//!
//! A saga is a list of steps, each an outside call (`execute_api`) made for an agent, undone by
//! another call (`undo_api`) if the saga must roll back. This module is the *pure model*: the
//! async runtime performs the HTTP calls and timers, reports what happened as [`SagaInput`]s,
//! and carries out the [`SagaCommand`]s that [`Saga::handle`] returns. Because the machine is
//! a deterministic function of `(saga, input, now)`, the runtime can log inputs and replay them
//! after a crash to rebuild the same saga (the reference's "crash recovery" was a docstring).
//!
//! Files:
//! - [`model`]: what a saga should do — [`SagaDefinition`], [`StepDefinition`],
//!   [`FanOutDefinition`] / [`FanOutPolicy`], validation shared by the DSL and the API.
//! - [`retry`]: [`RetryPolicy`] as data (exponential backoff, bounded deterministic jitter)
//!   and [`ErrorClass`] with [`classify_http_status`].
//! - [`state`]: [`StepState`] / [`SagaState`] with their transition tables, [`Attempt`]s.
//! - [`protocol`]: [`SagaInput`], [`SagaCommand`], [`SagaEventKind`].
//! - [`machine`]: [`Saga`] and its step function [`Saga::handle`].
//! - [`checkpoint`]: [`CheckpointStore`] and replay plans.
//! - [`dsl`]: [`parse_saga`] — YAML/JSON text to a validated definition with line/column errors.
//!
//! ## Life of a saga
//!
//! ```text
//!                 Start
//!                   │  steps run in order; a fan-out group issues all branches at once
//!                   ▼
//!   ┌──────────── running ─────────────┐
//!   │ all steps committed              │ step failed for good / fan-out policy missed /
//!   │ (step-by-step: + CompleteRequested)  deadline passed / CompensateRequested
//!   ▼                                  ▼  (waits for calls in flight; cancels pending retries)
//! completed          nothing to undo ◄─┴─► something committed, unknown or skipped
//!                    (and not requested)          │
//!                          ▼                      ▼
//!                       failed               compensating ── undo newest effect first,
//!                                                 │          one step at a time, retried
//!                                     ┌───────────┴───────────┐   per policy; a failed undo
//!                                     ▼                       ▼   never stops the others
//!                               compensated               escalated ──► Escalate command
//!                             (every undo ok)        (some undo failed)  (attribution, slashing)
//! ```
//!
//! Each step: `pending → executing → committed | failed | unknown`, then for committed,
//! unknown and skipped steps `→ compensating → compensated | compensation_failed`
//! (see [`StepState`]). Retries keep the step `executing` (or `compensating`) with a pending
//! timer; the machine emits [`SagaCommand::ScheduleRetry`] and the runtime sleeps, never the core.
//!
//! ## Departures from the reference (spec §6, §17 items 2–5 and 26)
//!
//! - **Timeouts are `unknown`, not `failed`.** A timed-out call may have taken effect, so a step
//!   with any timed-out attempt is compensated like a committed one. Every call carries an
//!   idempotency key, `{saga_id}/{step_id}/execute` or `…/undo` ([`idempotency_key`]), identical
//!   on every retry so the receiver can deduplicate.
//! - **Exponential backoff with jitter, outside the request.** `initial × multiplier^(n−1)`,
//!   capped, jittered deterministically; `4xx` errors (except 408/429) are final and not
//!   retried. The reference slept `1 s × n` inside the HTTP handler. Forward retries that would
//!   start after the saga deadline are not scheduled.
//! - **A saga-level deadline** ([`SagaDefinition::timeout`]): when it passes, no further step
//!   starts and compensation begins.
//! - **No races between do and undo.** Compensation starts only once no execute call is in
//!   flight; a step that commits late joins the compensation list instead of being lost.
//!   Steps cannot be added once a saga finished, rolls back or is closing.
//! - **Honest end states.** A fully undone saga is `compensated` (the reference said
//!   `completed`); a saga that failed before anything needed undoing is `failed`; an explicit
//!   rollback of a saga with nothing to undo is `compensated`. Defined sagas complete by
//!   themselves, step-by-step sagas on [`SagaInput::CompleteRequested`] (the reference's
//!   successful sagas stayed `running` forever).
//! - **Fan-out is part of the saga.** A timed-out branch counts as failed (the reference's
//!   empty error string made it invisible); majority is strict; when the policy fails, the
//!   branches that succeeded are really compensated (the reference only listed them).
//!   Unknown branches of a group that *met* its policy are left as they are while the saga
//!   goes on (their effect was wanted); they are undone if the saga later rolls back.
//! - **Compensation has its own timeout** (`undo_timeout`, defaulting to `timeout`) and its own
//!   retries; a step without `undo_api` cannot be undone and ends `compensation_failed`, which
//!   escalates (as in the reference, but through the transition table, not around it).
//! - **Checkpoints are keyed by saga, step and the full SHA-256 of the goal** and drive replay:
//!   [`CheckpointStore::replay_plan`] gives the steps to skip, and `Start { skip }` marks them
//!   `skipped`. Skipped steps are compensated on rollback, because their effect belongs to this
//!   saga (it was achieved by an earlier run of the same saga id).
//! - **Stale inputs are errors, not corruption.** A late or duplicate report (wrong attempt, step
//!   not executing, saga finished) is refused with a [`SagaError`] for which
//!   [`SagaError::is_stale`] is true, and leaves the saga unchanged.
//!
//! ## Bounds
//!
//! At most [`MAX_STEPS`] steps per saga; per step at most `max_attempts` (≤
//! [`retry::MAX_ATTEMPTS`]) execute and undo attempts; error texts are cut to
//! [`state::MAX_ERROR_LEN`] bytes; DSL texts to [`dsl::MAX_DSL_BYTES`]; the checkpoint store to
//! its capacity ([`CheckpointStore::remove_saga`] frees a finished saga's entries).

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
pub use model::{
    DefinitionError, DefinitionProblem, FanOutDefinition, FanOutPolicy, MAX_STEPS, SagaDefinition,
    StepDefinition,
};
pub use protocol::{SagaCommand, SagaEventKind, SagaInput};
pub use retry::{ErrorClass, RetryPolicy, RetryPolicyError, classify_http_status};
pub use state::{Attempt, AttemptOutcome, Phase, SagaState, StepState, TransitionError};
