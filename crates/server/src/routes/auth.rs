//! did:key login (open): a single-use nonce, then a token for a valid Ed25519 signature of it.

use super::prelude::*;

pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(challenge))
        .routes(routes!(token))
}

/// Body of a challenge request.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ChallengeBody {
    /// A `did:key` Ed25519 DID.
    #[schema(value_type = String)]
    did: AgentDid,
}

/// Starts a login: returns a nonce to sign, valid for 5 minutes, usable once.
#[utoipa::path(post, path = "/api/v1/auth/challenge", tag = "auth", security(()), request_body = ChallengeBody,
    responses((status = 200, body = Value), (status = 400, body = crate::error::ErrorBody)))]
async fn challenge(
    State(s): State<AppState>,
    ApiJson(b): ApiJson<ChallengeBody>,
) -> ApiResult<Json<Value>> {
    let c = s.auth.challenge(&b.did, s.hv.now())?;
    ok(json!({ "did": b.did, "nonce": c.nonce, "expires_at": c.expires_at.to_rfc3339() }))
}

/// Body of a token request.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct TokenBody {
    /// The DID that asked for the challenge.
    #[schema(value_type = String)]
    did: AgentDid,
    /// The nonce, as returned.
    nonce: String,
    /// Ed25519 signature over the nonce's UTF-8 bytes: 128 hex digits or base64.
    signature: String,
}

/// Completes a login: an agent token bound to the DID.
#[utoipa::path(post, path = "/api/v1/auth/token", tag = "auth", security(()), request_body = TokenBody,
    responses((status = 200, body = Value), (status = 401, body = crate::error::ErrorBody)))]
async fn token(
    State(s): State<AppState>,
    ApiJson(b): ApiJson<TokenBody>,
) -> ApiResult<Json<Value>> {
    let t = s.auth.redeem(
        &b.did,
        &b.nonce,
        &b.signature,
        s.hv.now(),
        s.config.agent_token_ttl,
    )?;
    ok(
        json!({ "agent_did": b.did, "agent_token": t.token, "expires_at": t.expires_at.to_rfc3339() }),
    )
}
