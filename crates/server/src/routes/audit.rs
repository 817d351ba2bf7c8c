//! Audit: a session's log entries (paged), inclusion and consistency proofs, the signed
//! checkpoints of the hypervisor log, the public key, and an export bundle that verifies
//! offline (`ahv audit verify`, `ahv_core::audit::bundle::verify_bundle`).

use ahv_core::engine::AuditTrail;
use ahv_runtime::signer::ExportRequest;

use super::prelude::*;

/// Most entries returned per page.
const MAX_PAGE: usize = 1000;

pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(entries))
        .routes(routes!(inclusion))
        .routes(routes!(consistency))
        .routes(routes!(checkpoints))
        .routes(routes!(hv_consistency))
        .routes(routes!(public_key))
        .routes(routes!(export))
}

/// A page of entries.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub(crate) struct PageQuery {
    /// First sequence number (default 0).
    from: Option<u64>,
    /// Most entries (default 100, at most 1000).
    limit: Option<usize>,
}

fn trail<'a>(e: &'a ahv_core::engine::Engine, sid: &SessionId) -> ApiResult<&'a AuditTrail> {
    Ok(e.audit_trail(sid)?)
}

/// The session's audit entries, oldest first (admin or a participant).
#[utoipa::path(get, path = "/api/v1/sessions/{session_id}/audit", tag = "audit", params(("session_id" = String, Path), PageQuery),
    responses((status = 200, body = Value), (status = 404, body = crate::error::ErrorBody)))]
async fn entries(
    State(s): State<AppState>,
    p: Principal,
    ApiPath(sid): ApiPath<SessionId>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> ApiResult<Json<Value>> {
    s.require_session(&p, &sid)?;
    let limit = q.limit.unwrap_or(100).min(MAX_PAGE);
    let v = s.hv.read(|e| {
        let t = trail(e, &sid)?;
        let rows = t.entries(q.from.unwrap_or(0), limit);
        Ok::<_, ApiError>(json!({
            "session_id": sid, "tree_size": t.len(), "root": t.root().to_hex(), "first_held": t.first_held(), "entries": to_json(&rows)?,
        }))
    })??;
    ok(v)
}

/// Tree size of a proof.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub(crate) struct SizeQuery {
    /// Tree size to prove against (default: the current size).
    size: Option<u64>,
}

/// Inclusion proof (RFC 6962) of entry `seq` in the tree of `size` entries.
#[utoipa::path(get, path = "/api/v1/sessions/{session_id}/audit/{seq}/proof", tag = "audit", params(("session_id" = String, Path), ("seq" = u64, Path), SizeQuery),
    responses((status = 200, body = Value), (status = 400, body = crate::error::ErrorBody)))]
async fn inclusion(
    State(s): State<AppState>,
    p: Principal,
    ApiPath((sid, seq)): ApiPath<(SessionId, u64)>,
    ApiQuery(q): ApiQuery<SizeQuery>,
) -> ApiResult<Json<Value>> {
    s.require_session(&p, &sid)?;
    let v = s.hv.read(|e| {
        let log = trail(e, &sid)?.log();
        let size = q.size.unwrap_or(log.len());
        let bad = |x: ahv_core::audit::log::LogError| ApiError::invalid(x.to_string());
        let proof = log.inclusion_proof(seq, size).map_err(bad)?;
        let leaf = log.leaf(seq).ok_or_else(|| ApiError::not_found(format!("entry {seq} not found")))?;
        Ok::<_, ApiError>(json!({
            "session_id": sid, "index": seq, "tree_size": size, "root": log.root_at(size).map_err(bad)?.to_hex(),
            "leaf_hash": leaf.to_hex(), "proof": proof.iter().map(|d| d.to_hex()).collect::<Vec<_>>(),
        }))
    })??;
    ok(v)
}

/// Sizes of a consistency proof.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConsistencyQuery {
    /// The older tree size.
    old: u64,
    /// The newer tree size (default: the current size).
    new: Option<u64>,
}

/// Consistency proof (RFC 6962) that the tree of `old` entries is a prefix of that of `new`.
#[utoipa::path(get, path = "/api/v1/sessions/{session_id}/audit/consistency", tag = "audit", params(("session_id" = String, Path), ConsistencyQuery),
    responses((status = 200, body = Value), (status = 400, body = crate::error::ErrorBody)))]
async fn consistency(
    State(s): State<AppState>,
    p: Principal,
    ApiPath(sid): ApiPath<SessionId>,
    ApiQuery(q): ApiQuery<ConsistencyQuery>,
) -> ApiResult<Json<Value>> {
    s.require_session(&p, &sid)?;
    let v = s.hv.read(|e| {
        let log = trail(e, &sid)?.log();
        let new = q.new.unwrap_or(log.len());
        let bad = |x: ahv_core::audit::log::LogError| ApiError::invalid(x.to_string());
        let proof = log.consistency_proof(q.old, new).map_err(bad)?;
        Ok::<_, ApiError>(json!({
            "session_id": sid, "old_size": q.old, "new_size": new,
            "old_root": log.root_at(q.old).map_err(bad)?.to_hex(), "new_root": log.root_at(new).map_err(bad)?.to_hex(),
            "proof": proof.iter().map(|d| d.to_hex()).collect::<Vec<_>>(),
        }))
    })??;
    ok(v)
}

