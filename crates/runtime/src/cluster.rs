//! Cluster mode: several nodes (several `ahv serve` processes) sharing one linear command log.
//!
//! The shared log (PostgreSQL, provided by the store crate as a [`SharedLog`]) is the single
//! source of truth; every node keeps a full in-memory engine that is a replica of it. A node
//! changes state only in a **sequencing round**: one database transaction that takes a global
//! lock, reads every command other nodes appended after the node's last applied position and
//! replays it into the local engine (catch-up), applies the node's queued commands on that fully
//! caught-up state, appends them at the next positions and commits. Because every decision is
//! made on the whole history under one global lock, every engine invariant (an agent joins once,
//! capacity and exposure caps, lock conflicts, one linear audit history per session) holds
//! across nodes exactly as on one node. Concurrent callers on one node share a round (group
//! commit).
//!
//! Between rounds a node polls the log and replays what others appended, publishing the replayed
//! commands' events to its local subscribers (replay yields the same events, with the same
//! sequence numbers), so SSE clients of every node see every event.
//!
//! If a round's commit fails after the local engine applied its commands, the engine holds
//! changes that are not durable: the callers get an error, the node refuses changes, and it
//! rebuilds its engine from the store (snapshot + replay) before accepting changes again (fail
//! closed).
//!
//! **Sagas** run their HTTP steps on one node at a time: a lease row per saga (holder node,
//! epoch, expiry) is created by the round that first produced work for it and renewed by its
//! holder; saga work (from any node's commands) is carried out only by the holder. A node takes
//! over an expired lease by bumping its epoch and resumes the saga as after a restart
//! ([`crate::recovery::resume_work`]). Every step outcome is reported with the epoch it was
//! started under, and the round refuses it unless that epoch is still current (fencing).

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ahv_core::engine::{Actor, Command, Ctx, Engine, EngineError, LoggedCommand, Reply};
use ahv_core::id::SagaId;
use ahv_core::saga::SagaCommand;
use ahv_core::time::Timestamp;
use tokio::sync::{mpsc, oneshot};

use crate::bus::StoredEvent;
use crate::hypervisor::{Hypervisor, RuntimeError};
use crate::log::{CommandLog, LogError, LogFuture};

/// A boxed future returning `T` or a log error, so [`SharedLog`] stays object-safe.
pub type SharedFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, LogError>> + Send + 'a>>;

/// Who holds a saga's lease.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lease {
    /// The holder's node id.
    pub node: String,
    /// Fencing token: bumped on every takeover.
    pub epoch: u64,
    /// Whether the lease has expired (by the database's clock), so another node may take it.
    pub expired: bool,
}

/// Proof that a saga report comes from the node that holds the saga's lease at `epoch`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fence {
    /// The saga reported on.
    pub saga_id: SagaId,
    /// The lease epoch the reporting work was started under.
    pub epoch: u64,
}

/// What a node decided inside a round, for the shared log to append.
#[derive(Debug, Default)]
pub struct RoundPlan {
    /// The node's new commands with their numbered events, in order; they get the positions
    /// right after the commands caught up on.
    pub entries: Vec<(LoggedCommand, Vec<StoredEvent>)>,
    /// Sagas the new commands produced work for: the node takes their lease if nobody has one.
    pub claim: Vec<SagaId>,
    /// Sagas whose current lease the node wants to know (to decide who runs their work).
    pub watch: Vec<SagaId>,
}

/// What a committed round returns.
#[derive(Debug, Default)]
pub struct RoundDone {
    /// Position of the last command now applied (caught up on or appended).
    pub last_pos: u64,
    /// Current leases of the watched sagas, as committed with the round.
    pub leases: BTreeMap<SagaId, Lease>,
}

/// The node's decision step, called by the shared log inside the round's transaction with the
/// commands appended by others since the node's position (in order) and, for each fence asked
/// for, whether it is still current.
pub type Decide<'a> = Box<
    dyn FnOnce(Vec<(u64, LoggedCommand)>, Vec<bool>) -> Result<RoundPlan, LogError> + Send + 'a,
>;

