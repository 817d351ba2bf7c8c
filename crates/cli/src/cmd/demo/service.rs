//! A tiny local HTTP service the demo's saga steps really call: `POST /{exec|undo}/{outcome}/{name}`
//! answers 200 for `ok`, 500 for `fail500` and 400 for `fail400`, and records every call (path
//! and `Idempotency-Key` header) so the demo can show the order the service saw.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use serde_json::{Value, json};
use tokio::task::JoinHandle;

/// One call the service received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Call {
    /// `exec` or `undo`.
    pub(crate) kind: String,
    /// `ok`, `fail500` or `fail400`.
    pub(crate) outcome: String,
    /// The step name in the path.
    pub(crate) name: String,
    /// The `Idempotency-Key` header, if sent.
    pub(crate) idempotency_key: Option<String>,
}

impl Call {
    /// `exec reserve` / `undo provision`.
    pub(crate) fn label(&self) -> String {
        format!("{} {}", self.kind, self.name)
    }
}

type Calls = Arc<Mutex<Vec<Call>>>;

/// The running service.
#[derive(Debug)]
pub(crate) struct Service {
    /// `http://127.0.0.1:PORT`.
    pub(crate) base: String,
    calls: Calls,
    task: JoinHandle<()>,
}

impl Service {
    /// Binds 127.0.0.1 on a free port and serves in the background.
    pub(crate) async fn start() -> Result<Service, String> {
        let calls: Calls = Arc::new(Mutex::new(Vec::new()));
        let app = Router::new()
            .route("/{kind}/{outcome}/{name}", post(handle))
            .with_state(calls.clone());
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .map_err(|e| format!("cannot bind the demo's local service on 127.0.0.1: {e}"))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Service {
            base: format!("http://{addr}"),
            calls,
            task,
        })
    }

    /// Calls received so far, in order.
    pub(crate) fn calls(&self) -> Vec<Call> {
        self.calls.lock().map(|c| c.clone()).unwrap_or_default()
    }

    /// Forgets the calls received so far.
    pub(crate) fn clear(&self) {
        if let Ok(mut c) = self.calls.lock() {
            c.clear();
        }
    }

    /// Stops serving.
    pub(crate) fn stop(&self) {
        self.task.abort();
    }
}

async fn handle(
    State(calls): State<Calls>,
    Path((kind, outcome, name)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> (StatusCode, Json<Value>) {
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    if let Ok(mut c) = calls.lock() {
        c.push(Call {
            kind: kind.clone(),
            outcome: outcome.clone(),
            name: name.clone(),
            idempotency_key: key,
        });
    }
    let status = match outcome.as_str() {
        "ok" => StatusCode::OK,
        "fail500" => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::BAD_REQUEST,
    };
    let body = if status == StatusCode::OK {
        json!({ "ok": true, "step": name, "kind": kind })
    } else {
        json!({ "ok": false, "error": format!("{kind} of `{name}` failed on purpose ({outcome})") })
    };
    (status, Json(body))
}
