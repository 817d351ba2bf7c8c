//! The middleware stack: authentication for protected routes, request metrics, JSON error
//! bodies for every error (including those produced by axum and tower themselves), tracing
//! spans with request ids, timeouts, body limit, CORS and a global concurrency cap.

use std::time::Instant;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::{Next, from_fn, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use tower::limit::GlobalConcurrencyLimitLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::error::ApiError;
use crate::state::AppState;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Resolves the caller from `Authorization` (or the dashboard's session cookie) and stores the [`crate::Principal`] in the request;
/// answers 401 (with `WWW-Authenticate: Bearer`) when there is no valid token.
pub(crate) async fn require_auth(
    State(s): State<AppState>,
    mut req: Request,
    next: Next,
) -> Response {
    let header = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let now = s.hv.now();
    // A bearer token wins; without one, the dashboard's session cookie may stand in.
    let who = match (
        header,
        crate::dashboard::cookie::cookie_value(req.headers()),
    ) {
        (None, Some(c)) => s
            .auth
            .dashboard_principal(c, req.method(), req.headers(), now),
        _ => s.auth.authenticate(header, now),
    };
    match who {
        Ok(p) => {
            req.extensions_mut().insert(p);
            next.run(req).await
        }
        Err(e) => e.into_response(),
    }
}

async fn record_metrics(State(s): State<AppState>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |m| m.as_str().to_string());
    let method = req.method().clone();
    let start = Instant::now();
    let resp = next.run(req).await;
    s.metrics
        .observe_request(&method, &route, resp.status().as_u16(), start.elapsed());
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
async fn json_errors(req: Request, next: Next) -> Response {
    let resp = next.run(req).await;
    let status = resp.status();
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
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

/// Applies the whole stack to the finished router.
pub(crate) fn apply(app: Router, state: &AppState) -> Router {
    let c = &state.config;
    let app = app
        .fallback(|| async { ApiError::not_found("no such endpoint") })
        .layer(DefaultBodyLimit::max(c.body_limit))
        .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, c.request_timeout))
        .layer(from_fn(json_errors))
        .layer(from_fn_with_state(state.clone(), record_metrics))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
            let id = req.headers().get(REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("-");
            tracing::info_span!("request", method = %req.method(), uri = %req.uri(), request_id = %id)
        }))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid));
    let app = match cors(&c.cors_origins) {
        Some(layer) => app.layer(layer),
        None => app,
    };
    app.layer(GlobalConcurrencyLimitLayer::new(c.max_concurrency.max(1)))
}