/// A fresh engine rebuilt from the shared log, consistent with the retained events.
#[derive(Debug)]
pub struct Rebuilt {
    /// The engine state at `pos`.
    pub engine: Engine,
    /// The last position it reflects.
    pub pos: u64,
    /// Time of the last command, if known.
    pub last_at: Option<Timestamp>,
    /// The next event sequence number at `pos`.
    pub next_event_seq: u64,
}

/// The shared, linear command log of a cluster (implemented by the store crate on PostgreSQL).
pub trait SharedLog: Send + Sync + std::fmt::Debug {
    /// This node's id (lease holder name).
    fn node_id(&self) -> &str;

    /// One sequencing round: under the global lock, read the commands after `after`, check the
    /// `fences`, call `decide`, append its entries, claim and read leases, commit. If `decide`
    /// fails nothing is written.
    fn round<'a>(
        &'a self,
        after: u64,
        fences: Vec<Fence>,
        decide: Decide<'a>,
    ) -> SharedFuture<'a, RoundDone>;

    /// Up to `limit` committed commands after `after`, in order, without taking the lock.
    fn read_after(&self, after: u64, limit: usize) -> SharedFuture<'_, Vec<(u64, LoggedCommand)>>;

    /// Current leases of `sagas` (absent: no lease yet).
    fn leases(&self, sagas: Vec<SagaId>) -> SharedFuture<'_, BTreeMap<SagaId, Lease>>;

    /// Extends every lease this node holds; returns the sagas it holds.
    fn renew_leases(&self) -> SharedFuture<'_, Vec<SagaId>>;

    /// Drops this node's leases of finished sagas.
    fn release_leases(&self, sagas: Vec<SagaId>) -> SharedFuture<'_, ()>;

    /// Takes the lease of `saga` if it has none or it expired, bumping the epoch. Returns the
    /// new epoch, or `None` if another node holds a live lease.
    fn take_lease(&self, saga: SagaId) -> SharedFuture<'_, Option<u64>>;

    /// Rebuilds the engine from the shared log (snapshot + replay), consistently with the event
    /// numbering, after a failed round left the local engine ahead of what is durable.
    fn rebuild(&self) -> SharedFuture<'_, Rebuilt>;
}

/// Settings of a node in cluster mode.
#[derive(Clone, Debug)]
pub struct ClusterConfig {
    /// How often an idle node reads what other nodes appended (reads and events on this node
    /// lag other nodes' writes by at most about this much).
    pub poll_interval: Duration,
    /// How often the node renews its saga leases and looks for expired ones to take over
    /// (keep it well below the store's lease TTL).
    pub lease_check_interval: Duration,
    /// Most commands one round carries.
    pub max_batch: usize,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        ClusterConfig {
            poll_interval: Duration::from_millis(50),
            lease_check_interval: Duration::from_secs(2),
            max_batch: 512,
        }
    }
}

/// What a request asks of a round.
pub(crate) enum Op {
    /// Apply a command (refused if its fence is stale).
    Command {
        actor: Actor,
        cmd: Box<Command>,
        fence: Option<Fence>,
    },
    /// Only catch up ([`Hypervisor::sync`]).
    Sync,
}

/// A request waiting for a round.
pub(crate) struct Request {
    op: Op,
    reply: oneshot::Sender<Result<Reply, RuntimeError>>,
}

/// The cluster side of a hypervisor.
pub(crate) struct ClusterState {
    pub(crate) shared: Arc<dyn SharedLog>,
    pub(crate) tx: mpsc::UnboundedSender<Request>,
    /// Last position applied to the local engine and durable.
    pub(crate) applied: Arc<AtomicU64>,
    /// Set (under the engine lock) while the engine holds commands of a round not yet
    /// committed; snapshots are refused meanwhile.
    pub(crate) in_flight: AtomicBool,
    /// Time of the last command applied: new commands are never stamped earlier, whatever
    /// the node clocks say, so the log's time never goes backwards.
    pub(crate) last_at: Mutex<Timestamp>,
}

/// The [`CommandLog`] a clustered hypervisor is built with: rounds bypass it; it only reports
/// the applied position (for snapshots) and refuses appends.
#[derive(Debug)]
pub(crate) struct RoundLog {
    pub(crate) applied: Arc<AtomicU64>,
}

