//! Cluster mode on a real PostgreSQL: two nodes (two hypervisors, each with its own store and
//! connection pool) share one database and are hammered with conflicting commands at once.
//!
//! Runs when `AHV_TEST_POSTGRES_URL` is set (`.ci/run` sets it); skips with a printed reason
//! otherwise, unless `AHV_REQUIRE_POSTGRES` is set, which makes a missing server a failure.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ahv_core::audit::merkle;
use ahv_core::engine::{
    ActOutcome, ActionRequest, Actor, Command, Engine, EngineConfig, EngineError, Reply,
};
use ahv_core::event::EventType;
use ahv_core::id::{AgentDid, SagaId, SessionId};
use ahv_core::locks::LockIntent;
use ahv_core::saga::{ErrorClass, SagaInput, SagaState, StepState, parse_saga};
use ahv_core::score::Score;
use ahv_core::session::SessionConfig;
use ahv_core::vclock::IsolationLevel;
use ahv_runtime::{
    ClusterConfig, EventFilter, Fence, Hypervisor, RuntimeConfig, RuntimeError, Signer, StepCall,
    StepResult, SystemClock,
};
use ahv_store::{Location, Store, StoreError, StoreOptions};
use tokio::sync::Notify;

/// A fresh schema in the test database, or `None` (reason printed) without PostgreSQL.
async fn fresh_schema() -> Option<(String, String)> {
    let Ok(base) = std::env::var("AHV_TEST_POSTGRES_URL") else {
        assert!(
            std::env::var("AHV_REQUIRE_POSTGRES").is_err(),
            "AHV_REQUIRE_POSTGRES is set but AHV_TEST_POSTGRES_URL is not"
        );
        eprintln!("SKIPPED: AHV_TEST_POSTGRES_URL is not set, so the cluster tests do not run");
        return None;
    };
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let schema = format!("ahv_cluster_{}_{nanos}", std::process::id());
    let pool = sqlx::PgPool::connect(&base).await.unwrap();
    sqlx::raw_sql(&format!("CREATE SCHEMA {schema}"))
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let sep = if base.contains('?') { '&' } else { '?' };
    Some((
        format!("{base}{sep}options=-c%20search_path%3D{schema}"),
        schema,
    ))
}

async fn drop_schema(schema: &str) {
    let base = std::env::var("AHV_TEST_POSTGRES_URL").unwrap();
    let pool = sqlx::PgPool::connect(&base).await.unwrap();
    let _ = sqlx::raw_sql(&format!("DROP SCHEMA {schema} CASCADE"))
        .execute(&pool)
        .await;
    pool.close().await;
}

/// One node: its own store (own pool) joined to the cluster.
async fn node(url: &str, id: &str, ttl: Duration, cluster: ClusterConfig) -> (Hypervisor, Store) {
    let store = Store::open(&Location::Postgres(url.into()), StoreOptions::default())
        .await
        .unwrap();
    let r = store
        .join_cluster(id, EngineConfig::default(), ttl)
        .await
        .unwrap();
    let mut clock = SystemClock::new();
    if let Some(at) = r.last_at {
        clock = clock.not_before(at);
    }
    let hv = Hypervisor::new_cluster(
        r.engine,
        r.pos,
        r.last_at,
        r.shared,
        Arc::new(clock),
        Signer::generate_key().unwrap(),
        RuntimeConfig::default(),
        cluster,
    );
    hv.bus().restore(r.events);
    (hv, store)
}

fn fast() -> ClusterConfig {
    ClusterConfig {
        poll_interval: Duration::from_millis(20),
        lease_check_interval: Duration::from_millis(100),
        max_batch: 512,
    }
}

fn did(name: &str) -> AgentDid {
    AgentDid::new(format!("did:mesh:{name}")).unwrap()
}

/// A single node (no `--node-id`) on the database at `url`, recovered and ready.
async fn single_node(url: &str) -> (Hypervisor, Store) {
    let store = Store::open(
        &Location::Postgres(url.to_string()),
        StoreOptions::default(),
    )
    .await
    .unwrap();
    let r = store.recover(EngineConfig::default()).await.unwrap();
    let hv = Hypervisor::new(
        r.engine,
        r.log,
        Arc::new(SystemClock::new()),
        Signer::generate_key().unwrap(),
        RuntimeConfig::default(),
    );
    (hv, store)
}

