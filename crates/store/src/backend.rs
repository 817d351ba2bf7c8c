//! One handle over the three backends, so the group-commit writer, snapshots and recovery are
//! written once.

use std::sync::Arc;

use crate::batch::Entry;
use crate::err::Result;
use crate::memory::MemDb;
use crate::postgres::PgDb;
use crate::sqlite::SqliteDb;

/// An open backend. Cheap to clone (pools and the memory tables are shared).
#[derive(Debug, Clone)]
pub(crate) enum Db {
    Memory(Arc<MemDb>),
    Sqlite(Arc<SqliteDb>),
    Postgres(Arc<PgDb>),
}

impl Db {
    /// The backend's name, for logs and reports.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Db::Memory(_) => "memory",
            Db::Sqlite(_) => "sqlite",
            Db::Postgres(_) => "postgres",
        }
    }

    /// Takes (once per store, held until it is dropped) the database-wide writer lock: exclusive
    /// for a single node, shared for cluster nodes. `false` if another server holds it in a
    /// conflicting way. SQLite has its own lock file and memory is private, so only PostgreSQL
    /// needs one.
    pub(crate) async fn hold_writer_lock(&self, shared: bool) -> Result<bool> {
        match self {
            Db::Memory(_) | Db::Sqlite(_) => Ok(true),
            Db::Postgres(p) => p.hold_writer_lock(shared).await,
        }
    }

    /// Writes commands and their events in one transaction and prunes events beyond
    /// `retention`. Either all of it is durable afterwards or none of it.
    pub(crate) async fn write_batch(&self, batch: &[Entry], retention: u64) -> Result<()> {
        match self {
            Db::Memory(m) => m.write_batch(batch, retention),
            Db::Sqlite(s) => s.write_batch(batch, retention).await,
            Db::Postgres(p) => p.write_batch(batch, retention).await,
        }
    }

    /// Positions of the stored snapshots, newest first.
    pub(crate) async fn snapshot_positions(&self) -> Result<Vec<u64>> {
        match self {
            Db::Memory(m) => m.snapshot_positions(),
            Db::Sqlite(s) => s.snapshot_positions().await,
            Db::Postgres(p) => p.snapshot_positions().await,
        }
    }

    /// The snapshot at `pos`.
    pub(crate) async fn snapshot(&self, pos: u64) -> Result<Option<Vec<u8>>> {
        match self {
            Db::Memory(m) => m.snapshot(pos),
            Db::Sqlite(s) => s.snapshot(pos).await,
            Db::Postgres(p) => p.snapshot(pos).await,
        }
    }

    /// Up to `limit` commands after `after`, in order.
    pub(crate) async fn commands_after(
        &self,
        after: u64,
        limit: usize,
    ) -> Result<Vec<(u64, String)>> {
        match self {
            Db::Memory(m) => m.commands_after(after, limit),
            Db::Sqlite(s) => s.commands_after(after, limit).await,
            Db::Postgres(p) => p.commands_after(after, limit).await,
        }
    }

    /// Position of the newest stored command (0 if none).
    pub(crate) async fn last_command_pos(&self) -> Result<u64> {
        match self {
            Db::Memory(m) => m.last_command_pos(),
            Db::Sqlite(s) => s.last_command_pos().await,
            Db::Postgres(p) => p.last_command_pos().await,
        }
    }

    /// Every retained event, oldest first.
    pub(crate) async fn events(&self) -> Result<Vec<(u64, String)>> {
        match self {
            Db::Memory(m) => m.events(),
            Db::Sqlite(s) => s.events().await,
            Db::Postgres(p) => p.events().await,
        }
    }

    /// Stores a snapshot, keeps the newest `keep`, and returns the oldest position kept.
    pub(crate) async fn save_snapshot(
        &self,
        pos: u64,
        bytes: &[u8],
        now_ms: i64,
        keep: usize,
    ) -> Result<u64> {
        match self {
            Db::Memory(m) => m.save_snapshot(pos, bytes, keep),
            Db::Sqlite(s) => s.save_snapshot(pos, bytes, now_ms, keep).await,
            Db::Postgres(p) => p.save_snapshot(pos, bytes, now_ms, keep).await,
        }
    }

    /// Deletes commands at or before `pos` (covered by a committed snapshot).
    pub(crate) async fn delete_commands_through(&self, pos: u64) -> Result<()> {
        match self {
            Db::Memory(m) => m.delete_commands_through(pos),
            Db::Sqlite(s) => s.delete_commands_through(pos).await,
            Db::Postgres(p) => p.delete_commands_through(pos).await,
        }
    }

    /// A small setting.
    pub(crate) async fn get_meta(&self, key: &str) -> Result<Option<String>> {
        match self {
            Db::Memory(m) => m.get_meta(key),
            Db::Sqlite(s) => s.get_meta(key).await,
            Db::Postgres(p) => p.get_meta(key).await,
        }
    }

    /// Sets a small setting (durably, before returning).
    pub(crate) async fn set_meta(&self, key: &str, value: &str) -> Result<()> {
        match self {
            Db::Memory(m) => m.set_meta(key, value),
            Db::Sqlite(s) => s.set_meta(key, value).await,
            Db::Postgres(p) => p.set_meta(key, value).await,
        }
    }

    /// Sets a small setting only if it is unset (atomically, durably).
    pub(crate) async fn init_meta(&self, key: &str, value: &str) -> Result<()> {
        match self {
            Db::Memory(m) => m.init_meta(key, value),
            Db::Sqlite(s) => s.init_meta(key, value).await,
            Db::Postgres(p) => p.init_meta(key, value).await,
        }
    }

    /// The schema version recorded in the database.
    pub(crate) async fn schema_version(&self) -> Result<i64> {
        match self {
            Db::Memory(_) => Ok(crate::schema::CURRENT_VERSION),
            Db::Sqlite(s) => s.schema_version().await,
            Db::Postgres(p) => p.schema_version().await,
        }
    }

    /// Closes connections and releases locks.
    pub(crate) async fn close(&self) {
        match self {
            Db::Memory(_) => {}
            Db::Sqlite(s) => s.close().await,
            Db::Postgres(p) => p.close().await,
        }
    }
}
