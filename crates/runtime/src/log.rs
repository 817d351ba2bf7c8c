//! The command log: the runtime's durability seam.
//!
//! The engine is a deterministic state machine, so its state is a function of the commands it
//! applied (with their timestamps and id seeds). The runtime appends every state-changing command
//! to a [`CommandLog`] in the order it was applied and answers the caller only once the log says
//! that position is durable. After a crash, replaying the log (from the last snapshot) rebuilds
//! exactly the acknowledged state. Backends: [`MemoryLog`] here (tests, benchmarks, demos); the
//! store crate provides SQLite (group commit) and PostgreSQL.

use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;

use ahv_core::engine::LoggedCommand;

use crate::bus::StoredEvent;

/// Why the log could not make an entry durable.
#[derive(Debug, Clone, thiserror::Error)]
#[error("command log: {0}")]
pub struct LogError(pub String);

/// A boxed future, so the trait stays object-safe.
pub type LogFuture<'a> = Pin<Box<dyn Future<Output = Result<(), LogError>> + Send + 'a>>;

/// Ordered, durable storage of applied commands.
pub trait CommandLog: Send + Sync + std::fmt::Debug {
    /// Queues `entry` (and the events it produced, already numbered) after every entry queued
    /// before it and returns its position. Called while the engine lock is held, so it must be
    /// quick (no I/O): queue, do not write. A backend persists the events with the command, in
    /// the same transaction, with bounded retention.
    fn append(&self, entry: &LoggedCommand, events: &[StoredEvent]) -> Result<u64, LogError>;

    /// Resolves once every entry up to and including `pos` is durable.
    fn wait_durable(&self, pos: u64) -> LogFuture<'_>;

    /// Position of the last entry queued (0 if none). Read under the engine lock, it names
    /// exactly the commands reflected in the engine state, which is what a snapshot records.
    fn last_position(&self) -> u64;
}

/// A log that keeps nothing: state lives only in memory. For tests, benchmarks and demos.
#[derive(Debug, Default)]
pub struct MemoryLog {
    next: Mutex<u64>,
}

impl CommandLog for MemoryLog {
    fn append(&self, _entry: &LoggedCommand, _events: &[StoredEvent]) -> Result<u64, LogError> {
        let mut n = self.next.lock().map_err(|_| LogError("poisoned".into()))?;
        *n += 1;
        Ok(*n)
    }

    fn wait_durable(&self, _pos: u64) -> LogFuture<'_> {
        Box::pin(async { Ok(()) })
    }

    fn last_position(&self) -> u64 {
        self.next.lock().map(|n| *n).unwrap_or(0)
    }
}
