//! Isolation levels of a session's VFS and what each one demands (spec §2.5).
//!
//! The reference's levels were descriptive flags that nothing consulted. Here the level decides
//! whether [`super::ClockTable::check_write`] applies the causal check, and
//! [`IsolationLevel::requires_intent_locks`] tells the runtime to demand a write lock (see
//! `crate::locks::LockTable::holds`) before a write.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::err::ClockError;

/// How strongly concurrent writers to one session VFS are kept apart.
///
/// The default is [`IsolationLevel::ReadCommitted`]: it prevents lost updates (a writer must have
/// read the latest version of the path) without forcing agents to take locks, which is the
/// cheapest level that is still safe by default.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum IsolationLevel {
    /// Last writer wins: no causal check, no locks. Lost updates are possible by choice.
    Snapshot,
    /// A write is accepted only if the writer has seen the path's latest version.
    #[default]
    ReadCommitted,
    /// As `ReadCommitted`, and the writer must also hold a write (or exclusive) intent lock.
    Serializable,
}

/// The relative coordination cost of an isolation level (descriptive).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CoordinationCost {
    /// No coordination.
    Low,
    /// Clock bookkeeping and occasional re-reads.
    Moderate,
    /// Clocks plus locks; writers to one path are serialised.
    High,
}

impl IsolationLevel {
    /// Every level, weakest first.
    pub const ALL: [IsolationLevel; 3] = [
        IsolationLevel::Snapshot,
        IsolationLevel::ReadCommitted,
        IsolationLevel::Serializable,
    ];

    /// The wire name: `snapshot`, `read_committed` or `serializable`.
    pub const fn name(self) -> &'static str {
        match self {
            IsolationLevel::Snapshot => "snapshot",
            IsolationLevel::ReadCommitted => "read_committed",
            IsolationLevel::Serializable => "serializable",
        }
    }

    /// True if writes are checked against vector clocks.
    pub const fn requires_vector_clocks(self) -> bool {
        !matches!(self, IsolationLevel::Snapshot)
    }

    /// True if a writer must hold a write or exclusive intent lock on the path.
    pub const fn requires_intent_locks(self) -> bool {
        matches!(self, IsolationLevel::Serializable)
    }

    /// True if two agents may write the same path without holding a lock (each write still has
    /// to pass the clock check under `read_committed`).
    pub const fn allows_concurrent_writes(self) -> bool {
        !matches!(self, IsolationLevel::Serializable)
    }

    /// The relative cost of coordinating writers at this level.
    pub const fn coordination_cost(self) -> CoordinationCost {
        match self {
            IsolationLevel::Snapshot => CoordinationCost::Low,
            IsolationLevel::ReadCommitted => CoordinationCost::Moderate,
            IsolationLevel::Serializable => CoordinationCost::High,
        }
    }
}

impl fmt::Display for IsolationLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for IsolationLevel {
    type Err = ClockError;

    /// Parses the wire name.
    fn from_str(s: &str) -> Result<Self, ClockError> {
        IsolationLevel::ALL
            .into_iter()
            .find(|l| l.name() == s)
            .ok_or_else(|| ClockError::UnknownIsolation {
                value: s.escape_debug().to_string(),
            })
    }
}

impl CoordinationCost {
    /// The wire name: `low`, `moderate` or `high` (as the reference reported it).
    pub const fn name(self) -> &'static str {
        match self {
            CoordinationCost::Low => "low",
            CoordinationCost::Moderate => "moderate",
            CoordinationCost::High => "high",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_match_the_reference_table() {
        use IsolationLevel::*;
        let rows = [
            (Snapshot, false, false, true, "low"),
            (ReadCommitted, true, false, true, "moderate"),
            (Serializable, true, true, false, "high"),
        ];
        for (level, clocks, locks, concurrent, cost) in rows {
            assert_eq!(level.requires_vector_clocks(), clocks, "{level}");
            assert_eq!(level.requires_intent_locks(), locks, "{level}");
            assert_eq!(level.allows_concurrent_writes(), concurrent, "{level}");
            assert_eq!(level.coordination_cost().name(), cost, "{level}");
        }
    }

    #[test]
    fn wire_names_round_trip() {
        for level in IsolationLevel::ALL {
            let json = serde_json::to_string(&level).unwrap();
            assert_eq!(json, format!("\"{}\"", level.name()));
            assert_eq!(level.name().parse::<IsolationLevel>().unwrap(), level);
        }
        assert_eq!(IsolationLevel::default(), IsolationLevel::ReadCommitted);
        let err = "strong".parse::<IsolationLevel>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown isolation level `strong`: expected `snapshot`, `read_committed` or `serializable`"
        );
    }
}
