//! Group-commit benchmark: the disk's own fsync latency, then acknowledged governed actions per
//! second with 64 concurrent callers and the single-caller latency, on memory, SQLite and (when
//! `AHV_TEST_POSTGRES_URL` is set) PostgreSQL.
//!
//! Run in release: `cargo run --release -p ahv-store --example commit_bench`.
//! `AHV_BENCH_ONLY=memory,sqlite,postgres,cluster` picks rows; `cluster` is two cluster nodes
//! (`Store::join_cluster`) on one PostgreSQL schema, the 64 callers split between them and the
//! single caller on the first.
//! `AHV_BENCH_SECS` sets the length of each throughput run (default 3), `AHV_BENCH_DIR` the
//! directory the SQLite file and the fsync probe live in (default: a temporary directory).
//!
//! Each action is a VFS write by a different agent in one active session, through the whole
//! governed path (`Hypervisor::execute`: ring, rate limit, clocks, audit, events), and it counts
//! only once the caller got its answer — that is, after its batch was committed.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fs::OpenOptions;
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ahv_core::engine::{ActionRequest, Actor, Command, EngineConfig, Reply};
use ahv_core::id::{AgentDid, SessionId};
use ahv_core::score::Score;
use ahv_core::security::rate_limit::{RatePolicy, RingPolicies};
use ahv_core::session::SessionConfig;
use ahv_core::vclock::IsolationLevel;
use ahv_core::vfs::VfsLimits;
use ahv_runtime::{ClusterConfig, Hypervisor, RuntimeConfig, Signer, SystemClock};
use ahv_store::{Location, Store, StoreOptions};

const CALLERS: usize = 64;
const SINGLE_SAMPLES: usize = 400;
const FSYNC_SAMPLES: usize = 400;

fn config() -> EngineConfig {
    let fast = RatePolicy::new(1_000_000, 1_000_000).unwrap();
    EngineConfig {
        rate: RingPolicies {
            ring0: fast,
            ring1: fast,
            ring2: fast,
            ring3: fast,
        },
        vfs: VfsLimits {
            max_files: 10_000_000,
            max_total_bytes: 1 << 34,
            ..VfsLimits::default()
        },
        ..EngineConfig::default()
    }
}

fn did(i: usize) -> AgentDid {
    AgentDid::new(format!("did:mesh:bench{i}")).unwrap()
}

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    let i = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples.get(i).copied().unwrap_or_default()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// fdatasync latency of the disk, two ways, `FSYNC_SAMPLES` times each: appending 4 KiB (the
/// file grows, so metadata is flushed too) and overwriting 4 KiB in a preallocated file (what a
/// reused SQLite WAL mostly does). Returns (append p50, append p99, overwrite p50, overwrite p99).
fn fsync_latency(dir: &std::path::Path) -> [Duration; 4] {
    use std::io::{Seek, SeekFrom};
    let path = dir.join("fsync-probe");
    let block = [0x42u8; 4096];
    let mut f = OpenOptions::new()
        .create(true)
        .truncate(true)
        .read(true)
        .write(true)
        .open(&path)
        .unwrap();
    let mut append = Vec::with_capacity(FSYNC_SAMPLES);
    for _ in 0..FSYNC_SAMPLES {
        let t = Instant::now();
        f.write_all(&block).unwrap();
        f.sync_data().unwrap();
        append.push(t.elapsed());
    }
    f.sync_all().unwrap();
    let mut overwrite = Vec::with_capacity(FSYNC_SAMPLES);
    for i in 0..FSYNC_SAMPLES {
        f.seek(SeekFrom::Start((i * block.len()) as u64)).unwrap();
        let t = Instant::now();
        f.write_all(&block).unwrap();
        f.sync_data().unwrap();
        overwrite.push(t.elapsed());
    }
    drop(f);
    let _ = std::fs::remove_file(&path);
    [
        percentile(&mut append, 0.5),
        percentile(&mut append, 0.99),
        percentile(&mut overwrite, 0.5),
        percentile(&mut overwrite, 0.99),
    ]
}

struct Row {
    backend: &'static str,
    acks_per_sec: f64,
    avg_batch: f64,
    p50_64: Duration,
    p50_1: Duration,
    p99_1: Duration,
}

async fn start(store: &Store) -> (Hypervisor, SessionId) {
    let r = store.recover(config()).await.unwrap();
    let key = Signer::generate_key().unwrap();
    let hv = Hypervisor::new(
        r.engine,
        r.log,
        Arc::new(SystemClock::new()),
        key,
        RuntimeConfig::default(),
    );
    let sid = setup(&hv).await;
    (hv, sid)
}

