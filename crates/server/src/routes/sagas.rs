//! Sagas: the reference's step-by-step endpoints (create, list, get, add step, execute step),
//! plus DSL submission, listing by state, completion and compensation.

use std::time::Duration;

use ahv_core::id::{ActionId, StepId};
use ahv_core::saga::{RetryPolicy, SagaState, StepDefinition, StepState, parse_saga};
use axum::body::Bytes;
use axum::response::{IntoResponse, Response};

use super::prelude::*;

pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_saga, list_session_sagas))
        .routes(routes!(submit_saga, list_sagas))
        .routes(routes!(get_saga))
        .routes(routes!(add_step))
        .routes(routes!(execute_step))
        .routes(routes!(complete_saga))
        .routes(routes!(compensate_saga))
}

/// The session a saga belongs to, after checking the caller may see it.
fn saga_session(s: &AppState, p: &Principal, id: &SagaId) -> ApiResult<SessionId> {
    let sid =
        s.hv.read(|e| e.saga_view(id).map(|v| v.session_id.clone()))??;
    s.require_session(p, &sid)?;
    Ok(sid)
}

fn saga_json(s: &AppState, id: &SagaId) -> ApiResult<Value> {
    let v = s.hv.read(|e| e.saga_view(id))??;
    to_json(&v)
}

/// Creates an empty step-by-step saga (admin or a participant). Refused in terminated or
/// archived sessions (the reference accepted it).
#[utoipa::path(post, path = "/api/v1/sessions/{session_id}/sagas", tag = "sagas", params(("session_id" = String, Path)),
    responses((status = 201, body = Value), (status = 404, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody)))]
async fn create_saga(
    State(s): State<AppState>,
    p: Principal,
    ApiPath(sid): ApiPath<SessionId>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    s.require_session(&p, &sid)?;
    let r = s.exec(&p, Command::CreateSaga { session_id: sid }).await?;
    let Reply::Saga(v) = r else {
        return Err(unexpected(&r));
    };
    Ok((
        StatusCode::CREATED,
        Json(
            json!({ "saga_id": v.saga_id, "session_id": v.session_id, "state": v.state, "created_at": v.created_at }),
        ),
    ))
}

/// Sagas of a session, with their steps (admin or a participant).
#[utoipa::path(get, path = "/api/v1/sessions/{session_id}/sagas", tag = "sagas", params(("session_id" = String, Path)),
    responses((status = 200, body = Value), (status = 404, body = crate::error::ErrorBody)))]
async fn list_session_sagas(
    State(s): State<AppState>,
    p: Principal,
    ApiPath(sid): ApiPath<SessionId>,
) -> ApiResult<Json<Value>> {
    s.require_session(&p, &sid)?;
    let v = s.hv.read(|e| {
        e.saga_ids(Some(&sid), None)
            .iter()
            .filter_map(|id| e.saga_view(id).ok())
            .collect::<Vec<_>>()
    })?;
    ok(to_json(&v)?)
}

/// Filter of the saga list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub(crate) struct SagaQuery {
    /// Only this session's sagas.
    #[param(value_type = Option<String>)]
    session_id: Option<SessionId>,
    /// Only sagas in this state (`running`, `compensating`, `completed`, `compensated`, `failed`, `escalated`).
    #[param(value_type = Option<String>)]
    state: Option<SagaState>,
}

/// Lists sagas in creation order, optionally by session and state (an agent sees only its
/// sessions' sagas).
#[utoipa::path(get, path = "/api/v1/sagas", tag = "sagas", params(SagaQuery), responses((status = 200, body = Value)))]
async fn list_sagas(
    State(s): State<AppState>,
    p: Principal,
    ApiQuery(q): ApiQuery<SagaQuery>,
) -> ApiResult<Json<Value>> {
    let v = s.hv.read(|e| {
        e.saga_ids(q.session_id.as_ref(), q.state)
            .iter()
            .filter_map(|id| e.saga_view(id).ok())
            .filter(|v| {
                p.agent().is_none_or(|a| {
                    e.books()
                        .slot(&v.session_id)
                        .is_ok_and(|slot| slot.session.participants().contains_key(a))
                })
            })
            .collect::<Vec<_>>()
    })?;
    ok(to_json(&v)?)
}

