//! Liability: the reference's vouch, vouch list and agent liability, plus bond release,
//! slashing and quarantine.
//!
//! A voucher's σ is always the one the hypervisor holds: the reference's `voucher_sigma` field
//! is accepted for compatibility and ignored.

use ahv_core::id::RecordId;
use ahv_core::liability::QuarantineReason;
use ahv_core::score::Score;

use super::prelude::*;
use crate::views::{parse_rfc3339, vouch_json};

pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(vouch))
        .routes(routes!(list_vouches))
        .routes(routes!(agent_liability))
        .routes(routes!(release_vouch))
        .routes(routes!(slash))
        .routes(routes!(quarantine, list_quarantine))
        .routes(routes!(release_quarantine))
}

/// Body of a vouch (the reference's fields).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct VouchBody {
    /// The voucher (an agent token may vouch only as itself).
    #[schema(value_type = String)]
    voucher_did: AgentDid,
    /// The vouchee.
    #[schema(value_type = String)]
    vouchee_did: AgentDid,
    /// Accepted for compatibility and never used: the held σ is bonded.
    voucher_sigma: Option<f64>,
    /// Fraction of σ to bond (default 0.20).
    #[schema(value_type = Option<f64>)]
    bond_pct: Option<Score>,
    /// RFC 3339 instant after which the bond stops counting.
    expiry: Option<String>,
}

/// A voucher bonds part of its held σ for a vouchee in the session.
#[utoipa::path(post, path = "/api/v1/sessions/{session_id}/vouch", tag = "liability", params(("session_id" = String, Path)), request_body = VouchBody,
    responses((status = 201, body = Value), (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody)))]
async fn vouch(
    State(s): State<AppState>,
    p: Principal,
    ApiPath(sid): ApiPath<SessionId>,
    ApiJson(b): ApiJson<VouchBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let _ignored = b.voucher_sigma;
    let expiry = match b.expiry.as_deref() {
        None => None,
        Some(t) => Some(parse_rfc3339(t).map_err(|m| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_error",
                format!("expiry: {m}"),
            )
        })?),
    };
    let cmd = Command::Vouch {
        session_id: sid,
        voucher: b.voucher_did,
        vouchee: b.vouchee_did,
        bond_pct: b.bond_pct,
        expiry,
    };
    let r = s.exec(&p, cmd).await?;
    let Reply::Vouch(v) = r else {
        return Err(unexpected(&r));
    };
    Ok((StatusCode::CREATED, Json(vouch_json(&v))))
}

/// Bonds of a session, active and released (admin or a participant).
#[utoipa::path(get, path = "/api/v1/sessions/{session_id}/vouches", tag = "liability", params(("session_id" = String, Path)),
    responses((status = 200, body = Value), (status = 404, body = crate::error::ErrorBody)))]
async fn list_vouches(
    State(s): State<AppState>,
    p: Principal,
    ApiPath(sid): ApiPath<SessionId>,
) -> ApiResult<Json<Value>> {
    s.require_session(&p, &sid)?;
    let v = s.hv.read(|e| {
        e.books()
            .vouches()
            .for_session(&sid)
            .into_iter()
            .map(vouch_json)
            .collect::<Vec<_>>()
    })?;
    ok(Value::Array(v))
}

/// Bonds given and received by an agent, and its exposure (admin or the agent itself).
#[utoipa::path(get, path = "/api/v1/agents/{agent_did}/liability", tag = "liability", params(("agent_did" = String, Path)),
    responses((status = 200, body = Value)))]
async fn agent_liability(
    State(s): State<AppState>,
    p: Principal,
    ApiPath(did): ApiPath<AgentDid>,
) -> ApiResult<Json<Value>> {
    AppState::require_self(&p, &did)?;
    let now = s.hv.now();
    let v = s.hv.read(|e| {
        let b = e.books().vouches();
        json!({
            "agent_did": did,
            "vouches_given": b.given_by(&did).into_iter().map(vouch_json).collect::<Vec<_>>(),
            "vouches_received": b.received_by(&did).into_iter().map(vouch_json).collect::<Vec<_>>(),
            "total_exposure": b.exposure(&did, now),
        })
    })?;
    ok(v)
}

/// Releases a bond (its voucher or admin).
#[utoipa::path(post, path = "/api/v1/vouches/{vouch_id}/release", tag = "liability", params(("vouch_id" = String, Path)),
    responses((status = 200, body = Value), (status = 404, body = crate::error::ErrorBody)))]
