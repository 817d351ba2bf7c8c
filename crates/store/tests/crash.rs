//! Crash test: a child process writes through a real hypervisor on an SQLite store and prints
//! each write only after it was acknowledged; the parent SIGKILLs it at a random moment, over
//! and over, and after every kill recovers the store and checks that every acknowledged write is
//! present and every audit log's Merkle root recomputes from its entries.
//!
//! The child is this same test binary, re-run with `AHV_CRASH_WRITER_DIR` set and filtered to
//! [`crash_writer_child`] (which does nothing in a normal test run), so no extra binary target
//! is needed.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::hash::{BuildHasher, Hasher};
use std::io::{BufRead, BufReader, Write};
use std::process::{Command as Process, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ahv_core::audit::merkle;
use ahv_core::engine::{ActionRequest, Actor, Command, Engine, EngineConfig, Reply};
use ahv_core::id::{AgentDid, SessionId};
use ahv_core::score::Score;
use ahv_core::security::rate_limit::{RatePolicy, RingPolicies};
use ahv_core::session::SessionConfig;
use ahv_core::vclock::IsolationLevel;
use ahv_core::vfs::VfsLimits;
use ahv_runtime::{Hypervisor, RuntimeConfig, Signer, SystemClock};
use ahv_store::{Location, Store, StoreOptions, snapshot_every};

const WRITERS: usize = 8;
const RUNS: usize = 22;
const SESSION_KEY: &str = "crash.session";

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
            max_files: 1_000_000,
            max_total_bytes: 1 << 30,
            ..VfsLimits::default()
        },
        ..EngineConfig::default()
    }
}

fn did(i: usize) -> AgentDid {
    AgentDid::new(format!("did:mesh:w{i}")).unwrap()
}

/// The child: writes until killed (or 30 s pass, as a safety net).
#[test]
fn crash_writer_child() {
    let Ok(dir) = std::env::var("AHV_CRASH_WRITER_DIR") else {
        return;
    };
    let run: usize = std::env::var("AHV_CRASH_RUN").unwrap().parse().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let store = Store::open(&Location::dir(&dir), StoreOptions::default())
            .await
            .unwrap();
        let r = store.recover(config()).await.unwrap();
        let clock = SystemClock::new().not_before(r.report.last_at.unwrap_or_default());
        let key = Signer::generate_key().unwrap();
        let hv = Hypervisor::new(
            r.engine,
            r.log,
            Arc::new(clock),
            key,
            RuntimeConfig::default(),
        );
        hv.bus().restore(r.events);
        let sid = session(&hv, &store).await;
        tokio::spawn(snapshot_every(
            hv.clone(),
            store.clone(),
            Duration::from_millis(40),
            50,
        ));
        // The harness printed `test crash_writer_child ... ` without a newline.
        say("\nready");
        let mut tasks = Vec::new();
        for w in 0..WRITERS {
            let (hv, sid) = (hv.clone(), sid.clone());
            tasks.push(tokio::spawn(async move {
                for i in 0.. {
                    let path = format!("/r{run}/w{w}/{i}");
                    let content = format!("{run}-{w}-{i}");
                    let request = ActionRequest::VfsWrite {
                        path: path.clone(),
                        content: content.clone(),
                    };
                    let cmd = Command::Act {
                        session_id: sid.clone(),
                        agent: did(w),
                        request,
                    };
                    match hv.execute(Actor::Agent(did(w)), cmd).await {
                        Ok(_) => say(&format!("ack {w} {path} {content}")),
                        Err(e) => say(&format!("err {e}")),
                    }
                }
            }));
        }
        tokio::time::sleep(Duration::from_secs(30)).await;
    });
}

