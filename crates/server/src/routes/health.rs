//! Liveness (open): 200 while the hypervisor accepts changes, 503 after a storage failure.

use super::prelude::*;

pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(health))
}

/// Health (open; no token).
#[utoipa::path(get, path = "/health", tag = "health", security(()), responses((status = 200, body = Value), (status = 503, body = Value)))]
async fn health(State(s): State<AppState>) -> (StatusCode, Json<Value>) {
    let version = env!("CARGO_PKG_VERSION");
    match s.hv.failure() {
        None => (
            StatusCode::OK,
            Json(json!({ "status": "ok", "version": version })),
        ),
        Some(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "unavailable", "version": version })),
        ),
    }
}
