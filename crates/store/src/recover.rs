//! Recovery: rebuild the engine from the newest usable snapshot plus the commands after it.
//!
//! The engine is deterministic and every logged command carries its time and id seed, so
//! replaying the log in order reproduces exactly the state callers were acknowledged. Replay
//! rebuilds state only: its events and saga work are discarded (the retained events are loaded
//! from the events table instead, and nothing is sent anywhere).
//!
//! The engine configuration used for the very first command is recorded in `meta`
//! ([`GENESIS_CONFIG_KEY`]); a replay from the beginning uses it, because the same commands
//! under different limits could decide differently. A snapshot carries its own configuration.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ahv_core::engine::{Engine, EngineConfig, LoggedCommand};
use ahv_core::event::Event;
use ahv_core::time::Timestamp;
use ahv_runtime::{CommandLog, StoredEvent};

use crate::commit::{GroupLog, LogCore};
use crate::err::{Result, StoreError};
use crate::mode::LogMode;
use crate::store::Store;

/// Meta key holding the JSON `EngineConfig` the log was started with.
pub const GENESIS_CONFIG_KEY: &str = "engine.genesis_config";

/// Commands read per query while replaying.
const PAGE: usize = 10_000;

/// Everything needed to start the runtime where it stopped.
#[derive(Debug)]
pub struct Recovered {
    /// The rebuilt engine state.
    pub engine: Engine,
    /// The log to hand to `Hypervisor::new`; it continues numbering after `report.last_pos`.
    pub log: Arc<dyn CommandLog>,
    /// Retained events, oldest first, for `EventBus::restore`.
    pub events: Vec<StoredEvent>,
    /// What recovery did.
    pub report: RecoveryReport,
}

/// What recovery found and did, for the start-up log line.
#[derive(Clone, Debug, PartialEq)]
pub struct RecoveryReport {
    /// Backend name.
    pub backend: &'static str,
    /// Position of the snapshot recovery started from, if any.
    pub snapshot_pos: Option<u64>,
    /// Newer snapshots that could not be read and were skipped.
    pub snapshots_skipped: usize,
    /// Commands replayed after the snapshot.
    pub replayed: u64,
    /// Last durable position; new commands are numbered after it.
    pub last_pos: u64,
    /// Time of the last logged command, if known (start the clock no earlier than this).
    pub last_at: Option<Timestamp>,
    /// Retained events loaded.
    pub events: usize,
    /// Whether the stored genesis configuration was used instead of the one passed in, because
    /// they differ (the passed one applies only to a brand-new log).
    pub stored_config_used: bool,
    /// How long recovery took.
    pub duration: Duration,
}

impl Store {
    /// Rebuilds the engine and returns it with a log ready to continue. A log returned by an
    /// earlier recovery of this store is closed first (it drains what it queued; later appends
    /// to it fail), so only one log writes at a time. Must be called inside a Tokio runtime.
    /// Fails with [`StoreError::ClusterLog`] on a database cluster nodes write (see
    /// [`crate::LOG_MODE_KEY`]); claims an unmarked database for a single node.
    pub async fn recover(&self, config: EngineConfig) -> Result<Recovered> {
        let started = Instant::now();
        // A cluster's shared log is refused before anything is written or closed.
        self.claim_log_mode(LogMode::Single).await?;
        let previous = self.inner.log.lock().ok().and_then(|mut l| l.take());
        if let Some(prev) = previous {
            prev.close("superseded by a newer recovery of the store")
                .await;
        }
        let db = &self.inner.db;
        let (start, snapshots_skipped) = self.start_point().await?;
        let snapshot_pos = start.as_ref().map(|(_, pos)| *pos);
        let (mut engine, from, stored_config_used) = match start {
            Some((engine, pos)) => (engine, pos, false),
            None => {
                let (cfg, stored) = self.genesis_config(config).await?;
                let engine = Engine::new(cfg)
                    .map_err(|e| StoreError::Invalid(format!("engine config: {e}")))?;
                (engine, 0, stored)
            }
        };
        let (last_pos, replayed, mut last_at) = self.replay_after(&mut engine, from).await?;
        if last_at.is_none() && last_pos > 0 {
            last_at = self.command_time(last_pos).await?;
        }
        let events = self.load_events().await?;
        let core = LogCore::start(
            db.clone(),
            last_pos,
            self.inner.options.event_retention,
            self.inner.counters.clone(),
        );
        if let Ok(mut slot) = self.inner.log.lock() {
            *slot = Some(core.clone());
        }
        let report = RecoveryReport {
            backend: db.kind(),
            snapshot_pos,
            snapshots_skipped,
            replayed,
            last_pos,
            last_at,
            events: events.len(),
            stored_config_used,
            duration: started.elapsed(),
        };
        tracing::info!(?report, "recovered");
        Ok(Recovered {
            engine,
            log: Arc::new(GroupLog { core }),
            events,
            report,
        })
    }

    /// Replays the whole log from position 1 onto a fresh engine, ignoring snapshots: a check
    /// that a snapshot equals what the log says. Fails if the log was compacted. Writes nothing.
    pub async fn replay_from_start(&self, config: EngineConfig) -> Result<Engine> {
        let cfg = match self.inner.db.get_meta(GENESIS_CONFIG_KEY).await? {
            Some(stored) => serde_json::from_str(&stored).map_err(|e| {
                StoreError::Corrupt(format!("stored engine config cannot be read: {e}"))
            })?,
            None => config,
        };
        let mut engine =
            Engine::new(cfg).map_err(|e| StoreError::Invalid(format!("engine config: {e}")))?;
        let (last_pos, _, _) = self.replay_after(&mut engine, 0).await?;
        let newest_snapshot = self
            .inner
            .db
            .snapshot_positions()
            .await?
            .first()
            .copied()
            .unwrap_or(0);
        if last_pos < newest_snapshot {
            return Err(StoreError::Corrupt(format!(
                "the log ends at position {last_pos} but a snapshot is at {newest_snapshot}: it was compacted"
            )));
        }
        Ok(engine)
    }

