//! Ring elevation ("sudo with a TTL"): request (governed), approve (admin, or an agent of
//! sufficient ring — the engine checks), revoke (admin, or the requester withdrawing), list.

use ahv_core::id::RecordId;
use ahv_core::ring::Ring;
use ahv_core::ring::elevation::{ElevationFilter, ElevationStatus};

use super::prelude::*;

pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(request))
        .routes(routes!(list))
        .routes(routes!(approve))
        .routes(routes!(revoke))
}

/// Body of an elevation request.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ElevationBody {
    /// The agent (defaults to the caller; required with the admin token).
    #[schema(value_type = Option<String>)]
    agent_did: Option<AgentDid>,
    /// The ring wanted (more privileged than the current one).
    #[schema(value_type = u8)]
    target_ring: Ring,
    /// TTL in seconds (default 300, capped at 3600).
    ttl_seconds: Option<u64>,
    /// Why.
    reason: String,
}

/// Requests a temporary, more privileged ring (pending until approved).
#[utoipa::path(post, path = "/api/v1/sessions/{session_id}/elevations", tag = "elevation", params(("session_id" = String, Path)), request_body = ElevationBody,
    responses((status = 201, body = Value), (status = 403, body = crate::error::ErrorBody)))]
async fn request(
    State(s): State<AppState>,
    p: Principal,
    ApiPath(sid): ApiPath<SessionId>,
    ApiJson(b): ApiJson<ElevationBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    s.require_session(&p, &sid)?;
    let agent = AppState::acting_agent(&p, b.agent_did)?;
    let cmd = Command::RequestElevation {
        session_id: sid,
        agent,
        target: b.target_ring,
        ttl_seconds: b.ttl_seconds,
        reason: b.reason,
    };
    let r = s.exec(&p, cmd).await?;
    Ok((StatusCode::CREATED, Json(reply_json(&r)?)))
}

/// Filter of the elevation list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub(crate) struct ElevationQuery {
    /// Only this session.
    #[param(value_type = Option<String>)]
    session_id: Option<SessionId>,
    /// Only this agent.
    #[param(value_type = Option<String>)]
    agent_did: Option<AgentDid>,
    /// `pending`, `active`, `expired`, `revoked` or `denied`.
    #[param(value_type = Option<String>)]
    status: Option<ElevationStatus>,
}

/// Lists elevations (an agent sees those of its sessions).
#[utoipa::path(get, path = "/api/v1/elevations", tag = "elevation", params(ElevationQuery), responses((status = 200, body = Value)))]
async fn list(
    State(s): State<AppState>,
    p: Principal,
    ApiQuery(q): ApiQuery<ElevationQuery>,
) -> ApiResult<Json<Value>> {
    let f = ElevationFilter {
        agent: q.agent_did,
        session: q.session_id,
        status: q.status,
    };
    let v = s.hv.read(|e| {
        let rows: Vec<_> = e
            .books()
            .elevations()
            .list(&f)
            .into_iter()
            .filter(|x| {
                p.agent().is_none_or(|a| {
                    e.books()
                        .slot(&x.session_id)
                        .is_ok_and(|slot| slot.session.participants().contains_key(a))
                })
            })
            .collect();
        to_json(&rows)
    })??;
    ok(v)
}

/// Approves a pending elevation (admin, or an agent of sufficient ring in the session).
#[utoipa::path(post, path = "/api/v1/elevations/{elevation_id}/approve", tag = "elevation", params(("elevation_id" = String, Path)),
    responses((status = 200, body = Value), (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody)))]
async fn approve(
    State(s): State<AppState>,
    p: Principal,
    ApiPath(id): ApiPath<RecordId>,
) -> ApiResult<Json<Value>> {
    let r = s
        .exec(&p, Command::ApproveElevation { elevation_id: id })
        .await?;
    ok(reply_json(&r)?)
}

/// Revokes an elevation (admin, or the requester withdrawing its own).
#[utoipa::path(post, path = "/api/v1/elevations/{elevation_id}/revoke", tag = "elevation", params(("elevation_id" = String, Path)),
    responses((status = 200, body = Value), (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody)))]
async fn revoke(
    State(s): State<AppState>,
    p: Principal,
    ApiPath(id): ApiPath<RecordId>,
) -> ApiResult<Json<Value>> {
    let r = s
        .exec(&p, Command::RevokeElevation { elevation_id: id })
        .await?;
    ok(reply_json(&r)?)
}