/// Signed checkpoints (C2SP signed notes) of the hypervisor log, newest last.
#[utoipa::path(get, path = "/api/v1/audit/checkpoints", tag = "audit", responses((status = 200, body = Value)))]
async fn checkpoints(State(s): State<AppState>, _p: Principal) -> ApiResult<Json<Value>> {
    let v = s.hv.read(|e| {
        let (size, root) = e.hv_head();
        let list: Vec<Value> = e
            .signed_checkpoints()
            .map(|(n, note)| json!({ "tree_size": n, "note": note }))
            .collect();
        json!({ "tree_size": size, "root": root.to_hex(), "checkpoints": list })
    })?;
    ok(v)
}

/// Consistency proof (RFC 6962) between two sizes of the hypervisor log, e.g. two signed
/// checkpoints (any authenticated caller, like the checkpoints themselves). `old=0` gives an
/// empty proof.
#[utoipa::path(get, path = "/api/v1/audit/consistency", tag = "audit", params(ConsistencyQuery),
    responses((status = 200, body = Value), (status = 400, body = crate::error::ErrorBody)))]
async fn hv_consistency(
    State(s): State<AppState>,
    _p: Principal,
    ApiQuery(q): ApiQuery<ConsistencyQuery>,
) -> ApiResult<Json<Value>> {
    let v = s.hv.read(|e| {
        let log = e.hypervisor_log().log();
        let new = q.new.unwrap_or(log.len());
        let bad = |x: ahv_core::audit::log::LogError| ApiError::invalid(x.to_string());
        // The empty tree is a prefix of every tree: its proof is empty (RFC 9162 §2.1.4).
        let proof = if q.old == 0 && new <= log.len() {
            Vec::new()
        } else {
            log.consistency_proof(q.old, new).map_err(bad)?
        };
        Ok::<_, ApiError>(json!({
            "log": "hypervisor", "old_size": q.old, "new_size": new,
            "old_root": log.root_at(q.old).map_err(bad)?.to_hex(), "new_root": log.root_at(new).map_err(bad)?.to_hex(),
            "proof": proof.iter().map(|d| d.to_hex()).collect::<Vec<_>>(),
        }))
    })??;
    ok(v)
}

/// The public key that signs checkpoints and bundles.
#[utoipa::path(get, path = "/api/v1/audit/public-key", tag = "audit", responses((status = 200, body = Value)))]
async fn public_key(State(s): State<AppState>, _p: Principal) -> ApiResult<Json<Value>> {
    let sg = s.hv.signer();
    ok(json!({ "vkey": sg.vkey(), "public_key_hex": sg.public_key_hex(), "origin": sg.origin() }))
}

/// What to export.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ExportBody {
    /// Sessions whose logs to include (an agent only its own).
    #[serde(default)]
    #[schema(value_type = Vec<String>)]
    session_ids: Vec<SessionId>,
    /// Entry indexes to include inclusion proofs for.
    #[serde(default)]
    prove: Vec<u64>,
    /// Also include the whole hypervisor log (admin only: it names every session's
    /// participants). Without it, each terminated session is anchored by the one
    /// hypervisor-log entry that committed its root.
    #[serde(default)]
    hypervisor_log: bool,
    /// A signed checkpoint of the hypervisor log seen earlier (e.g. the `note` of an
    /// `ahv audit witness` state file): the bundle then proves its hypervisor head extends it.
    #[serde(default)]
    witnessed: Option<String>,
}

/// A signed, self-contained audit bundle of the given sessions' logs, each terminated one
/// anchored in the hypervisor log, and on an admin's request the whole hypervisor log.
#[utoipa::path(post, path = "/api/v1/audit/export", tag = "audit", request_body = Option<ExportBody>,
    responses((status = 200, body = Value), (status = 403, body = crate::error::ErrorBody)))]
async fn export(
    State(s): State<AppState>,
    p: Principal,
    ApiOptJson(b): ApiOptJson<ExportBody>,
) -> ApiResult<Json<Value>> {
    if b.hypervisor_log {
        AppState::require_admin(
            &p,
            "export the hypervisor log (it names every session's participants)",
        )?;
    }
    for sid in &b.session_ids {
        s.require_session(&p, sid)?;
    }
    let bundle = s.hv.read(|e| {
        s.hv.signer().export(
            e,
            &ExportRequest {
                sessions: &b.session_ids,
                prove: &b.prove,
                whole_hypervisor_log: b.hypervisor_log,
                witnessed: b.witnessed.as_deref(),
            },
        )
    })??;
    ok(to_json(&bundle)?)
}
