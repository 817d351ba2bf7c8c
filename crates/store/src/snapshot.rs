//! Snapshots: the serialized engine at a log position, so recovery replays only the tail.
//!
//! A snapshot is saved only once every command it reflects is durable (otherwise it could
//! contain a change that was never acknowledged and whose write then failed). Compaction runs
//! only after the snapshot row is committed, only once `snapshots_kept` snapshots exist, and
//! deletes only the commands *before* the oldest snapshot kept, so recovery can always fall back
//! to that older snapshot and still read the time of the last command.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ahv_runtime::Hypervisor;

use crate::err::{Result, StoreError};
use crate::store::Store;

impl Store {
    /// Saves `bytes` (a serialized `Engine`) as the state after position `pos`, keeps the
    /// newest `snapshots_kept`, and compacts the log if enabled. Waits until `pos` is durable
    /// first.
    pub async fn save_snapshot(&self, pos: u64, bytes: &[u8]) -> Result<()> {
        match self.current_log() {
            Some(log) => {
                if pos > log.last() {
                    return Err(StoreError::Invalid(format!(
                        "snapshot position {pos} is beyond the log's last position {}",
                        log.last()
                    )));
                }
                log.wait(pos).await.map_err(|e| StoreError::Closed(e.0))?;
            }
            None => {
                let last = self.inner.db.last_command_pos().await?;
                if pos > last {
                    return Err(StoreError::Invalid(format!(
                        "snapshot position {pos} is beyond the log's last position {last}"
                    )));
                }
            }
        }
        let keep = self.inner.options.snapshots_kept.max(1);
        let oldest = self
            .inner
            .db
            .save_snapshot(pos, bytes, now_ms(), keep)
            .await?;
        // Compact only once `keep` snapshots exist, so an unreadable newest snapshot always has
        // an older one (or the whole log) to fall back to.
        let kept = self.inner.db.snapshot_positions().await?.len();
        // Cluster mode never compacts: another node may still need any command.
        if self.inner.options.compact && !self.is_cluster() && kept >= keep && oldest > 1 {
            self.inner.db.delete_commands_through(oldest - 1).await?;
        }
        tracing::debug!(pos, bytes = bytes.len(), "snapshot saved");
        Ok(())
    }

    /// Positions of the stored snapshots, newest first.
    pub async fn snapshot_positions(&self) -> Result<Vec<u64>> {
        self.inner.db.snapshot_positions().await
    }

    /// Takes a snapshot of `hv` now and saves it; returns its position.
    pub async fn snapshot_now(&self, hv: &Hypervisor) -> Result<u64> {
        // Encoding a large state takes a while: off the async workers.
        let copy = hv.clone();
        let (pos, bytes) = tokio::task::spawn_blocking(move || copy.snapshot())
            .await
            .map_err(|e| StoreError::Encode(format!("snapshot task failed: {e}")))?
            .map_err(|e| StoreError::Encode(e.to_string()))?;
        self.save_snapshot(pos, &bytes).await?;
        Ok(pos)
    }
}

/// Saves a snapshot of `hv` every `interval` when at least `min_commands` were logged since the
/// last one. Runs until the task is aborted; failures are logged and retried next time. Skips
/// while the hypervisor has failed (its state may include changes that are not durable).
pub async fn snapshot_every(hv: Hypervisor, store: Store, interval: Duration, min_commands: u64) {
    let mut last = store
        .snapshot_positions()
        .await
        .ok()
        .and_then(|p| p.first().copied())
        .unwrap_or(0);
    let mut tick = tokio::time::interval(interval.max(Duration::from_millis(10)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tick.tick().await;
        if hv.failure().is_some() {
            continue;
        }
        if store.last_position().saturating_sub(last) < min_commands.max(1) {
            continue;
        }
        match store.snapshot_now(&hv).await {
            Ok(pos) => last = pos,
            Err(e) => tracing::warn!(error = %e, "periodic snapshot failed"),
        }
    }
}

fn now_ms() -> i64 {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    i64::try_from(ms).unwrap_or(i64::MAX)
}
