//! The runtime facade: one [`Hypervisor`] owns the engine, the command log, the event bus, the
//! saga runner and the background timers.
//!
//! Every state change goes through [`Hypervisor::execute`]: apply the command to the engine
//! under its lock, queue it in the command log in the same order, release the lock, wait until
//! the log says it is durable, then publish its events and start the saga work it produced. A
//! caller is answered only after its change is durable ("acknowledged means committed").
//! Reads ([`Hypervisor::read`]) take the lock briefly and never touch the log.
//!
//! A hypervisor built with [`Hypervisor::new_cluster`] is one node of several sharing a log:
//! `execute` then hands the command to the node's sequencer, which decides it in a round on
//! state caught up with every node (see [`crate::cluster`]).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::Duration;

use ahv_core::engine::{Actor, Command, Ctx, Engine, EngineError, LoggedCommand, Reply};
use ahv_core::event::EventType;
use ahv_core::id::{SagaId, SessionId, StepId};
use ahv_core::saga::{SagaCommand, StepState};
use ed25519_dalek::SigningKey;
use tokio::sync::{Notify, mpsc};

use crate::bus::{EventBus, StoredEvent};
use crate::clock::Clock;
use crate::cluster::ClusterState;
use crate::executor::StepExecutor;
use crate::log::{CommandLog, LogError};
use crate::signer::Signer;

/// Settings of the runtime around the engine.
#[derive(Clone, Debug)]
pub struct RuntimeConfig {
    /// Events kept in memory for queries and SSE resumption.
    pub event_retention: usize,
    /// How often expiries are applied (elevations, quarantines, locks, sessions).
    pub tick_interval: Duration,
    /// How often a new signed checkpoint of the hypervisor log is made (when it grew).
    pub checkpoint_interval: Duration,
    /// URL prefixes saga steps may call. Anything else is refused, so a saga cannot be used to
    /// reach internal services.
    pub step_url_allowlist: Vec<String>,
    /// Key name in signed notes.
    pub key_name: String,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            event_retention: 100_000,
            tick_interval: Duration::from_secs(1),
            checkpoint_interval: Duration::from_secs(5),
            step_url_allowlist: vec!["http://127.0.0.1".into(), "http://localhost".into()],
            key_name: "agent-hypervisor".into(),
        }
    }
}

/// What can go wrong in the runtime around a command.
#[derive(Debug, Clone, thiserror::Error)]
pub enum RuntimeError {
    /// The engine refused or denied the command.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// The command was applied but could not be made durable; the hypervisor stops accepting
    /// changes (fail closed) until restarted, and recovery replays only what is durable.
    #[error("storage failure: {0}")]
    Storage(String),
    /// The hypervisor is shutting down or failed earlier.
    #[error("hypervisor unavailable: {0}")]
    Unavailable(String),
}

impl From<LogError> for RuntimeError {
    fn from(e: LogError) -> Self {
        RuntimeError::Storage(e.0)
    }
}

pub(crate) struct Inner {
    pub(crate) engine: Mutex<Engine>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) log: Arc<dyn CommandLog>,
    pub(crate) bus: EventBus,
    pub(crate) signer: Signer,
    pub(crate) config: RuntimeConfig,
    pub(crate) executors: RwLock<BTreeMap<String, Arc<dyn StepExecutor>>>,
    pub(crate) http: reqwest::Client,
    /// Saga work for the runner, with the lease epoch it runs under (cluster mode).
    pub(crate) saga_tx: mpsc::UnboundedSender<(SagaId, SagaCommand, Option<u64>)>,
    /// Woken after every command that touched a saga.
    pub(crate) saga_changed: Notify,
    /// Woken after every command that granted or released a lock.
    pub(crate) locks_changed: Notify,
    /// Set when durability failed: no further changes are accepted.
    pub(crate) failed: Mutex<Option<String>>,
    /// Random base of the per-command id seeds, drawn once per process on first use.
    pub(crate) seed_base: OnceLock<[u8; 16]>,
    /// Commands seeded so far; mixed into the base so every command's seed is distinct.
    pub(crate) seed_counter: AtomicU64,
    /// Set when this hypervisor is a node of a cluster sharing one log.
    pub(crate) cluster: Option<ClusterState>,
}

