//! Cluster mode on PostgreSQL: the [`SharedLog`] several `ahv serve` nodes share.
//!
//! The `commands` table is one linear log for all nodes. A node appends only in a sequencing
//! round ([`SharedLog::round`]): one transaction that takes a transaction-scoped advisory lock
//! (keyed by the schema, so installations in different schemas of one database do not contend),
//! reads what other nodes appended since the node's position, lets the node decide on that
//! caught-up state, inserts its commands and events at the following positions and commits.
//! Rounds are therefore serialized across the cluster and commit in position order, so a reader
//! without the lock always sees a gap-free prefix of the log.
//!
//! Saga leases live in `saga_leases` (holder, fencing epoch, expiry by the database's clock, so
//! node clocks do not matter). Snapshots are allowed in cluster mode but the log is **never
//! compacted**: a lagging or newly started node may still need any command, and snapshots let a
//! starting node skip most of the replay anyway.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use ahv_core::engine::{Engine, EngineConfig, LoggedCommand};
use ahv_core::id::SagaId;
use ahv_core::time::Timestamp;
use ahv_runtime::cluster::{Decide, Fence, Lease, Rebuilt, RoundDone, SharedFuture, SharedLog};
use ahv_runtime::{LogError, StoredEvent};
use sqlx::Row;

use crate::backend::Db;
use crate::batch::{from_db, to_db};
use crate::commit::encode;
use crate::err::{Result, StoreError};
use crate::mode::LogMode;
use crate::postgres::{PgDb, write_batch_on};
use crate::store::Store;

/// First key of the sequencing advisory lock (`ahv1`); the second is the schema's hash.
const SEQUENCE_LOCK: i32 = 0x6168_7631;

/// The database's clock in ms since the epoch, as SQL.
const NOW_MS: &str = "(extract(epoch from clock_timestamp()) * 1000)::bigint";

/// Default saga lease lifetime: a node that stops renewing loses its sagas after this long.
pub const DEFAULT_LEASE_TTL: Duration = Duration::from_secs(10);

/// Longest accepted node id.
pub const MAX_NODE_ID: usize = 64;

/// A node's engine rebuilt from the shared log, ready for `Hypervisor::new_cluster`.
#[derive(Debug)]
pub struct Replica {
    /// The engine at `pos`.
    pub engine: Engine,
    /// Last position the engine reflects.
    pub pos: u64,
    /// Time of the last command, if known (start the clock no earlier than this).
    pub last_at: Option<Timestamp>,
    /// Retained events, oldest first, for `EventBus::restore`.
    pub events: Vec<StoredEvent>,
    /// The shared log to hand to `Hypervisor::new_cluster`.
    pub shared: Arc<dyn SharedLog>,
    /// Position of the snapshot the engine started from, if any.
    pub snapshot_pos: Option<u64>,
    /// Commands replayed after it.
    pub replayed: u64,
}

/// The PostgreSQL [`SharedLog`] of one node.
#[derive(Debug)]
pub(crate) struct PgShared {
    store: Store,
    db: Arc<PgDb>,
    node: String,
    ttl_ms: i64,
    retention: u64,
    config: EngineConfig,
    /// Newest position this node has seen committed (for `Store::last_position`).
    seen: Arc<AtomicU64>,
}

fn log_err(e: impl std::fmt::Display) -> LogError {
    LogError(format!("postgres: {e}"))
}

fn parse(pos: u64, json: &str) -> std::result::Result<LoggedCommand, LogError> {
    serde_json::from_str(json)
        .map_err(|e| LogError(format!("command at position {pos} cannot be read: {e}")))
}

