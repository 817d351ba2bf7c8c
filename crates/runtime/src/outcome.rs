//! What a command the engine just applied leaves behind: a log entry, events and saga work — or,
//! for a refusal, nothing at all.
//!
//! A refusal of bad input or of an unauthorised caller ([`EngineError::Invalid`],
//! [`EngineError::Forbidden`]) changes no state, so it is not logged. Its events, if the engine
//! ever produced any, are therefore **dropped**, not numbered and not published: an event id is
//! the SSE `Last-Event-ID` a client resumes from, and after a restart the bus numbers on from the
//! newest event the log persisted. An id handed out for an event that was never persisted would
//! be handed out again for a different one, and a resuming client would silently skip it. So
//! every published event is one the log made durable with its command ("acknowledged means
//! committed" for events too), and ids stay unique and increasing across restarts. Cluster
//! nodes number only logged commands' events for the same reason (every node must number alike).
//!
//! Nothing an operator should see is lost: the engine refuses before emitting anything (its
//! error discipline), the caller gets the 400/403 with its reason and the HTTP metrics count it,
//! and governance denials and rate limits — the security signals — are not refusals: they are
//! logged with their audit entries and durable `governance.denied` / `security.rate_limited`
//! events. A refusal that did carry events is reported with a warning, as an engine bug.

use ahv_core::engine::{Ctx, EngineError, Reply};
use ahv_core::event::Event;
use ahv_core::id::SagaId;
use ahv_core::saga::SagaCommand;

/// The part of an applied command's output that may leave the engine.
#[derive(Debug)]
pub(crate) struct Output {
    /// Whether the command is logged (it may have changed state).
    pub(crate) logged: bool,
    /// Its events, to be numbered, persisted with it and published once durable.
    pub(crate) events: Vec<Event>,
    /// Its saga work, to be started once durable.
    pub(crate) work: Vec<(SagaId, SagaCommand)>,
}

/// Whether `result` is a refusal that changed nothing (and so is not logged).
fn is_refusal(result: &Result<Reply, EngineError>) -> bool {
    matches!(
        result,
        Err(EngineError::Invalid(_) | EngineError::Forbidden(_))
    )
}

/// Splits `ctx` by the rule above: everything for a logged command, nothing for a refusal.
pub(crate) fn output(result: &Result<Reply, EngineError>, ctx: Ctx) -> Output {
    if !is_refusal(result) {
        return Output {
            logged: true,
            events: ctx.events,
            work: ctx.saga_work,
        };
    }
    if !ctx.events.is_empty() || !ctx.saga_work.is_empty() {
        tracing::warn!(
            events = ctx.events.len(),
            saga_work = ctx.saga_work.len(),
            "a refused command produced events or saga work; dropped, since it is not logged"
        );
    }
    Output {
        logged: false,
        events: Vec::new(),
        work: Vec::new(),
    }
}
