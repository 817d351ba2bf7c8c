//! Intent locks through the governed path: acquire (optionally waiting, bounded), release,
//! and the session's lock table.

use std::time::Duration;

use ahv_core::id::RecordId;
use ahv_core::locks::LockIntent;

use super::prelude::*;

pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(acquire, list_locks))
        .routes(routes!(release))
}

/// Body of a lock request.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct LockBody {
    /// Path (and everything below it) to lock.
    path: String,
    /// `read`, `write` or `exclusive`.
    #[schema(value_type = String)]
    intent: LockIntent,
    /// Lock lifetime in seconds.
    ttl_seconds: Option<u64>,
    /// Queue behind conflicting holders instead of failing at once.
    #[serde(default)]
    wait: bool,
    /// How long to wait when queued (default and cap: the server's `max_lock_wait`).
    timeout_seconds: Option<u64>,
    /// The acting agent (defaults to the caller; required with the admin token).
    #[schema(value_type = Option<String>)]
    agent_did: Option<AgentDid>,
}

/// Acquires an intent lock. With `wait`, a conflicting request waits (bounded) and is
/// cancelled on timeout (409 `lock_timeout`).
#[utoipa::path(post, path = "/api/v1/sessions/{session_id}/locks", tag = "locks", params(("session_id" = String, Path)), request_body = LockBody,
    responses((status = 200, body = Value), (status = 403, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody)))]
async fn acquire(
    State(s): State<AppState>,
    p: Principal,
    ApiPath(sid): ApiPath<SessionId>,
    ApiJson(b): ApiJson<LockBody>,
) -> ApiResult<Json<Value>> {
    let req = ActionRequest::LockAcquire {
        path: b.path,
        intent: b.intent,
        ttl_seconds: b.ttl_seconds,
        wait: b.wait,
    };
    let outcome = act_outcome(&s, &p, sid.clone(), b.agent_did, req).await?;
    let ActOutcome::LockQueued { ticket } = &outcome else {
        return ok(to_json(&outcome)?);
    };
    let cap = s.config.max_lock_wait;
    let bound = b
        .timeout_seconds
        .map_or(cap, |t| Duration::from_secs(t).min(cap));
    if !s.hv.wait_lock(&sid, ticket, bound).await? {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "lock_timeout",
            format!(
                "lock request `{ticket}` timed out after {}s and was cancelled",
                bound.as_secs()
            ),
        ));
    }
    let lock = s.hv.read(|e| {
        e.books()
            .slot(&sid)
            .ok()
            .and_then(|x| x.locks.get(ticket).cloned())
    })?;
    ok(json!({ "outcome": "locked", "lock": lock }))
}

/// The session's held locks and queued requests (admin or a participant).
#[utoipa::path(get, path = "/api/v1/sessions/{session_id}/locks", tag = "locks", params(("session_id" = String, Path)),
    responses((status = 200, body = Value), (status = 404, body = crate::error::ErrorBody)))]
async fn list_locks(
    State(s): State<AppState>,
    p: Principal,
    ApiPath(sid): ApiPath<SessionId>,
) -> ApiResult<Json<Value>> {
    s.require_session(&p, &sid)?;
    let v = s.hv.read(|e| {
        let slot = e.books().slot(&sid)?;
        let held: Vec<_> = slot
            .session
            .participants()
            .keys()
            .flat_map(|a| slot.locks.locks_of(a))
            .collect();
        let waiting: Vec<_> = slot.locks.waiting().collect();
        Ok::<_, ApiError>(
            json!({ "session_id": sid, "locks": to_json(&held)?, "waiting": to_json(&waiting)? }),
        )
    })??;
    ok(v)
}

/// Query of a release.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReleaseQuery {
    /// The holder (defaults to the caller; for the admin, to the lock's holder).
    #[param(value_type = Option<String>)]
    agent_did: Option<AgentDid>,
}

/// Releases a lock (its holder or admin).
#[utoipa::path(delete, path = "/api/v1/sessions/{session_id}/locks/{lock_id}", tag = "locks", params(("session_id" = String, Path), ("lock_id" = String, Path), ReleaseQuery),
    responses((status = 200, body = Value), (status = 404, body = crate::error::ErrorBody)))]
async fn release(
    State(s): State<AppState>,
    p: Principal,
    ApiPath((sid, lock_id)): ApiPath<(SessionId, RecordId)>,
    ApiQuery(q): ApiQuery<ReleaseQuery>,
) -> ApiResult<Json<Value>> {
    let given = match (&p, q.agent_did) {
        (Principal::Admin, None) => {
            let holder = s.hv.read(|e| {
                e.books()
                    .slot(&sid)
                    .map(|x| x.locks.get(&lock_id).map(|l| l.agent.clone()))
            })??;
            Some(holder.ok_or_else(|| ApiError::not_found(format!("lock `{lock_id}` not found")))?)
        }
        (_, g) => g,
    };
    ok(act(&s, &p, sid, given, ActionRequest::LockRelease { lock_id }).await?)
}
