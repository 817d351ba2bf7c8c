//! The middleware stack: authentication for protected routes, request metrics, JSON error
//! bodies for every error (including those produced by axum and tower themselves), tracing
//! spans with request ids, timeouts, body limit, CORS and a global concurrency cap.
//!
//! Built for throughput: everything that applies to every request runs in one outer service
//! ([`Edge`], wrapped around the finished router once, not per route, so nothing is cloned
//! or boxed per layer), the per-route part ([`RouteTag`]: timeout and the route's metric slot)
//! and authentication ([`Authenticate`]) are plain tower services with hand-written futures,
//! request ids are a per-process prefix plus a counter (no random UUID per request), and the
//! tracing span is only built when a subscriber wants it.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use ahv_runtime::Hypervisor;
use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tokio::sync::Semaphore;
use tower::util::Either;
use tower::{Layer, Service, ServiceExt};
use tower_http::cors::{AllowOrigin, CorsLayer};
use tracing::Instrument;

use crate::auth::Auth;
use crate::error::ApiError;
use crate::metrics::{Metrics, RouteSlot};
use crate::state::AppState;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// What [`Authenticate`] needs, behind one `Arc` (one reference-count bump per request).
struct AuthCtx {
    auth: Arc<Auth>,
    hv: Hypervisor,
}

/// Resolves the caller from `Authorization` (or the dashboard's session cookie) and stores the
/// [`crate::Principal`] in the request; answers 401 (with `WWW-Authenticate: Bearer`) when there
/// is no valid token. Applied as a route layer to the protected routes.
#[derive(Clone)]
pub(crate) struct AuthLayer(Arc<AuthCtx>);

impl AuthLayer {
    pub(crate) fn new(state: &AppState) -> Self {
        AuthLayer(Arc::new(AuthCtx {
            auth: state.auth.clone(),
            hv: state.hv.clone(),
        }))
    }
}

impl<S> Layer<S> for AuthLayer {
    type Service = Authenticate<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Authenticate {
            inner,
            ctx: self.0.clone(),
        }
    }
}

/// The service of [`AuthLayer`].
#[derive(Clone)]
pub(crate) struct Authenticate<S> {
    inner: S,
    ctx: Arc<AuthCtx>,
}

impl<S> Service<Request> for Authenticate<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
    S::Future: Unpin,
{
    type Response = Response;
    type Error = Infallible;
    type Future = AuthFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request) -> Self::Future {
        let header = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        let now = self.ctx.hv.now();
        // A bearer token wins; without one, the dashboard's session cookie may stand in.
        let who = match (
            header,
            crate::dashboard::cookie::cookie_value(req.headers()),
        ) {
            (None, Some(c)) => {
                self.ctx
                    .auth
                    .dashboard_principal(c, req.method(), req.headers(), now)
            }
            _ => self.ctx.auth.authenticate(header, now),
        };
        match who {
            Ok(p) => {
                req.extensions_mut().insert(p);
                AuthFuture::Inner(self.inner.call(req))
            }
            Err(e) => AuthFuture::Refused(Some(e.into_response())),
        }
    }
}

/// The future of [`Authenticate`].
pub(crate) enum AuthFuture<F> {
    Inner(F),
    Refused(Option<Response>),
}

impl<F> Future for AuthFuture<F>
where
    F: Future<Output = Result<Response, Infallible>> + Unpin,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.get_mut() {
            AuthFuture::Inner(f) => Pin::new(f).poll(cx),
            AuthFuture::Refused(r) => Poll::Ready(Ok(r
                .take()
                .unwrap_or_else(|| StatusCode::UNAUTHORIZED.into_response()))),
        }
    }
}

/// Per route endpoint (and the fallback): the request timeout (408) and the request metrics,
/// counted in the endpoint's own slot under the matched route template.
#[derive(Clone)]
struct RouteTagLayer {
    metrics: Arc<Metrics>,
    timeout: Duration,
}

impl<S> Layer<S> for RouteTagLayer {
    type Service = RouteTag<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RouteTag {
            inner,
            slot: self.metrics.new_slot(),
            timeout: self.timeout,
        }
    }
}

/// The service of [`RouteTagLayer`].
#[derive(Clone)]
struct RouteTag<S> {
    inner: S,
    slot: Arc<RouteSlot>,
    timeout: Duration,
}

impl<S> Service<Request> for RouteTag<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
    S::Future: Unpin,
{
    type Response = Response;
    type Error = Infallible;
    type Future = TagFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let method = req.method().clone();
        let route = req.extensions().get::<MatchedPath>().cloned();
        TagFuture {
            inner: self.inner.call(req),
            // Armed on the first Pending only: a handler that answers at once costs no timer.
            sleep: None,
            timeout: self.timeout,
            slot: self.slot.clone(),
            method,
            route,
            start: Instant::now(),
        }
    }
}

/// The future of [`RouteTag`].
struct TagFuture<F> {
    inner: F,
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
    timeout: Duration,
    slot: Arc<RouteSlot>,
    method: Method,
    route: Option<MatchedPath>,
    start: Instant,
}

impl<F> Future for TagFuture<F>
where
    F: Future<Output = Result<Response, Infallible>> + Unpin,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let resp = match Pin::new(&mut this.inner).poll(cx) {
            Poll::Ready(Ok(r)) => r,
            Poll::Ready(Err(never)) => match never {},
            Poll::Pending => {
                let timeout = this.timeout;
                let sleep = this
                    .sleep
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
                if sleep.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                StatusCode::REQUEST_TIMEOUT.into_response()
            }
        };
        this.slot.observe(
            &this.method,
            this.route.as_ref(),
            resp.status().as_u16(),
            this.start.elapsed(),
        );
        Poll::Ready(Ok(resp))
    }
}

