//! Security: governed tool actions (allowed or denied with a reason), the kill switch and its
//! substitute pool, rate-limit status, breach statistics and breaker reset.

use ahv_core::engine::EngineError;
use ahv_core::id::ActionId;
use ahv_core::security::kill::KillReason;
use ahv_runtime::RuntimeError;

use super::prelude::*;

pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(tool_action))
        .routes(routes!(kill))
        .routes(routes!(register_substitute))
        .routes(routes!(rate_limit))
        .routes(routes!(breach))
        .routes(routes!(reset_breaker))
}

/// Body of a governed tool action.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ToolBody {
    /// A registered action of the session.
    #[schema(value_type = String)]
    action_id: ActionId,
    /// Free-form input (recorded by hash in the audit log).
    input: Option<Value>,
    /// The acting agent (defaults to the caller; required with the admin token).
    #[schema(value_type = Option<String>)]
    agent_did: Option<AgentDid>,
}

/// Asks the hypervisor whether the agent may perform a registered action now, and records
/// the decision. 200 `{allowed: true, ring}` or 200 `{allowed: false, code, reason}`; a rate
/// limit is 429 with `Retry-After`.
#[utoipa::path(post, path = "/api/v1/sessions/{session_id}/actions", tag = "security", params(("session_id" = String, Path)), request_body = ToolBody,
    responses((status = 200, body = Value), (status = 429, body = crate::error::ErrorBody)))]
async fn tool_action(
    State(s): State<AppState>,
    p: Principal,
    ApiPath(sid): ApiPath<SessionId>,
    ApiJson(b): ApiJson<ToolBody>,
) -> ApiResult<Json<Value>> {
    s.require_session(&p, &sid)?;
    let agent = AppState::acting_agent(&p, b.agent_did)?;
    let request = ActionRequest::Tool {
        action_id: b.action_id.clone(),
        input: b.input.unwrap_or(Value::Null),
    };
    match s
        .exec_raw(
            &p,
            Command::Act {
                session_id: sid,
                agent: agent.clone(),
                request,
            },
        )
        .await
    {
        Ok(Reply::Acted(ActOutcome::Allowed { action_id, ring })) => ok(
            json!({ "allowed": true, "agent_did": agent, "action_id": action_id, "ring": ring, "reason": "Access granted" }),
        ),
        Ok(other) => Err(unexpected(&other)),
        Err(RuntimeError::Engine(EngineError::Denied(d))) => ok(
            json!({ "allowed": false, "agent_did": agent, "action_id": b.action_id, "code": d.code.as_str(), "reason": d.reason }),
        ),
        Err(e) => Err(e.into()),
    }
}

/// Body of a kill.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct KillBody {
    /// The agent.
    #[schema(value_type = String)]
    agent_did: AgentDid,
    /// `behavioral_drift`, `rate_limit`, `ring_breach`, `manual` (default), `quarantine_timeout`
    /// or `session_timeout`.
    #[schema(value_type = Option<String>)]
    reason: Option<KillReason>,
    /// Preferred substitute for its pending saga steps.
    #[schema(value_type = Option<String>)]
    substitute_did: Option<AgentDid>,
}

/// Kills an agent in the session now; its pending saga steps go to a substitute or are
/// compensated (admin).
#[utoipa::path(post, path = "/api/v1/sessions/{session_id}/kill", tag = "security", params(("session_id" = String, Path)), request_body = KillBody,
    responses((status = 200, body = Value), (status = 403, body = crate::error::ErrorBody)))]
async fn kill(
    State(s): State<AppState>,
    p: Principal,
    ApiPath(sid): ApiPath<SessionId>,
    ApiJson(b): ApiJson<KillBody>,
) -> ApiResult<Json<Value>> {
    AppState::require_admin(&p, "kill agents")?;
    let cmd = Command::Kill {
        session_id: sid,
        agent: b.agent_did,
        reason: b.reason.unwrap_or(KillReason::Manual),
        substitute: b.substitute_did,
    };
    let r = s.exec(&p, cmd).await?;
    ok(reply_json(&r)?)
}

