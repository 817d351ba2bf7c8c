//! Sessions: the reference's create, list, get, join, activate, terminate and ring
//! distribution, plus leave.

use ahv_core::score::Score;
use ahv_core::session::{ConsistencyMode, SessionConfig, SessionState};
use ahv_core::vclock::IsolationLevel;

use super::prelude::*;

pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_session, list_sessions))
        .routes(routes!(get_session))
        .routes(routes!(join))
        .routes(routes!(activate))
        .routes(routes!(terminate))
        .routes(routes!(session_rings))
        .routes(routes!(leave))
}

/// Body of `POST /api/v1/sessions` (the reference's fields; `isolation` is new).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateSession {
    /// Owner of the session (may change its ACLs).
    #[schema(value_type = String)]
    creator_did: AgentDid,
    /// `strong` or `eventual` (default).
    #[schema(value_type = Option<String>)]
    consistency_mode: Option<ConsistencyMode>,
    /// 1..=10000, default 10.
    max_participants: Option<u32>,
    /// 1 s ..= 30 days, default 3600.
    max_duration_seconds: Option<u64>,
    /// Lowest σ_eff admitted, default 0.60.
    #[schema(value_type = Option<f64>)]
    min_sigma_eff: Option<Score>,
    /// Commit the session's audit root on termination (default true).
    enable_audit: Option<bool>,
    /// Accepted for compatibility with the reference; ignored (roots are signed instead).
    enable_blockchain_commitment: Option<bool>,
    /// `snapshot`, `read_committed` (default) or `serializable`.
    #[schema(value_type = Option<String>)]
    isolation: Option<IsolationLevel>,
}

/// Creates a session (admin).
#[utoipa::path(post, path = "/api/v1/sessions", tag = "sessions", request_body = CreateSession,
    responses((status = 201, description = "created", body = Value), (status = 403, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
async fn create_session(
    State(s): State<AppState>,
    p: Principal,
    ApiJson(b): ApiJson<CreateSession>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    AppState::require_admin(&p, "create sessions")?;
    let d = SessionConfig::default();
    let config = SessionConfig {
        consistency_mode: b.consistency_mode.unwrap_or(d.consistency_mode),
        max_participants: b.max_participants.unwrap_or(d.max_participants),
        max_duration_seconds: b.max_duration_seconds.unwrap_or(d.max_duration_seconds),
        min_sigma_eff: b.min_sigma_eff.unwrap_or(d.min_sigma_eff),
        enable_audit: b.enable_audit.unwrap_or(d.enable_audit),
    };
    let _ = b.enable_blockchain_commitment;
    let cmd = Command::CreateSession {
        creator: b.creator_did,
        config,
        isolation: b.isolation.unwrap_or_default(),
    };
    let Reply::Session(v) = s.exec(&p, cmd).await? else {
        return Err(ApiError::internal("create returned no session"));
    };
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "session_id": v.session_id, "state": v.state, "consistency_mode": v.consistency_mode,
            "created_at": v.created_at, "creator_did": v.creator_did, "isolation": v.isolation, "expires_at": v.expires_at,
        })),
    ))
}

/// Filter of the session list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListQuery {
    /// Only sessions in this state (an unknown state gives an empty list, as in the reference).
    state: Option<String>,
}

/// Lists sessions in creation order (an agent sees only its own).
#[utoipa::path(get, path = "/api/v1/sessions", tag = "sessions", params(ListQuery), responses((status = 200, body = Value)))]
async fn list_sessions(
    State(s): State<AppState>,
    p: Principal,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Json<Value>> {
    let state = match q.state.as_deref() {
        None => None,
        Some(st) => match serde_json::from_value::<SessionState>(json!(st)) {
            Ok(v) => Some(v),
            Err(_) => return ok(json!([])),
        },
    };
    let rows = s.hv.read(|e| {
        e.session_ids(state)
            .into_iter()
            .filter_map(|id| e.books().slot(&id).ok())
            .filter(|slot| p.agent().is_none_or(|a| slot.session.participants().contains_key(a)))
            .map(|slot| {
                json!({
                    "session_id": slot.id(), "state": slot.session.state(), "consistency_mode": slot.session.consistency_mode(),
                    "participant_count": slot.session.active_count(), "created_at": slot.session.created_at().to_rfc3339(),
                })
            })
            .collect::<Vec<_>>()
    })?;
    ok(Value::Array(rows))
}

/// One session with participants and sagas (admin or a participant).
#[utoipa::path(get, path = "/api/v1/sessions/{session_id}", tag = "sessions", params(("session_id" = String, Path)), responses((status = 200, body = Value), (status = 404, body = crate::error::ErrorBody)))]
async fn get_session(
    State(s): State<AppState>,
    p: Principal,
    ApiPath(sid): ApiPath<SessionId>,
) -> ApiResult<axum::response::Response> {
    // One engine lock for the access check and the view.
    let v = s.hv.read(|e| {
        AppState::session_access(e, &p, &sid)?;
        e.session_view(&sid).map_err(ApiError::from)
    })??;
    crate::views::json_ok(&v, 1024)
}

/// Body of a join.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct JoinBody {
    /// The agent.
    #[schema(value_type = String)]
    agent_did: AgentDid,
    /// Actions the agent declares (reversibility `full`, `partial` or `none` works).
    #[schema(value_type = Option<Vec<Object>>)]
    actions: Option<Vec<ahv_core::action::ActionDescriptor>>,
    /// σ_raw for an agent the hypervisor does not know yet (a known agent keeps its held
    /// score unless this one is lower).
    #[schema(value_type = Option<f64>)]
    sigma_raw: Option<Score>,
}

