//! Events: the reference's query and stats endpoints (now actually fed: every decision and
//! state change emits an event) and the live SSE stream ([`crate::sse`]).

use std::collections::BTreeSet;

use ahv_core::event::EventType;
use ahv_runtime::{EventFilter, StoredEvent};

use super::prelude::*;

/// Most events returned by one query.
pub(crate) const MAX_EVENTS: usize = 10_000;

pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(query))
        .routes(routes!(stats))
        .routes(routes!(stream))
}

/// An event as the reference showed it (`timestamp` text), plus its sequence number.
pub(crate) fn event_json(e: &StoredEvent) -> Value {
    json!({
        "seq": e.seq, "event_id": e.event_id, "event_type": e.event.event_type, "timestamp": e.event.at.to_rfc3339(),
        "session_id": e.event.session_id, "agent_did": e.event.agent_did, "causal_trace_id": e.event.causal_trace_id,
        "payload": e.event.payload,
    })
}

/// Whether `p` may see `e`: the admin sees everything; an agent sees the events of sessions it
/// is or was a participant of, and session-less events about itself.
pub(crate) fn visible(s: &AppState, p: &Principal, e: &StoredEvent) -> bool {
    let Some(a) = p.agent() else { return true };
    match &e.event.session_id {
        Some(sid) => s.require_session(p, sid).is_ok(),
        None => e.event.agent_did.as_ref() == Some(a),
    }
}

/// [`visible`] for many events at once: the sessions an agent may see among those of the
/// events passing a filter, decided once per session under one read of the engine, so a query
/// neither locks the engine per event nor copies events the caller may not see.
pub(crate) struct Visibility {
    /// `None` for the admin, who sees everything.
    agent: Option<AgentDid>,
    sessions: BTreeSet<SessionId>,
}

impl Visibility {
    /// What `p` may see among the retained events passing `filter`. Fails closed: if the
    /// engine cannot be read, an agent sees only session-less events about itself.
    pub(crate) fn of(s: &AppState, p: &Principal, filter: &EventFilter) -> Self {
        let Some(agent) = p.agent() else {
            return Visibility {
                agent: None,
                sessions: BTreeSet::new(),
            };
        };
        let candidates = s.hv.bus().sessions_in(filter);
        let sessions =
            s.hv.read(|e| {
                candidates
                    .into_iter()
                    .filter(|sid| AppState::session_access(e, p, sid).is_ok())
                    .collect()
            })
            .unwrap_or_default();
        Visibility {
            agent: Some(agent.clone()),
            sessions,
        }
    }

    /// Whether the caller may see `e` (the same rule as [`visible`]).
    pub(crate) fn allows(&self, e: &StoredEvent) -> bool {
        let Some(agent) = &self.agent else {
            return true;
        };
        match &e.event.session_id {
            Some(sid) => self.sessions.contains(sid),
            None => e.event.agent_did.as_ref() == Some(agent),
        }
    }
}

/// Parses an event-type filter; unknown names are 400 (reference wording).
pub(crate) fn parse_type(t: Option<&str>) -> ApiResult<Option<EventType>> {
    t.map(|t| {
        t.parse::<EventType>()
            .map_err(|_| ApiError::invalid(format!("Unknown event type: {t}")))
    })
    .transpose()
}

/// Filters of the event query.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub(crate) struct EventQuery {
    /// Only this type, e.g. `session.created` (unknown types are 400).
    event_type: Option<String>,
    /// Only this session.
    #[param(value_type = Option<String>)]
    session_id: Option<SessionId>,
    /// Only this agent.
    #[param(value_type = Option<String>)]
    agent_did: Option<AgentDid>,
    /// Most events, newest kept (default 100, at most 10000; 0 gives none).
    limit: Option<usize>,
}

/// Retained events matching the filters, oldest first (an agent sees only its sessions').
#[utoipa::path(get, path = "/api/v1/events", tag = "events", params(EventQuery), responses((status = 200, body = Value), (status = 400, body = crate::error::ErrorBody)))]
async fn query(
    State(s): State<AppState>,
    p: Principal,
    ApiQuery(q): ApiQuery<EventQuery>,
) -> ApiResult<Json<Value>> {
    let event_type = parse_type(q.event_type.as_deref())?;
    if let Some(sid) = &q.session_id {
        s.require_session(&p, sid)?;
    }
    let limit = q.limit.unwrap_or(100).min(MAX_EVENTS);
    let filter = EventFilter {
        event_type,
        session_id: q.session_id,
        agent_did: q.agent_did,
        after_seq: None,
    };
    // Filter for visibility first, then keep the newest `limit`.
    let vis = Visibility::of(&s, &p, &filter);
    let rows: Vec<Value> =
        s.hv.bus()
            .query_where(&filter, limit, |e| vis.allows(e))
            .iter()
            .map(event_json)
            .collect();
    ok(Value::Array(rows))
}

/// Events ever published, in total and by type (admin).
#[utoipa::path(get, path = "/api/v1/events/stats", tag = "events", responses((status = 200, body = Value), (status = 403, body = crate::error::ErrorBody)))]
async fn stats(State(s): State<AppState>, p: Principal) -> ApiResult<Json<Value>> {
    AppState::require_admin(&p, "read global event statistics")?;
    let (total, by_type) = s.hv.bus().stats();
    let by_type: serde_json::Map<String, Value> = by_type
        .into_iter()
        .map(|(k, v)| (k.as_str().to_string(), json!(v)))
        .collect();
    ok(json!({ "total_events": total, "by_type": by_type }))
}

/// Live events as Server-Sent Events, filtered like the query; send `Last-Event-ID` to resume
/// after a sequence number (an agent sees only its sessions' events).
#[utoipa::path(get, path = "/api/v1/events/stream", tag = "events",
    params(crate::sse::StreamQuery, ("Last-Event-ID" = Option<u64>, Header, description = "resume after this sequence number")),
    responses((status = 200, description = "text/event-stream of events", content_type = "text/event-stream")))]
async fn stream(
    State(s): State<AppState>,
    p: Principal,
    ApiQuery(q): ApiQuery<crate::sse::StreamQuery>,
    headers: axum::http::HeaderMap,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    match crate::sse::open(s, p, q, &headers) {
        Ok(sse) => sse.into_response(),
        Err(e) => e.into_response(),
    }
}
