//! The OpenAPI document and Swagger UI.
//!
//! Handlers carry `#[utoipa::path]` and are registered with `utoipa_axum::routes!`, which adds
//! the route to the router and the operation to the document in one step, so the two cannot
//! drift apart. The document is served at `/api/v1/openapi.json`; Swagger UI at `/docs` is
//! compiled into the binary (vendored; no network at build or run time).
//!
//! Each handler documents its success and its own notable errors; [`document_errors`] then adds
//! the errors the shared layers can give any operation (authentication, body limits, timeouts,
//! store failures…), so a generated client knows every status it can receive and that each
//! carries an [`ErrorBody`](crate::error::ErrorBody).

use axum::Router;
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
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

/// Who may call the operations of a router, for [`document_errors`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    /// Behind the bearer-token check.
    Token,
    /// Open (health, authentication, dashboard login).
    Open,
}

/// The errors the shared layers and the engine can give, with when they apply.
const ERRORS: &[(&str, &str)] = &[
    (
        "400",
        "Malformed input: a path or query parameter that does not parse, JSON syntax, or a \
         value the engine refuses (`invalid_input`).",
    ),
    (
        "401",
        "No bearer token, or one that is unknown or expired (`unauthorized`).",
    ),
    (
        "403",
        "The token may not do this: another agent's DID or session, an admin-only action, or a \
         governance denial (`forbidden`, or the denial's own code such as `ring_insufficient`).",
    ),
    (
        "404",
        "An id in the path, query or body names nothing (`not_found`).",
    ),
    (
        "408",
        "The request took longer than the server's request timeout (`timeout`).",
    ),
    (
        "409",
        "The request conflicts with the current state (`conflict`, or a lock or clock code).",
    ),
    (
        "413",
        "The body is larger than the server's limit (1 MiB by default).",
    ),
    (
        "422",
        "Well-formed JSON of the wrong shape: wrong types, missing or unknown fields.",
    ),
    (
        "429",
        "Rate limited; the `Retry-After` header says when to try again (`rate_limited`).",
    ),
    (
        "503",
        "The command log cannot commit (store unavailable or stopped); the command was not \
         acknowledged (`unavailable`).",
    ),
];

/// Adds to every operation of `spec` the error responses it can give and does not list yet:
/// bad input and timeouts everywhere; with a body, its size and shape; behind the token check,
/// 401/403/404; and for token-checked changes, conflicts, rate limits and store failures.
pub(crate) fn document_errors(spec: &mut utoipa::openapi::OpenApi, access: Access) {
    for item in spec.paths.paths.values_mut() {
        let ops = [
            (&mut item.get, false),
            (&mut item.put, true),
            (&mut item.post, true),
            (&mut item.delete, true),
            (&mut item.patch, true),
        ];
        for (op, changes) in ops {
            if let Some(op) = op.as_mut() {
                add_errors(op, access, changes);
            }
        }
    }
}

fn add_errors(op: &mut Operation, access: Access, changes: bool) {
    let body = op.request_body.is_some();
    let token = access == Access::Token;
    for (status, description) in ERRORS {
        let applies = match *status {
            "400" | "408" => true,
            "401" | "403" | "404" => token,
            "413" | "422" => body,
            "409" | "429" | "503" => token && changes,
            _ => false,
        };
        if applies {
            op.responses
                .responses
                .entry((*status).to_string())
                .or_insert_with(|| error_response(description));
        }
    }
}

fn error_response(description: &str) -> RefOr<utoipa::openapi::Response> {
    let content = ContentBuilder::new()
        .schema(Some(Ref::from_schema_name("ErrorBody")))
        .build();
    RefOr::T(
        ResponseBuilder::new()
            .description(description)
            .content("application/json", content)
            .build(),
    )
}