/// The running hypervisor. Cheap to clone; all clones share one engine.
#[derive(Clone)]
pub struct Hypervisor {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Hypervisor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hypervisor").finish_non_exhaustive()
    }
}

impl Hypervisor {
    /// Wraps a (fresh or recovered) engine. Must be called inside a Tokio runtime: it starts
    /// the saga runner. Call [`Hypervisor::start_background`] for the timers.
    pub fn new(
        engine: Engine,
        log: Arc<dyn CommandLog>,
        clock: Arc<dyn Clock>,
        key: SigningKey,
        config: RuntimeConfig,
    ) -> Self {
        Hypervisor::build(engine, log, clock, key, config, None)
    }

    /// [`Hypervisor::new`], optionally as a cluster node.
    pub(crate) fn build(
        engine: Engine,
        log: Arc<dyn CommandLog>,
        clock: Arc<dyn Clock>,
        key: SigningKey,
        config: RuntimeConfig,
        cluster: Option<ClusterState>,
    ) -> Self {
        let (saga_tx, saga_rx) = mpsc::unbounded_channel();
        let origin = engine.config().origin.clone();
        let inner = Arc::new(Inner {
            engine: Mutex::new(engine),
            clock,
            log,
            bus: EventBus::new(config.event_retention),
            signer: Signer::new(key, &config.key_name, &origin),
            executors: RwLock::new(BTreeMap::new()),
            http: reqwest::Client::new(),
            saga_tx,
            saga_changed: Notify::new(),
            locks_changed: Notify::new(),
            failed: Mutex::new(None),
            seed_base: OnceLock::new(),
            seed_counter: AtomicU64::new(0),
            cluster,
            config,
        });
        let hv = Hypervisor { inner };
        crate::saga_runner::spawn(&hv, saga_rx);
        hv
    }

    /// Applies a command on behalf of `actor` and answers once it is durable. In cluster mode
    /// the command is decided in a sequencing round on state caught up with every node.
    pub async fn execute(&self, actor: Actor, cmd: Command) -> Result<Reply, RuntimeError> {
        if self.inner.cluster.is_some() {
            return self.execute_fenced(actor, cmd, None).await;
        }
        self.execute_local(actor, cmd).await
    }

    /// Single-node execution: apply, queue in the log, wait until durable, publish.
    pub(crate) async fn execute_local(
        &self,
        actor: Actor,
        cmd: Command,
    ) -> Result<Reply, RuntimeError> {
        let (result, pending) = self.apply(actor, cmd)?;
        self.finish(pending).await?;
        result.map_err(RuntimeError::Engine)
    }

    /// A fresh id seed for one command: a random 128-bit base drawn once (one `getrandom` call
    /// per process instead of one per command) with a per-command counter XORed into its first
    /// 8 bytes, so seeds never repeat within a process and are unpredictable across processes.
    /// The seed is logged with the command as before, so replay does not depend on how it was
    /// made.
    pub(crate) fn next_seed(&self) -> Result<[u8; 16], RuntimeError> {
        let base = match self.inner.seed_base.get() {
            Some(b) => *b,
            None => {
                let mut b = [0u8; 16];
                getrandom::fill(&mut b)
                    .map_err(|e| RuntimeError::Unavailable(format!("no entropy: {e}")))?;
                *self.inner.seed_base.get_or_init(|| b)
            }
        };
        let n = self.inner.seed_counter.fetch_add(1, Ordering::Relaxed);
        let mut seed = base;
        for (s, c) in seed.iter_mut().zip(n.to_le_bytes()) {
            *s ^= c;
        }
        Ok(seed)
    }

