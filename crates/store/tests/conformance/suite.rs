//! The conformance tests: each takes a [`Factory`] and must pass on every backend.

use ahv_core::engine::{ActionRequest, Actor, Command, EngineConfig, EngineError, LoggedCommand};
use ahv_core::time::Timestamp;
use ahv_runtime::{EventFilter, RuntimeError};
use ahv_store::{StoreError, StoreOptions};

use crate::factory::{Factory, Kind};
use crate::scenario::{self, engine_json, start};

fn tick(i: u64) -> LoggedCommand {
    LoggedCommand {
        actor: Actor::System,
        command: Command::Tick,
        at: Timestamp::from_millis(1_000 + i),
        seed: [0; 16],
    }
}

/// Appends are numbered in order, each is durable once `wait_durable` returns, and a restart
/// continues the numbering.
pub async fn append_and_wait_durable_in_order(f: Factory) {
    let store = f.open().await;
    let r = store.recover(EngineConfig::default()).await.unwrap();
    assert_eq!(r.report.last_pos, 0);
    for i in 1..=50 {
        assert_eq!(r.log.append(&tick(i), &[]).unwrap(), i);
    }
    assert_eq!(r.log.last_position(), 50);
    r.log.wait_durable(50).await.unwrap();
    for i in 1..=50 {
        r.log.wait_durable(i).await.unwrap();
    }
    store.close().await;
    let store = f.open().await;
    let r = store.recover(EngineConfig::default()).await.unwrap();
    assert_eq!((r.report.last_pos, r.report.replayed), (50, 50));
    assert_eq!(r.report.last_at, Some(Timestamp::from_millis(1_050)));
    assert_eq!(r.log.append(&tick(51), &[]).unwrap(), 51);
    r.log.wait_durable(51).await.unwrap();
    store.close().await;
    f.cleanup().await;
}

