//! The SQLite backend: one file, `<data dir>/ahv.db`, in WAL mode with `synchronous=FULL`, so
//! every committed transaction is fsynced before the writer reports it durable.
//!
//! Opening checks, in order, what an operator would want to hear about first: the directory can
//! be created and written (a read-only directory is named as such), no other process holds the
//! directory's lock file (two servers on one file would fork the log), the file is an SQLite
//! database, and it is ours at a schema version this build understands.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::Write;
use std::path::Path;
use std::time::Duration;

use sqlx::pool::PoolConnection;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Connection, QueryBuilder, Row, Sqlite, SqlitePool};

use crate::batch::{Entry, EventRow, from_db, prune_below, to_db};
use crate::err::{Result, StoreError, one_line};
use crate::location::SQLITE_FILE;
use crate::schema;

/// Name of the lock file that keeps a second process off the same data directory.
pub const LOCK_FILE: &str = "ahv.lock";

/// Rows per multi-row INSERT (3 parameters each, well under SQLite's 32 766).
const CHUNK: usize = 1_000;

/// An open SQLite database and the directory lock held while it is open.
#[derive(Debug)]
pub(crate) struct SqliteDb {
    pub(crate) pool: SqlitePool,
    /// The group-commit writer's own connection (taken on first use).
    writer: tokio::sync::Mutex<Option<PoolConnection<Sqlite>>>,
    /// Held (locked) for the store's lifetime; dropping it releases the directory.
    lock: std::sync::Mutex<Option<File>>,
}

impl SqliteDb {
    /// Opens (creating on first start) `<dir>/ahv.db` and brings its schema up to date.
    pub(crate) async fn open(dir: &Path) -> Result<SqliteDb> {
        let shown = dir.display().to_string();
        prepare_dir(dir, &shown)?;
        let lock = lock_dir(dir, &shown)?;
        let path = dir.join(SQLITE_FILE);
        let what = path.display().to_string();
        let opts = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(opts)
            .await
            .map_err(|e| open_error(&what, e))?;
        let db = SqliteDb {
            pool,
            writer: tokio::sync::Mutex::new(None),
            lock: std::sync::Mutex::new(Some(lock)),
        };
        db.migrate(&what).await?;
        Ok(db)
    }

