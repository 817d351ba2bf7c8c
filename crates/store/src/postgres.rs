//! The PostgreSQL backend: the same tables as SQLite (BIGINT, JSONB, BYTEA) in the connection's
//! current schema, chosen by a `postgres://` URL.
//!
//! A commit returns once PostgreSQL has made it durable (its default `synchronous_commit=on`).
//! Migrations run under a transaction-scoped advisory lock, so several servers starting at once
//! on one database migrate it exactly once.

use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgConnection, PgPool, Row};

use crate::batch::{Entry, from_db, prune_below, to_db};
use crate::err::{Result, StoreError, one_line};
use crate::location::redact;
use crate::schema;

/// Advisory lock key taken while migrating (`ahv` schema lock).
const MIGRATION_LOCK: i64 = 0x6168_765f_7363_6865;

/// First key of the writer lock (`ahvw`); the second is the schema's hash.
const WRITER_LOCK: i32 = 0x6168_7677;

/// An open PostgreSQL pool.
#[derive(Debug)]
pub(crate) struct PgDb {
    pub(crate) pool: PgPool,
    /// The connection holding the writer lock (session-level advisory lock), once taken. It is
    /// outside the pool, so the lock lives exactly as long as this store (or its process).
    writer: tokio::sync::Mutex<Option<PgConnection>>,
}

impl PgDb {
    /// Connects to `url` and brings the schema up to date.
    pub(crate) async fn open(url: &str) -> Result<PgDb> {
        let what = redact(url);
        let opts: PgConnectOptions = url.parse().map_err(|e: sqlx::Error| StoreError::Connect {
            what: what.clone(),
            reason: one_line(&e.to_string()),
        })?;
        let pool = PgPoolOptions::new()
            .max_connections(4)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(opts)
            .await
            .map_err(|e| StoreError::Connect {
                what: what.clone(),
                reason: one_line(&e.to_string()),
            })?;
        let db = PgDb {
            pool,
            writer: tokio::sync::Mutex::new(None),
        };
        db.migrate(&what).await?;
        Ok(db)
    }

    /// See [`crate::backend::Db::hold_writer_lock`]: a session-level advisory lock on the
    /// current schema, taken without waiting on a connection of its own.
    pub(crate) async fn hold_writer_lock(&self, shared: bool) -> Result<bool> {
        let mut held = self.writer.lock().await;
        if held.is_some() {
            return Ok(true);
        }
        let mut conn = self.pool.acquire().await?.detach();
        let sql = if shared {
            "SELECT pg_try_advisory_lock_shared($1, hashtext(current_schema()))"
        } else {
            "SELECT pg_try_advisory_lock($1, hashtext(current_schema()))"
        };
        let got: bool = sqlx::query_scalar(sql)
            .bind(WRITER_LOCK)
            .fetch_one(&mut conn)
            .await?;
        if got {
            *held = Some(conn);
        }
        Ok(got)
    }

