//! The command log with group commit.
//!
//! `append` runs under the engine lock, so it does no I/O: it encodes the entry, gives it the next
//! position and pushes it onto an in-memory queue. One writer task per log drains everything
//! queued, writes it in one transaction (one fsync for the whole batch), then publishes the new
//! durable position on a `watch` channel; every caller waiting in `wait_durable` for a position
//! at or below it is released together. While a batch is being written, new appends pile up and
//! form the next batch, so the more concurrent callers there are, the more entries share an
//! fsync.
//!
//! A write error fails the whole batch: every waiter for it (and after it) gets the error, the
//! log refuses further appends, and the runtime stops accepting changes. Nothing after the last
//! durable position was acknowledged, so recovery replays exactly what callers were told.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use ahv_core::engine::LoggedCommand;
use ahv_runtime::log::LogFuture;
use ahv_runtime::{CommandLog, LogError, StoredEvent};
use tokio::sync::{Notify, watch};

use crate::backend::Db;
use crate::batch::{Entry, EventRow};

/// Counters of the group-commit writers of one store (over all its logs).
#[derive(Debug, Default)]
pub(crate) struct Counters {
    batches: AtomicU64,
    entries: AtomicU64,
    events: AtomicU64,
}

impl Counters {
    /// Counts one committed transaction of `entries` commands and `events` events.
    pub(crate) fn record(&self, entries: usize, events: usize) {
        self.batches.fetch_add(1, Ordering::Relaxed);
        self.entries.fetch_add(entries as u64, Ordering::Relaxed);
        self.events.fetch_add(events as u64, Ordering::Relaxed);
    }

    pub(crate) fn stats(&self) -> CommitStats {
        CommitStats {
            batches: self.batches.load(Ordering::Relaxed),
            entries: self.entries.load(Ordering::Relaxed),
            events: self.events.load(Ordering::Relaxed),
        }
    }
}

/// How much the group-commit writer has done: `batches` is the number of transactions (each one
/// fsync on SQLite), `entries` the commands they carried.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CommitStats {
    /// Transactions committed.
    pub batches: u64,
    /// Commands written.
    pub entries: u64,
    /// Events written.
    pub events: u64,
}

/// The last durable position, or why the log stopped.
#[derive(Clone, Debug, Default)]
struct Durable {
    pos: u64,
    failed: Option<String>,
}

#[derive(Debug)]
struct Queue {
    /// Last position handed out.
    last: u64,
    pending: Vec<Entry>,
    failed: Option<String>,
    closed: Option<String>,
}

/// The state shared by the log handle, its writer task and the store.
#[derive(Debug)]
pub(crate) struct LogCore {
    queue: Mutex<Queue>,
    wake: Notify,
    durable: watch::Receiver<Durable>,
}

impl LogCore {
    /// A log continuing after position `last` (everything up to it is durable), with its writer
    /// task started. Must be called inside a Tokio runtime.
    pub(crate) fn start(
        db: Db,
        last: u64,
        retention: u64,
        counters: Arc<Counters>,
    ) -> Arc<LogCore> {
        let (tx, rx) = watch::channel(Durable {
            pos: last,
            failed: None,
        });
        let core = Arc::new(LogCore {
            queue: Mutex::new(Queue {
                last,
                pending: Vec::new(),
                failed: None,
                closed: None,
            }),
            wake: Notify::new(),
            durable: rx,
        });
        tokio::spawn(write_loop(core.clone(), db, tx, retention, counters));
        core
    }

    fn append(&self, entry: &LoggedCommand, events: &[StoredEvent]) -> Result<u64, LogError> {
        let encoded = encode(0, entry, events)?;
        let mut q = self
            .queue
            .lock()
            .map_err(|_| LogError("log queue lock poisoned".into()))?;
        if let Some(why) = &q.failed {
            return Err(LogError(format!("an earlier write failed: {why}")));
        }
        if let Some(why) = &q.closed {
            return Err(LogError(why.clone()));
        }
        q.last += 1;
        let pos = q.last;
        q.pending.push(Entry { pos, ..encoded });
        drop(q);
        self.wake.notify_one();
        Ok(pos)
    }