/// Submits a whole saga written in the DSL (YAML or JSON text as the body); it runs by
/// itself. Syntax and rule errors are 400 with line and column.
#[utoipa::path(post, path = "/api/v1/sagas", tag = "sagas", request_body(content = String, content_type = "application/yaml"),
    responses((status = 201, body = Value), (status = 400, body = crate::error::ErrorBody)))]
async fn submit_saga(
    State(s): State<AppState>,
    p: Principal,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
    let bytes = match body {
        Ok(b) => b,
        Err(r) if r.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "request body is larger than the limit",
            )
            .into_response();
        }
        Err(r) => return ApiError::invalid(r.body_text()).into_response(),
    };
    let Ok(text) = std::str::from_utf8(&bytes) else {
        return ApiError::invalid("saga definition must be UTF-8 text").into_response();
    };
    let def = match parse_saga(text) {
        Ok(d) => d,
        Err(e) => {
            let problems: Vec<Value> = e
                .problems()
                .iter()
                .map(|x| json!({ "line": x.line, "column": x.column, "message": x.message }))
                .collect();
            let body = json!({ "detail": e.to_string(), "code": "invalid_saga", "line": e.line(), "column": e.column(), "problems": problems });
            return (StatusCode::BAD_REQUEST, Json(body)).into_response();
        }
    };
    let run = async {
        let r = s.exec(&p, Command::SubmitSaga { definition: def }).await?;
        let Reply::Saga(v) = r else {
            return Err(unexpected(&r));
        };
        Ok::<_, ApiError>((StatusCode::CREATED, Json(saga_json(&s, &v.saga_id)?)))
    };
    match run.await {
        Ok(x) => x.into_response(),
        Err(e) => e.into_response(),
    }
}

/// A saga with its steps, attempts and compensation order (admin or a participant).
#[utoipa::path(get, path = "/api/v1/sagas/{saga_id}", tag = "sagas", params(("saga_id" = String, Path)),
    responses((status = 200, body = Value), (status = 404, body = crate::error::ErrorBody)))]
async fn get_saga(
    State(s): State<AppState>,
    p: Principal,
    ApiPath(id): ApiPath<SagaId>,
) -> ApiResult<Json<Value>> {
    saga_session(&s, &p, &id)?;
    ok(saga_json(&s, &id)?)
}

/// Body of an added step (the reference's fields; `step_id`, `input` are new).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct StepBody {
    /// Step id (default `step:{uuid}`).
    #[schema(value_type = Option<String>)]
    step_id: Option<StepId>,
    /// The action the step performs.
    #[schema(value_type = String)]
    action_id: ActionId,
    /// The agent that runs it (an agent token may add only its own steps).
    #[schema(value_type = String)]
    agent_did: AgentDid,
    /// `http(s)://` URL, an api name, or a reference-style path `/api/x` (taken as the api
    /// name `api/x`: recorded, no outside call).
    execute_api: String,
    /// How to undo it.
    undo_api: Option<String>,
    /// Per-attempt timeout, 1..=86400 s (default 300).
    timeout_seconds: Option<u64>,
    /// Retries after the first attempt (default 0).
    max_retries: Option<u32>,
    /// Input handed to the executor.
    input: Option<Value>,
}

/// A reference-style path (`/api/draft`) is the api name `api/draft`.
fn api_name(s: String) -> String {
    match s.strip_prefix('/') {
        Some(rest) if !s.contains("://") => rest.trim_start_matches('/').to_string(),
        _ => s,
    }
}

/// Adds a step to a step-by-step saga.
#[utoipa::path(post, path = "/api/v1/sagas/{saga_id}/steps", tag = "sagas", params(("saga_id" = String, Path)), request_body = StepBody,
    responses((status = 201, body = Value), (status = 404, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody)))]
