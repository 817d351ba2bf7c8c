//! The state every handler shares, and the access rules that sit in front of the engine.
//!
//! The engine itself enforces who may issue each command (admin-only commands, an agent acting
//! only as itself). The server adds what the engine cannot see: read access. An agent may read
//! only sessions it is (or was) a participant of, and only its own records.

use std::sync::Arc;
use std::time::Instant;

use ahv_core::engine::{Command, Engine, Reply};
use ahv_core::id::{AgentDid, SessionId};
use ahv_runtime::Hypervisor;
use tokio::sync::watch;

use crate::ServerConfig;
use crate::auth::{Auth, Principal};
use crate::error::{ApiError, ApiResult};
use crate::metrics::Metrics;

/// Shared state of the server. Cheap to clone: one reference count (axum clones the state
/// for every handler call). Its fields are reached through [`std::ops::Deref`].
#[derive(Clone, Debug)]
pub struct AppState(Arc<SharedState>);

/// What [`AppState`] holds.
#[derive(Debug)]
pub struct SharedState {
    /// The hypervisor.
    pub hv: Hypervisor,
    /// The authenticator.
    pub auth: Arc<Auth>,
    /// Server settings.
    pub config: ServerConfig,
    pub(crate) metrics: Arc<Metrics>,
    shutdown: watch::Sender<bool>,
}

impl std::ops::Deref for AppState {
    type Target = SharedState;

    fn deref(&self) -> &SharedState {
        &self.0
    }
}

impl AppState {
    /// State around a running hypervisor.
    pub fn new(hv: Hypervisor, auth: Arc<Auth>, config: ServerConfig) -> Self {
        let (tx, _) = watch::channel(false);
        AppState(Arc::new(SharedState {
            hv,
            auth,
            config,
            metrics: Arc::new(Metrics::default()),
            shutdown: tx,
        }))
    }

    /// Tells long-lived responses (event streams) to end.
    pub fn begin_shutdown(&self) {
        self.shutdown.send_replace(true);
    }

    /// A receiver that flips to `true` when shutdown begins.
    pub(crate) fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }

    /// Runs a command as `p`, timing it for the metrics.
    pub(crate) async fn exec(&self, p: &Principal, cmd: Command) -> ApiResult<Reply> {
        Ok(self.exec_raw(p, cmd).await?)
    }

    /// As [`AppState::exec`], with the runtime's own error, for routes that answer some
    /// errors (a governance denial) as data rather than as an HTTP error.
    pub(crate) async fn exec_raw(
        &self,
        p: &Principal,
        cmd: Command,
    ) -> Result<Reply, ahv_runtime::RuntimeError> {
        let start = Instant::now();
        let r = self.hv.execute(p.actor(), cmd).await;
        self.metrics.observe_command(start.elapsed());
        r
    }

    /// Only the admin.
    pub(crate) fn require_admin(p: &Principal, what: &str) -> ApiResult<()> {
        if p.is_admin() {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!("only an admin may {what}")))
        }
    }

    /// The admin, or the agent `did` itself.
    pub(crate) fn require_self(p: &Principal, did: &AgentDid) -> ApiResult<()> {
        match p {
            Principal::Admin => Ok(()),
            Principal::Agent(a) if a == did => Ok(()),
            Principal::Agent(a) => Err(ApiError::forbidden(format!(
                "agent `{a}` may not read or act for `{did}`"
            ))),
        }
    }

    /// The admin, or an agent that is or was a participant of the session. Unknown sessions
    /// are 404 for everyone.
    pub(crate) fn require_session(&self, p: &Principal, sid: &SessionId) -> ApiResult<()> {
        self.hv.read(|e| Self::session_access(e, p, sid))?
    }

    /// [`Self::require_session`] inside a read of the engine (one lock for check and read).
    pub(crate) fn session_access(e: &Engine, p: &Principal, sid: &SessionId) -> ApiResult<()> {
        let slot = e.books().slot(sid)?;
        if p.agent()
            .is_none_or(|a| slot.session.participants().contains_key(a))
        {
            Ok(())
        } else {
            Err(ApiError::new(
                axum::http::StatusCode::FORBIDDEN,
                "not_member",
                format!("not a participant of session `{sid}`"),
            ))
        }
    }

    /// The agent an action runs as: the caller's own DID for an agent (a different `given` DID
    /// is refused), the given DID for the admin (required).
    pub(crate) fn acting_agent(p: &Principal, given: Option<AgentDid>) -> ApiResult<AgentDid> {
        match (p, given) {
            (Principal::Agent(a), None) => Ok(a.clone()),
            (Principal::Agent(a), Some(g)) if &g == a => Ok(g),
            (Principal::Agent(a), Some(g)) => Err(ApiError::forbidden(format!(
                "agent `{a}` may not act as `{g}`"
            ))),
            (Principal::Admin, Some(g)) => Ok(g),
            (Principal::Admin, None) => Err(ApiError::invalid(
                "`agent_did` is required when acting with the admin token",
            )),
        }
    }
}
