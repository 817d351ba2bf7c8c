//! Rings: the reference's pure ring-check oracle, and the grants σ alone cannot give
//! (ring-1 consensus, ring-0 witness) plus spawned-child registration.

use ahv_core::action::ActionDescriptor;
use ahv_core::ring::Ring;
use ahv_core::ring::enforcer;
use ahv_core::score::Score;

use axum::response::Response;
use serde::Serialize;

use super::prelude::*;
use crate::views::json_ok;

pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(check))
        .routes(routes!(consensus))
        .routes(routes!(root))
        .routes(routes!(register_child))
}

/// Body of the ring check (the reference's fields).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CheckBody {
    /// 0..=3 (anything else is refused with 422).
    #[schema(value_type = u8)]
    agent_ring: Ring,
    /// The action (reference `ActionDescriptor` fields; unknown keys are refused).
    #[schema(value_type = Object)]
    action: ActionDescriptor,
    /// σ_eff in [0, 1].
    #[schema(value_type = f64)]
    sigma_eff: Score,
    /// Ring-1 consensus present.
    #[serde(default)]
    has_consensus: bool,
    /// Ring-0 witness present.
    #[serde(default)]
    has_sre_witness: bool,
}

/// The ring check's answer (keys in alphabetical order, as the server always wrote them).
#[derive(Serialize)]
struct CheckReply<'a> {
    agent_ring: &'a Ring,
    allowed: bool,
    reason: &'a str,
    required_ring: &'a Ring,
    requires_consensus: bool,
    requires_sre_witness: bool,
    sigma_eff: &'a Score,
}

/// Pure oracle: would an agent in `agent_ring` with `sigma_eff` be allowed `action`?
/// Changes nothing (any authenticated caller).
#[utoipa::path(post, path = "/api/v1/rings/check", tag = "rings", request_body = CheckBody, responses((status = 200, body = Value), (status = 422, body = crate::error::ErrorBody)))]
async fn check(_p: Principal, ApiJson(b): ApiJson<CheckBody>) -> ApiResult<Response> {
    let c = enforcer::check(
        b.agent_ring,
        b.action.required_ring(),
        b.sigma_eff,
        b.has_consensus,
        b.has_sre_witness,
    );
    json_ok(
        &CheckReply {
            agent_ring: &c.agent_ring,
            allowed: c.allowed,
            reason: &c.reason,
            required_ring: &c.required_ring,
            requires_consensus: c.requires_consensus,
            requires_sre_witness: c.requires_witness,
            sigma_eff: &c.sigma_eff,
        },
        256,
    )
}

/// Approves ring-1 consensus for an agent (admin, or a ring ≤ 1 participant other than it).
#[utoipa::path(post, path = "/api/v1/sessions/{session_id}/consensus", tag = "rings", params(("session_id" = String, Path)), request_body = crate::routes::bodies::TargetBody,
    responses((status = 200, body = Value), (status = 403, body = crate::error::ErrorBody)))]
async fn consensus(
    State(s): State<AppState>,
    p: Principal,
    ApiPath(sid): ApiPath<SessionId>,
    ApiJson(b): ApiJson<TargetBody>,
) -> ApiResult<Json<Value>> {
    s.require_session(&p, &sid)?;
    let r = s
        .exec(
            &p,
            Command::ApproveConsensus {
                session_id: sid,
                agent: b.agent_did,
            },
        )
        .await?;
    ok(reply_json(&r)?)
}

/// Body of a ring-0 grant.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RootBody {
    /// The agent.
    #[schema(value_type = String)]
    agent_did: AgentDid,
    /// Witness statement recorded in the audit log.
    witness: String,
}

/// Grants ring 0 with an admin witness (admin).
#[utoipa::path(post, path = "/api/v1/sessions/{session_id}/root", tag = "rings", params(("session_id" = String, Path)), request_body = RootBody,
    responses((status = 200, body = Value), (status = 403, body = crate::error::ErrorBody)))]
async fn root(
    State(s): State<AppState>,
    p: Principal,
    ApiPath(sid): ApiPath<SessionId>,
    ApiJson(b): ApiJson<RootBody>,
) -> ApiResult<Json<Value>> {
    AppState::require_admin(&p, "witness ring-0 grants")?;
    let r = s
        .exec(
            &p,
            Command::GrantRoot {
                session_id: sid,
                agent: b.agent_did,
                witness: b.witness,
            },
        )
        .await?;
    ok(reply_json(&r)?)
}

/// Body of a child registration.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ChildBody {
    /// The parent (defaults to the caller; required with the admin token).
    #[schema(value_type = Option<String>)]
    parent_did: Option<AgentDid>,
    /// The spawned child.
    #[schema(value_type = String)]
    child_did: AgentDid,
}

/// Registers a spawned child under its parent (admin or the parent).
#[utoipa::path(post, path = "/api/v1/sessions/{session_id}/children", tag = "rings", params(("session_id" = String, Path)), request_body = ChildBody,
    responses((status = 200, body = Value), (status = 403, body = crate::error::ErrorBody)))]
async fn register_child(
    State(s): State<AppState>,
    p: Principal,
    ApiPath(sid): ApiPath<SessionId>,
    ApiJson(b): ApiJson<ChildBody>,
) -> ApiResult<Json<Value>> {
    s.require_session(&p, &sid)?;
    let parent = AppState::acting_agent(&p, b.parent_did)?;
    let r = s
        .exec(
            &p,
            Command::RegisterChild {
                session_id: sid,
                parent,
                child: b.child_did,
            },
        )
        .await?;
    ok(reply_json(&r)?)
}