    /// Replays every command after `from` onto `engine`, checking the positions are gap-free.
    /// Returns the last position, how many were replayed and the last command's time.
    pub(crate) async fn replay_after(
        &self,
        engine: &mut Engine,
        from: u64,
    ) -> Result<(u64, u64, Option<Timestamp>)> {
        let (mut last_pos, mut replayed, mut last_at) = (from, 0u64, None);
        loop {
            let page = self.inner.db.commands_after(last_pos, PAGE).await?;
            if page.is_empty() {
                return Ok((last_pos, replayed, last_at));
            }
            for (pos, json) in page {
                if pos != last_pos + 1 {
                    return Err(StoreError::Corrupt(format!(
                        "the command log has a gap: expected position {}, found {pos}",
                        last_pos + 1
                    )));
                }
                let cmd: LoggedCommand = serde_json::from_str(&json).map_err(|e| {
                    StoreError::Corrupt(format!("command at position {pos} cannot be read: {e}"))
                })?;
                // Only state matters here: events and saga work of a replay go nowhere.
                let _ = engine.replay(&cmd);
                last_at = Some(cmd.at);
                last_pos = pos;
                replayed += 1;
            }
        }
    }

    /// The newest readable snapshot (engine and position), or none; and how many newer ones
    /// were unreadable. A snapshot is usable only if the log continues right after it.
    pub(crate) async fn start_point(&self) -> Result<(Option<(Engine, u64)>, usize)> {
        let db = &self.inner.db;
        let mut skipped = 0;
        for pos in db.snapshot_positions().await? {
            let Some(bytes) = db.snapshot(pos).await? else {
                continue;
            };
            match serde_json::from_slice::<Engine>(&bytes) {
                Ok(engine) => return Ok((Some((engine, pos)), skipped)),
                Err(e) => {
                    tracing::warn!(pos, error = %e, "snapshot cannot be read; trying an older one");
                    skipped += 1;
                }
            }
        }
        if skipped > 0 {
            // Replaying from the beginning is only possible if nothing was compacted away.
            let first = db.commands_after(0, 1).await?;
            if first.first().is_some_and(|(p, _)| *p != 1) {
                return Err(StoreError::Corrupt(format!(
                    "{skipped} snapshot(s) cannot be read and the commands before them were compacted"
                )));
            }
        }
        Ok((None, skipped))
    }

    /// The configuration to replay from the beginning with: the stored one if any (recording
    /// `given` when there is none), and whether it differs from `given`.
    pub(crate) async fn genesis_config(&self, given: EngineConfig) -> Result<(EngineConfig, bool)> {
        let given_json = serde_json::to_string(&given)
            .map_err(|e| StoreError::Encode(format!("engine config: {e}")))?;
        match self.inner.db.get_meta(GENESIS_CONFIG_KEY).await? {
            Some(stored) if stored == given_json => Ok((given, false)),
            Some(stored) => {
                let cfg: EngineConfig = serde_json::from_str(&stored).map_err(|e| {
                    StoreError::Corrupt(format!("stored engine config cannot be read: {e}"))
                })?;
                // Written by an older version: a setting added since reads as its default, so
                // the text differs while the configuration is the same.
                if cfg == given {
                    return Ok((given, false));
                }
                tracing::warn!(
                    "engine config differs from the one the log started with; replaying with the stored one"
                );
                Ok((cfg, true))
            }
            None => {
                self.inner
                    .db
                    .set_meta(GENESIS_CONFIG_KEY, &given_json)
                    .await?;
                Ok((given, false))
            }
        }
    }

    pub(crate) async fn command_time(&self, pos: u64) -> Result<Option<Timestamp>> {
        let rows = self
            .inner
            .db
            .commands_after(pos.saturating_sub(1), 1)
            .await?;
        Ok(rows
            .into_iter()
            .find(|(p, _)| *p == pos)
            .and_then(|(_, json)| serde_json::from_str::<LoggedCommand>(&json).ok())
            .map(|c| c.at))
    }

    pub(crate) async fn load_events(&self) -> Result<Vec<StoredEvent>> {
        self.inner
            .db
            .events()
            .await?
            .into_iter()
            .map(|(seq, json)| {
                let event: Event = serde_json::from_str(&json)
                    .map_err(|e| StoreError::Corrupt(format!("event {seq} cannot be read: {e}")))?;
                Ok(StoredEvent {
                    seq,
                    event_id: format!("evt-{seq}"),
                    event,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::StoreOptions;

    #[tokio::test]
    async fn a_genesis_config_from_an_older_version_is_the_same_config() {
        let store = Store::memory(StoreOptions::default());
        let given = EngineConfig::default();
        let mut older = serde_json::to_value(&given).unwrap();
        older
            .as_object_mut()
            .unwrap()
            .remove("max_hypervisor_log_leaves");
        store
            .inner
            .db
            .set_meta(GENESIS_CONFIG_KEY, &older.to_string())
            .await
            .unwrap();
        assert_eq!(
            store.genesis_config(given.clone()).await.unwrap(),
            (given.clone(), false)
        );
        // A real difference is still reported, and the stored configuration wins.
        let other = EngineConfig {
            consensus_quorum: 5,
            ..given.clone()
        };
        assert_eq!(store.genesis_config(other).await.unwrap(), (given, true));
    }
}
