//! Fail-closed audit capacity: no command may do what its audit log can no longer record.
//!
//! Every audit log has a fixed capacity (`EngineConfig::max_audit_leaves` when it was created). Before a command
//! runs, the engine checks the log it will write to:
//! - **new work** in a session (joins, actions, vouches, elevations, sagas and their steps…) is
//!   refused once fewer than [`reserve`] entries are left;
//! - **closing and safety work** (terminate, leave, kill, quarantine, slashing, finishing or
//!   compensating sagas…) may use that reserve, so a full session can still be wound down and a
//!   misbehaving agent still stopped, and is refused only when the log is completely full;
//! - **a new session** is refused unless the hypervisor log has room for its root and for the
//!   root of every session still to commit one (audited and not yet archived). While the log
//!   has room for every session held, archived ones included, that is known in O(1); only near
//!   capacity are the sessions counted. A **configuration change** (also recorded there) is
//!   judged by the capacity it asks for, so an operator can always raise a full hypervisor log.
//!
//! The refusal is a `Conflict` (HTTP 409) that changes nothing and names the way out. It depends
//! only on engine state, so replaying the command log reproduces it exactly.

use super::{Command, Engine, EngineError, Result};
use crate::id::SessionId;
use crate::session::SessionState;

/// Entries kept back in every log for closing and safety work: an eighth of the capacity, at
/// most 1,024.
pub(crate) fn reserve(max_leaves: u64) -> u64 {
    (max_leaves / 8).clamp(1, 1024)
}

/// How much room a command needs in its session's log.
enum Need {
    /// New work: more than the reserve.
    NewWork,
    /// Closing or safety work: any room at all.
    Closing,
}

impl Engine {
    /// Refuses `cmd` when the audit log it writes to cannot take it (see the module docs).
    pub(crate) fn check_audit_room(&self, cmd: &Command) -> Result<()> {
        use Command as C;
        let (session, need) = match cmd {
            C::CreateSession { .. } => return self.check_hypervisor_log_room(),
            C::Join { session_id, .. }
            | C::Activate { session_id }
            | C::Act { session_id, .. }
            | C::SetAcl { session_id, .. }
            | C::Vouch { session_id, .. }
            | C::RequestElevation { session_id, .. }
            | C::ApproveConsensus { session_id, .. }
            | C::GrantRoot { session_id, .. }
            | C::RegisterChild { session_id, .. }
            | C::RegisterSubstitute { session_id, .. }
            | C::CreateSaga { session_id } => (Some(session_id), Need::NewWork),
            C::SubmitSaga { definition } => (Some(&definition.session_id), Need::NewWork),
            C::AddStep { saga_id, .. } | C::ExecuteStep { saga_id, .. } => (
                self.sagas.get(saga_id).map(|s| s.session_id()),
                Need::NewWork,
            ),
            C::Terminate { session_id }
            | C::Leave { session_id, .. }
            | C::Slash { session_id, .. }
            | C::Quarantine { session_id, .. }
            | C::ReleaseQuarantine { session_id, .. }
            | C::ResetBreaker { session_id, .. }
            | C::Kill { session_id, .. }
            | C::CancelLockWait { session_id, .. } => (Some(session_id), Need::Closing),
            C::CompleteSaga { saga_id }
            | C::CompensateSaga { saga_id }
            | C::SagaInput { saga_id, .. } => (
                self.sagas.get(saga_id).map(|s| s.session_id()),
                Need::Closing,
            ),
            // Not scoped to one session (trust, vouch release, elevation decisions, checkpoints,
            // timers): they write little and may use the reserve of the logs they touch.
            C::SetTrust { .. }
            | C::ReleaseVouch { .. }
            | C::ApproveElevation { .. }
            | C::RevokeElevation { .. }
            | C::RecordCheckpoint { .. }
            | C::Tick => (None, Need::Closing),
            // The change may raise the capacity; `configure` checks that it leaves room.
            C::Configure { .. } => return Ok(()),
        };
        match session {
            Some(id) => self.check_session_log_room(id, need),
            None => Ok(()),
        }
    }

    fn check_session_log_room(&self, id: &SessionId, need: Need) -> Result<()> {
        // An unknown session is the command's own error to report; an archived one is sealed
        // and appends nothing more.
        let Some(slot) = self
            .sessions
            .get(id)
            .filter(|s| s.session.state() != SessionState::Archived)
        else {
            return Ok(());
        };
        let room = slot.audit.room();
        // The log's own capacity: a reconfiguration changes it for new sessions only.
        let max = slot.audit.capacity();
        match need {
            Need::NewWork if room <= reserve(max) => Err(EngineError::Conflict(format!(
                "the audit log of session `{id}` is full ({} of {max} entries): new work is \
                 refused so that nothing goes unrecorded; terminate the session and start a new one",
                slot.audit.len()
            ))),
            Need::Closing if room == 0 => Err(EngineError::Conflict(format!(
                "the audit log of session `{id}` is full ({max} entries): nothing more can be \
                 recorded in it"
            ))),
            Need::NewWork | Need::Closing => Ok(()),
        }
    }

    /// A new session's eventual root fits in the hypervisor log only if the roots of every
    /// session still to commit one fit after it.
    fn check_hypervisor_log_room(&self) -> Result<()> {
        let room = self.hv_log.room();
        // Every session held owes at most one root: when they all fit, no need to count.
        if room > self.sessions.len() as u64 {
            return Ok(());
        }
        let owing = self.sessions_owing_a_root();
        if room > owing {
            return Ok(());
        }
        Err(EngineError::Conflict(format!(
            "the hypervisor audit log has room for {room} more entries and {owing} sessions are \
             still to commit their root: no new session until `max_hypervisor_log_leaves` (now \
             {}) is raised in the [engine] configuration",
            self.hv_log.capacity()
        )))
    }

    /// Sessions held that will append their root to the hypervisor log when they terminate:
    /// audited ones not archived yet (O(sessions held)).
    pub(crate) fn sessions_owing_a_root(&self) -> u64 {
        let owing = self
            .sessions
            .values()
            .filter(|s| {
                s.session.state() != SessionState::Archived && s.session.config().enable_audit
            })
            .count();
        u64::try_from(owing).unwrap_or(u64::MAX)
    }
}
