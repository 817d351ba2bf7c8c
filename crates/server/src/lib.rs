//! # ahv-server — the HTTP API of the Agent Hypervisor
//!
//! Serves the reference's 21 REST endpoints (same paths, field names and success codes, with
//! its bugs fixed) and every other capability of the engine under `/api/v1`, behind
//! fail-closed authentication ([`auth`]): an admin bearer token, or agent tokens bound to one
//! DID. Errors are JSON `{"detail", "code"}` ([`error`]); the OpenAPI document is generated
//! from the handlers themselves ([`openapi`]); live events stream over SSE ([`sse`]); metrics
//! are Prometheus text ([`metrics`]); the web dashboard and its cookie login are in
//! [`dashboard`].
//!
//! Build an [`AppState`] around a running [`Hypervisor`], then either mount [`router`] or run
//! [`serve`] on a listener with a shutdown signal.

pub mod auth;
pub mod dashboard;
pub mod error;
mod extract;
mod layers;
pub mod metrics;
pub mod openapi;
mod routes;
pub mod sse;
mod state;
mod views;

use std::future::Future;
use std::time::Duration;

use ahv_runtime::Hypervisor;
use axum::Router;
use axum::serve::ListenerExt;

pub use auth::{Auth, AuthConfig, Principal};
pub use error::{ApiError, ApiResult};
pub use state::{AppState, SharedState};

/// Server settings.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Largest accepted request body in bytes (413 beyond it). Default 1 MiB.
    pub body_limit: usize,
    /// Time allowed for a request before it is answered 408. Default 60 s (above
    /// `execute_wait` so a waiting step execution can still answer).
    pub request_timeout: Duration,
    /// Requests served at once; more wait in line. Default 1024.
    pub max_concurrency: usize,
    /// Origins allowed by CORS; empty turns CORS off (the default). Credentials are never
    /// allowed together with a wildcard.
    pub cors_origins: Vec<String>,
    /// Serve `/metrics` without a token. Default false (admin token required).
    pub metrics_public: bool,
    /// How long `POST …/steps/{id}/execute` waits for the step to settle before answering 202.
    pub execute_wait: Duration,
    /// Lifetime of issued agent tokens. Default 24 h.
    pub agent_token_ttl: Duration,
    /// Longest a lock request may wait for a conflicting holder. Default 30 s.
    pub max_lock_wait: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            body_limit: 1 << 20,
            request_timeout: Duration::from_secs(60),
            max_concurrency: 1024,
            cors_origins: Vec::new(),
            metrics_public: false,
            execute_wait: Duration::from_secs(30),
            agent_token_ttl: Duration::from_secs(24 * 3600),
            max_lock_wait: Duration::from_secs(30),
        }
    }
}

/// The complete router: API, OpenAPI document, Swagger UI, metrics and the dashboard, with
/// every layer applied.
pub fn router(state: AppState) -> Router {
    Router::new().fallback_service(service(&state))
}

/// The routes with every layer applied, as a plain service (what [`serve`] runs; [`router`]
/// is the same behind a `Router`).
fn service(
    state: &AppState,
) -> impl tower::Service<
    axum::extract::Request,
    Response = axum::response::Response,
    Error = std::convert::Infallible,
    Future: Send,
> + Clone
+ Send
+ Sync
+ 'static {
    let (api, spec) = routes::api(state).split_for_parts();
    let app = api
        .merge(openapi::docs_router(spec))
        .merge(dashboard::pages())
        .with_state(state.clone());
    layers::apply(app, state)
}

/// Serves `state` on `listener` until `shutdown` resolves, then stops accepting, ends open
/// event streams and waits for in-flight requests to finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = axum::ServiceExt::<axum::extract::Request>::into_make_service(service(&state));
    let stop = state.clone();
    // Small JSON answers go out at once (no Nagle delay behind an unacknowledged segment).
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            shutdown.await;
            tracing::info!("shutting down: finishing in-flight requests");
            stop.begin_shutdown();
        })
        .await
}

/// Builds an [`AppState`] (convenience for callers that do not need the struct directly).
pub fn state(hv: Hypervisor, auth: std::sync::Arc<Auth>, config: ServerConfig) -> AppState {
    AppState::new(hv, auth, config)
}
