//! Throughput of sagas whose steps are real HTTP calls to a local endpoint.
//!
//! `cargo run --release -p ahv-runtime --example http_saga_bench [SAGAS] [CONCURRENCY]`
//!
//! Starts a step endpoint on 127.0.0.1 (answers 200 at once), then runs SAGAS three-step DSL
//! sagas (default 2,000), CONCURRENCY at a time (default 64), through a `Hypervisor` with the
//! in-memory log: every step is governed, audited, POSTed with its Idempotency-Key and reported
//! back. Prints sagas/s, HTTP steps/s and the p50/p99 time from submission to `completed`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use ahv_core::engine::{Actor, Command, Engine, EngineConfig, Reply};
use ahv_core::id::AgentDid;
use ahv_core::saga::{SagaState, parse_saga};
use ahv_core::score::Score;
use ahv_core::security::rate_limit::{RatePolicy, RingPolicies};
use ahv_core::session::SessionConfig;
use ahv_core::vclock::IsolationLevel;
use ahv_runtime::{Hypervisor, MemoryLog, RuntimeConfig, Signer, SystemClock};
use axum::routing::post;

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let sagas: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(2_000);
    let concurrency: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(64);

    let app = axum::Router::new().route(
        "/{*p}",
        post(|| async { axum::Json(serde_json::json!({ "ok": true })) }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let high = RatePolicy::new(100_000, 100_000).unwrap();
    let config = EngineConfig {
        rate: RingPolicies {
            ring0: high,
            ring1: high,
            ring2: high,
            ring3: high,
        },
        max_sagas: 1_000_000,
        ..EngineConfig::default()
    };
    let hv = Hypervisor::new(
        Engine::new(config).unwrap(),
        Arc::new(MemoryLog::default()),
        Arc::new(SystemClock::new()),
        Signer::generate_key().unwrap(),
        RuntimeConfig::default(),
    );
    let Reply::Session(v) = hv
        .execute(
            Actor::Admin,
            Command::CreateSession {
                creator: AgentDid::new("did:mesh:owner").unwrap(),
                config: SessionConfig {
                    max_duration_seconds: 86_400,
                    ..SessionConfig::default()
                },
                isolation: IsolationLevel::ReadCommitted,
            },
        )
        .await
        .unwrap()
    else {
        panic!()
    };
    let sid = v.session_id.clone();
    hv.execute(
        Actor::Admin,
        Command::Join {
            session_id: sid.clone(),
            agent: AgentDid::new("did:mesh:alpha").unwrap(),
            sigma_raw: Some(Score::new(0.8).unwrap()),
            actions: vec![],
        },
    )
    .await
    .unwrap();
    hv.execute(
        Actor::Admin,
        Command::Activate {
            session_id: sid.clone(),
        },
    )
    .await
    .unwrap();

    let yaml = format!(
        "name: bench\nsession_id: {sid}\nsteps:\n  - {{ id: s1, action_id: a, agent: did:mesh:alpha, execute_api: http://127.0.0.1:{port}/s1, undo_api: http://127.0.0.1:{port}/u1 }}\n  - {{ id: s2, action_id: a, agent: did:mesh:alpha, execute_api: http://127.0.0.1:{port}/s2, undo_api: http://127.0.0.1:{port}/u2 }}\n  - {{ id: s3, action_id: a, agent: did:mesh:alpha, execute_api: http://127.0.0.1:{port}/s3 }}\n"
    );
    let def = parse_saga(&yaml).unwrap();
    let started = Instant::now();
    let sem = Arc::new(tokio::sync::Semaphore::new(concurrency));
    let mut tasks = Vec::with_capacity(sagas);
    for _ in 0..sagas {
        let permit = sem.clone().acquire_owned().await.unwrap();
        let (hv, def) = (hv.clone(), def.clone());
        tasks.push(tokio::spawn(async move {
            let t = Instant::now();
            let Reply::Saga(v) = hv
                .execute(Actor::Admin, Command::SubmitSaga { definition: def })
                .await
                .unwrap()
            else {
                panic!()
            };
            assert!(
                hv.wait_saga(&v.saga_id, Duration::from_secs(60))
                    .await
                    .unwrap()
            );
            let state = hv.read(|e| e.saga_view(&v.saga_id).unwrap().state).unwrap();
            assert_eq!(state, SagaState::Completed);
            drop(permit);
            t.elapsed()
        }));
    }
    let mut lat = Vec::with_capacity(sagas);
    for t in tasks {
        lat.push(t.await.unwrap());
    }
    let total = started.elapsed();
    lat.sort();
    let pct = |p: f64| lat[((lat.len() as f64 * p) as usize).min(lat.len() - 1)];
    println!(
        "http sagas: {sagas} × 3 steps, concurrency {concurrency}, in {:.2} s",
        total.as_secs_f64()
    );
    println!("  sagas/s        {:.0}", sagas as f64 / total.as_secs_f64());
    println!(
        "  HTTP steps/s   {:.0}",
        (3 * sagas) as f64 / total.as_secs_f64()
    );
    println!(
        "  saga latency   p50 {:.2} ms, p99 {:.2} ms",
        pct(0.5).as_secs_f64() * 1e3,
        pct(0.99).as_secs_f64() * 1e3
    );
}
