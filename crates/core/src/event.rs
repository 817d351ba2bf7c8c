//! Typed events. Every decision and state change of the engine produces one, so that the event
//! stream, the metrics and the dashboard all see the same facts (in the reference nothing ever
//! emitted an event).
//!
//! The engine returns events from each command; the runtime numbers them with a global sequence,
//! stores them with bounded retention and fans them out to subscribers without blocking.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::audit::detail::Detail;
use crate::id::{AgentDid, SessionId};
use crate::time::Timestamp;

macro_rules! event_types {
    ($( $(#[$doc:meta])* $variant:ident => $wire:literal, )*) => {
        /// The kind of an event, with the reference's wire names (`session.created`, …) plus the
        /// kinds this project adds.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum EventType {
            $( $(#[$doc])* $variant, )*
        }

        impl EventType {
            /// Every event type, in declaration order.
            pub const ALL: &'static [EventType] = &[$(EventType::$variant,)*];

            /// The wire name, e.g. `session.created`.
            pub const fn as_str(self) -> &'static str {
                match self { $(EventType::$variant => $wire,)* }
            }
        }

        impl FromStr for EventType {
            type Err = UnknownEventType;
            fn from_str(s: &str) -> Result<Self, UnknownEventType> {
                match s {
                    $($wire => Ok(EventType::$variant),)*
                    other => Err(UnknownEventType(other.to_string())),
                }
            }
        }
    };
}

event_types! {
    /// A session was created.
    SessionCreated => "session.created",
    /// An agent joined a session.
    SessionJoined => "session.joined",
    /// An agent left a session.
    SessionLeft => "session.left",
    /// A session became active.
    SessionActivated => "session.activated",
    /// A session was terminated.
    SessionTerminated => "session.terminated",
    /// A session was archived (its root is in the hypervisor log).
    SessionArchived => "session.archived",
    /// A session ran past its maximum duration and was terminated.
    SessionExpired => "session.expired",
    /// An agent was refused admission (ledger, σ, capacity).
    SessionJoinDenied => "session.join_denied",
    /// A ring was assigned to an agent.
    RingAssigned => "ring.assigned",
    /// An elevation was requested.
    RingElevationRequested => "ring.elevation_requested",
    /// An elevation was approved and is active.
    RingElevated => "ring.elevated",
    /// An agent was demoted (σ_eff dropped or a grant was revoked).
    RingDemoted => "ring.demoted",
    /// An elevation expired.
    RingElevationExpired => "ring.elevation_expired",
    /// An elevation was revoked or denied.
    RingElevationRevoked => "ring.elevation_revoked",
    /// A ring breach (calls to more privileged rings) was detected.
    RingBreachDetected => "ring.breach_detected",
    /// A breach breaker tripped.
    RingBreakerTripped => "ring.breaker_tripped",
    /// A breach breaker was reset.
    RingBreakerReset => "ring.breaker_reset",
    /// A vouch (bond) was created.
    LiabilityVouchCreated => "liability.vouch_created",
    /// A vouch was released or expired.
    LiabilityVouchReleased => "liability.vouch_released",
    /// A slash was executed.
    LiabilitySlashExecuted => "liability.slash_executed",
    /// Fault was attributed over a failed saga's agents.
    LiabilityFaultAttributed => "liability.fault_attributed",
    /// An agent entered quarantine.
    LiabilityQuarantineEntered => "liability.quarantine_entered",
    /// An agent left quarantine.
    LiabilityQuarantineReleased => "liability.quarantine_released",
    /// A saga was created.
    SagaCreated => "saga.created",
    /// A saga step started an attempt.
    SagaStepStarted => "saga.step_started",
    /// A saga step committed.
    SagaStepCommitted => "saga.step_committed",
    /// A saga step attempt failed.
    SagaStepFailed => "saga.step_failed",
    /// A saga step will be retried.
    SagaStepRetry => "saga.step_retry",
    /// A saga began compensating.
    SagaCompensating => "saga.compensating",
    /// A saga step was compensated.
    SagaStepCompensated => "saga.step_compensated",
    /// A saga completed.
    SagaCompleted => "saga.completed",
    /// A saga was fully compensated.
    SagaCompensated => "saga.compensated",
    /// A saga failed.
    SagaFailed => "saga.failed",
    /// A saga escalated (a compensation failed).
    SagaEscalated => "saga.escalated",
    /// A fan-out group started.
    SagaFanoutStarted => "saga.fanout_started",
    /// A fan-out group resolved.
    SagaFanoutResolved => "saga.fanout_resolved",
    /// A saga checkpoint was saved.
    SagaCheckpointSaved => "saga.checkpoint_saved",
    /// A VFS file was written.
    VfsWrite => "vfs.write",
    /// A VFS file was deleted.
    VfsDelete => "vfs.delete",
    /// A VFS snapshot was taken.
    VfsSnapshot => "vfs.snapshot",
    /// A VFS snapshot was restored.
    VfsRestore => "vfs.restore",
    /// A VFS write was refused by a vector-clock or lock conflict.
    VfsConflict => "vfs.conflict",
    /// A VFS ACL was changed.
    VfsAclChanged => "vfs.acl_changed",
    /// An intent lock was granted.
    LockAcquired => "lock.acquired",
    /// An intent lock was released or expired.
    LockReleased => "lock.released",
    /// An intent lock request is waiting.
    LockWaiting => "lock.waiting",
    /// An intent lock request was refused as a deadlock.
    LockDeadlock => "lock.deadlock",
    /// A governed action was allowed.
    GovernanceAllowed => "governance.allowed",
    /// A governed action was denied.
    GovernanceDenied => "governance.denied",
    /// A request was rate limited.
    SecurityRateLimited => "security.rate_limited",
    /// An agent was killed.
    SecurityAgentKilled => "security.agent_killed",
    /// A killed agent's saga step was handed to a substitute.
    SecuritySagaHandoff => "security.saga_handoff",
    /// An agent's identity was verified.
    SecurityIdentityVerified => "security.identity_verified",
    /// An audit entry was appended (reference name kept).
    AuditDeltaCaptured => "audit.delta_captured",
    /// A session root was committed to the hypervisor log.
    AuditCommitted => "audit.committed",
    /// A signed checkpoint was produced.
    AuditCheckpointSigned => "audit.checkpoint_signed",
    /// Ephemeral session data was garbage-collected.
    AuditGcCollected => "audit.gc_collected",
    /// The engine's tunables were changed (rate limits, vouching, breaker, limits…).
    HypervisorConfigured => "hypervisor.configured",
    /// Behavioural drift was checked.
    VerificationBehaviorDrift => "verification.behavior_drift",
    /// An agent's history was verified.
    VerificationHistoryVerified => "verification.history_verified",
}

/// An event type name that does not exist.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown event type `{0}`")]
pub struct UnknownEventType(pub String);

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for EventType {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for EventType {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// One event as produced by the engine (before the runtime assigns its sequence number).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// What happened.
    pub event_type: EventType,
    /// When it happened.
    pub at: Timestamp,
    /// The session concerned, if any.
    pub session_id: Option<SessionId>,
    /// The agent concerned, if any.
    pub agent_did: Option<AgentDid>,
    /// Causal trace id of the action that caused it, if known.
    pub causal_trace_id: Option<String>,
    /// Free-form details (JSON text, written once).
    pub payload: Detail,
}

impl Event {
    /// An event with an empty payload.
    pub fn new(event_type: EventType, at: Timestamp) -> Self {
        Event {
            event_type,
            at,
            session_id: None,
            agent_did: None,
            causal_trace_id: None,
            payload: Detail::empty(),
        }
    }

    /// Sets the session.
    pub fn session(mut self, s: &SessionId) -> Self {
        self.session_id = Some(s.clone());
        self
    }

    /// Sets the agent.
    pub fn agent(mut self, a: &AgentDid) -> Self {
        self.agent_did = Some(a.clone());
        self
    }

    /// Sets the payload.
    pub fn payload(mut self, p: impl Into<Detail>) -> Self {
        self.payload = p.into();
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_round_trip() {
        for t in EventType::ALL {
            assert_eq!(t.as_str().parse::<EventType>(), Ok(*t));
        }
        assert!(EventType::ALL.len() >= 40);
        assert_eq!(
            "bogus".parse::<EventType>().unwrap_err().to_string(),
            "unknown event type `bogus`"
        );
    }
}
