//! Authentication (fail closed): who is calling, as a [`Principal`].
//!
//! - **Admin**: `Authorization: Bearer <token>`; only the token's SHA-256 is held and the
//!   comparison is constant-time.
//! - **Agents**: stateless tokens `ahv1.<b64url(payload)>.<b64url(mac)>` where the payload is
//!   JSON `{did, exp, iat, nonce}` (seconds since the epoch) and the MAC is
//!   HMAC-SHA256(secret, payload bytes). A token is bound to one DID and expires. They are
//!   issued when an admin joins an agent, or to a `did:key` Ed25519 agent that signs a server
//!   nonce (challenge/response, see [`Auth::challenge`] and [`Auth::redeem`]).
//!
//! A request without a valid token is refused with 401 before any handler runs; what a valid
//! principal may do is decided by the handlers and the engine (403).

mod crypto;
mod nonces;

use std::sync::Mutex;
use std::time::Duration;

use ahv_core::engine::Actor;
use ahv_core::id::AgentDid;
use ahv_core::time::Timestamp;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use nonces::NonceStore;

pub(crate) use crypto::{b64_decode, ct_eq, sha256};

/// Prefix (version tag) of agent tokens.
pub const TOKEN_PREFIX: &str = "ahv1";
/// How long a login challenge stays valid.
pub const CHALLENGE_TTL: Duration = Duration::from_secs(300);
/// Most outstanding login challenges kept (the oldest are dropped beyond it).
pub const MAX_CHALLENGES: usize = 10_000;

/// Secrets of the authenticator.
#[derive(Clone)]
pub struct AuthConfig {
    /// SHA-256 of the admin bearer token.
    pub admin_token_sha256: [u8; 32],
    /// Key of the agent-token MAC.
    pub token_secret: [u8; 32],
}

impl std::fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuthConfig { .. }")
    }
}

impl AuthConfig {
    /// A config for the admin token `token` with a fresh random MAC secret.
    pub fn from_admin_token(token: &str) -> Result<Self, String> {
        let mut token_secret = [0u8; 32];
        getrandom::fill(&mut token_secret)
            .map_err(|e| format!("no entropy for the token secret: {e}"))?;
        Ok(AuthConfig {
            admin_token_sha256: sha256(token.as_bytes()),
            token_secret,
        })
    }
}

/// Who is calling.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Principal {
    /// The operator.
    Admin,
    /// An agent, acting only as this DID.
    Agent(AgentDid),
}

impl Principal {
    /// The engine actor for this principal.
    pub fn actor(&self) -> Actor {
        match self {
            Principal::Admin => Actor::Admin,
            Principal::Agent(a) => Actor::Agent(a.clone()),
        }
    }

    /// The agent DID, if an agent.
    pub fn agent(&self) -> Option<&AgentDid> {
        match self {
            Principal::Admin => None,
            Principal::Agent(a) => Some(a),
        }
    }

    /// Whether the principal is the admin.
    pub fn is_admin(&self) -> bool {
        matches!(self, Principal::Admin)
    }
}

/// What an agent token asserts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenClaims {
    /// The DID the token acts as.
    pub did: String,
    /// Expiry, seconds since the epoch.
    pub exp: u64,
    /// Issue time, seconds since the epoch.
    pub iat: u64,
    /// Random, so two tokens issued in the same second differ.
    pub nonce: String,
}

/// An issued agent token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssuedToken {
    /// The bearer token.
    pub token: String,
    /// When it expires.
    pub expires_at: Timestamp,
}

/// A login challenge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Challenge {
    /// The nonce to sign (its UTF-8 bytes are what is signed).
    pub nonce: String,
    /// When it lapses.
    pub expires_at: Timestamp,
}

/// The authenticator.
pub struct Auth {
    config: AuthConfig,
    nonces: Mutex<NonceStore>,
    /// Dashboard login sessions (cookie auth, see [`crate::dashboard::cookie`]).
    pub(crate) dashboard: Mutex<crate::dashboard::cookie::CookieStore>,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth").finish_non_exhaustive()
    }
}

fn random_hex(n: usize) -> Result<String, ApiError> {
    let mut b = vec![0u8; n];
    getrandom::fill(&mut b).map_err(ApiError::internal)?;
    Ok(hex::encode(b))
}

impl Auth {
    /// An authenticator with the given secrets.
    pub fn new(config: AuthConfig) -> Self {
        Auth {
            config,
            nonces: Mutex::new(NonceStore::new(MAX_CHALLENGES)),
            dashboard: Mutex::default(),
        }
    }