    async fn migrate(&self, what: &str) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(|e| open_error(what, e))?;
        let tables: Vec<String> = sqlx::query(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
        )
        .fetch_all(&mut *tx)
        .await
        .map_err(|e| open_error(what, e))?
        .iter()
        .map(|r| r.try_get::<String, _>(0))
        .collect::<std::result::Result<_, _>>()?;
        let version = if tables.iter().any(|t| t == "schema_version") {
            sqlx::query("SELECT MAX(version) FROM schema_version")
                .fetch_one(&mut *tx)
                .await?
                .try_get::<Option<i64>, _>(0)?
        } else {
            None
        };
        let current = schema::check(what, &tables, version, true)?;
        for m in schema::SQLITE.iter().filter(|m| m.version > current) {
            sqlx::raw_sql(m.sql).execute(&mut *tx).await?;
            sqlx::query("DELETE FROM schema_version")
                .execute(&mut *tx)
                .await?;
            sqlx::query("INSERT INTO schema_version (version) VALUES (?)")
                .bind(m.version)
                .execute(&mut *tx)
                .await?;
            tracing::info!(version = m.version, db = what, "applied schema migration");
        }
        tx.commit().await?;
        Ok(())
    }

    /// Writes a batch as ONE multi-statement query (`BEGIN IMMEDIATE; INSERT…; COMMIT`) on the
    /// writer's own connection, so a commit costs one hop to SQLite's thread plus the fsync.
    /// On failure the transaction is rolled back and the connection dropped.
    pub(crate) async fn write_batch(&self, batch: &[Entry], retention: u64) -> Result<()> {
        let commands = batch
            .iter()
            .map(|e| Ok((to_db(e.pos)?, e)))
            .collect::<Result<Vec<_>>>()?;
        let events = batch
            .iter()
            .flat_map(|e| e.events.iter())
            .map(|r| Ok((to_db(r.seq)?, r)))
            .collect::<Result<Vec<(i64, &EventRow)>>>()?;
        let mut q = QueryBuilder::<Sqlite>::new("BEGIN IMMEDIATE; ");
        for chunk in commands.chunks(CHUNK) {
            q.push("INSERT INTO commands (pos, at_ms, entry) ");
            q.push_values(chunk, |mut b, (pos, e)| {
                b.push_bind(*pos)
                    .push_bind(e.at_ms)
                    .push_bind(e.json.as_str());
            });
            q.push("; ");
        }
        for chunk in events.chunks(CHUNK) {
            q.push("INSERT OR REPLACE INTO events (seq, at_ms, json) ");
            q.push_values(chunk, |mut b, (seq, r)| {
                b.push_bind(*seq)
                    .push_bind(r.at_ms)
                    .push_bind(r.json.as_str());
            });
            q.push("; ");
        }
        if let Some(keep_from) = prune_below(batch, retention) {
            q.push("DELETE FROM events WHERE seq < ");
            q.push_bind(to_db(keep_from)?);
            q.push("; ");
        }
        q.push("COMMIT;");
        let mut slot = self.writer.lock().await;
        let conn = match slot.as_mut() {
            Some(c) => c,
            None => slot.insert(self.pool.acquire().await?),
        };
        // Batch sizes vary, so the text varies: do not fill the statement cache with it.
        let result = q.build().persistent(false).execute(&mut **conn).await;
        if let Err(e) = result {
            let _ = sqlx::query("ROLLBACK").execute(&mut **conn).await;
            if let Some(c) = slot.take() {
                let _ = c.detach().close().await;
            }
            return Err(e.into());
        }
        Ok(())
    }

    pub(crate) async fn snapshot_positions(&self) -> Result<Vec<u64>> {
        let rows = sqlx::query("SELECT pos FROM snapshots ORDER BY pos DESC")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| from_db(r.try_get(0)?)).collect()
    }

    pub(crate) async fn snapshot(&self, pos: u64) -> Result<Option<Vec<u8>>> {
        let row = sqlx::query("SELECT engine FROM snapshots WHERE pos = ?")
            .bind(to_db(pos)?)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.try_get::<Vec<u8>, _>(0)).transpose()?)
    }

    pub(crate) async fn commands_after(
        &self,
        after: u64,
        limit: usize,
    ) -> Result<Vec<(u64, String)>> {
        let rows =
            sqlx::query("SELECT pos, entry FROM commands WHERE pos > ? ORDER BY pos LIMIT ?")
                .bind(to_db(after)?)
                .bind(i64::try_from(limit).unwrap_or(i64::MAX))
                .fetch_all(&self.pool)
                .await?;
        rows.iter()
            .map(|r| Ok((from_db(r.try_get(0)?)?, r.try_get(1)?)))
            .collect()
    }

    pub(crate) async fn last_command_pos(&self) -> Result<u64> {
        let row = sqlx::query("SELECT MAX(pos) FROM commands")
            .fetch_one(&self.pool)
            .await?;
        from_db(row.try_get::<Option<i64>, _>(0)?.unwrap_or(0))
    }

    pub(crate) async fn events(&self) -> Result<Vec<(u64, String)>> {
        let rows = sqlx::query("SELECT seq, json FROM events ORDER BY seq")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| Ok((from_db(r.try_get(0)?)?, r.try_get(1)?)))
            .collect()
    }

    pub(crate) async fn save_snapshot(
        &self,
        pos: u64,
        bytes: &[u8],
        now_ms: i64,
        keep: usize,
    ) -> Result<u64> {
        let keep = i64::try_from(keep.max(1)).unwrap_or(i64::MAX);
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO snapshots (pos, engine, created_at_ms) VALUES (?, ?, ?) \
             ON CONFLICT (pos) DO UPDATE SET engine = excluded.engine, created_at_ms = excluded.created_at_ms",
        )
        .bind(to_db(pos)?)
        .bind(bytes)
        .bind(now_ms)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM snapshots WHERE pos NOT IN (SELECT pos FROM snapshots ORDER BY pos DESC LIMIT ?)")
            .bind(keep)
            .execute(&mut *tx)
            .await?;
        let oldest: Option<i64> = sqlx::query("SELECT MIN(pos) FROM snapshots")
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?;
        tx.commit().await?;
        oldest.map_or(Ok(pos), from_db)
    }

    pub(crate) async fn delete_commands_through(&self, pos: u64) -> Result<()> {
        sqlx::query("DELETE FROM commands WHERE pos <= ?")
            .bind(to_db(pos)?)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub(crate) async fn get_meta(&self, key: &str) -> Result<Option<String>> {
        let row = sqlx::query("SELECT value FROM meta WHERE key = ?")
            .bind(key)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.try_get::<String, _>(0)).transpose()?)
    }

    pub(crate) async fn set_meta(&self, key: &str, value: &str) -> Result<()> {
        sqlx::query("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value")
            .bind(key)
            .bind(value)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub(crate) async fn init_meta(&self, key: &str, value: &str) -> Result<()> {
        sqlx::query("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING")
            .bind(key)
            .bind(value)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub(crate) async fn schema_version(&self) -> Result<i64> {
        let row = sqlx::query("SELECT MAX(version) FROM schema_version")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get::<Option<i64>, _>(0)?.unwrap_or(0))
    }

    /// Closes the pool, then releases the directory lock.
    pub(crate) async fn close(&self) {
        self.writer.lock().await.take();
        self.pool.close().await;
        if let Ok(mut l) = self.lock.lock() {
            l.take();
        }
    }
}