async fn release_vouch(
    State(s): State<AppState>,
    p: Principal,
    ApiPath(id): ApiPath<RecordId>,
) -> ApiResult<Json<Value>> {
    let r = s.exec(&p, Command::ReleaseVouch { vouch_id: id }).await?;
    let Reply::Vouch(v) = r else {
        return Err(unexpected(&r));
    };
    ok(vouch_json(&v))
}

/// Body of a slash.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SlashBody {
    /// The misbehaving agent.
    #[schema(value_type = String)]
    agent_did: AgentDid,
    /// Risk weight ω of the offence in [0, 1].
    #[schema(value_type = f64)]
    omega: Score,
    /// Why.
    reason: String,
}

/// Slashes an agent and clips its vouchers (admin).
#[utoipa::path(post, path = "/api/v1/sessions/{session_id}/slash", tag = "liability", params(("session_id" = String, Path)), request_body = SlashBody,
    responses((status = 200, body = Value), (status = 403, body = crate::error::ErrorBody)))]
async fn slash(
    State(s): State<AppState>,
    p: Principal,
    ApiPath(sid): ApiPath<SessionId>,
    ApiJson(b): ApiJson<SlashBody>,
) -> ApiResult<Json<Value>> {
    AppState::require_admin(&p, "slash agents")?;
    let r = s
        .exec(
            &p,
            Command::Slash {
                session_id: sid,
                agent: b.agent_did,
                omega: b.omega,
                reason: b.reason,
            },
        )
        .await?;
    ok(reply_json(&r)?)
}

/// Body of a quarantine.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct QuarantineBody {
    /// The agent.
    #[schema(value_type = String)]
    agent_did: AgentDid,
    /// `behavioral_drift`, `liability_violation`, `ring_breach`, `rate_limit_exceeded`,
    /// `manual` (default) or `cascade_slash`.
    #[schema(value_type = Option<String>)]
    reason: Option<QuarantineReason>,
    /// Free-form details.
    details: Option<String>,
    /// Duration in seconds; absent = until released.
    duration_seconds: Option<u64>,
}

/// Quarantines an agent in the session: reads only (admin).
#[utoipa::path(post, path = "/api/v1/sessions/{session_id}/quarantine", tag = "liability", params(("session_id" = String, Path)), request_body = QuarantineBody,
    responses((status = 200, body = Value), (status = 403, body = crate::error::ErrorBody)))]
async fn quarantine(
    State(s): State<AppState>,
    p: Principal,
    ApiPath(sid): ApiPath<SessionId>,
    ApiJson(b): ApiJson<QuarantineBody>,
) -> ApiResult<Json<Value>> {
    AppState::require_admin(&p, "quarantine agents")?;
    let cmd = Command::Quarantine {
        session_id: sid,
        agent: b.agent_did,
        reason: b.reason.unwrap_or(QuarantineReason::Manual),
        details: b.details.unwrap_or_default(),
        duration_seconds: b.duration_seconds,
    };
    let r = s.exec(&p, cmd).await?;
    ok(reply_json(&r)?)
}

/// Quarantine records of the session (admin or a participant).
#[utoipa::path(get, path = "/api/v1/sessions/{session_id}/quarantine", tag = "liability", params(("session_id" = String, Path)),
    responses((status = 200, body = Value)))]
async fn list_quarantine(
    State(s): State<AppState>,
    p: Principal,
    ApiPath(sid): ApiPath<SessionId>,
) -> ApiResult<Json<Value>> {
    s.require_session(&p, &sid)?;
    let v =
        s.hv.read(|e| to_json(&e.books().quarantine().history(None, Some(&sid))))??;
    ok(v)
}

/// Releases an agent from quarantine (admin).
#[utoipa::path(post, path = "/api/v1/sessions/{session_id}/quarantine/release", tag = "liability", params(("session_id" = String, Path)), request_body = crate::routes::bodies::TargetBody,
    responses((status = 200, body = Value), (status = 403, body = crate::error::ErrorBody)))]
async fn release_quarantine(
    State(s): State<AppState>,
    p: Principal,
    ApiPath(sid): ApiPath<SessionId>,
    ApiJson(b): ApiJson<crate::routes::bodies::TargetBody>,
) -> ApiResult<Json<Value>> {
    AppState::require_admin(&p, "release quarantines")?;
    let r = s
        .exec(
            &p,
            Command::ReleaseQuarantine {
                session_id: sid,
                agent: b.agent_did,
            },
        )
        .await?;
    ok(reply_json(&r)?)
}