async fn create_session(hv: &Hypervisor, capacity: u32) -> SessionId {
    let cmd = Command::CreateSession {
        creator: did("owner"),
        config: SessionConfig {
            max_participants: capacity,
            ..SessionConfig::default()
        },
        isolation: IsolationLevel::ReadCommitted,
    };
    let Reply::Session(view) = hv.execute(Actor::Admin, cmd).await.unwrap() else {
        panic!("not a session")
    };
    view.session_id
}

fn join(sid: &SessionId, agent: &str) -> Command {
    Command::Join {
        session_id: sid.clone(),
        agent: did(agent),
        sigma_raw: Some(Score::clamped(0.8)),
        actions: vec![],
    }
}

async fn open_session(hv: &Hypervisor, members: &[String]) -> SessionId {
    let sid = create_session(hv, 100).await;
    for m in members {
        hv.execute(Actor::Admin, join(&sid, m)).await.unwrap();
    }
    hv.execute(
        Actor::Admin,
        Command::Activate {
            session_id: sid.clone(),
        },
    )
    .await
    .unwrap();
    sid
}

fn participants(hv: &Hypervisor, sid: &SessionId) -> usize {
    hv.read(|e| e.session_view(sid).unwrap().participants.len())
        .unwrap()
}

fn engine_json(hv: &Hypervisor) -> serde_json::Value {
    hv.read(|e| serde_json::to_value(e).unwrap()).unwrap()
}

