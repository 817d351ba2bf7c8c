//! Event ids across a restart: every id a subscriber saw stays unique, and resuming from the
//! last one gives exactly the durable events after it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, Mutex};

use ahv_core::engine::{Actor, Command, Ctx, Engine, EngineConfig, EngineError, LoggedCommand};
use ahv_core::event::{Event, EventType};
use ahv_core::id::AgentDid;
use ahv_core::session::SessionConfig;
use ahv_core::time::Timestamp;
use ahv_core::vclock::IsolationLevel;

use crate::bus::{EventFilter, StoredEvent};
use crate::clock::ManualClock;
use crate::hypervisor::{Hypervisor, RuntimeConfig};
use crate::log::{CommandLog, LogError, LogFuture};
use crate::signer::Signer;

/// What a store keeps: each logged command with the events persisted in its transaction.
type Kept = Arc<Mutex<Vec<(LoggedCommand, Vec<StoredEvent>)>>>;

/// A log that keeps entries in memory, shared across "restarts" like a database file.
#[derive(Debug)]
struct KeepingLog(Kept);

impl CommandLog for KeepingLog {
    fn append(&self, entry: &LoggedCommand, events: &[StoredEvent]) -> Result<u64, LogError> {
        let mut kept = self.0.lock().unwrap();
        kept.push((entry.clone(), events.to_vec()));
        Ok(kept.len() as u64)
    }

    fn wait_durable(&self, _pos: u64) -> LogFuture<'_> {
        Box::pin(async { Ok(()) })
    }

    fn last_position(&self) -> u64 {
        self.0.lock().unwrap().len() as u64
    }
}

/// Starts a hypervisor on what `kept` holds, as `ahv serve` does on a store: replay the
/// commands, then restore the persisted events.
fn start(kept: &Kept) -> Hypervisor {
    let mut engine = Engine::new(EngineConfig::default()).unwrap();
    let entries = kept.lock().unwrap().clone();
    for (cmd, _) in &entries {
        let _ = engine.replay(cmd);
    }
    let hv = Hypervisor::new(
        engine,
        Arc::new(KeepingLog(kept.clone())),
        Arc::new(ManualClock::starting_at(Timestamp::from_millis(1_000))),
        Signer::generate_key().unwrap(),
        RuntimeConfig::default(),
    );
    hv.bus()
        .restore(entries.into_iter().flat_map(|(_, e)| e).collect());
    hv
}

fn create_session() -> Command {
    Command::CreateSession {
        creator: AgentDid::new("did:mesh:owner").unwrap(),
        config: SessionConfig::default(),
        isolation: IsolationLevel::ReadCommitted,
    }
}

/// Goes through the tail of `apply` with an outcome the engine chose: a refusal that carries an
/// event (the engine emits none on refusal today; nothing in the runtime relied on that).
async fn refuse_with_an_event(hv: &Hypervisor) {
    let now = hv.now();
    let logged = LoggedCommand {
        actor: Actor::Agent(AgentDid::new("did:mesh:intruder").unwrap()),
        command: Command::Tick,
        at: now,
        seed: [7; 16],
    };
    let mut ctx = Ctx::new(now, logged.seed);
    ctx.emit(Event::new(EventType::GovernanceDenied, now));
    let result = Err(EngineError::Forbidden("only an admin may tick".into()));
    let pending = hv.queue(&logged, &result, ctx).unwrap();
    hv.finish(pending).await.unwrap();
}

fn drain(rx: &mut tokio::sync::broadcast::Receiver<StoredEvent>) -> Vec<u64> {
    let mut seen = Vec::new();
    while let Ok(e) = rx.try_recv() {
        seen.push(e.seq);
    }
    seen
}

#[tokio::test]
async fn a_refused_command_never_costs_a_resuming_client_an_event() {
    let kept: Kept = Arc::default();
    let hv = start(&kept);
    let mut rx = hv.bus().subscribe();
    hv.execute(Actor::Admin, create_session()).await.unwrap();
    refuse_with_an_event(&hv).await;
    let before: Vec<u64> = drain(&mut rx);
    assert!(!before.is_empty());
    let last_seen = *before.iter().max().unwrap();
    drop(rx);
    drop(hv);

    // Restart on the same log, then more durable events.
    let hv = start(&kept);
    hv.execute(Actor::Admin, create_session()).await.unwrap();
    let durable_after: Vec<u64> = kept.lock().unwrap()[1].1.iter().map(|e| e.seq).collect();
    assert!(!durable_after.is_empty());

    // The client resumes with Last-Event-ID = the last id it saw.
    let resumed: Vec<u64> = hv
        .events(
            &EventFilter {
                after_seq: Some(last_seen),
                ..EventFilter::default()
            },
            usize::MAX,
        )
        .iter()
        .map(|e| e.seq)
        .collect();
    assert_eq!(
        resumed, durable_after,
        "resume must give exactly the later durable events"
    );
    assert!(
        resumed.iter().all(|s| !before.contains(s)),
        "an id seen before the restart was reused: before {before:?}, after {resumed:?}"
    );
}