impl CommandLog for RoundLog {
    fn append(&self, _entry: &LoggedCommand, _events: &[StoredEvent]) -> Result<u64, LogError> {
        Err(LogError(
            "cluster mode: commands are appended by sequencing rounds only".into(),
        ))
    }

    fn wait_durable(&self, _pos: u64) -> LogFuture<'_> {
        Box::pin(async { Ok(()) })
    }

    fn last_position(&self) -> u64 {
        self.applied.load(Ordering::Acquire)
    }
}

/// The outcome of one request in a round.
struct Outcome {
    result: Result<Reply, RuntimeError>,
    events: Vec<StoredEvent>,
    work: Vec<(SagaId, SagaCommand)>,
}

/// What a round or catch-up replayed from other nodes.
#[derive(Default)]
struct CaughtUp {
    events: Vec<StoredEvent>,
    work: Vec<(SagaId, SagaCommand)>,
}

impl Hypervisor {
    /// Wraps a replica `engine` at position `pos` of the shared log and starts the node's
    /// sequencer (rounds, catch-up polling, lease renewal and takeover). Must be called inside a
    /// Tokio runtime. Call [`Hypervisor::start_background`] for the timers, not
    /// `resume_sagas`: unfinished sagas are resumed through lease takeover.
    #[allow(clippy::too_many_arguments)]
    pub fn new_cluster(
        engine: Engine,
        pos: u64,
        last_at: Option<Timestamp>,
        shared: Arc<dyn SharedLog>,
        clock: Arc<dyn crate::Clock>,
        key: ed25519_dalek::SigningKey,
        config: crate::RuntimeConfig,
        cluster: ClusterConfig,
    ) -> Self {
        let applied = Arc::new(AtomicU64::new(pos));
        let log = Arc::new(RoundLog {
            applied: applied.clone(),
        });
        let (tx, rx) = mpsc::unbounded_channel();
        let state = ClusterState {
            shared,
            tx,
            applied,
            in_flight: AtomicBool::new(false),
            last_at: Mutex::new(last_at.unwrap_or_default()),
        };
        let hv = Hypervisor::build(engine, log, clock, key, config, Some(state));
        tokio::spawn(sequencer(hv.clone(), rx, cluster));
        hv
    }

    /// Whether this hypervisor is a node of a cluster.
    pub fn is_clustered(&self) -> bool {
        self.inner.cluster.is_some()
    }

    /// The last shared-log position applied on this node (cluster mode; 0 otherwise).
    pub fn applied_position(&self) -> u64 {
        self.inner
            .cluster
            .as_ref()
            .map_or(0, |c| c.applied.load(Ordering::Acquire))
    }

    /// Applies a saga report only if `fence` is still the saga's current lease (cluster mode):
    /// a node whose lease was taken over cannot change the saga any more. Without a cluster the
    /// fence is ignored.
    pub async fn execute_fenced(
        &self,
        actor: Actor,
        cmd: Command,
        fence: Option<Fence>,
    ) -> Result<Reply, RuntimeError> {
        match &self.inner.cluster {
            Some(c) => {
                let (reply, rx) = oneshot::channel();
                let req = Request {
                    op: Op::Command {
                        actor,
                        cmd: Box::new(cmd),
                        fence,
                    },
                    reply,
                };
                c.tx.send(req).map_err(|_| {
                    RuntimeError::Unavailable("the node's sequencer stopped".into())
                })?;
                rx.await.map_err(|_| {
                    RuntimeError::Unavailable("the node's sequencer dropped the request".into())
                })?
            }
            None => self.execute_local(actor, cmd).await,
        }
    }

    /// Reads what other nodes appended and applies it now (cluster mode; no-op otherwise):
    /// after it returns, this node's reads reflect every command committed before the call.
    pub async fn sync(&self) -> Result<(), RuntimeError> {
        if self.inner.cluster.is_none() {
            return Ok(());
        }
        // An empty round: catches up under the lock and appends nothing.
        let (tx, rx) = oneshot::channel();
        if let Some(c) = &self.inner.cluster {
            c.tx.send(Request {
                op: Op::Sync,
                reply: tx,
            })
            .map_err(|_| RuntimeError::Unavailable("the node's sequencer stopped".into()))?;
        }
        rx.await
            .map_err(|_| {
                RuntimeError::Unavailable("the node's sequencer dropped the request".into())
            })?
            .map(|_| ())
    }
}