/// The session all runs write into, created (durably) by the first run.
async fn session(hv: &Hypervisor, store: &Store) -> SessionId {
    if let Some(s) = store.get_meta(SESSION_KEY).await.unwrap() {
        return SessionId::new(s).unwrap();
    }
    let config = SessionConfig {
        max_participants: 100,
        max_duration_seconds: 24 * 3600,
        ..SessionConfig::default()
    };
    let cmd = Command::CreateSession {
        creator: did(0),
        config,
        isolation: IsolationLevel::Snapshot,
    };
    let Reply::Session(view) = hv.execute(Actor::Admin, cmd).await.unwrap() else {
        panic!("no session")
    };
    let sid = view.session_id.clone();
    for w in 0..WRITERS {
        let cmd = Command::Join {
            session_id: sid.clone(),
            agent: did(w),
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
    store.set_meta(SESSION_KEY, sid.as_str()).await.unwrap();
    sid
}

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

fn random_u64() -> u64 {
    std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish()
}

#[test]
fn acknowledged_writes_survive_sigkill() {
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    // path -> (writer, content) of every acknowledged write so far.
    let mut acked: BTreeMap<String, (usize, String)> = BTreeMap::new();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    for run in 0..RUNS {
        let mut child = Process::new(&exe)
            .args([
                "--exact",
                "crash_writer_child",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("AHV_CRASH_WRITER_DIR", dir.path())
            .env("AHV_CRASH_RUN", run.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let (tx, rx) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || {
            let mut lines = Vec::new();
            let mut buf = Vec::new();
            while out
                .read_until(b'\n', &mut buf)
                .map(|n| n > 0)
                .unwrap_or(false)
            {
                // A line cut by the kill has no newline: it was not fully reported, ignore it.
                if buf.ends_with(b"\n") {
                    let line = String::from_utf8_lossy(&buf).trim_end().to_string();
                    if line == "ready" {
                        let _ = tx.send(());
                    }
                    lines.push(line);
                }
                buf.clear();
            }
            lines
        });
        rx.recv_timeout(Duration::from_secs(20))
            .expect("the writer did not start");
        std::thread::sleep(Duration::from_millis(20 + random_u64() % 250));
        child.kill().unwrap(); // SIGKILL on Unix
        child.wait().unwrap();
        let lines = reader.join().unwrap();
        let errors: Vec<&String> = lines.iter().filter(|l| l.starts_with("err ")).collect();
        assert!(errors.is_empty(), "run {run}: writes failed: {errors:?}");
        for l in lines.iter().filter_map(|l| l.strip_prefix("ack ")) {
            let mut parts = l.splitn(3, ' ');
            let (w, path, content) = (
                parts.next().unwrap(),
                parts.next().unwrap(),
                parts.next().unwrap(),
            );
            acked.insert(path.to_string(), (w.parse().unwrap(), content.to_string()));
        }
        rt.block_on(verify(dir.path(), &acked, run));
    }
    assert!(
        acked.len() > RUNS,
        "only {} writes were acknowledged",
        acked.len()
    );
    eprintln!(
        "{} acknowledged writes survived {RUNS} SIGKILLs in {:?}",
        acked.len(),
        started.elapsed()
    );
}

/// Recovers the store and checks every acknowledged write and every audit log.
async fn verify(dir: &std::path::Path, acked: &BTreeMap<String, (usize, String)>, run: usize) {
    let store = Store::open(&Location::dir(dir), StoreOptions::default())
        .await
        .unwrap();
    let r = store.recover(config()).await.unwrap();
    let sid = SessionId::new(store.get_meta(SESSION_KEY).await.unwrap().unwrap()).unwrap();
    let slot = r.engine.books().slot(&sid).unwrap();
    for (path, (w, content)) in acked {
        let p = slot.vfs.path(path).unwrap();
        let found = slot.vfs.read(&p, &did(*w));
        assert_eq!(
            found.ok(),
            Some(content.as_str()),
            "run {run}: acknowledged write `{path}` is missing"
        );
    }
    verify_audit(&r.engine, run);
    store.close().await;
}

fn verify_audit(engine: &Engine, run: usize) {
    let mut trails = vec![engine.hypervisor_log()];
    for sid in engine.session_ids(None) {
        trails.push(engine.audit_trail(&sid).unwrap());
    }
    for trail in trails {
        assert_eq!(trail.first_held(), 0, "all entries are held in this test");
        let entries = trail.entries(0, usize::MAX);
        assert_eq!(entries.len() as u64, trail.len());
        let leaves: Vec<_> = entries.iter().map(|e| e.leaf_hash()).collect();
        assert_eq!(
            merkle::root(&leaves),
            trail.root(),
            "run {run}: audit log `{}` does not verify",
            trail.log_id()
        );
    }
}