/// Adds an agent to the session's substitute pool (admin).
#[utoipa::path(post, path = "/api/v1/sessions/{session_id}/substitutes", tag = "security", params(("session_id" = String, Path)), request_body = crate::routes::bodies::TargetBody,
    responses((status = 200, body = Value), (status = 403, body = crate::error::ErrorBody)))]
async fn register_substitute(
    State(s): State<AppState>,
    p: Principal,
    ApiPath(sid): ApiPath<SessionId>,
    ApiJson(b): ApiJson<TargetBody>,
) -> ApiResult<Json<Value>> {
    AppState::require_admin(&p, "register substitutes")?;
    s.exec(
        &p,
        Command::RegisterSubstitute {
            session_id: sid.clone(),
            agent: b.agent_did.clone(),
        },
    )
    .await?;
    ok(json!({ "session_id": sid, "agent_did": b.agent_did, "registered": true }))
}

/// Rate-limit counters of an agent in a session (admin or the agent itself).
#[utoipa::path(get, path = "/api/v1/sessions/{session_id}/agents/{agent_did}/rate-limit", tag = "security", params(("session_id" = String, Path), ("agent_did" = String, Path)),
    responses((status = 200, body = Value), (status = 404, body = crate::error::ErrorBody)))]
async fn rate_limit(
    State(s): State<AppState>,
    p: Principal,
    ApiPath((sid, did)): ApiPath<(SessionId, AgentDid)>,
) -> ApiResult<Json<Value>> {
    AppState::require_self(&p, &did)?;
    let now = s.hv.now();
    let v = s.hv.read(|e| {
        e.books().slot(&sid)?;
        let stats = e.books().limiter().stats(&did, &sid, now);
        Ok::<_, ApiError>(json!({ "session_id": sid, "agent_did": did, "stats": to_json(&stats)?, "policies": to_json(e.books().limiter().policies())? }))
    })??;
    ok(v)
}

/// Breach-detector statistics of an agent in a session (admin or the agent itself).
#[utoipa::path(get, path = "/api/v1/sessions/{session_id}/agents/{agent_did}/breach", tag = "security", params(("session_id" = String, Path), ("agent_did" = String, Path)),
    responses((status = 200, body = Value), (status = 404, body = crate::error::ErrorBody)))]
async fn breach(
    State(s): State<AppState>,
    p: Principal,
    ApiPath((sid, did)): ApiPath<(SessionId, AgentDid)>,
) -> ApiResult<Json<Value>> {
    AppState::require_self(&p, &did)?;
    let now = s.hv.now();
    let v = s.hv.read(|e| {
        e.books().slot(&sid)?;
        let stats = e.books().breach().stats(&did, &sid, now);
        Ok::<_, ApiError>(json!({ "session_id": sid, "agent_did": did, "stats": to_json(&stats)? }))
    })??;
    ok(v)
}

/// Resets a tripped breach breaker (admin).
#[utoipa::path(post, path = "/api/v1/sessions/{session_id}/agents/{agent_did}/breaker/reset", tag = "security", params(("session_id" = String, Path), ("agent_did" = String, Path)),
    responses((status = 200, body = Value), (status = 403, body = crate::error::ErrorBody)))]
async fn reset_breaker(
    State(s): State<AppState>,
    p: Principal,
    ApiPath((sid, did)): ApiPath<(SessionId, AgentDid)>,
) -> ApiResult<Json<Value>> {
    AppState::require_admin(&p, "reset breach breakers")?;
    s.exec(
        &p,
        Command::ResetBreaker {
            session_id: sid.clone(),
            agent: did.clone(),
        },
    )
    .await?;
    ok(json!({ "session_id": sid, "agent_did": did, "breaker_tripped": false }))
}