/// The node's single sequencer task: rounds for queued commands, catch-up polls, lease work.
async fn sequencer(hv: Hypervisor, mut rx: mpsc::UnboundedReceiver<Request>, cfg: ClusterConfig) {
    let mut poll = tokio::time::interval(cfg.poll_interval.max(Duration::from_millis(5)));
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut leases = tokio::time::interval(cfg.lease_check_interval.max(Duration::from_millis(10)));
    leases.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            req = rx.recv() => {
                let Some(first) = req else { return };
                let mut batch = vec![first];
                while batch.len() < cfg.max_batch.max(1)
                    && let Ok(r) = rx.try_recv()
                {
                    batch.push(r);
                }
                round(&hv, batch).await;
            }
            _ = poll.tick() => {
                if hv.failure().is_some() {
                    rebuild(&hv).await;
                } else if let Err(e) = catch_up(&hv).await {
                    tracing::warn!(error = %e, "catch-up from the shared log failed");
                }
            }
            _ = leases.tick() => {
                if hv.failure().is_none()
                    && let Err(e) = lease_work(&hv).await
                {
                    tracing::warn!(error = %e, "saga lease renewal or takeover failed");
                }
            }
        }
    }
}

fn cluster(hv: &Hypervisor) -> Result<&ClusterState, RuntimeError> {
    hv.inner
        .cluster
        .as_ref()
        .ok_or_else(|| RuntimeError::Unavailable("not a cluster node".into()))
}

/// Replays commands appended by other nodes into `engine` (which is at `applied`), numbering
/// their events. Fails on a gap (the log was compacted past this node, or is corrupt).
fn replay_into(
    hv: &Hypervisor,
    engine: &mut Engine,
    c: &ClusterState,
    cmds: Vec<(u64, LoggedCommand)>,
    out: &mut CaughtUp,
) -> Result<u64, LogError> {
    let mut at = c.applied.load(Ordering::Acquire);
    let mut last_at = c.last_at.lock().map(|t| *t).unwrap_or_default();
    for (pos, cmd) in cmds {
        if pos != at + 1 {
            return Err(LogError(format!(
                "the shared log jumps from position {at} to {pos}: commands this node needs are missing"
            )));
        }
        let (_, ctx) = engine.replay(&cmd);
        out.events.extend(hv.inner.bus.number(ctx.events));
        out.work.extend(ctx.saga_work);
        last_at = last_at.max(cmd.at);
        at = pos;
    }
    if let Ok(mut t) = c.last_at.lock() {
        *t = last_at;
    }
    Ok(at)
}