/// Every audit log of `engine`: (log id, size, root), each checked to recompute from its
/// entries.
fn audit_logs(engine: &Engine) -> Vec<(String, u64, String)> {
    let mut trails = vec![engine.hypervisor_log()];
    for sid in engine.session_ids(None) {
        trails.push(engine.audit_trail(&sid).unwrap());
    }
    trails
        .into_iter()
        .map(|t| {
            let entries = t.entries(0, usize::MAX);
            assert_eq!(entries.len() as u64, t.len(), "all entries are held");
            let leaves: Vec<_> = entries.iter().map(|e| e.leaf_hash()).collect();
            assert_eq!(
                merkle::root(&leaves),
                t.root(),
                "audit log `{}` does not verify",
                t.log_id()
            );
            (t.log_id().to_string(), t.len(), format!("{:?}", t.root()))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_nodes_keep_every_invariant_under_conflicting_load() {
    let Some((url, schema)) = fresh_schema().await else {
        return;
    };
    let started = Instant::now();
    let (a, store_a) = node(&url, "a", Duration::from_secs(10), fast()).await;
    let (b, store_b) = node(&url, "b", Duration::from_secs(10), fast()).await;
    let mut sub_b = b.bus().subscribe();

    // Events of node A's commands reach a subscriber on node B.
    let probe = create_session(&a, 10).await;
    let seen = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            let e = sub_b.recv().await.unwrap();
            if e.event.event_type == EventType::SessionCreated
                && e.event.session_id.as_ref() == Some(&probe)
            {
                return e.seq;
            }
        }
    })
    .await
    .expect("node B's subscriber never saw node A's session.created");
    assert!(seen > 0);

    // Setup (sequential, alternating nodes).
    let big = create_session(&a, 100).await;
    let small = create_session(&b, 5).await;
    let joiners: Vec<String> = (0..12).map(|i| format!("j{i}")).collect();
    let mut vouch_sessions = Vec::new();
    for i in 0..8 {
        let hv = if i % 2 == 0 { &a } else { &b };
        let sid = open_session(hv, &["voucher".to_string(), format!("w{i}")]).await;
        vouch_sessions.push(sid);
    }
    let lockers: Vec<String> = (0..6).map(|i| format!("p{i}")).collect();
    let lock_sid = open_session(&b, &lockers).await;

    // The hammer: every join, vouch and lock sent from both nodes at once.
    let mut tasks = tokio::task::JoinSet::new();
    for (n, hv) in [(0usize, &a), (1, &b)] {
        for j in &joiners {
            for sid in [&big, &small] {
                let (hv, cmd) = (hv.clone(), join(sid, j));
                let label = format!("join {j} {sid} from {n}");
                tasks.spawn(async move { (label, hv.execute(Actor::Admin, cmd).await) });
            }
        }
        for (i, sid) in vouch_sessions.iter().enumerate() {
            let cmd = Command::Vouch {
                session_id: sid.clone(),
                voucher: did("voucher"),
                vouchee: did(&format!("w{i}")),
                bond_pct: None,
                expiry: None,
            };
            let hv = hv.clone();
            let label = format!("vouch w{i} from {n}");
            tasks.spawn(async move { (label, hv.execute(Actor::Admin, cmd).await) });
        }
    }
    let mut lockers_tasks = tokio::task::JoinSet::new();
    for (i, p) in lockers.iter().enumerate() {
        let hv = if i % 2 == 0 { a.clone() } else { b.clone() };
        let (p, sid) = (p.clone(), lock_sid.clone());
        lockers_tasks.spawn(async move {
            let mut granted = 0;
            for _ in 0..12 {
                let act = |request| Command::Act {
                    session_id: sid.clone(),
                    agent: did(&p),
                    request,
                };
                let intent = if granted % 2 == 0 {
                    LockIntent::Write
                } else {
                    LockIntent::Exclusive
                };
                let req = ActionRequest::LockAcquire {
                    path: "/shared/plan.md".into(),
                    intent,
                    ttl_seconds: Some(600),
                    wait: false,
                };
                match hv.execute(Actor::Agent(did(&p)), act(req)).await {
                    Ok(Reply::Acted(ActOutcome::Locked { lock })) => {
                        granted += 1;
                        let rel = ActionRequest::LockRelease {
                            lock_id: lock.lock_id.clone(),
                        };
                        hv.execute(Actor::Agent(did(&p)), act(rel)).await.unwrap();
                    }
                    Ok(other) => panic!("unexpected reply {other:?}"),
                    Err(RuntimeError::Engine(_)) => {}
                    Err(e) => panic!("lock request failed: {e}"),
                }
            }
            granted
        });
    }
    let mut outcomes: BTreeMap<String, Vec<bool>> = BTreeMap::new();
    while let Some(r) = tasks.join_next().await {
        let (label, result) = r.unwrap();
        match &result {
            Ok(_) | Err(RuntimeError::Engine(_)) => {}
            Err(e) => panic!("{label}: not an engine decision: {e}"),
        }
        let key = label.rsplit_once(" from ").unwrap().0.to_string();
        outcomes.entry(key).or_default().push(result.is_ok());
    }
    let mut grants = 0;
    while let Some(r) = lockers_tasks.join_next().await {
        grants += r.unwrap();
    }
    assert!(grants > 0, "no lock was ever granted");

    a.sync().await.unwrap();
    b.sync().await.unwrap();

    // No agent joins twice; the capacity holds.
    for j in &joiners {
        let ok = outcomes[&format!("join {j} {big}")]
            .iter()
            .filter(|x| **x)
            .count();
        assert_eq!(ok, 1, "{j} must join the big session exactly once");
        let ok = outcomes[&format!("join {j} {small}")]
            .iter()
            .filter(|x| **x)
            .count();
        assert!(ok <= 1, "{j} joined the small session twice");
    }
    for hv in [&a, &b] {
        assert_eq!(participants(hv, &big), 12);
        assert_eq!(
            participants(hv, &small),
            5,
            "capacity 5 must be filled, not exceeded"
        );
    }

    // The exposure cap holds across sessions and nodes: σ 0.8 × 0.8 cap, bonds of 0.8 × 0.2.
    let vouches_ok: usize = (0..8)
        .map(|i| {
            outcomes[&format!("vouch w{i}")]
                .iter()
                .filter(|x| **x)
                .count()
        })
        .sum();
    assert_eq!(vouches_ok, 4, "exactly four bonds of 0.16 fit under 0.64");
    for hv in [&a, &b] {
        let exposure = hv
            .read(|e| e.books().vouches().exposure(&did("voucher"), hv.now()))
            .unwrap();
        assert!(
            exposure <= 0.64 + 1e-9,
            "exposure {exposure} exceeds the cap"
        );
        assert!(
            exposure > 0.63,
            "exposure {exposure}: the cap was not reached"
        );
    }

    // Conflicting locks were never both granted: replay the one global event sequence.
    let events_a = a.events(&EventFilter::default(), usize::MAX);
    let events_b = b.events(&EventFilter::default(), usize::MAX);
    let key = |v: &[ahv_runtime::StoredEvent]| -> Vec<(u64, String)> {
        v.iter()
            .map(|e| (e.seq, serde_json::to_string(&e.event).unwrap()))
            .collect()
    };
    assert_eq!(
        key(&events_a),
        key(&events_b),
        "both nodes hold one event history"
    );
    let seqs: Vec<u64> = events_a.iter().map(|e| e.seq).collect();
    assert_eq!(
        seqs,
        (1..=seqs.len() as u64).collect::<Vec<_>>(),
        "gap-free"
    );
    let mut holder: Option<String> = None;
    let mut acquired = 0;
    for e in events_a
        .iter()
        .filter(|e| e.event.session_id.as_ref() == Some(&lock_sid))
    {
        let id = e.event.payload.to_value()["lock_id"]
            .as_str()
            .map(str::to_string);
        match e.event.event_type {
            EventType::LockAcquired => {
                assert!(
                    holder.is_none(),
                    "lock {id:?} granted while {holder:?} was held (event {})",
                    e.seq
                );
                holder = id;
                acquired += 1;
            }
            EventType::LockReleased => {
                assert_eq!(holder, id, "released a lock that was not held");
                holder = None;
            }
            _ => {}
        }
    }
    assert_eq!(acquired, grants);

    // One linear audit history per session, identical on both nodes, verifying; and the whole
    // state is identical, and equal to a replay of the shared log from the start.
    let logs_a = a.read(audit_logs).unwrap();
    let logs_b = b.read(audit_logs).unwrap();
    assert_eq!(logs_a, logs_b);
    let state_a = engine_json(&a);
    assert_eq!(state_a, engine_json(&b), "the two replicas differ");
    let replayed = store_a
        .replay_from_start(EngineConfig::default())
        .await
        .unwrap();
    assert_eq!(serde_json::to_value(&replayed).unwrap(), state_a);
    assert_eq!(a.applied_position(), b.applied_position());

    store_a.close().await;
    store_b.close().await;
    drop_schema(&schema).await;
    eprintln!("two-node hammer took {:?}", started.elapsed());
}

