//! A hypervisor with a session and agents, and a local step server that records every call.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ahv_core::engine::{Actor, Command, Engine, EngineConfig, Reply};
use ahv_core::id::{AgentDid, SagaId, SessionId};
use ahv_core::saga::{SagaState, parse_saga};
use ahv_core::score::Score;
use ahv_core::session::SessionConfig;
use ahv_core::vclock::IsolationLevel;
use ahv_runtime::{Hypervisor, MemoryLog, RuntimeConfig, Signer, SystemClock};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;

pub(crate) fn did(s: &str) -> AgentDid {
    AgentDid::new(s).unwrap()
}

pub(crate) fn hv() -> Hypervisor {
    let engine = Engine::new(EngineConfig::default()).unwrap();
    Hypervisor::new(
        engine,
        Arc::new(MemoryLog::default()),
        Arc::new(SystemClock::new()),
        Signer::generate_key().unwrap(),
        RuntimeConfig::default(),
    )
}

/// Creates an active session with the given (agent, σ) members.
pub(crate) async fn session(hv: &Hypervisor, members: &[(&str, f64)]) -> SessionId {
    let r = hv
        .execute(
            Actor::Admin,
            Command::CreateSession {
                creator: did("did:mesh:owner"),
                config: SessionConfig::default(),
                isolation: IsolationLevel::ReadCommitted,
            },
        )
        .await
        .unwrap();
    let Reply::Session(view) = r else {
        panic!("unexpected reply")
    };
    let sid = view.session_id.clone();
    for (a, s) in members {
        hv.execute(
            Actor::Admin,
            Command::Join {
                session_id: sid.clone(),
                agent: did(a),
                sigma_raw: Some(Score::new(*s).unwrap()),
                actions: vec![],
            },
        )
        .await
        .unwrap();
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

/// Submits a DSL saga (with `{session}` and `{base}` substituted) and waits for it to finish.
pub(crate) async fn run_dsl(hv: &Hypervisor, yaml: &str, sid: &SessionId, base: &str) -> SagaId {
    let text = yaml
        .replace("{session}", sid.as_str())
        .replace("{base}", base);
    let def = parse_saga(&text).unwrap_or_else(|e| panic!("bad test saga: {e}"));
    let Reply::Saga(v) = hv
        .execute(Actor::Admin, Command::SubmitSaga { definition: def })
        .await
        .unwrap()
    else {
        panic!()
    };
    assert!(
        hv.wait_saga(&v.saga_id, Duration::from_secs(20))
            .await
            .unwrap(),
        "saga did not finish"
    );
    v.saga_id.clone()
}

pub(crate) fn saga_state(hv: &Hypervisor, id: &SagaId) -> SagaState {
    hv.read(|e| e.saga_view(id).unwrap().state).unwrap()
}

/// One call received by the step server.
#[derive(Clone, Debug)]
pub(crate) struct Call {
    pub(crate) path: String,
    pub(crate) key: String,
    pub(crate) attempt: u64,
}

#[derive(Clone, Default)]
pub(crate) struct Recorder {
    pub(crate) calls: Arc<Mutex<Vec<Call>>>,
    /// Remaining failures per path before it succeeds (for `/flaky/...`).
    pub(crate) flaky: Arc<Mutex<BTreeMap<String, u32>>>,
}

impl Recorder {
    pub(crate) fn paths(&self) -> Vec<String> {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .map(|c| c.path.clone())
            .collect()
    }
    pub(crate) fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }
}

async fn handle(
    State(rec): State<Recorder>,
    Path(path): Path<String>,
    headers: HeaderMap,
    Json(body): Json<serde_json::Value>,
) -> (StatusCode, Json<serde_json::Value>) {
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let call = Call {
        path: path.clone(),
        key,
        attempt: body["attempt"].as_u64().unwrap_or_default(),
    };
    rec.calls.lock().unwrap().push(call);
    let kind = path.split('/').next().unwrap_or_default().to_string();
    match kind.as_str() {
        "ok" | "undo" => (StatusCode::OK, Json(serde_json::json!({ "done": path }))),
        "fail400" => (
            StatusCode::BAD_REQUEST,
            Json(serde_json::json!({ "error": "rejected" })),
        ),
        "fail500" => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(serde_json::json!({ "error": "boom" })),
        ),
        "hang" => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            (StatusCode::OK, Json(serde_json::json!({})))
        }
        "flaky" => {
            let mut f = rec.flaky.lock().unwrap();
            let left = f.entry(path.clone()).or_insert(2);
            if *left > 0 {
                *left -= 1;
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    Json(serde_json::json!({ "error": "try again" })),
                )
            } else {
                (StatusCode::OK, Json(serde_json::json!({ "done": path })))
            }
        }
        _ => (StatusCode::NOT_FOUND, Json(serde_json::json!({}))),
    }
}

/// Starts the step server on 127.0.0.1:0; returns its base URL and the recorder.
pub(crate) async fn step_server() -> (String, Recorder) {
    let rec = Recorder::default();
    let app = axum::Router::new()
        .route("/{*path}", post(handle))
        .with_state(rec.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://127.0.0.1:{}", addr.port()), rec)
}