async fn round(hv: &Hypervisor, batch: Vec<Request>) {
    let Ok(c) = cluster(hv) else { return };
    if let Some(why) = hv.failure() {
        for r in batch {
            let _ = r.reply.send(Err(RuntimeError::Unavailable(why.clone())));
        }
        return;
    }
    let fences: Vec<Fence> = batch
        .iter()
        .filter_map(|r| match &r.op {
            Op::Command { fence, .. } => fence.clone(),
            Op::Sync => None,
        })
        .collect();
    let mut outcomes: Vec<Outcome> = Vec::with_capacity(batch.len());
    let mut caught = CaughtUp::default();
    let touched = AtomicBool::new(false);
    let after = c.applied.load(Ordering::Acquire);
    let decide: Decide<'_> = {
        let (outcomes, caught, touched, batch) = (&mut outcomes, &mut caught, &touched, &batch);
        Box::new(move |missed, fence_ok| {
            let mut engine = hv
                .inner
                .engine
                .lock()
                .map_err(|_| LogError("engine lock poisoned".into()))?;
            touched.store(true, Ordering::Release);
            let at = match replay_into(hv, &mut engine, c, missed, caught) {
                Ok(at) => at,
                Err(e) => {
                    // Partly replayed: the engine no longer matches `applied`; rebuild.
                    c.in_flight.store(true, Ordering::Release);
                    return Err(e);
                }
            };
            c.applied.store(at, Ordering::Release);
            c.in_flight.store(true, Ordering::Release);
            let mut plan = RoundPlan::default();
            let mut fence_ok = fence_ok.into_iter();
            let mut last_at = c.last_at.lock().map(|t| *t).unwrap_or_default();
            for r in batch {
                let Op::Command { actor, cmd, fence } = &r.op else {
                    outcomes.push(Outcome {
                        result: Ok(Reply::Done),
                        events: Vec::new(),
                        work: Vec::new(),
                    });
                    continue;
                };
                if let Some(f) = fence
                    && !fence_ok.next().unwrap_or(false)
                {
                    outcomes.push(Outcome {
                        result: Err(RuntimeError::Engine(EngineError::Conflict(format!(
                            "stale saga lease: epoch {} of saga `{}` is no longer held by node `{}`; the report is refused",
                            f.epoch,
                            f.saga_id.as_str(),
                            c.shared.node_id()
                        )))),
                        events: Vec::new(),
                        work: Vec::new(),
                    });
                    continue;
                }
                let seed = hv
                    .next_seed()
                    .map_err(|e| LogError(format!("cannot seed a command: {e}")))?;
                let now = hv.inner.clock.now().max(last_at);
                last_at = now;
                let logged = LoggedCommand {
                    actor: actor.clone(),
                    command: (**cmd).clone(),
                    at: now,
                    seed,
                };
                let mut ctx = Ctx::new(now, seed);
                let result = engine.apply(&logged.actor, logged.command.clone(), &mut ctx);
                let out = crate::outcome::output(&result, ctx);
                let result = result.map_err(RuntimeError::Engine);
                if out.logged {
                    // Numbered only when logged, so every node numbers the same events.
                    let events = hv.inner.bus.number(out.events);
                    plan.entries.push((logged, events.clone()));
                    plan.claim.extend(out.work.iter().map(|(s, _)| s.clone()));
                    outcomes.push(Outcome {
                        result,
                        events,
                        work: out.work,
                    });
                } else {
                    outcomes.push(Outcome {
                        result,
                        events: Vec::new(),
                        work: Vec::new(),
                    });
                }
            }
            if let Ok(mut t) = c.last_at.lock() {
                *t = last_at;
            }
            let watch: BTreeSet<SagaId> = plan
                .claim
                .iter()
                .cloned()
                .chain(caught.work.iter().map(|(s, _)| s.clone()))
                .collect();
            plan.claim = plan
                .claim
                .iter()
                .cloned()
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect();
            plan.watch = watch.into_iter().collect();
            if plan.entries.is_empty() {
                // Nothing new in the engine beyond what is durable.
                c.in_flight.store(false, Ordering::Release);
            }
            Ok(plan)
        })
    };
    let done = c.shared.round(after, fences, decide).await;
    match done {
        Ok(done) => {
            if let Ok(_engine) = hv.inner.engine.lock() {
                c.applied.store(done.last_pos, Ordering::Release);
                c.in_flight.store(false, Ordering::Release);
            }
            let mut work = caught.work;
            let mut events = caught.events;
            for o in &mut outcomes {
                events.append(&mut o.events);
                work.append(&mut o.work);
            }
            hv.publish_applied(events);
            dispatch(hv, c, work, &done.leases);
            for (r, o) in batch.into_iter().zip(outcomes) {
                let _ = r.reply.send(o.result);
            }
        }
        Err(e) => {
            let why = format!("sequencing round failed: {}", e.0);
            if touched.load(Ordering::Acquire) && c.in_flight.load(Ordering::Acquire) {
                // The engine applied commands that are not durable: refuse changes until it is
                // rebuilt from the store.
                hv.fail(&why);
            } else if touched.load(Ordering::Acquire) {
                // Only commands from the log were replayed: still durable. Events of those are
                // published so subscribers miss nothing.
                hv.publish_applied(caught.events);
            }
            for r in batch {
                let _ = r.reply.send(Err(RuntimeError::Storage(why.clone())));
            }
        }
    }
}

