//! Statistics (the reference's `/api/v1/stats`), Prometheus metrics, and admin triggers for
//! the periodic tick and checkpoint.

use ahv_core::saga::SagaState;
use ahv_core::session::SessionState;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use super::prelude::*;

pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(stats))
        .routes(routes!(tick))
        .routes(routes!(checkpoint))
}

pub(crate) fn open_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(metrics))
}

/// Counts over the hypervisor (admin). Unlike the reference, archived sessions' participants,
/// finished sagas and released bonds are not counted as current.
#[utoipa::path(get, path = "/api/v1/stats", tag = "stats", responses((status = 200, body = Value), (status = 403, body = crate::error::ErrorBody)))]
async fn stats(State(s): State<AppState>, p: Principal) -> ApiResult<Json<Value>> {
    AppState::require_admin(&p, "read global statistics")?;
    let (events, _) = s.hv.bus().stats();
    let v = s.hv.read(|e| {
        let ids = e.session_ids(None);
        let mut active = 0usize;
        let mut participants = 0usize;
        for id in &ids {
            if let Ok(slot) = e.books().slot(id) {
                let st = slot.session.state();
                if !matches!(st, SessionState::Archived | SessionState::Terminating) {
                    active += 1;
                    participants += slot.session.active_count();
                }
            }
        }
        let sagas = e.saga_ids(None, Some(SagaState::Running)).len() + e.saga_ids(None, Some(SagaState::Compensating)).len();
        json!({
            "version": env!("CARGO_PKG_VERSION"), "total_sessions": ids.len(), "active_sessions": active,
            "total_participants": participants, "active_sagas": sagas, "total_vouches": e.books().vouches().active_count(),
            "event_count": events,
        })
    })?;
    ok(v)
}

/// Prometheus text metrics (admin token unless the server is configured to make them public).
#[utoipa::path(get, path = "/metrics", tag = "stats", responses((status = 200, description = "Prometheus text", content_type = "text/plain"), (status = 401, body = crate::error::ErrorBody), (status = 403, description = "An agent token: only an admin may read metrics", body = crate::error::ErrorBody)))]
async fn metrics(State(s): State<AppState>, headers: axum::http::HeaderMap) -> Response {
    if !s.config.metrics_public {
        let h = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        match s.auth.authenticate(h, s.hv.now()) {
            Ok(p) if p.is_admin() => {}
            Ok(_) => return ApiError::forbidden("only an admin may read metrics").into_response(),
            Err(e) => return e.into_response(),
        }
    }
    let (events, _) = s.hv.bus().stats();
    match s.hv.read(|e| s.metrics.render(e, events)) {
        Ok(text) => ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response(),
        Err(e) => ApiError::from(e).into_response(),
    }
}

/// Applies due expiries now (admin; normally periodic).
#[utoipa::path(post, path = "/api/v1/admin/tick", tag = "stats", responses((status = 200, body = Value), (status = 403, body = crate::error::ErrorBody)))]
async fn tick(State(s): State<AppState>, p: Principal) -> ApiResult<Json<Value>> {
    AppState::require_admin(&p, "trigger ticks")?;
    let r =
        s.hv.execute(ahv_core::engine::Actor::System, Command::Tick)
            .await?;
    ok(reply_json(&r)?)
}

/// Signs a checkpoint of the hypervisor log now, if it grew (admin; normally periodic).
#[utoipa::path(post, path = "/api/v1/admin/checkpoint", tag = "stats", responses((status = 200, body = Value), (status = 403, body = crate::error::ErrorBody)))]
async fn checkpoint(State(s): State<AppState>, p: Principal) -> ApiResult<Json<Value>> {
    AppState::require_admin(&p, "trigger checkpoints")?;
    let note = s.hv.checkpoint_now().await?;
    ok(json!({ "signed": note.is_some(), "note": note }))
}
