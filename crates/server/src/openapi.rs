//! The OpenAPI document and Swagger UI.
//!
//! Handlers carry `#[utoipa::path]` and are registered with `utoipa_axum::routes!`, which adds
//! the route to the router and the operation to the document in one step, so the two cannot
//! drift apart. The document is served at `/api/v1/openapi.json`; Swagger UI at `/docs` is
//! compiled into the binary (vendored; no network at build or run time).

use axum::Router;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_swagger_ui::SwaggerUi;

use crate::state::AppState;

/// Path of the OpenAPI document.
pub const OPENAPI_PATH: &str = "/api/v1/openapi.json";

/// The document's fixed parts; operations are added by the routers.
#[derive(OpenApi)]
#[openapi(
    info(title = "agent-hypervisor", description = "Governance runtime for multi-agent AI sessions. Authenticate with `Authorization: Bearer <admin token | agent token>`."),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
    components(schemas(crate::error::ErrorBody))
)]
#[derive(Debug)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

/// Serves the document and Swagger UI (both open).
pub(crate) fn docs_router(spec: utoipa::openapi::OpenApi) -> Router<AppState> {
    Router::from(SwaggerUi::new("/docs").url(OPENAPI_PATH, spec))
}