/// Hands saga work to the local saga runner for the sagas this node holds the lease of.
fn dispatch(
    hv: &Hypervisor,
    c: &ClusterState,
    work: Vec<(SagaId, SagaCommand)>,
    leases: &BTreeMap<SagaId, Lease>,
) {
    for (saga, cmd) in work {
        if let Some(l) = leases.get(&saga)
            && l.node == c.shared.node_id()
        {
            let _ = hv.inner.saga_tx.send((saga, cmd, Some(l.epoch)));
        }
    }
}

/// Replays what other nodes committed since this node's position.
async fn catch_up(hv: &Hypervisor) -> Result<(), RuntimeError> {
    let c = cluster(hv)?;
    loop {
        let after = c.applied.load(Ordering::Acquire);
        let cmds = c.shared.read_after(after, 1000).await?;
        if cmds.is_empty() {
            return Ok(());
        }
        let full = cmds.len() >= 1000;
        let mut caught = CaughtUp::default();
        {
            let mut engine = hv.inner.engine.lock().map_err(|_| unavailable())?;
            let at = replay_into(hv, &mut engine, c, cmds, &mut caught).inspect_err(|e| {
                hv.fail(&e.0);
            })?;
            c.applied.store(at, Ordering::Release);
        }
        hv.publish_applied(caught.events);
        if !caught.work.is_empty() {
            let sagas: BTreeSet<SagaId> = caught.work.iter().map(|(s, _)| s.clone()).collect();
            let leases = c.shared.leases(sagas.into_iter().collect()).await?;
            dispatch(hv, c, caught.work, &leases);
        }
        if !full {
            return Ok(());
        }
    }
}

/// Renews this node's leases, drops those of finished sagas, and takes over unfinished sagas
/// whose lease expired (or that never had one), resuming their in-flight work.
async fn lease_work(hv: &Hypervisor) -> Result<(), RuntimeError> {
    let c = cluster(hv)?;
    catch_up(hv).await?;
    let held = c.shared.renew_leases().await?;
    let finished: Vec<SagaId> = hv.read(|e| {
        held.iter()
            .filter(|s| e.saga(s).is_none_or(|x| x.is_finished()))
            .cloned()
            .collect()
    })?;
    if !finished.is_empty() {
        c.shared.release_leases(finished).await?;
    }
    let unfinished = hv.read(|e| e.unfinished_sagas())?;
    if unfinished.is_empty() {
        return Ok(());
    }
    let leases = c.shared.leases(unfinished.clone()).await?;
    for saga in unfinished {
        if leases.get(&saga).is_some_and(|l| !l.expired) {
            continue;
        }
        let Some(epoch) = c.shared.take_lease(saga.clone()).await? else {
            continue;
        };
        catch_up(hv).await?;
        let work = hv.read(|e| e.saga(&saga).map(crate::recovery::resume_work))?;
        let n = work.as_ref().map_or(0, Vec::len);
        tracing::info!(saga = %saga.as_str(), epoch, calls = n, node = c.shared.node_id(), "took over saga lease");
        for cmd in work.unwrap_or_default() {
            let _ = hv.inner.saga_tx.send((saga.clone(), cmd, Some(epoch)));
        }
    }
    Ok(())
}

/// After a failed round: rebuilds the engine from the store and accepts changes again.
async fn rebuild(hv: &Hypervisor) {
    let Ok(c) = cluster(hv) else { return };
    match c.shared.rebuild().await {
        Ok(r) => {
            let Ok(mut engine) = hv.inner.engine.lock() else {
                return;
            };
            *engine = r.engine;
            c.applied.store(r.pos, Ordering::Release);
            c.in_flight.store(false, Ordering::Release);
            if let Ok(mut t) = c.last_at.lock() {
                *t = (*t).max(r.last_at.unwrap_or_default());
            }
            hv.inner.bus.rewind_to(r.next_event_seq);
            if let Ok(mut f) = hv.inner.failed.lock() {
                *f = None;
            }
            drop(engine);
            tracing::info!(
                pos = r.pos,
                "engine rebuilt from the shared log; accepting changes again"
            );
        }
        Err(e) => tracing::warn!(error = %e, "rebuilding the engine from the shared log failed"),
    }
}

fn unavailable() -> RuntimeError {
    RuntimeError::Unavailable("engine lock poisoned".into())
}