impl Store {
    /// Joins the cluster of nodes sharing this PostgreSQL database as `node_id`: rebuilds the
    /// engine (snapshot + replay) consistently with the retained events while holding the
    /// sequencing lock, and returns it with the shared log. Saga leases this node takes last
    /// `lease_ttl` unless renewed. Fails on other backends: one SQLite file cannot be shared.
    /// Fails with [`StoreError::SingleNodeLog`] on a database a single node writes (see
    /// [`crate::LOG_MODE_KEY`]); claims an unmarked database for the cluster.
    pub async fn join_cluster(
        &self,
        node_id: &str,
        config: EngineConfig,
        lease_ttl: Duration,
    ) -> Result<Replica> {
        let Db::Postgres(db) = &self.inner.db else {
            return Err(StoreError::Invalid(format!(
                "cluster mode needs a PostgreSQL store; this one is {}",
                self.kind()
            )));
        };
        if node_id.is_empty()
            || node_id.len() > MAX_NODE_ID
            || !node_id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            return Err(StoreError::Invalid(format!(
                "node id `{}` must be 1 to {MAX_NODE_ID} characters of A-Z a-z 0-9 - _ .",
                node_id.escape_debug()
            )));
        }
        // A single node's log is refused before this node writes anything.
        self.claim_log_mode(LogMode::Cluster).await?;
        let seen = self
            .inner
            .cluster_pos
            .get_or_init(|| Arc::new(AtomicU64::new(0)))
            .clone();
        let shared = Arc::new(PgShared {
            store: self.clone(),
            db: db.clone(),
            node: node_id.to_string(),
            ttl_ms: i64::try_from(lease_ttl.as_millis())
                .unwrap_or(i64::MAX / 4)
                .max(1),
            retention: self.inner.options.event_retention,
            config,
            seen,
        });
        let (state, events) = shared.rebuild_locked().await?;
        Ok(Replica {
            engine: state.engine,
            pos: state.pos,
            last_at: state.last_at,
            events,
            snapshot_pos: state.snapshot_pos,
            replayed: state.replayed,
            shared,
        })
    }

    /// The lease of `saga` in cluster mode (holder, epoch, expired), if it has one.
    pub async fn saga_lease(&self, saga: &SagaId) -> Result<Option<Lease>> {
        let Db::Postgres(db) = &self.inner.db else {
            return Ok(None);
        };
        let mut m = leases_on(&db.pool, vec![saga.as_str().to_string()]).await?;
        Ok(m.remove(saga))
    }
}

/// What a rebuild found.
struct State {
    engine: Engine,
    pos: u64,
    last_at: Option<Timestamp>,
    snapshot_pos: Option<u64>,
    replayed: u64,
}

impl PgShared {
    /// Rebuilds the engine and loads the retained events while holding the sequencing lock
    /// (session-scoped, on one pooled connection), so no round commits in between and the
    /// events match the engine's position exactly.
    async fn rebuild_locked(&self) -> Result<(State, Vec<StoredEvent>)> {
        let mut conn = self.db.pool.acquire().await?;
        sqlx::query("SELECT pg_advisory_lock($1, hashtext(current_schema()))")
            .bind(SEQUENCE_LOCK)
            .execute(&mut *conn)
            .await?;
        let result = self.rebuild_state().await;
        let unlocked = sqlx::query("SELECT pg_advisory_unlock($1, hashtext(current_schema()))")
            .bind(SEQUENCE_LOCK)
            .execute(&mut *conn)
            .await;
        if unlocked.is_err() {
            // Closing the connection releases the lock for sure.
            conn.close_on_drop();
        }
        let (state, events) = result?;
        self.seen.fetch_max(state.pos, Ordering::AcqRel);
        Ok((state, events))
    }

    async fn rebuild_state(&self) -> Result<(State, Vec<StoredEvent>)> {
        let store = &self.store;
        let (start, _) = store.start_point().await?;
        let snapshot_pos = start.as_ref().map(|(_, p)| *p);
        let (mut engine, from) = match start {
            Some((engine, pos)) => (engine, pos),
            None => {
                let (cfg, _) = store.genesis_config(self.config.clone()).await?;
                let engine = Engine::new(cfg)
                    .map_err(|e| StoreError::Invalid(format!("engine config: {e}")))?;
                (engine, 0)
            }
        };
        let (pos, replayed, mut last_at) = store.replay_after(&mut engine, from).await?;
        if last_at.is_none() && pos > 0 {
            last_at = store.command_time(pos).await?;
        }
        let events = store.load_events().await?;
        Ok((
            State {
                engine,
                pos,
                last_at,
                snapshot_pos,
                replayed,
            },
            events,
        ))
    }

