//! The session VFS through the governed path: read, write, delete, list, snapshots and
//! restore (each an `Act`, so rings, quarantine, rate limits, locks, clocks and ACLs apply),
//! plus ACLs (creator or admin) and vector-clock state.

use std::collections::BTreeSet;

use ahv_core::engine::SessionSlot;

use super::prelude::*;

pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_files))
        .routes(routes!(read_file, write_file, delete_file))
        .routes(routes!(set_acl, clear_acl))
        .routes(routes!(snapshot))
        .routes(routes!(restore))
        .routes(routes!(path_clock))
        .routes(routes!(agent_clock))
}

/// Query naming a path and, for the admin, the acting agent.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub(crate) struct PathQuery {
    /// The file path inside the session.
    path: String,
    /// The acting agent (defaults to the caller; required with the admin token).
    #[param(value_type = Option<String>)]
    agent_did: Option<AgentDid>,
}

/// Query of a listing.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListQuery {
    /// Only paths under this directory.
    prefix: Option<String>,
    /// The acting agent (defaults to the caller; required with the admin token).
    #[param(value_type = Option<String>)]
    agent_did: Option<AgentDid>,
}

/// Lists the files the agent may read.
#[utoipa::path(get, path = "/api/v1/sessions/{session_id}/vfs", tag = "vfs", params(("session_id" = String, Path), ListQuery),
    responses((status = 200, body = Value), (status = 403, body = crate::error::ErrorBody)))]
async fn list_files(
    State(s): State<AppState>,
    p: Principal,
    ApiPath(sid): ApiPath<SessionId>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Json<Value>> {
    let request = ActionRequest::VfsList { prefix: q.prefix };
    ok(act(&s, &p, sid, q.agent_did, request).await?)
}

/// Reads a file (governed; records the read in the path's vector clock).
#[utoipa::path(get, path = "/api/v1/sessions/{session_id}/vfs/file", tag = "vfs", params(("session_id" = String, Path), PathQuery),
    responses((status = 200, body = Value), (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody)))]
async fn read_file(
    State(s): State<AppState>,
    p: Principal,
    ApiPath(sid): ApiPath<SessionId>,
    ApiQuery(q): ApiQuery<PathQuery>,
) -> ApiResult<Json<Value>> {
    let request = ActionRequest::VfsRead { path: q.path };
    ok(act(&s, &p, sid, q.agent_did, request).await?)
}

/// Body of a write.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct WriteBody {
    /// The file path inside the session.
    path: String,
    /// New content.
    content: String,
    /// The acting agent (defaults to the caller; required with the admin token).
    #[schema(value_type = Option<String>)]
    agent_did: Option<AgentDid>,
}

/// Creates or replaces a file (governed; durable before the answer).
#[utoipa::path(put, path = "/api/v1/sessions/{session_id}/vfs/file", tag = "vfs", params(("session_id" = String, Path)), request_body = WriteBody,
    responses((status = 200, body = Value), (status = 403, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody)))]
async fn write_file(
    State(s): State<AppState>,
    p: Principal,
    ApiPath(sid): ApiPath<SessionId>,
    ApiJson(b): ApiJson<WriteBody>,
) -> ApiResult<Json<Value>> {
    let request = ActionRequest::VfsWrite {
        path: b.path,
        content: b.content,
    };
    ok(act(&s, &p, sid, b.agent_did, request).await?)
}

/// Deletes a file (governed).
#[utoipa::path(delete, path = "/api/v1/sessions/{session_id}/vfs/file", tag = "vfs", params(("session_id" = String, Path), PathQuery),
    responses((status = 200, body = Value), (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody)))]
async fn delete_file(
    State(s): State<AppState>,
    p: Principal,
    ApiPath(sid): ApiPath<SessionId>,
    ApiQuery(q): ApiQuery<PathQuery>,
) -> ApiResult<Json<Value>> {
    let request = ActionRequest::VfsDelete { path: q.path };
    ok(act(&s, &p, sid, q.agent_did, request).await?)
}

/// Body of an ACL change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct AclBody {
    /// Path or directory.
    path: String,
    /// Agents allowed.
    #[schema(value_type = Vec<String>)]
    allowed: BTreeSet<AgentDid>,
}

/// Sets the ACL of a path or directory (the session creator or admin).
#[utoipa::path(put, path = "/api/v1/sessions/{session_id}/acl", tag = "vfs", params(("session_id" = String, Path)), request_body = AclBody,
    responses((status = 200, body = Value), (status = 403, body = crate::error::ErrorBody)))]
async fn set_acl(
    State(s): State<AppState>,
    p: Principal,
    ApiPath(sid): ApiPath<SessionId>,
    ApiJson(b): ApiJson<AclBody>,
) -> ApiResult<Json<Value>> {
    change_acl(&s, &p, sid, b.path, Some(b.allowed)).await
}

/// Query naming an ACL path.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub(crate) struct AclQuery {
    /// Path or directory.
    path: String,
}

/// Removes the ACL of a path or directory (the session creator or admin).
#[utoipa::path(delete, path = "/api/v1/sessions/{session_id}/acl", tag = "vfs", params(("session_id" = String, Path), AclQuery),
    responses((status = 200, body = Value), (status = 403, body = crate::error::ErrorBody)))]
