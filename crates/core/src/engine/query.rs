//! Small read-only queries the runtime polls while it waits (saga completion, lock tickets).

use super::Engine;
use crate::id::{RecordId, SagaId, SessionId};
use crate::locks::TicketState;

impl Engine {
    /// Whether the saga exists and has finished (unknown sagas count as finished: nothing to
    /// wait for).
    pub fn saga_is_finished(&self, saga_id: &SagaId) -> bool {
        self.sagas
            .get(saga_id)
            .is_none_or(crate::saga::Saga::is_finished)
    }

    /// `Some(true)` once a queued lock request was granted, `Some(false)` while it waits, `None`
    /// if it was cancelled or is unknown.
    pub fn lock_ticket(&self, session_id: &SessionId, ticket: &RecordId) -> Option<bool> {
        let slot = self.sessions.get(session_id)?;
        match slot.locks.ticket_status(ticket)? {
            TicketState::Granted(_) => Some(true),
            TicketState::Waiting => Some(false),
            TicketState::Cancelled => None,
        }
    }

    /// The action id of a saga step (for the step-call body).
    pub fn step_action(&self, saga_id: &SagaId, step_id: &crate::id::StepId) -> Option<String> {
        let saga = self.sagas.get(saga_id)?;
        saga.definition()
            .step(step_id)
            .map(|d| d.action_id.to_string())
    }
}

impl Engine {
    /// Whether anything is due to expire at `now` (the runtime sends a `Tick` only then, so an
    /// idle hypervisor writes nothing to its log).
    pub fn has_due(&self, now: crate::time::Timestamp) -> bool {
        let sessions = self.sessions.values().any(|s| {
            use crate::session::SessionState::*;
            matches!(s.session.state(), Created | Handshaking | Active)
                && (s.session.is_expired(now) || s.locks.next_expiry().is_some_and(|t| t <= now))
        });
        sessions
            || self.elevations.next_deadline().is_some_and(|t| t <= now)
            || self.quarantine.next_expiry().is_some_and(|t| t <= now)
            || self.vouches.next_expiry().is_some_and(|t| t <= now)
    }
}

impl Engine {
    /// A saga by id (for the runtime's recovery and introspection).
    pub fn saga(&self, saga_id: &SagaId) -> Option<&crate::saga::Saga> {
        self.sagas.get(saga_id)
    }

    /// Ids of sagas that have not finished, in creation order.
    pub fn unfinished_sagas(&self) -> Vec<SagaId> {
        self.saga_order
            .iter()
            .filter(|id| self.sagas.get(*id).is_some_and(|s| !s.is_finished()))
            .cloned()
            .collect()
    }
}