/// Request ids: a random per-process prefix and a counter (`3f9a12c0-1a`); an id the client
/// sent is kept.
struct RequestIds {
    prefix: String,
    next: AtomicU64,
}

impl RequestIds {
    fn new() -> Self {
        let mut b = [0u8; 4];
        if getrandom::fill(&mut b).is_err() {
            b = std::process::id().to_be_bytes();
        }
        RequestIds {
            prefix: hex::encode(b),
            next: AtomicU64::new(1),
        }
    }

    fn next(&self) -> HeaderValue {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        HeaderValue::try_from(format!("{}-{n:x}", self.prefix))
            .unwrap_or(HeaderValue::from_static("-"))
    }
}

/// What [`Edge`] shares between requests.
struct EdgeShared {
    permits: Semaphore,
    ids: RequestIds,
}

/// The outer service: concurrency cap, request id (set on the request, copied to the
/// response), tracing span and JSON error bodies.
#[derive(Clone)]
struct Edge<S> {
    inner: S,
    shared: Arc<EdgeShared>,
}

impl<S> Service<Request> for Edge<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut req: Request) -> Self::Future {
        let inner = self.inner.clone();
        let shared = self.shared.clone();
        let id = match req.headers().get(REQUEST_ID) {
            Some(v) => v.clone(),
            None => {
                let v = shared.ids.next();
                req.headers_mut().insert(REQUEST_ID, v.clone());
                v
            }
        };
        let span = tracing::info_span!(
            "request",
            method = %req.method(),
            uri = %req.uri(),
            request_id = %id.to_str().unwrap_or("-"),
        );
        Box::pin(async move {
            let Ok(_permit) = shared.permits.acquire().await else {
                return Ok(ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "the server is shutting down",
                )
                .into_response());
            };
            let answer = answer(inner, req, id);
            if span.is_disabled() {
                Ok(answer.await)
            } else {
                Ok(answer.instrument(span).await)
            }
        })
    }
}

/// Runs one request through the router and finishes its response.
async fn answer<S>(inner: S, req: Request, id: HeaderValue) -> Response
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    let start = Instant::now();
    let resp = match inner.oneshot(req).await {
        Ok(r) => r,
        Err(never) => match never {},
    };
    let mut resp = json_errors(resp);
    let status = resp.status();
    if status.is_server_error() {
        tracing::error!(status = status.as_u16(), latency = ?start.elapsed(), "response failed");
    } else {
        tracing::debug!(status = status.as_u16(), latency = ?start.elapsed(), "finished processing request");
    }
    if !resp.headers().contains_key(REQUEST_ID) {
        resp.headers_mut().insert(REQUEST_ID, id);
    }
    resp
}

fn code_for(status: StatusCode) -> &'static str {
    match status {
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::REQUEST_TIMEOUT => "timeout",
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::UNAUTHORIZED => "unauthorized",
        StatusCode::FORBIDDEN => "forbidden",
        StatusCode::TOO_MANY_REQUESTS => "rate_limited",
        StatusCode::SERVICE_UNAVAILABLE => "unavailable",
        s if s.is_server_error() => "internal",
        _ => "invalid_input",
    }
}

/// Turns any error response that is not JSON into the standard JSON error body.
fn json_errors(resp: Response) -> Response {
    let status = resp.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return resp;
    }
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if is_json {
        return resp;
    }
    let detail = match status {
        s if s.is_server_error() && s != StatusCode::SERVICE_UNAVAILABLE => {
            "internal server error".to_string()
        }
        s => s.canonical_reason().unwrap_or("error").to_lowercase(),
    };
    let keep: Vec<(HeaderName, HeaderValue)> = resp
        .headers()
        .iter()
        .filter(|(k, _)| *k == header::ALLOW || *k == header::RETRY_AFTER || *k == REQUEST_ID)
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let mut out = ApiError::new(status, code_for(status), detail).into_response();
    out.headers_mut().extend(keep);
    out
}

fn cors(origins: &[String]) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    let base = CorsLayer::new()
        .allow_methods([Method::GET, Method::POST, Method::PUT, Method::DELETE])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            HeaderName::from_static("last-event-id"),
        ])
        .allow_credentials(false);
    if origins.iter().any(|o| o == "*") {
        // A wildcard never goes with credentials (bearer tokens need none).
        return Some(base.allow_origin(AllowOrigin::any()));
    }
    let list: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    Some(base.allow_origin(AllowOrigin::list(list)))
}

/// The whole stack around the finished router, as one service (served directly by
/// [`crate::serve`]; [`crate::router`] wraps it in a `Router`).
pub(crate) fn apply(
    app: Router,
    state: &AppState,
) -> impl Service<Request, Response = Response, Error = Infallible, Future: Send>
+ Clone
+ Send
+ Sync
+ 'static {
    let c = &state.config;
    let app = app
        .fallback(|| async { ApiError::not_found("no such endpoint") })
        .layer(RouteTagLayer {
            metrics: state.metrics.clone(),
            timeout: c.request_timeout,
        });
    let edge = Edge {
        inner: DefaultBodyLimit::max(c.body_limit).layer(app),
        shared: Arc::new(EdgeShared {
            permits: Semaphore::new(c.max_concurrency.clamp(1, Semaphore::MAX_PERMITS)),
            ids: RequestIds::new(),
        }),
    };
    // CORS stays outermost, so its headers are on every answer, errors included.
    match cors(&c.cors_origins) {
        Some(layer) => Either::Right(layer.layer(edge)),
        None => Either::Left(edge),
    }
}