    /// Waits until `pos` is durable, or fails with the write error that stopped the log.
    pub(crate) async fn wait(&self, pos: u64) -> Result<(), LogError> {
        let mut rx = self.durable.clone();
        let seen = rx
            .wait_for(|d| d.pos >= pos || d.failed.is_some())
            .await
            .map(|d| d.clone());
        match seen {
            Ok(d) if d.pos >= pos => Ok(()),
            Ok(d) => Err(LogError(d.failed.unwrap_or_default())),
            Err(_) => {
                let d = self.durable.borrow().clone();
                if d.pos >= pos {
                    Ok(())
                } else {
                    Err(LogError(format!(
                        "position {pos} was never written: the log writer stopped"
                    )))
                }
            }
        }
    }

    /// Last position handed out.
    pub(crate) fn last(&self) -> u64 {
        self.queue.lock().map(|q| q.last).unwrap_or(0)
    }

    /// Refuses further appends with `why`, lets the writer drain what is queued, and waits for
    /// it to finish.
    pub(crate) async fn close(&self, why: &str) {
        if let Ok(mut q) = self.queue.lock() {
            q.closed.get_or_insert_with(|| why.to_string());
        }
        self.wake.notify_one();
        let mut rx = self.durable.clone();
        while rx.changed().await.is_ok() {}
    }
}

async fn write_loop(
    core: Arc<LogCore>,
    db: Db,
    tx: watch::Sender<Durable>,
    retention: u64,
    counters: Arc<Counters>,
) {
    loop {
        let taken = core
            .queue
            .lock()
            .map(|mut q| (std::mem::take(&mut q.pending), q.closed.is_some()))
            .map_err(drop);
        let Ok((batch, closed)) = taken else {
            tx.send_modify(|d| d.failed = Some("log queue lock poisoned".into()));
            return;
        };
        let Some(last) = batch.last().map(|e| e.pos) else {
            if closed {
                return;
            }
            core.wake.notified().await;
            continue;
        };
        match db.write_batch(&batch, retention).await {
            Ok(()) => {
                counters.batches.fetch_add(1, Ordering::Relaxed);
                counters
                    .entries
                    .fetch_add(batch.len() as u64, Ordering::Relaxed);
                let n: usize = batch.iter().map(|e| e.events.len()).sum();
                counters.events.fetch_add(n as u64, Ordering::Relaxed);
                tx.send_modify(|d| d.pos = last);
            }
            Err(e) => {
                let first = batch.first().map_or(last, |e| e.pos);
                let why = format!(
                    "{} write of positions {first}..={last} failed: {e}",
                    db.kind()
                );
                tracing::error!(error = %why, "command log write failed; the log stops");
                if let Ok(mut q) = core.queue.lock() {
                    q.failed = Some(why.clone());
                    q.pending.clear();
                }
                tx.send_modify(|d| d.failed = Some(why));
                return;
            }
        }
    }
}

/// Encodes a command and its numbered events for the backends, at log position `pos`.
pub(crate) fn encode(
    pos: u64,
    entry: &LoggedCommand,
    events: &[StoredEvent],
) -> Result<Entry, LogError> {
    let json = serde_json::to_string(entry)
        .map_err(|e| LogError(format!("cannot encode command: {e}")))?;
    let events = events
        .iter()
        .map(|e| {
            let json = serde_json::to_string(&e.event)
                .map_err(|x| LogError(format!("cannot encode event: {x}")))?;
            Ok(EventRow {
                seq: e.seq,
                at_ms: ms(e.event.at),
                json,
            })
        })
        .collect::<Result<Vec<_>, LogError>>()?;
    Ok(Entry {
        pos,
        at_ms: ms(entry.at),
        json,
        events,
    })
}

fn ms(t: ahv_core::time::Timestamp) -> i64 {
    i64::try_from(t.as_millis()).unwrap_or(i64::MAX)
}

/// The [`CommandLog`] handed to the runtime. Dropping it closes the log (its writer drains what
/// is queued and stops).
#[derive(Debug)]
pub(crate) struct GroupLog {
    pub(crate) core: Arc<LogCore>,
}

impl CommandLog for GroupLog {
    fn append(&self, entry: &LoggedCommand, events: &[StoredEvent]) -> Result<u64, LogError> {
        self.core.append(entry, events)
    }

    fn wait_durable(&self, pos: u64) -> LogFuture<'_> {
        Box::pin(self.core.wait(pos))
    }

    fn last_position(&self) -> u64 {
        self.core.last()
    }
}

impl Drop for GroupLog {
    fn drop(&mut self) {
        if let Ok(mut q) = self.core.queue.lock() {
            q.closed
                .get_or_insert_with(|| "the command log was dropped".to_string());
        }
        self.core.wake.notify_one();
    }
}