/// Creates the directory if needed and proves it is writable.
fn prepare_dir(dir: &Path, shown: &str) -> Result<()> {
    let io = |e: std::io::Error| StoreError::DataDir {
        dir: shown.to_string(),
        reason: one_line(&e.to_string()),
    };
    if dir.exists() && !dir.is_dir() {
        return Err(StoreError::DataDir {
            dir: shown.to_string(),
            reason: "it exists and is not a directory".into(),
        });
    }
    if let Err(e) = std::fs::create_dir_all(dir) {
        return Err(if read_only(&e) {
            read_only_err(shown, &e)
        } else {
            io(e)
        });
    }
    let probe = dir.join(format!(".ahv-write-probe-{}", std::process::id()));
    let written = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&probe)
        .and_then(|mut f| {
            f.write_all(b"ok")?;
            f.sync_all()
        });
    let _ = std::fs::remove_file(&probe);
    match written {
        Ok(()) => Ok(()),
        Err(e) if read_only(&e) => Err(read_only_err(shown, &e)),
        Err(e) => Err(io(e)),
    }
}

fn read_only(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem
    )
}

fn read_only_err(shown: &str, e: &std::io::Error) -> StoreError {
    StoreError::ReadOnly {
        dir: shown.to_string(),
        reason: one_line(&e.to_string()),
    }
}

/// Takes the directory's exclusive lock, so two processes never append to one log.
fn lock_dir(dir: &Path, shown: &str) -> Result<File> {
    let path = dir.join(LOCK_FILE);
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| StoreError::DataDir {
            dir: shown.to_string(),
            reason: one_line(&e.to_string()),
        })?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(TryLockError::WouldBlock) => Err(StoreError::DataDir {
            dir: shown.to_string(),
            reason: format!(
                "another process holds `{LOCK_FILE}` (is another server running on it?)"
            ),
        }),
        Err(TryLockError::Error(e)) => Err(StoreError::DataDir {
            dir: shown.to_string(),
            reason: one_line(&e.to_string()),
        }),
    }
}

/// Names the two ways a file can fail to be our database.
fn open_error(what: &str, e: sqlx::Error) -> StoreError {
    if let sqlx::Error::Database(d) = &e {
        // SQLITE_NOTADB (26) and SQLITE_CORRUPT (11).
        if matches!(d.code().as_deref(), Some("26") | Some("11")) {
            return StoreError::NotADatabase {
                path: what.to_string(),
                reason: one_line(d.message()),
            };
        }
    }
    StoreError::Connect {
        what: what.to_string(),
        reason: one_line(&e.to_string()),
    }
}