/// A cluster node on `store` (PostgreSQL).
async fn start_node(store: &Store, id: &str) -> Hypervisor {
    let r = store
        .join_cluster(id, config(), ahv_store::DEFAULT_LEASE_TTL)
        .await
        .unwrap();
    let mut clock = SystemClock::new();
    if let Some(at) = r.last_at {
        clock = clock.not_before(at);
    }
    Hypervisor::new_cluster(
        r.engine,
        r.pos,
        r.last_at,
        r.shared,
        Arc::new(clock),
        Signer::generate_key().unwrap(),
        RuntimeConfig::default(),
        ClusterConfig::default(),
    )
}

/// Creates the benchmark session with its `CALLERS` agents and activates it.
async fn setup(hv: &Hypervisor) -> SessionId {
    let session = SessionConfig {
        max_participants: 1_000,
        ..SessionConfig::default()
    };
    let cmd = Command::CreateSession {
        creator: did(0),
        config: session,
        isolation: IsolationLevel::Snapshot,
    };
    let Reply::Session(view) = hv.execute(Actor::Admin, cmd).await.unwrap() else {
        panic!("no session")
    };
    let sid = view.session_id.clone();
    for i in 0..CALLERS {
        let cmd = Command::Join {
            session_id: sid.clone(),
            agent: did(i),
            sigma_raw: Some(Score::clamped(0.8)),
            actions: vec![],
        };
        hv.execute(Actor::Admin, cmd).await.unwrap();
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

async fn write(hv: &Hypervisor, sid: &SessionId, agent: usize, i: u64) {
    let request = ActionRequest::VfsWrite {
        path: format!("/a{agent}/{i}"),
        content: format!("value {i}"),
    };
    let cmd = Command::Act {
        session_id: sid.clone(),
        agent: did(agent),
        request,
    };
    hv.execute(Actor::Agent(did(agent)), cmd).await.unwrap();
}

async fn measure(store: Store, secs: u64) -> Row {
    let (hv, sid) = start(&store).await;
    let row = run(
        store.kind(),
        &[hv],
        std::slice::from_ref(&store),
        &sid,
        secs,
    )
    .await;
    store.close().await;
    row
}

/// Two cluster nodes on one PostgreSQL schema.
async fn measure_cluster(url: &str, secs: u64) -> Row {
    let open = || async {
        Store::open(
            &Location::Postgres(url.to_string()),
            StoreOptions::default(),
        )
        .await
        .unwrap()
    };
    let (sa, sb) = (open().await, open().await);
    let a = start_node(&sa, "a").await;
    let sid = setup(&a).await;
    let b = start_node(&sb, "b").await;
    b.sync().await.unwrap();
    let row = run("cluster2", &[a, b], &[sa.clone(), sb.clone()], &sid, secs).await;
    sa.close().await;
    sb.close().await;
    row
}

/// Single-caller latency on the first node, then `CALLERS` callers spread over the nodes.
async fn run(
    backend: &'static str,
    nodes: &[Hypervisor],
    stores: &[Store],
    sid: &SessionId,
    secs: u64,
) -> Row {
    let hv = &nodes[0];
    let stats = || {
        stores.iter().fold((0, 0), |(b, e), s| {
            let st = s.stats();
            (b + st.batches, e + st.entries)
        })
    };
    // Single caller first: one action at a time.
    let mut single = Vec::with_capacity(SINGLE_SAMPLES);
    for i in 0..SINGLE_SAMPLES as u64 {
        let t = Instant::now();
        write(hv, sid, 0, i).await;
        single.push(t.elapsed());
    }
    // Then 64 callers for `secs` seconds.
    let before = stats();
    let stop = Arc::new(AtomicBool::new(false));
    let acks = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for agent in 0..CALLERS {
        let hv = nodes[agent % nodes.len()].clone();
        let (sid, stop, acks) = (sid.clone(), stop.clone(), acks.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut i = 1_000_000;
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                write(&hv, &sid, agent, i).await;
                lat.push(t.elapsed());
                acks.fetch_add(1, Ordering::Relaxed);
                i += 1;
            }
            lat
        }));
    }
    tokio::time::sleep(Duration::from_secs(secs)).await;
    stop.store(true, Ordering::Relaxed);
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let elapsed = started.elapsed();
    let after = stats();
    let batches = (after.0 - before.0).max(1);
    Row {
        backend,
        acks_per_sec: acks.load(Ordering::Relaxed) as f64 / elapsed.as_secs_f64(),
        avg_batch: (after.1 - before.1) as f64 / batches as f64,
        p50_64: percentile(&mut all, 0.5),
        p50_1: percentile(&mut single, 0.5),
        p99_1: percentile(&mut single, 0.99),
    }
}

