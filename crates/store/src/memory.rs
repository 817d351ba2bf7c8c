//! The in-memory backend: the same tables as the SQL backends, in `BTreeMap`s.
//!
//! It exists so tests, benchmarks and demos use exactly the code paths of the durable backends
//! (group commit, snapshots, recovery) without a file. A store and its clones share one
//! [`MemDb`], so "drop the hypervisor and recover" works within a process. Commands are bounded
//! only by compaction (a snapshot deletes the commands it covers), as in the SQL backends.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

use crate::batch::{Entry, prune_below};
use crate::err::{Result, StoreError};

#[derive(Debug, Default)]
struct Tables {
    commands: BTreeMap<u64, String>,
    events: BTreeMap<u64, String>,
    snapshots: BTreeMap<u64, Vec<u8>>,
    meta: BTreeMap<String, String>,
}

/// The in-memory tables.
#[derive(Debug)]
pub(crate) struct MemDb {
    tables: Mutex<Tables>,
}

impl MemDb {
    /// Empty tables.
    pub(crate) fn new() -> Self {
        MemDb {
            tables: Mutex::new(Tables::default()),
        }
    }

    fn lock(&self) -> Result<MutexGuard<'_, Tables>> {
        self.tables
            .lock()
            .map_err(|_| StoreError::Database("memory store lock poisoned".into()))
    }

    pub(crate) fn write_batch(&self, batch: &[Entry], retention: u64) -> Result<()> {
        let mut t = self.lock()?;
        for e in batch {
            if t.commands.contains_key(&e.pos) {
                return Err(StoreError::Database(format!(
                    "position {} already written",
                    e.pos
                )));
            }
        }
        for e in batch {
            t.commands.insert(e.pos, e.json.clone());
            for ev in &e.events {
                t.events.insert(ev.seq, ev.json.clone());
            }
        }
        if let Some(keep_from) = prune_below(batch, retention) {
            t.events = t.events.split_off(&keep_from);
        }
        Ok(())
    }

    pub(crate) fn snapshot_positions(&self) -> Result<Vec<u64>> {
        Ok(self.lock()?.snapshots.keys().rev().copied().collect())
    }

    pub(crate) fn snapshot(&self, pos: u64) -> Result<Option<Vec<u8>>> {
        Ok(self.lock()?.snapshots.get(&pos).cloned())
    }

    pub(crate) fn commands_after(&self, after: u64, limit: usize) -> Result<Vec<(u64, String)>> {
        let t = self.lock()?;
        Ok(t.commands
            .range(after.saturating_add(1)..)
            .take(limit)
            .map(|(p, j)| (*p, j.clone()))
            .collect())
    }

    pub(crate) fn last_command_pos(&self) -> Result<u64> {
        Ok(self
            .lock()?
            .commands
            .keys()
            .next_back()
            .copied()
            .unwrap_or(0))
    }

    pub(crate) fn events(&self) -> Result<Vec<(u64, String)>> {
        Ok(self
            .lock()?
            .events
            .iter()
            .map(|(s, j)| (*s, j.clone()))
            .collect())
    }

    pub(crate) fn save_snapshot(&self, pos: u64, bytes: &[u8], keep: usize) -> Result<u64> {
        let mut t = self.lock()?;
        t.snapshots.insert(pos, bytes.to_vec());
        while t.snapshots.len() > keep.max(1) {
            t.snapshots.pop_first();
        }
        Ok(t.snapshots.keys().next().copied().unwrap_or(pos))
    }

    pub(crate) fn delete_commands_through(&self, pos: u64) -> Result<()> {
        let mut t = self.lock()?;
        t.commands = t.commands.split_off(&pos.saturating_add(1));
        Ok(())
    }

    pub(crate) fn get_meta(&self, key: &str) -> Result<Option<String>> {
        Ok(self.lock()?.meta.get(key).cloned())
    }

    pub(crate) fn set_meta(&self, key: &str, value: &str) -> Result<()> {
        self.lock()?.meta.insert(key.to_string(), value.to_string());
        Ok(())
    }

    pub(crate) fn init_meta(&self, key: &str, value: &str) -> Result<()> {
        self.lock()?
            .meta
            .entry(key.to_string())
            .or_insert_with(|| value.to_string());
        Ok(())
    }
}