const ONE_STEP: &str = "
name: one-step
session_id: \"{session}\"
steps:
  - id: only
    action_id: work
    agent: did:mesh:worker
    execute_api: slow
    timeout: 60
";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_expired_saga_lease_is_taken_over_and_the_stale_epoch_is_refused() {
    let Some((url, schema)) = fresh_schema().await else {
        return;
    };
    // Long enough that node A surely still holds the lease when checked, even on a loaded box.
    let ttl = Duration::from_millis(1500);
    // Node A never renews its leases (as if it hung); node B checks often.
    let paused = ClusterConfig {
        lease_check_interval: Duration::from_secs(3600),
        ..fast()
    };
    let (a, store_a) = node(&url, "a", ttl, paused).await;
    let (b, _store_b) = node(&url, "b", ttl, fast()).await;

    let a_started = Arc::new(Notify::new());
    let a_release = Arc::new(Notify::new());
    let a_keys = Arc::new(std::sync::Mutex::new(Vec::new()));
    {
        let (started, release, keys) = (a_started.clone(), a_release.clone(), a_keys.clone());
        a.register_executor(
            "slow",
            Arc::new(move |call: StepCall| {
                keys.lock().unwrap().push(call.idempotency_key);
                started.notify_one();
                let release = release.clone();
                async move {
                    release.notified().await;
                    StepResult::Ok(serde_json::json!({ "node": "a" }))
                }
            }),
        );
    }
    let b_started = Arc::new(Notify::new());
    let b_release = Arc::new(Notify::new());
    let b_keys = Arc::new(std::sync::Mutex::new(Vec::new()));
    {
        let (started, release, keys) = (b_started.clone(), b_release.clone(), b_keys.clone());
        b.register_executor(
            "slow",
            Arc::new(move |call: StepCall| {
                keys.lock().unwrap().push(call.idempotency_key);
                started.notify_one();
                let release = release.clone();
                async move {
                    release.notified().await;
                    StepResult::Ok(serde_json::json!({ "node": "b" }))
                }
            }),
        );
    }

    let sid = open_session(&a, &["worker".to_string()]).await;
    let def = parse_saga(&ONE_STEP.replace("{session}", sid.as_str())).unwrap();
    let Reply::Saga(view) = a
        .execute(Actor::Admin, Command::SubmitSaga { definition: def })
        .await
        .unwrap()
    else {
        panic!("not a saga")
    };
    let saga: SagaId = view.saga_id.clone();
    tokio::time::timeout(Duration::from_secs(5), a_started.notified())
        .await
        .expect("node A never started the step");
    let lease = store_a.saga_lease(&saga).await.unwrap().unwrap();
    assert_eq!((lease.node.as_str(), lease.epoch), ("a", 1));

    // A stops renewing; once the lease expires B takes it over with a new epoch and re-issues
    // the in-flight call with the same idempotency key.
    tokio::time::timeout(Duration::from_secs(10), b_started.notified())
        .await
        .expect("node B never took the saga over");
    let lease = store_a.saga_lease(&saga).await.unwrap().unwrap();
    assert_eq!((lease.node.as_str(), lease.epoch), ("b", 2));
    assert_eq!(*a_keys.lock().unwrap(), *b_keys.lock().unwrap());

    // A report from A under its old epoch is refused and changes nothing.
    let step_id = a
        .read(|e| e.saga_view(&saga).unwrap().steps[0].step_id.clone())
        .unwrap();
    let stale = Command::SagaInput {
        saga_id: saga.clone(),
        input: SagaInput::StepFailed {
            step_id: step_id.clone(),
            attempt: 1,
            error: "late report from a node that lost its lease".into(),
            class: ErrorClass::Final,
        },
    };
    let fence = Fence {
        saga_id: saga.clone(),
        epoch: 1,
    };
    let err = a
        .execute_fenced(Actor::System, stale, Some(fence))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, RuntimeError::Engine(EngineError::Conflict(m)) if m.contains("stale saga lease")),
        "{err}"
    );
    b.sync().await.unwrap();
    let step_state = |hv: &Hypervisor| {
        hv.read(|e| e.saga_view(&saga).unwrap().steps[0].state)
            .unwrap()
    };
    assert_eq!(step_state(&b), StepState::Executing);

    // B finishes the step; both nodes see the saga committed with B's output.
    b_release.notify_one();
    assert!(b.wait_saga(&saga, Duration::from_secs(10)).await.unwrap());
    a.sync().await.unwrap();
    for hv in [&a, &b] {
        let v = hv.read(|e| e.saga_view(&saga).unwrap()).unwrap();
        assert_eq!(v.state, SagaState::Completed, "{v:?}");
        assert_eq!(v.steps[0].state, StepState::Committed);
    }
    // A's call finally returns: its report carries epoch 1 and is refused; nothing changes.
    a_release.notify_one();
    tokio::time::sleep(Duration::from_millis(300)).await;
    a.sync().await.unwrap();
    b.sync().await.unwrap();
    assert_eq!(engine_json(&a), engine_json(&b));
    let after_v = b.read(|e| e.saga_view(&saga).unwrap()).unwrap();
    assert_eq!(after_v.state, SagaState::Completed);
    drop_schema(&schema).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failed_commit_fails_the_request_and_the_node_rebuilds_before_writing_again() {
    let Some((url, schema)) = fresh_schema().await else {
        return;
    };
    let (a, store_a) = node(&url, "a", Duration::from_secs(10), fast()).await;
    let (b, _store_b) = node(&url, "b", Duration::from_secs(10), fast()).await;
    let kept = create_session(&a, 10).await;
    b.sync().await.unwrap();

    // Fault injection: the database refuses to store any command naming `poison`, after the
    // node has already applied it to its engine.
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    sqlx::raw_sql(
        "CREATE FUNCTION refuse_poison() RETURNS trigger AS $$ BEGIN \
           IF NEW.entry::text LIKE '%did:mesh:poison%' THEN RAISE EXCEPTION 'injected failure'; END IF; \
           RETURN NEW; END $$ LANGUAGE plpgsql; \
         CREATE TRIGGER refuse_poison BEFORE INSERT ON commands FOR EACH ROW EXECUTE FUNCTION refuse_poison();",
    )
    .execute(&pool)
    .await
    .unwrap();
    let cmd = Command::CreateSession {
        creator: did("poison"),
        config: SessionConfig::default(),
        isolation: IsolationLevel::ReadCommitted,
    };
    let err = a.execute(Actor::Admin, cmd).await.unwrap_err();
    assert!(
        matches!(&err, RuntimeError::Storage(m) if m.contains("injected failure")),
        "{err}"
    );

    // The node rebuilds from the store (fail closed meanwhile), then accepts changes again.
    let deadline = Instant::now() + Duration::from_secs(10);
    while a.failure().is_some() {
        assert!(Instant::now() < deadline, "node A never rebuilt");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let sessions = |hv: &Hypervisor| hv.read(|e| e.session_ids(None)).unwrap();
    assert_eq!(
        sessions(&a),
        vec![kept.clone()],
        "the undurable session is gone"
    );
    let later = create_session(&a, 10).await;
    let from_b = create_session(&b, 10).await;
    a.sync().await.unwrap();
    b.sync().await.unwrap();
    assert_eq!(sessions(&a).len(), 3);
    assert!(sessions(&b).contains(&later) && sessions(&a).contains(&from_b));
    assert_eq!(engine_json(&a), engine_json(&b));
    let events = |hv: &Hypervisor| {
        hv.events(&EventFilter::default(), usize::MAX)
            .into_iter()
            .map(|e| (e.seq, serde_json::to_string(&e.event).unwrap()))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        events(&a),
        events(&b),
        "event numbering resumed where the log ends"
    );
    let replayed = store_a
        .replay_from_start(EngineConfig::default())
        .await
        .unwrap();
    assert_eq!(serde_json::to_value(&replayed).unwrap(), engine_json(&a));
    pool.close().await;
    drop_schema(&schema).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn saga_work_requested_on_any_node_runs_on_the_lease_holder() {
    use ahv_core::id::{ActionId, StepId};
    use ahv_core::saga::StepDefinition;
    let Some((url, schema)) = fresh_schema().await else {
        return;
    };
    // No periodic lease work: the holder is whoever first produced work for the saga.
    let quiet = ClusterConfig {
        lease_check_interval: Duration::from_secs(3600),
        ..fast()
    };
    let (a, store_a) = node(&url, "a", Duration::from_secs(30), quiet.clone()).await;
    let (b, _store_b) = node(&url, "b", Duration::from_secs(30), quiet).await;
    let ran = Arc::new(std::sync::Mutex::new(Vec::new()));
    for (name, hv) in [("a", &a), ("b", &b)] {
        let ran = ran.clone();
        hv.register_executor(
            "record",
            Arc::new(move |call: StepCall| {
                ran.lock()
                    .unwrap()
                    .push((name, call.step_id.as_str().to_string()));
                async { StepResult::Ok(serde_json::json!({})) }
            }),
        );
    }
    let sid = open_session(&a, &["worker".to_string()]).await;
    let Reply::Saga(view) = a
        .execute(
            Actor::Admin,
            Command::CreateSaga {
                session_id: sid.clone(),
            },
        )
        .await
        .unwrap()
    else {
        panic!("not a saga")
    };
    let saga = view.saga_id.clone();
    let steps: Vec<StepId> = ["step:one", "step:two"]
        .iter()
        .map(|s| StepId::new(*s).unwrap())
        .collect();
    for s in &steps {
        let step = StepDefinition::new(
            s.clone(),
            ActionId::new("work").unwrap(),
            did("worker"),
            "record",
        );
        a.execute(
            Actor::Admin,
            Command::AddStep {
                saga_id: saga.clone(),
                step,
            },
        )
        .await
        .unwrap();
    }
    let execute = |step: &StepId| Command::ExecuteStep {
        saga_id: saga.clone(),
        step_id: step.clone(),
    };
    a.execute(Actor::Admin, execute(&steps[0])).await.unwrap();
    assert_eq!(
        a.wait_step(&saga, &steps[0], Duration::from_secs(10))
            .await
            .unwrap(),
        Some(StepState::Committed)
    );
    let lease = store_a.saga_lease(&saga).await.unwrap().unwrap();
    assert_eq!(lease.node, "a");

    // Step two is started through node B: node A, the lease holder, carries it out.
    b.sync().await.unwrap();
    b.execute(Actor::Admin, execute(&steps[1])).await.unwrap();
    assert_eq!(
        b.wait_step(&saga, &steps[1], Duration::from_secs(10))
            .await
            .unwrap(),
        Some(StepState::Committed)
    );
    let ran = ran.lock().unwrap().clone();
    assert_eq!(
        ran,
        vec![("a", "step:one".to_string()), ("a", "step:two".to_string())]
    );
    drop_schema(&schema).await;
}

/// A single node started on a cluster's database is refused at start, before it writes
/// anything; the cluster goes on undisturbed.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_single_node_on_a_clusters_database_is_refused_at_start() {
    let Some((url, schema)) = fresh_schema().await else {
        return;
    };
    let (a, _store_a) = node(&url, "a", Duration::from_secs(10), fast()).await;
    create_session(&a, 10).await;

    let single = Store::open(&Location::Postgres(url.clone()), StoreOptions::default())
        .await
        .unwrap();
    let err = single.recover(EngineConfig::default()).await.unwrap_err();
    assert!(matches!(err, StoreError::ClusterLog { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("shared command log of a cluster; a single node would collide"),
        "{err}"
    );
    single.close().await;

    // Refused early enough that the cluster keeps writing at its own positions.
    create_session(&a, 10).await;
    let (b, _store_b) = node(&url, "b", Duration::from_secs(10), fast()).await;
    create_session(&b, 10).await;
    a.sync().await.unwrap();
    assert_eq!(engine_json(&a), engine_json(&b));
    drop_schema(&schema).await;
}

/// A cluster node started on a single node's database is refused likewise.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_cluster_node_on_a_single_nodes_database_is_refused_at_start() {
    let Some((url, schema)) = fresh_schema().await else {
        return;
    };
    let (hv, single) = single_node(&url).await;
    create_session(&hv, 10).await;

    let joining = Store::open(&Location::Postgres(url.clone()), StoreOptions::default())
        .await
        .unwrap();
    let err = joining
        .join_cluster("a", EngineConfig::default(), Duration::from_secs(10))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::SingleNodeLog { .. }), "{err}");
    joining.close().await;

    // The single node keeps writing, and recovers again as before.
    create_session(&hv, 10).await;
    drop(hv);
    single.close().await;
    let again = Store::open(&Location::Postgres(url.clone()), StoreOptions::default())
        .await
        .unwrap();
    let r = again.recover(EngineConfig::default()).await.unwrap();
    assert_eq!(r.report.last_pos, 2);
    again.close().await;
    drop_schema(&schema).await;
}