/// Entries queued together are written in one transaction.
pub async fn group_commit_batches(f: Factory) {
    let store = f.open().await;
    let r = store.recover(EngineConfig::default()).await.unwrap();
    // No await between appends: the writer cannot run, so all 2500 share a batch or two
    // (and the SQL backends split them into several multi-row statements).
    for i in 1..=2500 {
        r.log.append(&tick(i), &[]).unwrap();
    }
    r.log.wait_durable(2500).await.unwrap();
    let s = store.stats();
    assert_eq!(s.entries, 2500);
    assert!(
        s.batches <= 2,
        "2500 queued entries took {} transactions",
        s.batches
    );

    // 64 concurrent governed writes through a real hypervisor share transactions too.
    let (hv, _) = scenario::start(&store).await;
    let names: Vec<String> = (0..64).map(|i| format!("agent{i}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let sid = scenario::open_session(&hv, &refs).await;
    let before = store.stats();
    let mut tasks = Vec::new();
    for n in &names {
        let (hv, sid, n) = (hv.clone(), sid.clone(), n.clone());
        tasks.push(tokio::spawn(async move {
            scenario::write(&hv, &sid, &n, &format!("/{n}.txt"), "x").await
        }));
    }
    for t in tasks {
        assert!(t.await.unwrap());
    }
    let after = store.stats();
    let (entries, batches) = (
        after.entries - before.entries,
        after.batches - before.batches,
    );
    assert_eq!(entries, 64);
    assert!(
        batches < entries,
        "64 concurrent writes took {batches} transactions"
    );
    store.close().await;
    f.cleanup().await;
}

/// Recovery after a restart reproduces the engine exactly, and the retained events.
pub async fn recovery_reproduces_the_engine(f: Factory) {
    let store = f.open().await;
    let (hv, _) = start(&store).await;
    let (live, done) = scenario::run(&hv).await;
    let before = engine_json(&hv);
    let events = hv.events(&EventFilter::default(), usize::MAX);
    let logged = store.last_position();
    drop(hv);
    store.close().await;

    let store = f.open().await;
    let (hv, report) = start(&store).await;
    assert_eq!(report.snapshot_pos, None);
    assert_eq!((report.replayed, report.last_pos), (logged, logged));
    assert_eq!(engine_json(&hv), before);
    assert_eq!(
        scenario::read(&hv, &live, "carol", "/d.txt").as_deref(),
        Some("dave's")
    );
    let trail_root = hv.read(|e| e.audit_trail(&done).unwrap().root()).unwrap();
    assert_eq!(
        hv.read(|e| e.audit_trail(&done).unwrap().len()).unwrap(),
        hv.read(|e| e.audit_trail(&done).unwrap().log().leaves().len() as u64)
            .unwrap()
    );
    assert_eq!(
        trail_root,
        hv.read(|e| ahv_core::audit::merkle::root(e.audit_trail(&done).unwrap().log().leaves()))
            .unwrap()
    );
    let restored = hv.events(&EventFilter::default(), usize::MAX);
    assert_eq!(restored, events);
    // Numbering continues after the restored events and positions.
    assert!(scenario::write(&hv, &live, "carol", "/more.txt", "after restart").await);
    assert_eq!(store.last_position(), logged + 1);
    assert!(hv.bus().last_seq() > events.last().unwrap().seq);
    store.close().await;
    f.cleanup().await;
}

/// A snapshot plus the commands after it gives the same engine as replaying everything, and
/// compaction keeps only what the kept snapshots need.
pub async fn snapshot_and_tail_equal_full_replay(f: Factory) {
    let store = f.open().await;
    let (hv, _) = start(&store).await;
    let (live, _) = scenario::run(&hv).await;
    let snap = store.snapshot_now(&hv).await.unwrap();
    for i in 0..5 {
        assert!(scenario::write(&hv, &live, "carol", &format!("/tail{i}.txt"), "t").await);
    }
    let before = engine_json(&hv);
    let full = store
        .replay_from_start(EngineConfig::default())
        .await
        .unwrap();
    assert_eq!(serde_json::to_value(&full).unwrap(), before);
    drop(hv);
    store.close().await;

    let store = f.open().await;
    let (hv, report) = start(&store).await;
    assert_eq!(report.snapshot_pos, Some(snap));
    assert_eq!(report.replayed, 5);
    assert_eq!(engine_json(&hv), before);

    // Two more snapshots: only two are kept, and commands before the older one are compacted.
    let s2 = store.snapshot_now(&hv).await.unwrap();
    assert!(scenario::write(&hv, &live, "dave", "/x.txt", "x").await);
    let s3 = store.snapshot_now(&hv).await.unwrap();
    assert_eq!(store.snapshot_positions().await.unwrap(), vec![s3, s2]);
    assert!(matches!(
        store.replay_from_start(EngineConfig::default()).await,
        Err(StoreError::Corrupt(_))
    ));
    let before = engine_json(&hv);
    drop(hv);
    store.close().await;
    let store = f.open().await;
    let (hv, report) = start(&store).await;
    assert_eq!((report.snapshot_pos, report.replayed), (Some(s3), 0));
    assert_eq!(engine_json(&hv), before);
    store.close().await;
    f.cleanup().await;
}

/// Only the newest `event_retention` events are kept.
pub async fn event_retention_is_bounded(f: Factory) {
    assert_eq!(f.options.event_retention, 10);
    let store = f.open().await;
    let (hv, _) = start(&store).await;
    scenario::run(&hv).await;
    let newest = hv.events(&EventFilter::default(), 10);
    assert!(hv.bus().last_seq() > 10);
    drop(hv);
    store.close().await;
    let store = f.open().await;
    let r = store.recover(EngineConfig::default()).await.unwrap();
    assert_eq!(r.events, newest);
    store.close().await;
    f.cleanup().await;
}

/// Settings round-trip and survive a restart; bad keys are refused.
pub async fn meta_get_set(f: Factory) {
    let store = f.open().await;
    assert_eq!(store.get_meta("admin.token_sha256").await.unwrap(), None);
    store.set_meta("admin.token_sha256", "abc").await.unwrap();
    store.set_meta("admin.token_sha256", "def").await.unwrap();
    store.set_meta("agent.secret", "s").await.unwrap();
    store.close().await;
    let store = f.open().await;
    assert_eq!(
        store
            .get_meta("admin.token_sha256")
            .await
            .unwrap()
            .as_deref(),
        Some("def")
    );
    assert_eq!(
        store.get_meta("agent.secret").await.unwrap().as_deref(),
        Some("s")
    );
    // init_meta: the first value wins and every caller gets it.
    assert_eq!(
        store.init_meta("shared.key", "first").await.unwrap(),
        "first"
    );
    assert_eq!(
        store.init_meta("shared.key", "second").await.unwrap(),
        "first"
    );
    assert_eq!(store.init_meta("agent.secret", "other").await.unwrap(), "s");
    let e = store.set_meta("", "x").await.unwrap_err();
    assert!(
        e.to_string().starts_with("invalid input: meta key ``"),
        "{e}"
    );
    assert!(
        store
            .set_meta("k", &"x".repeat(ahv_store::MAX_META_VALUE + 1))
            .await
            .is_err()
    );
    assert_eq!(
        store.schema_version().await.unwrap(),
        ahv_store::CURRENT_VERSION
    );
    store.close().await;
    f.cleanup().await;
}

/// A database written by a newer schema is refused with a clear message.
pub async fn newer_schema_is_refused(f: Factory) {
    if f.kind == Kind::Memory {
        return eprintln!("not applicable: the memory backend has no schema on disk");
    }
    f.open().await.close().await;
    f.raw_sql("UPDATE schema_version SET version = 99").await;
    let e = f.try_open().await.unwrap_err();
    assert_eq!(
        e,
        StoreError::NewerSchema {
            found: 99,
            supported: ahv_store::CURRENT_VERSION
        }
    );
    assert!(e.to_string().contains("upgrade agent-hypervisor"));
    f.cleanup().await;
}

/// A write failure fails every waiter, and the runtime then refuses changes.
pub async fn write_failure_fails_the_request_and_stops_changes(f: Factory) {
    if f.kind == Kind::Memory {
        return eprintln!("not applicable: the memory backend cannot fail a write");
    }
    let store = f.open().await;
    let (hv, _) = start(&store).await;
    let sid = scenario::open_session(&hv, &["alice"]).await;
    let before = store.last_position();
    f.raw_sql("DROP TABLE events").await;
    let request = ahv_core::engine::ActionRequest::VfsWrite {
        path: "/a".into(),
        content: "x".into(),
    };
    let cmd = Command::Act {
        session_id: sid.clone(),
        agent: scenario::did("alice"),
        request,
    };
    let w = hv.execute(Actor::Agent(scenario::did("alice")), cmd).await;
    assert!(matches!(w, Err(RuntimeError::Storage(_))), "{w:?}");
    assert!(hv.failure().is_some());
    let again = hv.execute(Actor::Admin, Command::Tick).await;
    assert!(
        matches!(again, Err(RuntimeError::Unavailable(_))),
        "{again:?}"
    );
    drop(hv);
    store.close().await;
    // Nothing of the failed batch was written.
    let json = if f.kind == Kind::Postgres {
        "JSONB"
    } else {
        "TEXT"
    };
    f.raw_sql(&format!(
        "CREATE TABLE events (seq BIGINT PRIMARY KEY, at_ms BIGINT NOT NULL, json {json} NOT NULL)"
    ))
    .await;
    let store = f.open().await;
    let r = store.recover(EngineConfig::default()).await.unwrap();
    assert_eq!(r.report.last_pos, before);
    store.close().await;
    f.cleanup().await;
}

/// A second recovery closes the first log: appends to it are refused.
pub async fn recovering_again_supersedes_the_old_log(f: Factory) {
    let store = f.open().await;
    let first = store.recover(EngineConfig::default()).await.unwrap();
    first.log.append(&tick(1), &[]).unwrap();
    let second = store.recover(EngineConfig::default()).await.unwrap();
    assert_eq!(second.report.last_pos, 1);
    let e = first.log.append(&tick(2), &[]).unwrap_err();
    assert!(e.to_string().contains("superseded"), "{e}");
    assert_eq!(second.log.append(&tick(2), &[]).unwrap(), 2);
    second.log.wait_durable(2).await.unwrap();
    store.close().await;
    f.cleanup().await;
}

/// Options used by the retention test.
pub fn small_retention() -> StoreOptions {
    StoreOptions {
        event_retention: 10,
        ..StoreOptions::default()
    }
}

/// Refusals (bad input, an unauthorised caller) leave no event ids behind: a client that saw
/// every event before a restart resumes from its last id with exactly the durable events that
/// follow, none repeated and no id reused.
pub async fn resume_after_refusals_and_a_restart_is_exact(f: Factory) {
    let store = f.open().await;
    let (hv, _) = start(&store).await;
    let mut rx = hv.bus().subscribe();
    let sid = scenario::open_session(&hv, &["alice"]).await;
    assert!(scenario::write(&hv, &sid, "alice", "/a.txt", "before").await);
    let act = |agent: &str, path: &str| Command::Act {
        session_id: sid.clone(),
        agent: scenario::did(agent),
        request: ActionRequest::VfsWrite {
            path: path.into(),
            content: "x".into(),
        },
    };
    let forbidden = hv
        .execute(
            Actor::Agent(scenario::did("mallory")),
            act("alice", "/b.txt"),
        )
        .await;
    assert!(matches!(
        forbidden,
        Err(RuntimeError::Engine(EngineError::Forbidden(_)))
    ));
    let invalid = hv
        .execute(Actor::Agent(scenario::did("alice")), act("alice", "/"))
        .await;
    assert!(matches!(
        invalid,
        Err(RuntimeError::Engine(EngineError::Invalid(_)))
    ));
    let mut seen = Vec::new();
    while let Ok(e) = rx.try_recv() {
        seen.push(e.seq);
    }
    let last_seen = *seen.iter().max().unwrap();
    drop(rx);
    drop(hv);
    store.close().await;

    let store = f.open().await;
    let (hv, _) = start(&store).await;
    let mut rx = hv.bus().subscribe();
    assert!(scenario::write(&hv, &sid, "alice", "/a.txt", "after").await);
    let mut live = Vec::new();
    while let Ok(e) = rx.try_recv() {
        live.push(e.seq);
    }
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
    assert!(!live.is_empty());
    assert_eq!(resumed, live);
    assert!(resumed.iter().all(|s| !seen.contains(s)));
    store.close().await;
    f.cleanup().await;
}