    /// Resolves an `Authorization` header value at `now`. Errors are 401s.
    pub fn authenticate(
        &self,
        header: Option<&str>,
        now: Timestamp,
    ) -> Result<Principal, ApiError> {
        let Some(h) = header else {
            return Err(ApiError::unauthorized("missing bearer token"));
        };
        let token = h
            .strip_prefix("Bearer ")
            .or_else(|| h.strip_prefix("bearer "))
            .map(str::trim)
            .ok_or_else(|| ApiError::unauthorized("authorization must be `Bearer <token>`"))?;
        if token.starts_with("ahv1.") {
            return self.verify_agent_token(token, now).map(Principal::Agent);
        }
        if crypto::ct_eq(&sha256(token.as_bytes()), &self.config.admin_token_sha256) {
            Ok(Principal::Admin)
        } else {
            Err(ApiError::unauthorized("invalid token"))
        }
    }

    /// Issues an agent token for `did`, valid for `ttl` from `now`.
    pub fn issue(
        &self,
        did: &AgentDid,
        now: Timestamp,
        ttl: Duration,
    ) -> Result<IssuedToken, ApiError> {
        let expires_at = now.plus(ttl);
        let claims = TokenClaims {
            did: did.as_str().to_string(),
            exp: expires_at.as_millis() / 1000,
            iat: now.as_millis() / 1000,
            nonce: random_hex(12)?,
        };
        let payload = serde_json::to_vec(&claims).map_err(ApiError::internal)?;
        let mac = crypto::hmac_sha256(&self.config.token_secret, &payload);
        let token = format!(
            "{TOKEN_PREFIX}.{}.{}",
            crypto::b64url_encode(&payload),
            crypto::b64url_encode(&mac)
        );
        Ok(IssuedToken {
            token,
            expires_at: Timestamp::from_secs(claims.exp),
        })
    }

    /// Checks an agent token's MAC (constant time), shape and expiry; returns its DID.
    pub fn verify_agent_token(&self, token: &str, now: Timestamp) -> Result<AgentDid, ApiError> {
        let bad = || ApiError::unauthorized("invalid token");
        let mut parts = token.split('.');
        let (Some(TOKEN_PREFIX), Some(p), Some(m), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        let payload = b64_decode(p).ok_or_else(bad)?;
        let mac = b64_decode(m).ok_or_else(bad)?;
        let expected = crypto::hmac_sha256(&self.config.token_secret, &payload);
        if !crypto::ct_eq(&mac, &expected) {
            return Err(bad());
        }
        let claims: TokenClaims = serde_json::from_slice(&payload).map_err(|_| bad())?;
        if now.as_millis() / 1000 >= claims.exp {
            return Err(ApiError::unauthorized("token expired"));
        }
        AgentDid::new(claims.did).map_err(|_| bad())
    }

    /// Starts a did:key login: a single-use nonce for `did`, valid for [`CHALLENGE_TTL`].
    pub fn challenge(&self, did: &AgentDid, now: Timestamp) -> Result<Challenge, ApiError> {
        ahv_core::did::decode_ed25519(did.as_str()).map_err(|e| {
            ApiError::invalid(format!("challenge login needs a did:key Ed25519 DID: {e}"))
        })?;
        let nonce = format!("ahv-login:{}", random_hex(32)?);
        let expires_at = now.plus(CHALLENGE_TTL);
        let mut store = self
            .nonces
            .lock()
            .map_err(|_| ApiError::internal("nonce store poisoned"))?;
        store.insert(nonce.clone(), did.clone(), expires_at, now);
        Ok(Challenge { nonce, expires_at })
    }

    /// Completes a did:key login: consumes the nonce (single use), checks the Ed25519
    /// signature over its UTF-8 bytes with the DID's key and issues a token.
    pub fn redeem(
        &self,
        did: &AgentDid,
        nonce: &str,
        signature: &str,
        now: Timestamp,
        ttl: Duration,
    ) -> Result<IssuedToken, ApiError> {
        let key = ahv_core::did::decode_ed25519(did.as_str()).map_err(|e| {
            ApiError::invalid(format!("token login needs a did:key Ed25519 DID: {e}"))
        })?;
        let owner = {
            let mut store = self
                .nonces
                .lock()
                .map_err(|_| ApiError::internal("nonce store poisoned"))?;
            store.take(nonce, now)
        };
        if owner.as_ref() != Some(did) {
            return Err(ApiError::unauthorized(
                "unknown, expired or already used challenge",
            ));
        }
        let sig_bytes = decode_signature(signature)
            .ok_or_else(|| ApiError::invalid("signature must be 64 bytes as hex or base64"))?;
        let sig = ed25519_dalek::Signature::from_bytes(&sig_bytes);
        key.verify_strict(nonce.as_bytes(), &sig)
            .map_err(|_| ApiError::unauthorized("signature does not verify with the DID's key"))?;
        self.issue(did, now, ttl)
    }
}

fn decode_signature(s: &str) -> Option<[u8; 64]> {
    let s = s.trim();
    let bytes = if s.len() == 128 && s.bytes().all(|b| b.is_ascii_hexdigit()) {
        hex::decode(s).ok()?
    } else {
        b64_decode(s)?
    };
    bytes.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signer, SigningKey};