    async fn round_inner(
        &self,
        after: u64,
        fences: Vec<Fence>,
        decide: Decide<'_>,
    ) -> std::result::Result<RoundDone, LogError> {
        let mut tx = self.db.pool.begin().await.map_err(log_err)?;
        sqlx::query("SELECT pg_advisory_xact_lock($1, hashtext(current_schema()))")
            .bind(SEQUENCE_LOCK)
            .execute(&mut *tx)
            .await
            .map_err(log_err)?;
        let rows = sqlx::query("SELECT pos, entry::text FROM commands WHERE pos > $1 ORDER BY pos")
            .bind(to_db(after).map_err(log_err)?)
            .fetch_all(&mut *tx)
            .await
            .map_err(log_err)?;
        let mut missed = Vec::with_capacity(rows.len());
        for r in &rows {
            let pos = from_db(r.try_get(0).map_err(log_err)?).map_err(log_err)?;
            let json: String = r.try_get(1).map_err(log_err)?;
            missed.push((pos, parse(pos, &json)?));
        }
        let mut pos = missed.last().map_or(after, |(p, _)| *p);
        let fence_ok = if fences.is_empty() {
            Vec::new()
        } else {
            let ids = fences
                .iter()
                .map(|f| f.saga_id.as_str().to_string())
                .collect();
            let current = leases_on(&mut *tx, ids).await.map_err(log_err)?;
            fences
                .iter()
                .map(|f| {
                    current
                        .get(&f.saga_id)
                        .is_some_and(|l| l.node == self.node && l.epoch == f.epoch)
                })
                .collect()
        };
        let plan = decide(missed, fence_ok)?;
        let mut batch = Vec::with_capacity(plan.entries.len());
        for (cmd, events) in &plan.entries {
            pos += 1;
            batch.push(encode(pos, cmd, events)?);
        }
        if !batch.is_empty() {
            write_batch_on(&mut *tx, &batch, self.retention)
                .await
                .map_err(log_err)?;
        }
        if !plan.claim.is_empty() {
            let ids: Vec<String> = plan.claim.iter().map(|s| s.as_str().to_string()).collect();
            sqlx::query(&format!(
                "INSERT INTO saga_leases (saga_id, node_id, epoch, expires_at_ms) \
                 SELECT s, $2, 1, {NOW_MS} + $3 FROM UNNEST($1::text[]) AS t(s) \
                 ON CONFLICT (saga_id) DO NOTHING"
            ))
            .bind(ids)
            .bind(&self.node)
            .bind(self.ttl_ms)
            .execute(&mut *tx)
            .await
            .map_err(log_err)?;
        }
        let leases = if plan.watch.is_empty() {
            BTreeMap::new()
        } else {
            let ids = plan.watch.iter().map(|s| s.as_str().to_string()).collect();
            leases_on(&mut *tx, ids).await.map_err(log_err)?
        };
        tx.commit().await.map_err(log_err)?;
        if !batch.is_empty() {
            let events = batch.iter().map(|e| e.events.len()).sum();
            self.store.inner.counters.record(batch.len(), events);
        }
        self.seen.fetch_max(pos, Ordering::AcqRel);
        Ok(RoundDone {
            last_pos: pos,
            leases,
        })
    }
}

/// Current leases of the sagas named `ids`.
async fn leases_on<'e, E: sqlx::PgExecutor<'e>>(
    ex: E,
    ids: Vec<String>,
) -> Result<BTreeMap<SagaId, Lease>> {
    let rows = sqlx::query(&format!(
        "SELECT saga_id, node_id, epoch, expires_at_ms < {NOW_MS} FROM saga_leases \
         WHERE saga_id = ANY($1::text[])"
    ))
    .bind(ids)
    .fetch_all(ex)
    .await?;
    let mut out = BTreeMap::new();
    for r in rows {
        let id: String = r.try_get(0)?;
        let saga = SagaId::new(id.clone())
            .map_err(|e| StoreError::Corrupt(format!("lease of saga `{id}`: {e}")))?;
        out.insert(
            saga,
            Lease {
                node: r.try_get(1)?,
                epoch: from_db(r.try_get(2)?)?,
                expired: r.try_get(3)?,
            },
        );
    }
    Ok(out)
}