async fn add_step(
    State(s): State<AppState>,
    p: Principal,
    ApiPath(id): ApiPath<SagaId>,
    ApiJson(b): ApiJson<StepBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    saga_session(&s, &p, &id)?;
    let step_id = match b.step_id {
        Some(x) => x,
        None => StepId::new(crate::views::new_uuid("step")?).map_err(ApiError::internal)?,
    };
    let retry = RetryPolicy::with_max_attempts(b.max_retries.unwrap_or(0).saturating_add(1))
        .map_err(|e| ApiError::invalid(format!("max_retries: {e}")))?;
    let mut step = StepDefinition::new(
        step_id.clone(),
        b.action_id.clone(),
        b.agent_did,
        api_name(b.execute_api),
    )
    .with_retry(retry)
    .with_timeout(Duration::from_secs(b.timeout_seconds.unwrap_or(300)));
    if let Some(u) = b.undo_api {
        step = step.with_undo(api_name(u));
    }
    if let Some(i) = b.input {
        step = step.with_input(i);
    }
    s.exec(
        &p,
        Command::AddStep {
            saga_id: id.clone(),
            step,
        },
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(
            json!({ "step_id": step_id, "saga_id": id, "action_id": b.action_id, "state": StepState::Pending }),
        ),
    ))
}

/// Options of a step execution.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub(crate) struct ExecQuery {
    /// Wait for the step to settle (default true, bounded by the server's `execute_wait`).
    wait: Option<bool>,
}

/// Executes a step: 200 once it settled (`committed`, `failed`, …), 202 while it still runs.
#[utoipa::path(post, path = "/api/v1/sagas/{saga_id}/steps/{step_id}/execute", tag = "sagas", params(("saga_id" = String, Path), ("step_id" = String, Path), ExecQuery),
    responses((status = 200, body = Value), (status = 202, body = Value), (status = 404, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody)))]
async fn execute_step(
    State(s): State<AppState>,
    p: Principal,
    ApiPath((id, step_id)): ApiPath<(SagaId, StepId)>,
    ApiQuery(q): ApiQuery<ExecQuery>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    saga_session(&s, &p, &id)?;
    s.exec(
        &p,
        Command::ExecuteStep {
            saga_id: id.clone(),
            step_id: step_id.clone(),
        },
    )
    .await?;
    let bound = if q.wait.unwrap_or(true) {
        s.config.execute_wait
    } else {
        Duration::ZERO
    };
    let state = s.hv.wait_step(&id, &step_id, bound).await?;
    let error = s.hv.read(|e| {
        e.saga_view(&id).ok().and_then(|v| {
            v.steps
                .iter()
                .find(|x| x.step_id == step_id)
                .and_then(|x| x.error.clone())
        })
    })?;
    let code = match state {
        Some(StepState::Executing | StepState::Pending) => StatusCode::ACCEPTED,
        _ => StatusCode::OK,
    };
    Ok((
        code,
        Json(json!({ "step_id": step_id, "saga_id": id, "state": state, "error": error })),
    ))
}

/// Closes a step-by-step saga whose steps all committed (admin or a participant).
#[utoipa::path(post, path = "/api/v1/sagas/{saga_id}/complete", tag = "sagas", params(("saga_id" = String, Path)),
    responses((status = 200, body = Value), (status = 409, body = crate::error::ErrorBody)))]
async fn complete_saga(
    State(s): State<AppState>,
    p: Principal,
    ApiPath(id): ApiPath<SagaId>,
) -> ApiResult<Json<Value>> {
    let cmd = Command::CompleteSaga {
        saga_id: id.clone(),
    };
    close_saga(&s, &p, &id, cmd).await
}

/// Compensates a saga now: undoes committed steps newest first (admin or a participant).
#[utoipa::path(post, path = "/api/v1/sagas/{saga_id}/compensate", tag = "sagas", params(("saga_id" = String, Path)),
    responses((status = 200, body = Value), (status = 409, body = crate::error::ErrorBody)))]
async fn compensate_saga(
    State(s): State<AppState>,
    p: Principal,
    ApiPath(id): ApiPath<SagaId>,
) -> ApiResult<Json<Value>> {
    let cmd = Command::CompensateSaga {
        saga_id: id.clone(),
    };
    close_saga(&s, &p, &id, cmd).await
}

/// Both saga-closing routes (complete, compensate): the membership check, the command, then
/// the saga as it now stands.
async fn close_saga(
    s: &AppState,
    p: &Principal,
    id: &SagaId,
    cmd: Command,
) -> ApiResult<Json<Value>> {
    saga_session(s, p, id)?;
    s.exec(p, cmd).await?;
    ok(saga_json(s, id)?)
}
