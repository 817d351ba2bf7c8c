//! Agents: the reference's ring lookup, plus held trust (admin) and the liability ledger.

use ahv_core::score::Score;

use super::prelude::*;

pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(agent_ring))
        .routes(routes!(set_trust))
        .routes(routes!(ledger))
}

/// The agent's ring in the first session (creation order) where it is an active participant
/// (admin or the agent itself). DIDs containing `/` are addressed percent-encoded (`%2F`).
#[utoipa::path(get, path = "/api/v1/agents/{agent_did}/ring", tag = "agents", params(("agent_did" = String, Path)),
    responses((status = 200, body = Value), (status = 404, body = crate::error::ErrorBody)))]
async fn agent_ring(
    State(s): State<AppState>,
    p: Principal,
    ApiPath(did): ApiPath<AgentDid>,
) -> ApiResult<Json<Value>> {
    AppState::require_self(&p, &did)?;
    let found = s.hv.read(|e| {
        let mine = e.sessions_of(&did);
        e.session_ids(None).into_iter().filter(|id| mine.contains(id)).find_map(|id| {
            let slot = e.books().slot(&id).ok()?;
            let part = slot.session.participants().get(&did).filter(|x| x.is_active)?;
            Some(json!({
                "agent_did": did, "ring": part.ring, "ring_name": part.ring.name(), "session_id": id,
                "sigma_raw": part.sigma_raw, "sigma_eff": part.sigma_eff,
            }))
        })
    })?;
    found
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("agent `{did}` not found in any session")))
}

/// Body of a trust update.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct TrustBody {
    /// New σ_raw in [0, 1].
    #[schema(value_type = f64)]
    sigma_raw: Score,
}

/// Sets the σ_raw the hypervisor holds for an agent (admin); rings are re-derived.
#[utoipa::path(put, path = "/api/v1/agents/{agent_did}/trust", tag = "agents", params(("agent_did" = String, Path)), request_body = TrustBody,
    responses((status = 200, body = Value), (status = 403, body = crate::error::ErrorBody)))]
async fn set_trust(
    State(s): State<AppState>,
    p: Principal,
    ApiPath(did): ApiPath<AgentDid>,
    ApiJson(b): ApiJson<TrustBody>,
) -> ApiResult<Json<Value>> {
    AppState::require_admin(&p, "set trust scores")?;
    s.exec(
        &p,
        Command::SetTrust {
            agent: did.clone(),
            sigma_raw: b.sigma_raw,
        },
    )
    .await?;
    ok(json!({ "agent_did": did, "sigma_raw": b.sigma_raw }))
}

/// The agent's liability-ledger entries and risk profile (admin or the agent itself).
#[utoipa::path(get, path = "/api/v1/agents/{agent_did}/ledger", tag = "agents", params(("agent_did" = String, Path)),
    responses((status = 200, body = Value)))]
async fn ledger(
    State(s): State<AppState>,
    p: Principal,
    ApiPath(did): ApiPath<AgentDid>,
) -> ApiResult<Json<Value>> {
    AppState::require_self(&p, &did)?;
    let v = s.hv.read(|e| {
        let l = e.books().ledger();
        Ok::<_, ApiError>(json!({
            "agent_did": did,
            "sigma_raw": e.trust_of(&did),
            "entries": to_json(&l.history(&did))?,
            "risk_profile": to_json(&l.risk_profile(&did))?,
        }))
    })??;
    ok(v)
}
