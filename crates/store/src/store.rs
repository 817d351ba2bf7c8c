//! The [`Store`]: an open backend plus the command log currently writing to it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use crate::backend::Db;
use crate::commit::{CommitStats, Counters, LogCore};
use crate::err::{Result, StoreError};
use crate::location::{Location, StoreOptions};
use crate::memory::MemDb;
use crate::postgres::PgDb;
use crate::sqlite::SqliteDb;

/// Longest accepted meta key.
pub const MAX_META_KEY: usize = 200;
/// Longest accepted meta value (bytes).
pub const MAX_META_VALUE: usize = 64 * 1024;

pub(crate) struct Inner {
    pub(crate) db: Db,
    pub(crate) options: StoreOptions,
    pub(crate) location: String,
    /// The log made by the latest recovery (at most one writes at a time).
    pub(crate) log: Mutex<Option<Arc<LogCore>>>,
    pub(crate) counters: Arc<Counters>,
    /// Set once the store serves as a cluster node: the newest shared-log position seen.
    /// Cluster mode never compacts the log.
    pub(crate) cluster_pos: OnceLock<Arc<AtomicU64>>,
}

/// Durable state of one hypervisor: the command log, events, snapshots and settings. Cheap to
/// clone; clones share the backend.
#[derive(Clone)]
pub struct Store {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.kind())
            .field("location", &self.inner.location)
            .finish()
    }
}

impl Store {
    /// Opens the store at `location`, creating the SQLite file on first start and applying
    /// schema migrations. Fails with a clear error on a read-only directory, a corrupt or
    /// foreign database, or a database of a newer schema.
    pub async fn open(location: &Location, options: StoreOptions) -> Result<Store> {
        let db = match location {
            Location::Memory => Db::Memory(Arc::new(MemDb::new())),
            Location::Dir(dir) => Db::Sqlite(Arc::new(SqliteDb::open(dir).await?)),
            Location::Postgres(url) => Db::Postgres(Arc::new(PgDb::open(url).await?)),
        };
        Ok(Store::from_db(db, options, location.describe()))
    }

    /// A fresh in-memory store (nothing survives the process; clones share it).
    pub fn memory(options: StoreOptions) -> Store {
        Store::from_db(Db::Memory(Arc::new(MemDb::new())), options, "memory".into())
    }

    fn from_db(db: Db, options: StoreOptions, location: String) -> Store {
        let inner = Inner {
            db,
            options,
            location,
            log: Mutex::new(None),
            counters: Arc::new(Counters::default()),
            cluster_pos: OnceLock::new(),
        };
        Store {
            inner: Arc::new(inner),
        }
    }

    /// `memory`, `sqlite` or `postgres`.
    pub fn kind(&self) -> &'static str {
        self.inner.db.kind()
    }

    /// Where the data lives (password redacted).
    pub fn location(&self) -> &str {
        &self.inner.location
    }

    /// The retention settings.
    pub fn options(&self) -> &StoreOptions {
        &self.inner.options
    }

    /// Transactions and entries written by the group-commit writer so far.
    pub fn stats(&self) -> CommitStats {
        self.inner.counters.stats()
    }

    /// The schema version of the database.
    pub async fn schema_version(&self) -> Result<i64> {
        self.inner.db.schema_version().await
    }

    /// A small setting (e.g. the admin token's SHA-256), or `None` if unset.
    pub async fn get_meta(&self, key: &str) -> Result<Option<String>> {
        check_key(key)?;
        self.inner.db.get_meta(key).await
    }

    /// Sets a small setting; durable when this returns.
    pub async fn set_meta(&self, key: &str, value: &str) -> Result<()> {
        check_key(key)?;
        if value.len() > MAX_META_VALUE {
            return Err(StoreError::Invalid(format!(
                "meta value for `{key}` is {} bytes; at most {MAX_META_VALUE} are allowed",
                value.len()
            )));
        }
        self.inner.db.set_meta(key, value).await
    }

    /// Sets `key` to `value` unless it already has a value, and returns the value now stored:
    /// of several nodes starting at once on one database, exactly one value wins and every
    /// node gets it (e.g. the cluster's shared signing key).
    pub async fn init_meta(&self, key: &str, value: &str) -> Result<String> {
        check_key(key)?;
        if value.len() > MAX_META_VALUE {
            return Err(StoreError::Invalid(format!(
                "meta value for `{key}` is {} bytes; at most {MAX_META_VALUE} are allowed",
                value.len()
            )));
        }
        self.inner.db.init_meta(key, value).await?;
        self.inner.db.get_meta(key).await?.ok_or_else(|| {
            StoreError::Database(format!("meta key `{key}` vanished right after it was set"))
        })
    }

    /// Last log position handed out by the current log (0 before recovery); in cluster mode, the
    /// newest shared-log position this node has seen.
    pub fn last_position(&self) -> u64 {
        if let Some(seen) = self.inner.cluster_pos.get() {
            return seen.load(Ordering::Acquire);
        }
        self.current_log().map_or(0, |l| l.last())
    }

    /// Whether this store serves as a cluster node (see [`Store::join_cluster`]).
    pub fn is_cluster(&self) -> bool {
        self.inner.cluster_pos.get().is_some()
    }

    pub(crate) fn current_log(&self) -> Option<Arc<LogCore>> {
        self.inner.log.lock().ok().and_then(|l| l.clone())
    }

    /// Closes the current log (after writing what is queued) and the backend, releasing the
    /// data directory. Later calls fail.
    pub async fn close(&self) {
        let log = self.inner.log.lock().ok().and_then(|mut l| l.take());
        if let Some(log) = log {
            log.close("the store was closed").await;
        }
        self.inner.db.close().await;
    }
}

fn check_key(key: &str) -> Result<()> {
    if key.is_empty() || key.len() > MAX_META_KEY || key.chars().any(char::is_control) {
        return Err(StoreError::Invalid(format!(
            "meta key `{}` must be 1 to {MAX_META_KEY} bytes without control characters",
            key.escape_debug()
        )));
    }
    Ok(())
}
