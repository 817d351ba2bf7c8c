//! Dashboard sessions: the admin token is exchanged once (login) for a random session cookie,
//! so the pages' `fetch` calls and their `EventSource` (which cannot send an `Authorization`
//! header) authenticate without the token ever appearing in a URL.
//!
//! - The cookie value is 32 random bytes (hex); the server keeps only its SHA-256, with the
//!   session's CSRF token and expiry, in a bounded map ([`MAX_SESSIONS`], oldest expiry evicted
//!   first; expired sessions are dropped on every login).
//! - A cookie authenticates as the admin for safe methods (GET, HEAD). Any other method also
//!   needs the header [`CSRF_HEADER`] equal (constant time) to the CSRF token the login
//!   response gave the page; the cookie is `SameSite=Strict` as well.
//! - Logout forgets the session, so a copied cookie stops working at once.

use std::collections::BTreeMap;
use std::time::Duration;

use ahv_core::time::Timestamp;
use axum::http::{HeaderMap, Method, header};

use crate::auth::{Auth, Principal, sha256};
use crate::error::ApiError;

/// Name of the session cookie.
pub const COOKIE_NAME: &str = "ahv_session";
/// Header that must carry the CSRF token on state-changing requests made with the cookie.
pub const CSRF_HEADER: &str = "x-ahv-csrf";
/// How long a dashboard login lasts.
pub const SESSION_TTL: Duration = Duration::from_secs(8 * 3600);
/// Most dashboard sessions held at once.
pub const MAX_SESSIONS: usize = 256;

#[derive(Clone, Debug)]
struct Entry {
    csrf: String,
    expires_at: Timestamp,
}

/// The server-side table of dashboard sessions, keyed by the SHA-256 of the cookie value.
#[derive(Debug, Default)]
pub struct CookieStore {
    // INVARIANT: len ≤ MAX_SESSIONS after every insert.
    sessions: BTreeMap<[u8; 32], Entry>,
}

/// What a successful login hands out.
#[derive(Clone, Debug)]
pub struct DashboardLogin {
    /// Cookie value (goes only into `Set-Cookie`).
    pub session: String,
    /// CSRF token for the page.
    pub csrf: String,
    /// When the login lapses.
    pub expires_at: Timestamp,
}

impl CookieStore {
    fn insert(&mut self, key: [u8; 32], entry: Entry, now: Timestamp) {
        self.sessions.retain(|_, e| e.expires_at > now);
        while self.sessions.len() >= MAX_SESSIONS {
            let oldest = self
                .sessions
                .iter()
                .min_by_key(|(_, e)| e.expires_at)
                .map(|(k, _)| *k);
            match oldest {
                Some(k) => self.sessions.remove(&k),
                None => break,
            };
        }
        self.sessions.insert(key, entry);
    }

    fn get(&self, key: &[u8; 32], now: Timestamp) -> Option<&Entry> {
        self.sessions.get(key).filter(|e| e.expires_at > now)
    }

    /// Sessions currently held (expired ones included until the next login).
    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    /// Whether no session is held.
    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }
}

fn random_hex(n: usize) -> Result<String, ApiError> {
    let mut b = vec![0u8; n];
    getrandom::fill(&mut b).map_err(ApiError::internal)?;
    Ok(hex::encode(b))
}

/// The value of the session cookie in `headers`, if any.
pub fn cookie_value(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE_NAME)
        .map(|(_, v)| v.trim())
}

impl Auth {
    fn store(&self) -> Result<std::sync::MutexGuard<'_, CookieStore>, ApiError> {
        self.dashboard
            .lock()
            .map_err(|_| ApiError::internal("dashboard session store poisoned"))
    }

    /// Exchanges the admin token for a dashboard session. Agent tokens are refused: the
    /// dashboard shows everything.
    pub fn dashboard_login(&self, token: &str, now: Timestamp) -> Result<DashboardLogin, ApiError> {
        let token = token.trim();
        if token.is_empty() {
            return Err(ApiError::unauthorized("enter the admin token"));
        }
        match self.authenticate(Some(&format!("Bearer {token}")), now) {
            Ok(Principal::Admin) => {}
            Ok(Principal::Agent(_)) => {
                return Err(ApiError::unauthorized(
                    "the dashboard needs the admin token, not an agent token",
                ));
            }
            Err(e) => return Err(e),
        }
        let session = random_hex(32)?;
        let csrf = random_hex(32)?;
        let expires_at = now.plus(SESSION_TTL);
        self.store()?.insert(
            sha256(session.as_bytes()),
            Entry {
                csrf: csrf.clone(),
                expires_at,
            },
            now,
        );
        Ok(DashboardLogin {
            session,
            csrf,
            expires_at,
        })
    }

    /// The CSRF token and expiry of the dashboard session named by `cookie`, if it is valid.
    pub fn dashboard_session(&self, cookie: &str, now: Timestamp) -> Option<(String, Timestamp)> {
        let store = self.store().ok()?;
        store
            .get(&sha256(cookie.as_bytes()), now)
            .map(|e| (e.csrf.clone(), e.expires_at))
    }

    /// Resolves a request carrying a session cookie: the admin for safe methods; for others
    /// only with the matching CSRF header (403 otherwise). Unknown or expired cookies are 401.
    pub fn dashboard_principal(
        &self,
        cookie: &str,
        method: &Method,
        headers: &HeaderMap,
        now: Timestamp,
    ) -> Result<Principal, ApiError> {
        let Some((csrf, _)) = self.dashboard_session(cookie, now) else {
            return Err(ApiError::unauthorized(
                "dashboard session expired or unknown",
            ));
        };
        if matches!(*method, Method::GET | Method::HEAD) {
            return Ok(Principal::Admin);
        }
        let given = headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok());
        match given {
            Some(g) if crate::auth::ct_eq(g.as_bytes(), csrf.as_bytes()) => Ok(Principal::Admin),
            _ => Err(ApiError::forbidden(format!(
                "a state-changing request with the dashboard cookie needs the `{CSRF_HEADER}` header"
            ))),
        }
    }

    /// Forgets a dashboard session (logout). Unknown cookies are ignored.
    pub fn dashboard_logout(&self, cookie: &str) {
        if let Ok(mut s) = self.store() {
            s.sessions.remove(&sha256(cookie.as_bytes()));
        }
    }
}

