//! Read-only JSON views for the dashboard (admin only): counts for the overview, the ring
//! picture across sessions, the liability picture (bonds, exposure, slashes, risk) and a
//! session's file tree. Each one is a single engine read; lists are bounded (the newest are
//! kept) so a page stays fast with thousands of sessions.

use std::collections::BTreeMap;

use ahv_core::id::{SagaId, SessionId};
use ahv_core::ring::elevation::ElevationFilter;
use ahv_core::session::SessionState;
use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ok;
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiPath;
use crate::state::AppState;
use crate::views::{to_json, vouch_json};

/// Most rows of any list in these views.
pub(crate) const MAX_ROWS: usize = 2000;

pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(summary))
        .routes(routes!(rings))
        .routes(routes!(liability))
        .routes(routes!(files))
        .routes(routes!(saga))
}

fn live(st: SessionState) -> bool {
    !matches!(st, SessionState::Archived | SessionState::Terminating)
}

fn tail<T>(mut v: Vec<T>) -> Vec<T> {
    if v.len() > MAX_ROWS {
        v.drain(..v.len() - MAX_ROWS);
    }
    v
}

/// Counts for the overview: sessions by state, active participants by ring (sessions not
/// archived), sagas by state, governed decisions (allowed, denied by reason code) and events.
/// `now_ms` lets the page turn two readings into rates.
#[utoipa::path(get, path = "/api/v1/dashboard/summary", tag = "dashboard",
    responses((status = 200, body = Value), (status = 401, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody)))]
async fn summary(State(s): State<AppState>, p: Principal) -> ApiResult<Json<Value>> {
    AppState::require_admin(&p, "read the dashboard")?;
    let now = s.hv.now();
    let (events, _) = s.hv.bus().stats();
    let v = s.hv.read(|e| {
        let ids = e.session_ids(None);
        let mut by_state: BTreeMap<&str, usize> = BTreeMap::new();
        let mut by_ring = [0usize; 4];
        for id in &ids {
            if let Ok(slot) = e.books().slot(id) {
                let st = slot.session.state();
                *by_state.entry(st.as_str()).or_default() += 1;
                if live(st) {
                    for part in slot.session.active_participants() {
                        if let Some(n) = by_ring.get_mut(usize::from(part.ring.number())) {
                            *n += 1;
                        }
                    }
                }
            }
        }
        let mut sagas: BTreeMap<String, usize> = BTreeMap::new();
        let saga_ids = e.saga_ids(None, None);
        for id in &saga_ids {
            if let Ok(v) = e.saga_view(id) {
                let st = serde_json::to_value(v.state)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default();
                *sagas.entry(st).or_default() += 1;
            }
        }
        let c = e.counters();
        let denied: u64 = c.denied.values().sum();
        json!({
            "now_ms": now.as_millis(), "now": now.to_rfc3339(),
            "sessions_total": ids.len(), "sessions_by_state": by_state,
            "agents_by_ring": { "0": by_ring[0], "1": by_ring[1], "2": by_ring[2], "3": by_ring[3] },
            "sagas_total": saga_ids.len(), "sagas_by_state": sagas,
            "decisions": { "allowed": c.allowed, "denied": denied, "denied_by_reason": c.denied },
            "events_total": events, "active_vouches": e.books().vouches().active_count(),
            "hv_log_size": e.hv_head().0,
        })
    })?;
    ok(v)
}

/// Rings across sessions: active participants (with σ, effective ring, badges and breach
/// counters), the distribution by ring, elevations with their remaining TTL, recent breach
/// events and the breaker policy.
#[utoipa::path(get, path = "/api/v1/dashboard/rings", tag = "dashboard",
    responses((status = 200, body = Value), (status = 401, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody)))]
async fn rings(State(s): State<AppState>, p: Principal) -> ApiResult<Json<Value>> {
    AppState::require_admin(&p, "read the dashboard")?;
    let now = s.hv.now();
    let v = s.hv.read(|e| {
        let mut rows = Vec::new();
        let mut dist = [0usize; 4];
        for id in e.session_ids(None) {
            let Ok(view) = e.session_view(&id) else {
                continue;
            };
            if !live(view.state) {
                continue;
            }
            for part in view.participants.iter().filter(|x| x.is_active) {
                if let Some(n) = dist.get_mut(usize::from(part.ring.number())) {
                    *n += 1;
                }
                let breach = e.books().breach().stats(&part.agent_did, &id, now);
                rows.push(json!({
                    "session_id": id, "agent_did": part.agent_did, "ring": part.ring, "effective_ring": part.effective_ring,
                    "sigma_raw": part.sigma_raw, "sigma_eff": part.sigma_eff, "quarantined": part.quarantined,
                    "elevated": part.elevated, "probation": part.probation, "breaker_tripped": part.breaker_tripped,
                    "breach": to_json(&breach)?,
                }));
            }
        }
        let elevations: Vec<Value> = e
            .books()
            .elevations()
            .list(&ElevationFilter::default())
            .into_iter()
            .map(|x| {
                let mut v = to_json(x)?;
                v["remaining_ms"] = json!(x.remaining(now).as_millis());
                Ok::<_, ApiError>(v)
            })
            .collect::<Result<_, _>>()?;
        let breaches: Vec<&_> = e.books().breach().history().collect();
        Ok::<_, ApiError>(json!({
            "now_ms": now.as_millis(),
            "distribution": { "0": dist[0], "1": dist[1], "2": dist[2], "3": dist[3] },
            "participants_total": rows.len(), "participants": tail(rows),
            "elevations": tail(elevations),
            "breach_count": e.books().breach().breach_count(), "breaches": to_json(&tail(breaches))?,
            "breaker_policy": to_json(&e.books().breach().policy())?,
        }))
    })??;
    ok(v)
}

