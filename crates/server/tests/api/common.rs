//! Test fixture: a hypervisor with sessions, agents, a saga, a bond, a file, a lock and a
//! pending elevation, plus a request helper that goes through the router without a socket.

use std::sync::Arc;
use std::time::Duration;

use ahv_core::action::ActionDescriptor;
use ahv_core::engine::{ActOutcome, ActionRequest, Actor, Command, Engine, EngineConfig, Reply};
use ahv_core::id::{ActionId, AgentDid, SagaId, SessionId, StepId};
use ahv_core::locks::LockIntent;
use ahv_core::saga::StepDefinition;
use ahv_core::score::Score;
use ahv_core::session::SessionConfig;
use ahv_runtime::{Hypervisor, MemoryLog, RuntimeConfig, Signer, SystemClock};
use ahv_server::{AppState, Auth, AuthConfig, ServerConfig};
use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use serde_json::Value;
use tower::ServiceExt;

pub(crate) const ADMIN: &str = "test-admin-token";

pub(crate) fn did(s: &str) -> AgentDid {
    AgentDid::new(s).unwrap()
}

pub(crate) fn hv() -> Hypervisor {
    Hypervisor::new(
        Engine::new(EngineConfig::default()).unwrap(),
        Arc::new(MemoryLog::default()),
        Arc::new(SystemClock::new()),
        Signer::generate_key().unwrap(),
        RuntimeConfig::default(),
    )
}

pub(crate) fn state_with(hv: Hypervisor, config: ServerConfig) -> AppState {
    let auth = Auth::new(AuthConfig::from_admin_token(ADMIN).unwrap());
    AppState::new(hv, Arc::new(auth), config)
}

/// A response: status, JSON body (or `Value::String` of the text), headers.
#[derive(Debug)]
pub(crate) struct Resp {
    pub(crate) status: StatusCode,
    pub(crate) body: Value,
    pub(crate) headers: HeaderMap,
}

pub(crate) async fn send(app: &Router, req: Request<Body>) -> Resp {
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let is_stream = headers
        .get("content-type")
        .is_some_and(|v| v.to_str().unwrap_or("").starts_with("text/event-stream"));
    if is_stream {
        return Resp {
            status,
            body: Value::Null,
            headers,
        };
    }
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap();
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    Resp {
        status,
        body,
        headers,
    }
}