    fn auth() -> Auth {
        Auth::new(AuthConfig {
            admin_token_sha256: sha256(b"admin-secret"),
            token_secret: [7; 32],
        })
    }

    fn did(s: &str) -> AgentDid {
        AgentDid::new(s).unwrap()
    }

    const NOW: Timestamp = Timestamp::from_secs(1_000_000);

    #[test]
    fn admin_token_is_checked_by_hash() {
        let a = auth();
        assert_eq!(
            a.authenticate(Some("Bearer admin-secret"), NOW).unwrap(),
            Principal::Admin
        );
        assert_eq!(
            a.authenticate(Some("Bearer admin-secreT"), NOW)
                .unwrap_err()
                .status,
            401
        );
        assert_eq!(a.authenticate(None, NOW).unwrap_err().status, 401);
        assert_eq!(
            a.authenticate(Some("Basic x"), NOW).unwrap_err().status,
            401
        );
    }

    #[test]
    fn agent_token_binds_did_and_expires() {
        let a = auth();
        let t = a
            .issue(&did("did:mesh:alpha"), NOW, Duration::from_secs(60))
            .unwrap();
        let h = format!("Bearer {}", t.token);
        assert_eq!(
            a.authenticate(Some(&h), NOW).unwrap(),
            Principal::Agent(did("did:mesh:alpha"))
        );
        let late = NOW.plus(Duration::from_secs(60));
        assert_eq!(
            a.authenticate(Some(&h), late).unwrap_err().detail,
            "token expired"
        );
    }

    #[test]
    fn tampered_or_foreign_tokens_are_refused() {
        let a = auth();
        let t = a
            .issue(&did("did:mesh:alpha"), NOW, Duration::from_secs(60))
            .unwrap()
            .token;
        let mut parts: Vec<&str> = t.split('.').collect();
        let forged = crypto::b64url_encode(
            br#"{"did":"did:mesh:admin","exp":9999999999,"iat":0,"nonce":"x"}"#,
        );
        parts[1] = &forged;
        assert!(a.verify_agent_token(&parts.join("."), NOW).is_err());
        let other = Auth::new(AuthConfig {
            admin_token_sha256: [0; 32],
            token_secret: [8; 32],
        });
        assert!(other.verify_agent_token(&t, NOW).is_err());
        assert!(a.verify_agent_token("ahv1.x", NOW).is_err());
    }

    #[test]
    fn did_key_login_is_single_use_and_checks_the_signature() {
        let a = auth();
        let sk = SigningKey::from_bytes(&[3; 32]);
        let d = ahv_core::did::agent_did(&sk.verifying_key()).unwrap();
        let c = a.challenge(&d, NOW).unwrap();
        let sig = hex::encode(sk.sign(c.nonce.as_bytes()).to_bytes());
        let t = a
            .redeem(&d, &c.nonce, &sig, NOW, Duration::from_secs(60))
            .unwrap();
        assert_eq!(a.verify_agent_token(&t.token, NOW).unwrap(), d);
        // Replay of the same nonce fails.
        assert_eq!(
            a.redeem(&d, &c.nonce, &sig, NOW, Duration::from_secs(60))
                .unwrap_err()
                .status,
            401
        );
        // A wrong signature fails and burns the nonce.
        let c = a.challenge(&d, NOW).unwrap();
        let wrong = hex::encode(
            SigningKey::from_bytes(&[4; 32])
                .sign(c.nonce.as_bytes())
                .to_bytes(),
        );
        assert_eq!(
            a.redeem(&d, &c.nonce, &wrong, NOW, Duration::from_secs(60))
                .unwrap_err()
                .status,
            401
        );
        // Expired challenge.
        let c = a.challenge(&d, NOW).unwrap();
        let sig = hex::encode(sk.sign(c.nonce.as_bytes()).to_bytes());
        let late = NOW.plus(CHALLENGE_TTL);
        assert!(
            a.redeem(&d, &c.nonce, &sig, late, Duration::from_secs(60))
                .is_err()
        );
        // Not a did:key.
        assert_eq!(
            a.challenge(&did("did:mesh:alpha"), NOW).unwrap_err().status,
            400
        );
    }
}
