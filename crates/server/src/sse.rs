//! Live events over Server-Sent Events, filterable by session, agent and type, resumable.
//!
//! A client that reconnects with `Last-Event-ID: <seq>` first gets every retained event after
//! that sequence number, then the live stream; a subscriber that falls behind the broadcast
//! channel catches up from the retained history the same way, so nothing is skipped while it
//! is retained. Keep-alive comments flow every 15 s. An agent sees only events of sessions it
//! belongs to. Streams end when the server begins shutting down.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::convert::Infallible;

use ahv_core::id::{AgentDid, SessionId};
use ahv_runtime::{EventFilter, StoredEvent};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use serde::Deserialize;
use tokio::sync::{broadcast, watch};
use utoipa::IntoParams;

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::routes::events::{Visibility, event_json, parse_type, visible};
use crate::state::AppState;

/// Filters of the stream.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub(crate) struct StreamQuery {
    /// Only this session.
    #[param(value_type = Option<String>)]
    session_id: Option<SessionId>,
    /// Only this agent.
    #[param(value_type = Option<String>)]
    agent_did: Option<AgentDid>,
    /// Only this type (unknown types are 400).
    event_type: Option<String>,
}

struct Cursor {
    s: AppState,
    p: Principal,
    filter: EventFilter,
    rx: broadcast::Receiver<StoredEvent>,
    backlog: VecDeque<StoredEvent>,
    // INVARIANT: every event with seq ≤ `floor` counts as delivered; `delivered` holds the
    // seqs above it that were (≤ DEDUP_WINDOW of them). Events are published in sequence
    // order only approximately, so a seq set rather than a single high-water mark.
    floor: u64,
    delivered: BTreeSet<u64>,
    stop: watch::Receiver<bool>,
    /// Whether this agent may see each session's events, so a live stream does not lock the
    /// engine for every event (≤ SEEN_SESSIONS entries). Being a participant never ends, so a
    /// yes stays a yes; a no is decided afresh on an event about this agent itself, which is
    /// how its joining a session arrives.
    seen: HashMap<SessionId, bool>,
}

/// How many sessions' visibility a stream remembers before starting afresh.
const SEEN_SESSIONS: usize = 4096;

/// How many delivered sequence numbers a stream remembers for de-duplication.
const DEDUP_WINDOW: usize = 4096;

impl Cursor {
    fn catch_up(&mut self) {
        let f = EventFilter {
            after_seq: Some(self.floor),
            ..self.filter.clone()
        };
        // Only what this caller may see is copied out of the history.
        let vis = Visibility::of(&self.s, &self.p, &f);
        self.backlog.extend(
            self.s
                .hv
                .bus()
                .query_where(&f, usize::MAX, |e| vis.allows(e)),
        );
    }

    fn accept(&mut self, e: &StoredEvent) -> bool {
        if e.seq <= self.floor || self.delivered.contains(&e.seq) || !self.filter.matches(e) {
            return false;
        }
        self.delivered.insert(e.seq);
        while self.delivered.len() > DEDUP_WINDOW {
            if let Some(old) = self.delivered.pop_first() {
                self.floor = old;
            }
        }
        self.may_see(e)
    }

    /// [`visible`], remembered per session (see `seen`).
    fn may_see(&mut self, e: &StoredEvent) -> bool {
        let (Some(me), Some(sid)) = (self.p.agent(), &e.event.session_id) else {
            return visible(&self.s, &self.p, e);
        };
        let about_me = e.event.agent_did.as_ref() == Some(me);
        if let Some(&known) = self.seen.get(sid)
            && (known || !about_me)
        {
            return known;
        }
        let v = visible(&self.s, &self.p, e);
        if self.seen.len() >= SEEN_SESSIONS {
            self.seen.clear();
        }
        self.seen.insert(sid.clone(), v);
        v
    }

    async fn next(&mut self) -> Option<StoredEvent> {
        loop {
            if *self.stop.borrow() {
                return None;
            }
            if let Some(e) = self.backlog.pop_front() {
                if self.accept(&e) {
                    return Some(e);
                }
                continue;
            }
            tokio::select! {
                _ = self.stop.changed() => return None,
                r = self.rx.recv() => match r {
                    Ok(e) => if self.accept(&e) { return Some(e) },
                    Err(broadcast::error::RecvError::Lagged(_)) => self.catch_up(),
                    Err(broadcast::error::RecvError::Closed) => return None,
                },
            }
        }
    }
}

fn sse_event(e: &StoredEvent) -> Event {
    Event::default()
        .id(e.seq.to_string())
        .event(e.event.event_type.as_str())
        .data(event_json(e).to_string())
}

/// Opens the stream for `p` (the handler is `GET /api/v1/events/stream`).
pub(crate) fn open(
    s: AppState,
    p: Principal,
    q: StreamQuery,
    headers: &HeaderMap,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>> + use<>>> {
    let event_type = parse_type(q.event_type.as_deref())?;
    if let Some(sid) = &q.session_id {
        s.require_session(&p, sid)?;
    }
    let last = match headers.get("last-event-id") {
        None => None,
        Some(v) => Some(
            v.to_str()
                .ok()
                .map(|t| t.trim().trim_start_matches("evt-"))
                .and_then(|t| t.parse::<u64>().ok())
                .ok_or_else(|| {
                    ApiError::invalid("Last-Event-ID must be an event sequence number")
                })?,
        ),
    };
    let filter = EventFilter {
        event_type,
        session_id: q.session_id,
        agent_did: q.agent_did,
        after_seq: None,
    };
    // Subscribe before reading the history so nothing falls between the two.
    let rx = s.hv.bus().subscribe();
    let stop = s.shutdown_signal();
    let mut cursor = Cursor {
        s,
        p,
        filter,
        rx,
        backlog: VecDeque::new(),
        floor: last.unwrap_or(0),
        delivered: BTreeSet::new(),
        stop,
        seen: HashMap::new(),
    };
    if last.is_some() {
        cursor.catch_up();
    }
    let stream = futures::stream::unfold(cursor, |mut c| async move {
        let e = c.next().await?;
        Some((Ok(sse_event(&e)), c))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}