async fn postgres_store(base: &str) -> (Store, String) {
    let (url, schema) = postgres_schema(base, "ahv_bench").await;
    (
        Store::open(&Location::Postgres(url), StoreOptions::default())
            .await
            .unwrap(),
        schema,
    )
}

/// A fresh schema named `prefix_<pid>` and the URL that uses it.
async fn postgres_schema(base: &str, prefix: &str) -> (String, String) {
    let schema = format!("{prefix}_{}", std::process::id());
    let pool = sqlx::PgPool::connect(base).await.unwrap();
    sqlx::raw_sql(&format!(
        "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"
    ))
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;
    let sep = if base.contains('?') { '&' } else { '?' };
    (
        format!("{base}{sep}options=-c%20search_path%3D{schema}"),
        schema,
    )
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let secs: u64 = std::env::var("AHV_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let tmp = tempfile::tempdir().unwrap();
    let dir = std::env::var("AHV_BENCH_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| tmp.path().to_path_buf());
    std::fs::create_dir_all(&dir).unwrap();
    let [a50, a99, o50, o99] = fsync_latency(&dir);
    println!(
        "disk ({}): append 4 KiB + fdatasync p50 {:.3} ms, p99 {:.3} ms",
        dir.display(),
        ms(a50),
        ms(a99)
    );
    println!(
        "disk ({}): overwrite 4 KiB + fdatasync p50 {:.3} ms, p99 {:.3} ms",
        dir.display(),
        ms(o50),
        ms(o99)
    );
    let f50 = a50.max(o50);
    let only = std::env::var("AHV_BENCH_ONLY").unwrap_or_default();
    let wanted = |b: &str| only.is_empty() || only.split(',').any(|o| o == b);
    let mut rows = Vec::new();
    if wanted("memory") {
        rows.push(measure(Store::memory(StoreOptions::default()), secs).await);
    }
    if wanted("sqlite") {
        let db_dir = dir.join(format!("bench-{}", std::process::id()));
        rows.push(
            measure(
                Store::open(&Location::dir(&db_dir), StoreOptions::default())
                    .await
                    .unwrap(),
                secs,
            )
            .await,
        );
        let _ = std::fs::remove_dir_all(&db_dir);
    }
    match std::env::var("AHV_TEST_POSTGRES_URL") {
        Ok(base) if wanted("postgres") => {
            let (store, schema) = postgres_store(&base).await;
            rows.push(measure(store, secs).await);
            let pool = sqlx::PgPool::connect(&base).await.unwrap();
            let _ = sqlx::raw_sql(&format!("DROP SCHEMA {schema} CASCADE"))
                .execute(&pool)
                .await;
        }
        Ok(_) => {}
        Err(_) => println!("postgres: skipped (AHV_TEST_POSTGRES_URL is not set)"),
    }
    if let Ok(base) = std::env::var("AHV_TEST_POSTGRES_URL")
        && wanted("cluster")
    {
        let (url, schema) = postgres_schema(&base, "ahv_bench_cluster").await;
        rows.push(measure_cluster(&url, secs).await);
        let pool = sqlx::PgPool::connect(&base).await.unwrap();
        let _ = sqlx::raw_sql(&format!("DROP SCHEMA {schema} CASCADE"))
            .execute(&pool)
            .await;
    }

    println!();
    println!(
        "| backend  | acks/s, {CALLERS} callers | avg batch | p50 ms, {CALLERS} callers | p50 ms, 1 caller | p99 ms, 1 caller | 1-caller p50 / fsync p50 (slower probe) |"
    );
    println!(
        "|----------|------------------|-----------|-----------------|------------------|------------------|-----------------------------------------|"
    );
    for r in rows {
        println!(
            "| {:<8} | {:>16.0} | {:>9.1} | {:>15.3} | {:>16.3} | {:>16.3} | {:>39.2} |",
            r.backend,
            r.acks_per_sec,
            r.avg_batch,
            ms(r.p50_64),
            ms(r.p50_1),
            ms(r.p99_1),
            r.p50_1.as_secs_f64() / f50.as_secs_f64().max(1e-9)
        );
    }
}