/// Admits an agent (admin). The response carries an agent token bound to the DID.
#[utoipa::path(post, path = "/api/v1/sessions/{session_id}/join", tag = "sessions", params(("session_id" = String, Path)), request_body = JoinBody,
    responses((status = 200, body = Value), (status = 404, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody)))]
async fn join(
    State(s): State<AppState>,
    p: Principal,
    ApiPath(sid): ApiPath<SessionId>,
    ApiJson(b): ApiJson<JoinBody>,
) -> ApiResult<Json<Value>> {
    AppState::require_admin(&p, "admit agents")?;
    let cmd = Command::Join {
        session_id: sid,
        agent: b.agent_did,
        sigma_raw: b.sigma_raw,
        actions: b.actions.unwrap_or_default(),
    };
    let r = s.exec(&p, cmd).await?;
    let Reply::Joined(j) = r else {
        return Err(unexpected(&r));
    };
    let token = s
        .auth
        .issue(&j.agent_did, s.hv.now(), s.config.agent_token_ttl)?;
    ok(json!({
        "agent_did": j.agent_did, "session_id": j.session_id, "assigned_ring": j.ring, "ring_name": j.ring.name(),
        "sigma_raw": j.sigma_raw, "sigma_eff": j.sigma_eff, "probation": j.probation, "forced_strong": j.forced_strong,
        "agent_token": token.token, "token_expires_at": token.expires_at.to_rfc3339(),
    }))
}

/// handshaking → active (admin).
#[utoipa::path(post, path = "/api/v1/sessions/{session_id}/activate", tag = "sessions", params(("session_id" = String, Path)),
    responses((status = 200, body = Value), (status = 404, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody)))]
async fn activate(
    State(s): State<AppState>,
    p: Principal,
    ApiPath(sid): ApiPath<SessionId>,
) -> ApiResult<Json<Value>> {
    AppState::require_admin(&p, "activate sessions")?;
    s.exec(
        &p,
        Command::Activate {
            session_id: sid.clone(),
        },
    )
    .await?;
    let state =
        s.hv.read(|e| e.books().slot(&sid).map(|x| x.session.state()))??;
    ok(json!({ "session_id": sid, "state": state }))
}

/// Terminates and archives a session (admin); returns the committed Merkle root.
#[utoipa::path(post, path = "/api/v1/sessions/{session_id}/terminate", tag = "sessions", params(("session_id" = String, Path)),
    responses((status = 200, body = Value), (status = 404, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody)))]
async fn terminate(
    State(s): State<AppState>,
    p: Principal,
    ApiPath(sid): ApiPath<SessionId>,
) -> ApiResult<Json<Value>> {
    AppState::require_admin(&p, "terminate sessions")?;
    let r = s
        .exec(
            &p,
            Command::Terminate {
                session_id: sid.clone(),
            },
        )
        .await?;
    let Reply::Terminated(t) = r else {
        return Err(unexpected(&r));
    };
    let state =
        s.hv.read(|e| e.books().slot(&sid).map(|x| x.session.state()))??;
    ok(json!({
        "session_id": t.session_id, "state": state, "merkle_root": t.merkle_root, "tree_size": t.tree_size,
        "hv_index": t.hv_index, "files_purged": t.files_purged, "bytes_freed": t.bytes_freed,
    }))
}

/// Ring distribution of the active participants (admin or a participant).
#[utoipa::path(get, path = "/api/v1/sessions/{session_id}/rings", tag = "sessions", params(("session_id" = String, Path)),
    responses((status = 200, body = Value), (status = 404, body = crate::error::ErrorBody)))]
async fn session_rings(
    State(s): State<AppState>,
    p: Principal,
    ApiPath(sid): ApiPath<SessionId>,
) -> ApiResult<Json<Value>> {
    s.require_session(&p, &sid)?;
    let d = s.hv.read(|e| e.ring_distribution(&sid))??;
    ok(json!({ "session_id": sid, "distribution": d }))
}

/// An agent leaves a session (the agent itself or admin).
#[utoipa::path(post, path = "/api/v1/sessions/{session_id}/leave", tag = "sessions", params(("session_id" = String, Path)), request_body = Option<crate::routes::bodies::AgentBody>,
    responses((status = 200, body = Value), (status = 404, body = crate::error::ErrorBody)))]
async fn leave(
    State(s): State<AppState>,
    p: Principal,
    ApiPath(sid): ApiPath<SessionId>,
    ApiOptJson(b): ApiOptJson<AgentBody>,
) -> ApiResult<Json<Value>> {
    let agent = AppState::acting_agent(&p, b.agent_did)?;
    s.exec(
        &p,
        Command::Leave {
            session_id: sid.clone(),
            agent: agent.clone(),
        },
    )
    .await?;
    ok(json!({ "session_id": sid, "agent_did": agent, "is_active": false }))
}