async fn clear_acl(
    State(s): State<AppState>,
    p: Principal,
    ApiPath(sid): ApiPath<SessionId>,
    ApiQuery(q): ApiQuery<AclQuery>,
) -> ApiResult<Json<Value>> {
    change_acl(&s, &p, sid, q.path, None).await
}

/// Both ACL routes: the session check, then the ACL of `path` set (`Some`) or removed
/// (`None`), answered with the ACL now in force.
async fn change_acl(
    s: &AppState,
    p: &Principal,
    session_id: SessionId,
    path: String,
    allowed: Option<BTreeSet<AgentDid>>,
) -> ApiResult<Json<Value>> {
    s.require_session(p, &session_id)?;
    let cmd = Command::SetAcl {
        session_id,
        path: path.clone(),
        allowed: allowed.clone(),
    };
    s.exec(p, cmd).await?;
    ok(json!({ "path": path, "allowed": allowed }))
}

/// Body of a snapshot.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SnapshotBody {
    /// Optional id of the snapshot.
    snapshot_id: Option<String>,
    /// The acting agent (defaults to the caller; required with the admin token).
    #[schema(value_type = Option<String>)]
    agent_did: Option<AgentDid>,
}

/// Takes a copy-on-write snapshot of the session's files (governed).
#[utoipa::path(post, path = "/api/v1/sessions/{session_id}/snapshots", tag = "vfs", params(("session_id" = String, Path)), request_body = Option<SnapshotBody>,
    responses((status = 201, body = Value), (status = 403, body = crate::error::ErrorBody)))]
async fn snapshot(
    State(s): State<AppState>,
    p: Principal,
    ApiPath(sid): ApiPath<SessionId>,
    ApiOptJson(b): ApiOptJson<SnapshotBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let request = ActionRequest::VfsSnapshot {
        snapshot_id: b.snapshot_id,
    };
    let outcome = act(&s, &p, sid, b.agent_did, request).await?;
    Ok((StatusCode::CREATED, Json(outcome)))
}

/// Restores the session's files to a snapshot (governed).
#[utoipa::path(post, path = "/api/v1/sessions/{session_id}/snapshots/{snapshot_id}/restore", tag = "vfs", params(("session_id" = String, Path), ("snapshot_id" = String, Path)),
    request_body = Option<crate::routes::bodies::AgentBody>, responses((status = 200, body = Value), (status = 404, body = crate::error::ErrorBody)))]
async fn restore(
    State(s): State<AppState>,
    p: Principal,
    ApiPath((sid, snapshot_id)): ApiPath<(SessionId, String)>,
    ApiOptJson(b): ApiOptJson<AgentBody>,
) -> ApiResult<Json<Value>> {
    let request = ActionRequest::VfsRestore { snapshot_id };
    ok(act(&s, &p, sid, b.agent_did, request).await?)
}

/// Query naming a path.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub(crate) struct ClockQuery {
    /// The file path.
    path: String,
}

/// The vector clock of a path (admin or a participant).
#[utoipa::path(get, path = "/api/v1/sessions/{session_id}/clocks/path", tag = "vfs", params(("session_id" = String, Path), ClockQuery),
    responses((status = 200, body = Value), (status = 404, body = crate::error::ErrorBody)))]
async fn path_clock(
    State(s): State<AppState>,
    p: Principal,
    ApiPath(sid): ApiPath<SessionId>,
    ApiQuery(q): ApiQuery<ClockQuery>,
) -> ApiResult<Json<Value>> {
    read_slot(&s, &p, &sid, |slot| {
        let key = slot
            .vfs
            .path(&q.path)
            .map(|x| x.to_string())
            .map_err(|err| ApiError::invalid(err.to_string()))?;
        let clock = slot.clocks.path_clock(&key).map(to_json).transpose()?;
        Ok(json!({ "session_id": sid, "path": key, "clock": clock }))
    })
}

/// The vector clock of an agent in the session (admin or a participant).
#[utoipa::path(get, path = "/api/v1/sessions/{session_id}/clocks/agents/{agent_did}", tag = "vfs", params(("session_id" = String, Path), ("agent_did" = String, Path)),
    responses((status = 200, body = Value), (status = 404, body = crate::error::ErrorBody)))]
async fn agent_clock(
    State(s): State<AppState>,
    p: Principal,
    ApiPath((sid, did)): ApiPath<(SessionId, AgentDid)>,
) -> ApiResult<Json<Value>> {
    read_slot(&s, &p, &sid, |slot| {
        let clock = slot.clocks.agent_clock(&did).map(to_json).transpose()?;
        Ok(json!({ "session_id": sid, "agent_did": did, "clock": clock }))
    })
}

/// Both clock routes: the session check, then `view` of the session's slot inside one read
/// of the engine.
fn read_slot(
    s: &AppState,
    p: &Principal,
    sid: &SessionId,
    view: impl FnOnce(&SessionSlot) -> ApiResult<Value>,
) -> ApiResult<Json<Value>> {
    s.require_session(p, sid)?;
    ok(s.hv.read(|e| view(e.books().slot(sid)?))??)
}