/// `Set-Cookie` value for a fresh login.
pub fn set_cookie(login: &DashboardLogin) -> String {
    format!(
        "{COOKIE_NAME}={}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}",
        login.session,
        SESSION_TTL.as_secs()
    )
}

/// `Set-Cookie` value that clears the cookie.
pub fn clear_cookie() -> String {
    format!("{COOKIE_NAME}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::AuthConfig;

    const NOW: Timestamp = Timestamp::from_secs(1_000_000);

    fn auth() -> Auth {
        Auth::new(AuthConfig {
            admin_token_sha256: sha256(b"admin-secret"),
            token_secret: [7; 32],
        })
    }

    fn csrf_headers(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(CSRF_HEADER, v.parse().unwrap());
        h
    }

    #[test]
    fn login_needs_the_admin_token() {
        let a = auth();
        assert_eq!(a.dashboard_login("nope", NOW).unwrap_err().status, 401);
        assert_eq!(a.dashboard_login("", NOW).unwrap_err().status, 401);
        let did = ahv_core::id::AgentDid::new("did:mesh:a").unwrap();
        let t = a.issue(&did, NOW, Duration::from_secs(60)).unwrap();
        assert_eq!(a.dashboard_login(&t.token, NOW).unwrap_err().status, 401);
        assert!(a.dashboard_login("admin-secret", NOW).is_ok());
    }

    #[test]
    fn cookie_is_admin_for_reads_and_needs_csrf_for_writes() {
        let a = auth();
        let l = a.dashboard_login("admin-secret", NOW).unwrap();
        let none = HeaderMap::new();
        assert_eq!(
            a.dashboard_principal(&l.session, &Method::GET, &none, NOW)
                .unwrap(),
            Principal::Admin
        );
        assert_eq!(
            a.dashboard_principal(&l.session, &Method::POST, &none, NOW)
                .unwrap_err()
                .status,
            403
        );
        assert_eq!(
            a.dashboard_principal(&l.session, &Method::POST, &csrf_headers("x"), NOW)
                .unwrap_err()
                .status,
            403
        );
        assert!(
            a.dashboard_principal(&l.session, &Method::POST, &csrf_headers(&l.csrf), NOW)
                .is_ok()
        );
        let late = NOW.plus(SESSION_TTL);
        assert_eq!(
            a.dashboard_principal(&l.session, &Method::GET, &none, late)
                .unwrap_err()
                .status,
            401
        );
        a.dashboard_logout(&l.session);
        assert_eq!(
            a.dashboard_principal(&l.session, &Method::GET, &none, NOW)
                .unwrap_err()
                .status,
            401
        );
    }

    #[test]
    fn the_store_is_bounded() {
        let a = auth();
        let first = a.dashboard_login("admin-secret", NOW).unwrap();
        for i in 0..MAX_SESSIONS + 10 {
            a.dashboard_login(
                "admin-secret",
                NOW.plus(Duration::from_millis(i as u64 + 1)),
            )
            .unwrap();
        }
        assert!(a.dashboard.lock().unwrap().len() <= MAX_SESSIONS);
        // The session expiring first was evicted.
        assert!(a.dashboard_session(&first.session, NOW).is_none());
    }

    #[test]
    fn cookie_header_is_parsed_among_others() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            "a=1; ahv_session=abc ; b=2".parse().unwrap(),
        );
        assert_eq!(cookie_value(&h), Some("abc"));
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, "xahv_session=abc".parse().unwrap());
        assert_eq!(cookie_value(&h), None);
    }
}
