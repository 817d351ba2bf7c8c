//! All API routes, one file per resource. Protected routers get the authentication layer;
//! the open ones (health, login) do not, and `/metrics` checks its own setting.

mod agents;
mod audit;
mod auth;
mod elevation;
pub(crate) mod events;
mod health;
mod liability;
mod locks;
mod rings;
mod sagas;
mod security;
mod sessions;
mod stats;
mod vfs;

use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::openapi::{Access, document_errors};
use crate::state::AppState;

/// What every route file uses.
mod prelude {
    pub(crate) use ahv_core::engine::{ActOutcome, Command, Reply};
    pub(crate) use ahv_core::id::{AgentDid, SagaId, SessionId};
    pub(crate) use axum::Json;
    pub(crate) use axum::extract::State;
    pub(crate) use axum::http::StatusCode;
    pub(crate) use serde::Deserialize;
    pub(crate) use serde_json::{Value, json};
    pub(crate) use utoipa::{IntoParams, ToSchema};
    pub(crate) use utoipa_axum::router::OpenApiRouter;
    pub(crate) use utoipa_axum::routes;

    pub(crate) use super::bodies::{AgentBody, TargetBody};
    pub(crate) use crate::auth::Principal;
    pub(crate) use crate::error::{ApiError, ApiResult};
    pub(crate) use crate::extract::ApiOptJson;
    pub(crate) use crate::extract::{ApiJson, ApiPath, ApiQuery};
    pub(crate) use crate::state::AppState;
    pub(crate) use crate::views::to_json;
    pub(crate) use ahv_core::engine::ActionRequest;

    /// Runs a governed action and returns its outcome as JSON: what most governed routes
    /// answer.
    pub(crate) async fn act(
        s: &AppState,
        p: &Principal,
        session_id: SessionId,
        given: Option<AgentDid>,
        request: ActionRequest,
    ) -> ApiResult<Value> {
        to_json(&act_outcome(s, p, session_id, given, request).await?)
    }

    /// Runs a governed action and returns its typed outcome, for routes that look into it. It
    /// acts as the agent [`AppState::acting_agent`] picks from the caller and the `given` DID,
    /// so every governed route resolves the acting agent the same way, before anything runs.
    pub(crate) async fn act_outcome(
        s: &AppState,
        p: &Principal,
        session_id: SessionId,
        given: Option<AgentDid>,
        request: ActionRequest,
    ) -> ApiResult<ActOutcome> {
        let agent = AppState::acting_agent(p, given)?;
        let r = s
            .exec(
                p,
                Command::Act {
                    session_id,
                    agent,
                    request,
                },
            )
            .await?;
        match r {
            Reply::Acted(o) => Ok(o),
            other => Err(unexpected(&other)),
        }
    }

    /// A reply the route did not expect (a server fault).
    pub(crate) fn unexpected(r: &Reply) -> ApiError {
        ApiError::internal(format!("unexpected engine reply: {r:?}"))
    }

    /// A reply as JSON (`Done` becomes `{"status": "ok"}`).
    pub(crate) fn reply_json(r: &Reply) -> ApiResult<Value> {
        match r {
            Reply::Done => Ok(json!({ "status": "ok" })),
            other => to_json(other),
        }
    }

    /// 200 with a JSON body.
    pub(crate) fn ok(v: Value) -> ApiResult<Json<Value>> {
        Ok(Json(v))
    }
}

/// Request bodies shared by several routes.
pub(crate) mod bodies {
    use ahv_core::id::AgentDid;
    use serde::Deserialize;
    use utoipa::ToSchema;

    /// A body naming the acting agent, optionally.
    #[derive(Debug, Default, Deserialize, ToSchema)]
    #[serde(deny_unknown_fields)]
    pub(crate) struct AgentBody {
        /// The agent (defaults to the caller's own DID; required with the admin token).
        #[schema(value_type = Option<String>)]
        pub(crate) agent_did: Option<AgentDid>,
    }

    /// A body naming the target agent.
    #[derive(Debug, Deserialize, ToSchema)]
    #[serde(deny_unknown_fields)]
    pub(crate) struct TargetBody {
        /// The agent.
        #[schema(value_type = String)]
        pub(crate) agent_did: AgentDid,
    }
}

/// Every API route with its OpenAPI operation.
pub(crate) fn api(state: &AppState) -> OpenApiRouter<AppState> {
    let mut protected = OpenApiRouter::with_openapi(crate::openapi::ApiDoc::openapi())
        .merge(sessions::routes())
        .merge(agents::routes())
        .merge(rings::routes())
        .merge(sagas::routes())
        .merge(liability::routes())
        .merge(vfs::routes())
        .merge(locks::routes())
        .merge(elevation::routes())
        .merge(security::routes())
        .merge(audit::routes())
        .merge(events::routes())
        .merge(stats::routes())
        .merge(crate::dashboard::api_routes())
        .route_layer(crate::layers::AuthLayer::new(state));
    document_errors(protected.get_openapi_mut(), Access::Token);
    let mut open = OpenApiRouter::new()
        .merge(health::routes())
        .merge(auth::routes())
        .merge(stats::open_routes())
        .merge(crate::dashboard::open_routes());
    document_errors(open.get_openapi_mut(), Access::Open);
    protected.merge(open)
}
