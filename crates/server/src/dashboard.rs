//! The web dashboard: hand-written HTML, CSS and JavaScript modules compiled into the binary
//! (no CDN, no build step, works offline), served under `/`, plus the login that turns the
//! admin token into a session cookie ([`cookie`]) and a few read-only JSON views the pages
//! need that the resource API does not give in one piece ([`data`]).
//!
//! Every page path (`/`, `/sessions/{id}`, …) serves the same shell; the page's script routes
//! on the path and fetches everything from the API, so the shell itself carries no data and is
//! served without authentication. Assets are revalidated with an `ETag` (`no-cache`), and every
//! response carries a strict Content-Security-Policy (scripts and styles from this origin only,
//! no inline script), so even a rendering mistake could not run injected markup.

pub mod cookie;
mod data;

use std::sync::OnceLock;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ApiResult};
use crate::extract::ApiJson;
use crate::state::AppState;

/// Content-Security-Policy of every dashboard response.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Paths that serve the page shell.
pub const PAGES: &[&str] = &[
    "/",
    "/login",
    "/sessions",
    "/sessions/{id}",
    "/rings",
    "/sagas",
    "/sagas/{id}",
    "/liability",
    "/events",
    "/audit",
];

macro_rules! asset {
    ($name:literal, $ty:literal) => {
        (
            $name,
            $ty,
            include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/static/", $name)).as_slice(),
        )
    };
}

/// (path under `/assets/`, content type, bytes).
const ASSETS: &[(&str, &str, &[u8])] = &[
    asset!("app.css", "text/css; charset=utf-8"),
    asset!("icon.svg", "image/svg+xml"),
    asset!("js/app.js", "text/javascript; charset=utf-8"),
    asset!("js/api.js", "text/javascript; charset=utf-8"),
    asset!("js/dom.js", "text/javascript; charset=utf-8"),
    asset!("js/svg.js", "text/javascript; charset=utf-8"),
    asset!("js/canonical.js", "text/javascript; charset=utf-8"),
    asset!("js/merkle.js", "text/javascript; charset=utf-8"),
    asset!("js/pages/login.js", "text/javascript; charset=utf-8"),
    asset!("js/pages/overview.js", "text/javascript; charset=utf-8"),
    asset!("js/pages/sessions.js", "text/javascript; charset=utf-8"),
    asset!("js/pages/session.js", "text/javascript; charset=utf-8"),
    asset!("js/pages/rings.js", "text/javascript; charset=utf-8"),
    asset!("js/pages/sagas.js", "text/javascript; charset=utf-8"),
    asset!("js/pages/saga.js", "text/javascript; charset=utf-8"),
    asset!("js/pages/liability.js", "text/javascript; charset=utf-8"),
    asset!("js/pages/events.js", "text/javascript; charset=utf-8"),
    asset!("js/pages/audit.js", "text/javascript; charset=utf-8"),
];

const INDEX: &[u8] = include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/static/index.html"));

/// Strong ETags of the shell and every asset (index 0 is the shell), computed once.
fn etags() -> &'static [String] {
    static TAGS: OnceLock<Vec<String>> = OnceLock::new();
    TAGS.get_or_init(|| {
        std::iter::once(INDEX)
            .chain(ASSETS.iter().map(|a| a.2))
            .map(|b| format!("\"{}\"", hex::encode(&crate::auth::sha256(b)[..12])))
            .collect()
    })
}