/// Two single nodes on one database: the second is refused at start while the first runs, and
/// starts once the first has closed its store.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_second_single_node_on_a_running_nodes_database_is_refused_at_start() {
    let Some((url, schema)) = fresh_schema().await else {
        return;
    };
    let location = Location::Postgres(url.clone());
    let (hv, first) = single_node(&url).await;
    create_session(&hv, 10).await;

    let second = Store::open(&location, StoreOptions::default())
        .await
        .unwrap();
    let err = second.recover(EngineConfig::default()).await.unwrap_err();
    assert!(matches!(err, StoreError::LogInUse { .. }), "{err}");
    assert!(err.to_string().contains("another running server"), "{err}");
    // A cluster node is refused too (by the mode marker), and the first node goes on.
    let err = second
        .join_cluster("a", EngineConfig::default(), Duration::from_secs(10))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::SingleNodeLog { .. }), "{err}");
    create_session(&hv, 10).await;
    // Recovering again on its own store is not a second writer.
    drop(hv);
    let r = first.recover(EngineConfig::default()).await.unwrap();
    assert_eq!(r.report.last_pos, 2);
    drop(r);

    first.close().await;
    let r = second.recover(EngineConfig::default()).await.unwrap();
    assert_eq!(r.report.last_pos, 2);
    second.close().await;
    drop_schema(&schema).await;
}