    /// Applies under the lock and queues the log entry. Returns the outcome and what must
    /// happen once it is durable.
    fn apply(
        &self,
        actor: Actor,
        cmd: Command,
    ) -> Result<(Result<Reply, EngineError>, Pending), RuntimeError> {
        if let Some(why) = self.inner.failed.lock().map_err(|_| unavailable())?.clone() {
            return Err(RuntimeError::Unavailable(why));
        }
        let seed = self.next_seed()?;
        let mut engine = self.inner.engine.lock().map_err(|_| unavailable())?;
        let now = self.inner.clock.now();
        let mut ctx = Ctx::new(now, seed);
        let logged = LoggedCommand {
            actor,
            command: cmd,
            at: now,
            seed,
        };
        let result = engine.apply(&logged.actor, logged.command.clone(), &mut ctx);
        let pending = self.queue(&logged, &result, ctx)?;
        drop(engine);
        Ok((result, pending))
    }

    /// Numbers the events of a command just applied and queues it in the log. Called under the
    /// engine lock, so numbers and log positions follow the order of application. A refusal is
    /// not logged and leaves no events or saga work (see [`crate::outcome`]): only events the log
    /// persists get ids, so ids are never reused after a restart.
    fn queue(
        &self,
        logged: &LoggedCommand,
        result: &Result<Reply, EngineError>,
        ctx: Ctx,
    ) -> Result<Pending, RuntimeError> {
        let out = crate::outcome::output(result, ctx);
        let events = self.inner.bus.number(out.events);
        let pos = if out.logged {
            match self.inner.log.append(logged, &events) {
                Ok(p) => Some(p),
                Err(e) => {
                    self.fail(&e.0);
                    return Err(e.into());
                }
            }
        } else {
            None
        };
        Ok(Pending {
            pos,
            events,
            work: out.work,
        })
    }

    async fn finish(&self, p: Pending) -> Result<(), RuntimeError> {
        if let Some(pos) = p.pos
            && let Err(e) = self.inner.log.wait_durable(pos).await
        {
            self.fail(&e.0);
            return Err(e.into());
        }
        let has_work = !p.work.is_empty();
        self.publish_events(p.events, has_work);
        for (saga, cmd) in p.work {
            let _ = self.inner.saga_tx.send((saga, cmd, None));
        }
        Ok(())
    }

    /// Publishes durable events of applied commands and wakes lock and saga waiters.
    pub(crate) fn publish_applied(&self, events: Vec<StoredEvent>) {
        self.publish_events(events, false);
    }

    fn publish_events(&self, events: Vec<StoredEvent>, saga_work: bool) {
        if events.is_empty() && !saga_work {
            return;
        }
        let lock_events = events.iter().any(|e| {
            matches!(
                e.event.event_type,
                EventType::LockAcquired | EventType::LockReleased
            )
        });
        let saga_events = saga_work
            || events
                .iter()
                .any(|e| e.event.event_type.as_str().starts_with("saga."));
        self.inner.bus.publish_numbered(events);
        if lock_events {
            self.inner.locks_changed.notify_waiters();
        }
        if saga_events {
            self.inner.saga_changed.notify_waiters();
        }
    }

    pub(crate) fn fail(&self, why: &str) {
        tracing::error!(error = why, "durability failed; refusing further changes");
        if let Ok(mut f) = self.inner.failed.lock() {
            f.get_or_insert_with(|| why.to_string());
        }
    }

    /// Runs `f` on the engine state (read-only, under the lock: keep it short).
    pub fn read<R>(&self, f: impl FnOnce(&Engine) -> R) -> Result<R, RuntimeError> {
        let engine = self.inner.engine.lock().map_err(|_| unavailable())?;
        Ok(f(&engine))
    }

    /// The engine state serialized as JSON together with the log position it reflects, taken
    /// atomically under the engine lock. The store saves it and may then drop log entries up to
    /// that position.
    pub fn snapshot(&self) -> Result<(u64, Vec<u8>), RuntimeError> {
        // Copy the state under the lock and encode the copy after releasing it: every command
        // waits while the lock is held, and encoding a large state takes several times longer
        // than copying it (a 180,000-write session stalled writes for about 200 ms).
        let (pos, state) = {
            let engine = self.inner.engine.lock().map_err(|_| unavailable())?;
            if let Some(c) = &self.inner.cluster
                && c.in_flight.load(std::sync::atomic::Ordering::Acquire)
            {
                return Err(RuntimeError::Unavailable(
                    "a sequencing round is in flight; the state is not yet durable, try again"
                        .into(),
                ));
            }
            (self.inner.log.last_position(), engine.clone())
        };
        let bytes = serde_json::to_vec(&state)
            .map_err(|e| RuntimeError::Storage(format!("cannot serialize state: {e}")))?;
        Ok((pos, bytes))
    }