pub(crate) fn req(
    method: &str,
    uri: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> Request<Body> {
    let mut b = Request::builder()
        .method(Method::from_bytes(method.as_bytes()).unwrap())
        .uri(uri);
    if let Some(t) = token {
        b = b.header("authorization", format!("Bearer {t}"));
    }
    match body {
        Some(text) => b
            .header("content-type", "application/json")
            .body(Body::from(text.to_string()))
            .unwrap(),
        None => b.body(Body::empty()).unwrap(),
    }
}

pub(crate) async fn call(
    app: &Router,
    method: &str,
    uri: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> Resp {
    let text = body.map(|b| b.to_string());
    send(app, req(method, uri, token, text.as_deref())).await
}

/// `GET uri` as `token`: the commonest request of the tests, on one line.
pub(crate) async fn get(app: &Router, uri: &str, token: Option<&str>) -> Resp {
    call(app, "GET", uri, token, None).await
}

/// `POST uri` as `token` with a JSON body (a [`Value`]) or none (`None`), so posts with and
/// without a body read the same.
pub(crate) async fn post(
    app: &Router,
    uri: &str,
    token: Option<&str>,
    body: impl Into<Option<Value>>,
) -> Resp {
    call(app, "POST", uri, token, body.into()).await
}

/// `PUT uri` as `token` with a JSON body.
pub(crate) async fn put(app: &Router, uri: &str, token: Option<&str>, body: Value) -> Resp {
    call(app, "PUT", uri, token, Some(body)).await
}

/// Everything the fixture created.
#[allow(dead_code)]
pub(crate) struct Fx {
    pub(crate) app: Router,
    pub(crate) state: AppState,
    pub(crate) hv: Hypervisor,
    /// Active session: alpha (creator, ring 2), beta (ring 3), gamma (ring 2).
    pub(crate) sid: SessionId,
    /// Active session of mallory only.
    pub(crate) other: SessionId,
    /// Handshaking session with delta.
    pub(crate) waiting: SessionId,
    pub(crate) alpha: String,
    pub(crate) beta: String,
    pub(crate) gamma: String,
    pub(crate) mallory: String,
    /// Step-by-step saga with one held (pending) step of alpha.
    pub(crate) saga: SagaId,
    pub(crate) step: StepId,
    /// Saga whose one step committed.
    pub(crate) done_saga: SagaId,
    pub(crate) vouch: String,
    pub(crate) lock: String,
    pub(crate) elevation: String,
}

fn score(v: f64) -> Option<Score> {
    Some(Score::new(v).unwrap())
}

fn action(id: &str, reversibility: &str, read_only: bool) -> ActionDescriptor {
    serde_json::from_value(serde_json::json!({
        "action_id": id, "name": id, "execute_api": format!("/{id}"), "undo_api": "/undo", "reversibility": reversibility, "is_read_only": read_only,
    }))
    .unwrap()
}

async fn exec(hv: &Hypervisor, actor: Actor, cmd: Command) -> Reply {
    hv.execute(actor, cmd).await.unwrap()
}

async fn new_session(hv: &Hypervisor, creator: &str) -> SessionId {
    let config = SessionConfig {
        min_sigma_eff: Score::new(0.3).unwrap(),
        ..SessionConfig::default()
    };
    let cmd = Command::CreateSession {
        creator: did(creator),
        config,
        isolation: Default::default(),
    };
    match exec(hv, Actor::Admin, cmd).await {
        Reply::Session(v) => v.session_id,
        other => panic!("{other:?}"),
    }
}

async fn join(
    hv: &Hypervisor,
    sid: &SessionId,
    who: &str,
    sigma: f64,
    actions: Vec<ActionDescriptor>,
) {
    exec(
        hv,
        Actor::Admin,
        Command::Join {
            session_id: sid.clone(),
            agent: did(who),
            sigma_raw: score(sigma),
            actions,
        },
    )
    .await;
}

pub(crate) async fn fixture() -> Fx {
    fixture_with(ServerConfig::default()).await
}

pub(crate) async fn fixture_with(config: ServerConfig) -> Fx {
    let hv = hv();
    let state = state_with(hv.clone(), config);
    let app = ahv_server::router(state.clone());
    let sid = new_session(&hv, "did:mesh:alpha").await;
    join(
        &hv,
        &sid,
        "did:mesh:alpha",
        0.85,
        vec![action("draft", "full", false), action("peek", "full", true)],
    )
    .await;
    join(&hv, &sid, "did:mesh:beta", 0.45, vec![]).await;
    join(&hv, &sid, "did:mesh:gamma", 0.9, vec![]).await;
    join(&hv, &sid, "did:mesh:chief", 0.97, vec![]).await;
    exec(
        &hv,
        Actor::Admin,
        Command::Activate {
            session_id: sid.clone(),
        },
    )
    .await;
    let other = new_session(&hv, "did:mesh:mallory").await;
    join(&hv, &other, "did:mesh:mallory", 0.85, vec![]).await;
    exec(
        &hv,
        Actor::Admin,
        Command::Activate {
            session_id: other.clone(),
        },
    )
    .await;
    let waiting = new_session(&hv, "did:mesh:delta").await;
    join(&hv, &waiting, "did:mesh:delta", 0.7, vec![]).await;

    let alpha_actor = Actor::Agent(did("did:mesh:alpha"));
    let mk_saga = |hv: Hypervisor, sid: SessionId| async move {
        match exec(&hv, Actor::Admin, Command::CreateSaga { session_id: sid }).await {
            Reply::Saga(v) => v.saga_id,
            other => panic!("{other:?}"),
        }
    };
    let step_def = |id: &str| {
        StepDefinition::new(
            StepId::new(id).unwrap(),
            ActionId::new("draft").unwrap(),
            did("did:mesh:alpha"),
            "api/draft",
        )
    };
    let saga = mk_saga(hv.clone(), sid.clone()).await;
    let step = StepId::new("step:one").unwrap();
    exec(
        &hv,
        alpha_actor.clone(),
        Command::AddStep {
            saga_id: saga.clone(),
            step: step_def("step:one"),
        },
    )
    .await;
    let done_saga = mk_saga(hv.clone(), sid.clone()).await;
    exec(
        &hv,
        alpha_actor.clone(),
        Command::AddStep {
            saga_id: done_saga.clone(),
            step: step_def("step:done"),
        },
    )
    .await;
    let done_step = StepId::new("step:done").unwrap();
    exec(
        &hv,
        alpha_actor.clone(),
        Command::ExecuteStep {
            saga_id: done_saga.clone(),
            step_id: done_step.clone(),
        },
    )
    .await;
    hv.wait_step(&done_saga, &done_step, Duration::from_secs(5))
        .await
        .unwrap();

    let vouch = match exec(
        &hv,
        alpha_actor.clone(),
        Command::Vouch {
            session_id: sid.clone(),
            voucher: did("did:mesh:alpha"),
            vouchee: did("did:mesh:beta"),
            bond_pct: None,
            expiry: None,
        },
    )
    .await
    {
        Reply::Vouch(v) => v.vouch_id.to_string(),
        other => panic!("{other:?}"),
    };
    let act = |request| Command::Act {
        session_id: sid.clone(),
        agent: did("did:mesh:alpha"),
        request,
    };
    exec(
        &hv,
        alpha_actor.clone(),
        act(ActionRequest::VfsWrite {
            path: "/notes.txt".into(),
            content: "hello".into(),
        }),
    )
    .await;
    exec(
        &hv,
        alpha_actor.clone(),
        act(ActionRequest::VfsSnapshot {
            snapshot_id: Some("snap1".into()),
        }),
    )
    .await;
    let lock = match exec(
        &hv,
        alpha_actor.clone(),
        act(ActionRequest::LockAcquire {
            path: "/locked".into(),
            intent: LockIntent::Write,
            ttl_seconds: None,
            wait: false,
        }),
    )
    .await
    {
        Reply::Acted(ActOutcome::Locked { lock }) => lock.lock_id.to_string(),
        other => panic!("{other:?}"),
    };
    let beta_actor = Actor::Agent(did("did:mesh:beta"));
    let elevation = match exec(
        &hv,
        beta_actor,
        Command::RequestElevation {
            session_id: sid.clone(),
            agent: did("did:mesh:beta"),
            target: ahv_core::ring::Ring::Standard,
            ttl_seconds: None,
            reason: "need it".into(),
        },
    )
    .await
    {
        Reply::Elevation(e) => e.elevation_id.to_string(),
        other => panic!("{other:?}"),
    };
    let tok = |d: &str| {
        state
            .auth
            .issue(&did(d), hv.now(), Duration::from_secs(3600))
            .unwrap()
            .token
    };
    Fx {
        alpha: tok("did:mesh:alpha"),
        beta: tok("did:mesh:beta"),
        gamma: tok("did:mesh:gamma"),
        mallory: tok("did:mesh:mallory"),
        app,
        state,
        hv,
        sid,
        other,
        waiting,
        saga,
        step,
        done_saga,
        vouch,
        lock,
        elevation,
    }
}

/// Percent-encodes a path segment (DIDs contain `:` and maybe `/`).
#[allow(dead_code)]
pub(crate) fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b':' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