impl SharedLog for PgShared {
    fn node_id(&self) -> &str {
        &self.node
    }

    fn round<'a>(
        &'a self,
        after: u64,
        fences: Vec<Fence>,
        decide: Decide<'a>,
    ) -> SharedFuture<'a, RoundDone> {
        Box::pin(self.round_inner(after, fences, decide))
    }

    fn read_after(&self, after: u64, limit: usize) -> SharedFuture<'_, Vec<(u64, LoggedCommand)>> {
        Box::pin(async move {
            let rows = self
                .db
                .commands_after(after, limit)
                .await
                .map_err(log_err)?;
            let mut out = Vec::with_capacity(rows.len());
            for (pos, json) in rows {
                out.push((pos, parse(pos, &json)?));
            }
            if let Some((p, _)) = out.last() {
                self.seen.fetch_max(*p, Ordering::AcqRel);
            }
            Ok(out)
        })
    }

    fn leases(&self, sagas: Vec<SagaId>) -> SharedFuture<'_, BTreeMap<SagaId, Lease>> {
        Box::pin(async move {
            let ids = sagas.iter().map(|s| s.as_str().to_string()).collect();
            leases_on(&self.db.pool, ids).await.map_err(log_err)
        })
    }

    fn renew_leases(&self) -> SharedFuture<'_, Vec<SagaId>> {
        Box::pin(async move {
            let rows = sqlx::query(&format!(
                "UPDATE saga_leases SET expires_at_ms = {NOW_MS} + $2 WHERE node_id = $1 \
                 RETURNING saga_id"
            ))
            .bind(&self.node)
            .bind(self.ttl_ms)
            .fetch_all(&self.db.pool)
            .await
            .map_err(log_err)?;
            let mut out = Vec::with_capacity(rows.len());
            for r in rows {
                let id: String = r.try_get(0).map_err(log_err)?;
                out.push(SagaId::new(id).map_err(log_err)?);
            }
            Ok(out)
        })
    }

    fn release_leases(&self, sagas: Vec<SagaId>) -> SharedFuture<'_, ()> {
        Box::pin(async move {
            let ids: Vec<String> = sagas.iter().map(|s| s.as_str().to_string()).collect();
            sqlx::query("DELETE FROM saga_leases WHERE node_id = $1 AND saga_id = ANY($2::text[])")
                .bind(&self.node)
                .bind(ids)
                .execute(&self.db.pool)
                .await
                .map_err(log_err)?;
            Ok(())
        })
    }

    fn take_lease(&self, saga: SagaId) -> SharedFuture<'_, Option<u64>> {
        Box::pin(async move {
            let row = sqlx::query(&format!(
                "INSERT INTO saga_leases (saga_id, node_id, epoch, expires_at_ms) \
                 VALUES ($1, $2, 1, {NOW_MS} + $3) \
                 ON CONFLICT (saga_id) DO UPDATE SET node_id = excluded.node_id, \
                   epoch = saga_leases.epoch + 1, expires_at_ms = excluded.expires_at_ms \
                 WHERE saga_leases.expires_at_ms < {NOW_MS} \
                 RETURNING epoch"
            ))
            .bind(saga.as_str())
            .bind(&self.node)
            .bind(self.ttl_ms)
            .fetch_optional(&self.db.pool)
            .await
            .map_err(log_err)?;
            row.map(|r| from_db(r.try_get(0).map_err(log_err)?).map_err(log_err))
                .transpose()
        })
    }

    fn rebuild(&self) -> SharedFuture<'_, Rebuilt> {
        Box::pin(async move {
            let (state, events) = self.rebuild_locked().await.map_err(log_err)?;
            let next_event_seq = events.iter().map(|e| e.seq).max().unwrap_or(0) + 1;
            Ok(Rebuilt {
                engine: state.engine,
                pos: state.pos,
                last_at: state.last_at,
                next_event_seq,
            })
        })
    }
}