    async fn migrate(&self, what: &str) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(MIGRATION_LOCK)
            .execute(&mut *tx)
            .await?;
        let tables: Vec<String> = sqlx::query(
            "SELECT table_name::text FROM information_schema.tables WHERE table_schema = current_schema()",
        )
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|r| r.try_get::<String, _>(0))
        .collect::<std::result::Result<_, _>>()?;
        let version = if tables.iter().any(|t| t == "schema_version") {
            sqlx::query("SELECT MAX(version)::bigint FROM schema_version")
                .fetch_one(&mut *tx)
                .await?
                .try_get::<Option<i64>, _>(0)?
        } else {
            None
        };
        let current = schema::check(what, &tables, version, false)?;
        for m in schema::POSTGRES.iter().filter(|m| m.version > current) {
            sqlx::raw_sql(m.sql).execute(&mut *tx).await?;
            sqlx::query("DELETE FROM schema_version")
                .execute(&mut *tx)
                .await?;
            let v = i32::try_from(m.version)
                .map_err(|_| StoreError::Encode("schema version".into()))?;
            sqlx::query("INSERT INTO schema_version (version) VALUES ($1)")
                .bind(v)
                .execute(&mut *tx)
                .await?;
            tracing::info!(version = m.version, db = what, "applied schema migration");
        }
        tx.commit().await?;
        Ok(())
    }

    /// Writes a batch as ONE statement (data-modifying CTEs over `UNNEST`ed arrays): one round
    /// trip, atomic on its own, and the same text every time, so it stays prepared. Rows pruned
    /// are those older than the batch (a batch larger than the retention is trimmed next time).
    pub(crate) async fn write_batch(&self, batch: &[Entry], retention: u64) -> Result<()> {
        write_batch_on(&self.pool, batch, retention).await
    }

    pub(crate) async fn snapshot_positions(&self) -> Result<Vec<u64>> {
        let rows = sqlx::query("SELECT pos FROM snapshots ORDER BY pos DESC")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| from_db(r.try_get(0)?)).collect()
    }

    pub(crate) async fn snapshot(&self, pos: u64) -> Result<Option<Vec<u8>>> {
        let row = sqlx::query("SELECT engine FROM snapshots WHERE pos = $1")
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
        let rows = sqlx::query(
            "SELECT pos, entry::text FROM commands WHERE pos > $1 ORDER BY pos LIMIT $2",
        )
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
        let rows = sqlx::query("SELECT seq, json::text FROM events ORDER BY seq")
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
            "INSERT INTO snapshots (pos, engine, created_at_ms) VALUES ($1, $2, $3) \
             ON CONFLICT (pos) DO UPDATE SET engine = excluded.engine, created_at_ms = excluded.created_at_ms",
        )
        .bind(to_db(pos)?)
        .bind(bytes)
        .bind(now_ms)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM snapshots WHERE pos NOT IN (SELECT pos FROM snapshots ORDER BY pos DESC LIMIT $1)")
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
        sqlx::query("DELETE FROM commands WHERE pos <= $1")
            .bind(to_db(pos)?)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub(crate) async fn get_meta(&self, key: &str) -> Result<Option<String>> {
        let row = sqlx::query("SELECT value FROM meta WHERE key = $1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.try_get::<String, _>(0)).transpose()?)
    }

    pub(crate) async fn set_meta(&self, key: &str, value: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .bind(key)
        .bind(value)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub(crate) async fn init_meta(&self, key: &str, value: &str) -> Result<()> {
        sqlx::query("INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING")
            .bind(key)
            .bind(value)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub(crate) async fn schema_version(&self) -> Result<i64> {
        let row = sqlx::query("SELECT MAX(version)::bigint FROM schema_version")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get::<Option<i64>, _>(0)?.unwrap_or(0))
    }

    pub(crate) async fn close(&self) {
        // Release the writer lock explicitly, then close its connection. Closing alone ends the
        // session, but the server process lets go of its locks a moment after the client has
        // returned, so a writer started right after this one stopped could be refused.
        if let Some(mut conn) = self.writer.lock().await.take() {
            let _ = sqlx::query("SELECT pg_advisory_unlock_all()")
                .execute(&mut conn)
                .await;
            let _ = sqlx::Connection::close(conn).await;
        }
        self.pool.close().await;
    }
}

/// [`PgDb::write_batch`] on any executor: the pool, or the open transaction of a cluster
/// sequencing round.
pub(crate) async fn write_batch_on<'e, E: sqlx::PgExecutor<'e>>(
    ex: E,
    batch: &[Entry],
    retention: u64,
) -> Result<()> {
    let mut pos = Vec::with_capacity(batch.len());
    let mut at = Vec::with_capacity(batch.len());
    let mut entry = Vec::with_capacity(batch.len());
    let (mut seq, mut ev_at, mut json) = (Vec::new(), Vec::new(), Vec::new());
    for e in batch {
        pos.push(to_db(e.pos)?);
        at.push(e.at_ms);
        entry.push(e.json.as_str());
        for r in &e.events {
            seq.push(to_db(r.seq)?);
            ev_at.push(r.at_ms);
            json.push(r.json.as_str());
        }
    }
    let keep_from = prune_below(batch, retention).map_or(Ok(0), to_db)?;
    sqlx::query(
        "WITH c AS ( \
           INSERT INTO commands (pos, at_ms, entry) \
           SELECT p, a, e::jsonb FROM UNNEST($1::bigint[], $2::bigint[], $3::text[]) AS t(p, a, e) \
         ), ev AS ( \
           INSERT INTO events (seq, at_ms, json) \
           SELECT s, a, j::jsonb FROM UNNEST($4::bigint[], $5::bigint[], $6::text[]) AS t(s, a, j) \
           ON CONFLICT (seq) DO UPDATE SET at_ms = excluded.at_ms, json = excluded.json \
         ) \
         DELETE FROM events WHERE seq < $7",
    )
    .bind(pos)
    .bind(at)
    .bind(entry)
    .bind(seq)
    .bind(ev_at)
    .bind(json)
    .bind(keep_from)
    .execute(ex)
    .await?;
    Ok(())
}