    /// The event bus (queries, live subscriptions).
    pub fn bus(&self) -> &EventBus {
        &self.inner.bus
    }

    /// The checkpoint signer (public key, vkey, signing of exports).
    pub fn signer(&self) -> &Signer {
        &self.inner.signer
    }

    /// The runtime settings.
    pub fn config(&self) -> &RuntimeConfig {
        &self.inner.config
    }

    /// The current time of the hypervisor's clock.
    pub fn now(&self) -> ahv_core::time::Timestamp {
        self.inner.clock.now()
    }

    /// Registers an in-process executor for steps whose API is `name`.
    pub fn register_executor(&self, name: &str, executor: Arc<dyn StepExecutor>) {
        if let Ok(mut m) = self.inner.executors.write() {
            m.insert(name.to_string(), executor);
        }
    }

    /// Whether durability failed (the server reports unhealthy).
    pub fn failure(&self) -> Option<String> {
        self.inner.failed.lock().ok().and_then(|f| f.clone())
    }

    /// Waits until the step has settled (committed, failed, unknown, compensated…) or `bound`
    /// passes. Returns its state then.
    pub async fn wait_step(
        &self,
        saga_id: &SagaId,
        step_id: &StepId,
        bound: Duration,
    ) -> Result<Option<StepState>, RuntimeError> {
        let deadline = tokio::time::Instant::now() + bound;
        loop {
            let notified = self.inner.saga_changed.notified();
            let state = self.read(|e| {
                e.saga_view(saga_id).ok().and_then(|s| {
                    s.steps
                        .iter()
                        .find(|s| &s.step_id == step_id)
                        .map(|s| s.state)
                })
            })?;
            match state {
                Some(StepState::Executing) | Some(StepState::Pending) => {}
                other => return Ok(other),
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return Ok(state);
            }
        }
    }

    /// Waits until the saga has finished or `bound` passes; returns whether it finished.
    pub async fn wait_saga(&self, saga_id: &SagaId, bound: Duration) -> Result<bool, RuntimeError> {
        let deadline = tokio::time::Instant::now() + bound;
        loop {
            let notified = self.inner.saga_changed.notified();
            if self.read(|e| e.saga_is_finished(saga_id))? {
                return Ok(true);
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return Ok(false);
            }
        }
    }

    /// Waits for a queued lock request to be granted, up to `bound`; cancels it on timeout.
    /// Returns whether it was granted.
    pub async fn wait_lock(
        &self,
        session_id: &SessionId,
        ticket: &ahv_core::id::RecordId,
        bound: Duration,
    ) -> Result<bool, RuntimeError> {
        let deadline = tokio::time::Instant::now() + bound;
        loop {
            let notified = self.inner.locks_changed.notified();
            let status = self.read(|e| e.lock_ticket(session_id, ticket))?;
            match status {
                Some(true) => return Ok(true),
                Some(false) => {}
                None => return Ok(false),
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                let cmd = Command::CancelLockWait {
                    session_id: session_id.clone(),
                    ticket: ticket.clone(),
                };
                self.execute(Actor::System, cmd).await?;
                return Ok(self.read(|e| e.lock_ticket(session_id, ticket))? == Some(true));
            }
        }
    }

    /// Events matching a filter, for callers that hold no bus reference.
    pub fn events(&self, filter: &crate::bus::EventFilter, limit: usize) -> Vec<StoredEvent> {
        self.inner.bus.query(filter, limit)
    }
}

struct Pending {
    pos: Option<u64>,
    events: Vec<StoredEvent>,
    work: Vec<(SagaId, SagaCommand)>,
}

fn unavailable() -> RuntimeError {
    RuntimeError::Unavailable("engine lock poisoned".into())
}

#[cfg(test)]
mod tests;