fn static_response(headers: &HeaderMap, body: &'static [u8], ty: &str, etag: &str) -> Response {
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let mut resp = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        body.into_response()
    };
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(ty) {
        h.insert(header::CONTENT_TYPE, v);
    }
    if let Ok(v) = HeaderValue::from_str(etag) {
        h.insert(header::ETAG, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    security_headers(h);
    resp
}

/// Headers every dashboard response carries.
fn security_headers(h: &mut HeaderMap) {
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
}

async fn shell(headers: HeaderMap) -> Response {
    let tag = etags().first().map_or("", String::as_str);
    static_response(&headers, INDEX, "text/html; charset=utf-8", tag)
}

async fn asset(Path(name): Path<String>, headers: HeaderMap) -> Response {
    match ASSETS.iter().position(|a| a.0 == name) {
        Some(i) => {
            let (_, ty, body) = ASSETS[i];
            let tag = etags().get(i + 1).map_or("", String::as_str);
            static_response(&headers, body, ty, tag)
        }
        None => ApiError::not_found(format!("no asset `{name}`")).into_response(),
    }
}

/// The pages and assets (open: they hold no data).
pub(crate) fn pages() -> Router<AppState> {
    PAGES.iter().fold(
        Router::new().route("/assets/{*name}", axum::routing::get(asset)),
        |r, p| r.route(p, axum::routing::get(shell)),
    )
}

/// The dashboard's protected JSON views (admin only).
pub(crate) fn api_routes() -> OpenApiRouter<AppState> {
    data::routes()
}

/// Login, logout and session lookup (open: they check the token or cookie themselves).
pub(crate) fn open_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(login))
        .routes(routes!(logout))
        .routes(routes!(session))
}

/// Body of a dashboard login.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct LoginBody {
    /// The admin token (never sent in a URL).
    token: String,
}

fn no_store(mut resp: Response, cookie: Option<&str>) -> Response {
    if let Some(v) = cookie.and_then(|c| HeaderValue::from_str(c).ok()) {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// Exchanges the admin token for an `HttpOnly; SameSite=Strict` session cookie and returns the
/// CSRF token that state-changing requests made with the cookie must send as `X-AHV-CSRF`.
#[utoipa::path(post, path = "/api/v1/dashboard/login", tag = "dashboard", security(()), request_body = LoginBody,
    responses((status = 200, body = Value, description = "logged in; sets the `ahv_session` cookie"), (status = 401, body = crate::error::ErrorBody)))]
async fn login(State(s): State<AppState>, ApiJson(b): ApiJson<LoginBody>) -> ApiResult<Response> {
    let l = s.auth.dashboard_login(&b.token, s.hv.now())?;
    let body = json!({ "csrf": l.csrf, "expires_at": l.expires_at.to_rfc3339(), "csrf_header": cookie::CSRF_HEADER });
    Ok(no_store(
        axum::Json(body).into_response(),
        Some(&cookie::set_cookie(&l)),
    ))
}

/// Ends the dashboard session named by the cookie (if any) and clears the cookie.
#[utoipa::path(post, path = "/api/v1/dashboard/logout", tag = "dashboard", security(()),
    responses((status = 200, body = Value)))]
async fn logout(State(s): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(c) = cookie::cookie_value(&headers) {
        s.auth.dashboard_logout(c);
    }
    no_store(
        axum::Json(json!({ "status": "logged out" })).into_response(),
        Some(&cookie::clear_cookie()),
    )
}

/// The CSRF token and expiry of the current dashboard session (for a page opened in a new tab).
#[utoipa::path(get, path = "/api/v1/dashboard/session", tag = "dashboard", security(()),
    responses((status = 200, body = Value), (status = 401, body = crate::error::ErrorBody)))]
async fn session(State(s): State<AppState>, headers: HeaderMap) -> ApiResult<Response> {
    let found =
        cookie::cookie_value(&headers).and_then(|c| s.auth.dashboard_session(c, s.hv.now()));
    let Some((csrf, exp)) = found else {
        return Err(ApiError::unauthorized("not logged in"));
    };
    let body =
        json!({ "csrf": csrf, "expires_at": exp.to_rfc3339(), "csrf_header": cookie::CSRF_HEADER });
    Ok(no_store(axum::Json(body).into_response(), None))
}

/// JSON helper for [`data`].
pub(crate) fn ok(v: Value) -> ApiResult<axum::Json<Value>> {
    Ok(axum::Json(v))
}