/// Liability across sessions: every bond (active and released), exposure per voucher, slash
/// history with cascades (newest last), and the risk profile and held σ of every agent that
/// appears in a bond, a slash or the ledger.
#[utoipa::path(get, path = "/api/v1/dashboard/liability", tag = "dashboard",
    responses((status = 200, body = Value), (status = 401, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody)))]
async fn liability(State(s): State<AppState>, p: Principal) -> ApiResult<Json<Value>> {
    AppState::require_admin(&p, "read the dashboard")?;
    let now = s.hv.now();
    let v = s.hv.read(|e| {
        let book = e.books().vouches();
        let mut vouches = Vec::new();
        let mut agents = std::collections::BTreeSet::new();
        for id in e.session_ids(None) {
            for v in book.for_session(&id) {
                agents.insert(v.voucher.clone());
                agents.insert(v.vouchee.clone());
                vouches.push(vouch_json(v));
            }
        }
        let slashes: Vec<&_> = e.books().slashes().iter().collect();
        for s in &slashes {
            agents.insert(s.vouchee.clone());
        }
        for a in e.books().ledger().tracked_agents() {
            agents.insert(a.clone());
        }
        let mut exposure = Vec::new();
        let mut profiles = Vec::new();
        for a in agents.iter().take(MAX_ROWS) {
            let given = book.given_by(a);
            if !given.is_empty() {
                exposure.push(json!({
                    "voucher_did": a, "exposure": book.exposure(a, now),
                    "active_bonds": given.iter().filter(|v| v.is_active).count(), "bonds_total": given.len(),
                }));
            }
            profiles.push(json!({
                "agent_did": a, "sigma_raw": e.trust_of(a),
                "risk_profile": to_json(&e.books().ledger().risk_profile(a))?,
            }));
        }
        Ok::<_, ApiError>(json!({
            "now_ms": now.as_millis(),
            "vouches_total": vouches.len(), "vouches": tail(vouches),
            "exposure": exposure,
            "slashes_total": slashes.len(), "slashes": to_json(&tail(slashes))?,
            "agents": profiles,
        }))
    })??;
    ok(v)
}

/// A session's file tree (metadata only, no content, not governed so viewing records
/// nothing): the union of what its participants may list. A file whose ACL admits none of the
/// session's participants is not shown.
#[utoipa::path(get, path = "/api/v1/dashboard/sessions/{session_id}/files", tag = "dashboard", params(("session_id" = String, Path)),
    responses((status = 200, body = Value), (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody)))]
async fn files(
    State(s): State<AppState>,
    p: Principal,
    ApiPath(sid): ApiPath<SessionId>,
) -> ApiResult<Json<Value>> {
    AppState::require_admin(&p, "read the dashboard")?;
    let v = s.hv.read(|e| {
        let slot = e.books().slot(&sid)?;
        let mut files = BTreeMap::new();
        let creator = slot.session.creator_did();
        for a in slot.session.participants().keys().chain(std::iter::once(creator)) {
            for f in slot.vfs.list(None, a) {
                files.entry(f.path.to_string()).or_insert(f);
            }
        }
        let rows: Vec<_> = files.into_values().take(MAX_ROWS).collect();
        Ok::<_, ApiError>(json!({
            "session_id": sid, "file_count": slot.vfs.file_count(), "total_bytes": slot.vfs.total_bytes(),
            "files": to_json(&rows)?,
        }))
    })??;
    ok(v)
}

/// A saga as `GET /api/v1/sagas/{id}` shows it, plus its fan-out groups (branches and policy)
/// and how each resolved, so the page can draw branches side by side.
#[utoipa::path(get, path = "/api/v1/dashboard/sagas/{saga_id}", tag = "dashboard", params(("saga_id" = String, Path)),
    responses((status = 200, body = Value), (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody)))]
async fn saga(
    State(s): State<AppState>,
    p: Principal,
    ApiPath(id): ApiPath<SagaId>,
) -> ApiResult<Json<Value>> {
    AppState::require_admin(&p, "read the dashboard")?;
    let now = s.hv.now();
    let v = s.hv.read(|e| {
        let mut v = to_json(&e.saga_view(&id)?)?;
        if let Some(saga) = e.saga(&id) {
            v["fan_outs"] = to_json(&saga.definition().fan_outs)?;
            v["fan_out_results"] = to_json(&saga.fan_out_results())?;
        }
        v["now_ms"] = json!(now.as_millis());
        Ok::<_, ApiError>(v)
    })??;
    ok(v)
}
