//! The demo's world: an embedded hypervisor on the in-memory log with a manual clock (so the
//! elevation TTL can be run out without waiting), the three agents, the session, and helpers
//! that turn replies and denials into plain facts.

use std::sync::Arc;
use std::time::Duration;

use ahv_core::action::{ActionDescriptor, Reversibility};
use ahv_core::engine::view::ParticipantView;
use ahv_core::engine::{
    ActOutcome, ActionRequest, Actor, Command, Engine, EngineConfig, EngineError, Reply,
};
use ahv_core::id::{ActionId, AgentDid, SessionId};
use ahv_core::ring::Ring;
use ahv_runtime::{
    Clock, Hypervisor, ManualClock, MemoryLog, RuntimeConfig, RuntimeError, Signer, SystemClock,
};

use super::narrate::Narrator;
use super::service::Service;

/// What a governed action came to.
#[derive(Debug, Clone)]
pub(crate) enum Outcome {
    /// Allowed and carried out.
    Allowed(ActOutcome),
    /// Denied by governance (or rate limited), with its stable code and reason.
    Denied {
        /// Stable code, e.g. `sigma_insufficient`.
        code: String,
        /// Human reason.
        reason: String,
    },
}

impl Outcome {
    /// The denial code, or `allowed`.
    pub(crate) fn code(&self) -> &str {
        match self {
            Outcome::Allowed(_) => "allowed",
            Outcome::Denied { code, .. } => code,
        }
    }

    /// The denial reason, or empty.
    pub(crate) fn reason(&self) -> &str {
        match self {
            Outcome::Allowed(_) => "",
            Outcome::Denied { reason, .. } => reason,
        }
    }
}

/// Everything the scenario acts on.
#[derive(Debug)]
pub(crate) struct World {
    /// The hypervisor.
    pub(crate) hv: Hypervisor,
    /// Its clock, moved by hand.
    pub(crate) clock: ManualClock,
    /// The local HTTP service saga steps call.
    pub(crate) service: Service,
    /// Output and checks.
    pub(crate) n: Narrator,
    /// The high-trust agent.
    pub(crate) alice: AgentDid,
    /// The low-trust agent that gets vouched for.
    pub(crate) bob: AgentDid,
    /// The sandboxed agent.
    pub(crate) carol: AgentDid,
    /// The session, once created.
    pub(crate) sid: Option<SessionId>,
}

/// The privileged (irreversible, ring 1) action nobody below ring 1 may perform.
pub(crate) const DEPLOY: &str = "deploy_prod";

impl World {
    /// Builds the hypervisor and starts the local service. Must run inside the Tokio runtime.
    pub(crate) async fn new(n: Narrator) -> Result<World, String> {
        let clock = ManualClock::starting_at(SystemClock::new().now());
        let engine = Engine::new(EngineConfig::default()).map_err(|e| e.to_string())?;
        let key = Signer::generate_key()?;
        let hv = Hypervisor::new(
            engine,
            Arc::new(MemoryLog::default()),
            Arc::new(clock.clone()),
            key,
            RuntimeConfig::default(),
        );
        let service = Service::start().await?;
        Ok(World {
            hv,
            clock,
            service,
            n,
            alice: did("did:mesh:alice")?,
            bob: did("did:mesh:bob")?,
            carol: did("did:mesh:carol")?,
            sid: None,
        })
    }

    /// The session id (created in the first part).
    pub(crate) fn sid(&self) -> Result<SessionId, String> {
        self.sid
            .clone()
            .ok_or_else(|| "the demo session was not created".to_string())
    }

    /// Runs a command as the admin.
    pub(crate) async fn admin(&self, cmd: Command) -> Result<Reply, String> {
        self.hv
            .execute(Actor::Admin, cmd)
            .await
            .map_err(|e| e.to_string())
    }

    /// Runs a command as the hypervisor itself (timers).
    pub(crate) async fn system(&self, cmd: Command) -> Result<Reply, String> {
        self.hv
            .execute(Actor::System, cmd)
            .await
            .map_err(|e| e.to_string())
    }

    /// `agent` performs a governed action as itself.
    pub(crate) async fn act(
        &self,
        agent: &AgentDid,
        request: ActionRequest,
    ) -> Result<Outcome, String> {
        let cmd = Command::Act {
            session_id: self.sid()?,
            agent: agent.clone(),
            request,
        };
        outcome(self.hv.execute(Actor::Agent(agent.clone()), cmd).await)
    }

    /// `agent` tries the privileged deploy action.
    pub(crate) async fn deploy(&self, agent: &AgentDid) -> Result<Outcome, String> {
        let action_id = ActionId::new(DEPLOY).map_err(|e| e.to_string())?;
        self.act(
            agent,
            ActionRequest::Tool {
                action_id,
                input: serde_json::json!({ "env": "prod" }),
            },
        )
        .await
    }

    /// The participant view of `agent` in the session.
    pub(crate) fn participant(&self, agent: &AgentDid) -> Result<ParticipantView, String> {
        let sid = self.sid()?;
        let view = self
            .hv
            .read(|e| e.session_view(&sid))
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
        view.participants
            .into_iter()
            .find(|p| &p.agent_did == agent)
            .ok_or_else(|| format!("`{agent}` is not a participant"))
    }

    /// σ_raw the hypervisor holds for `agent`.
    pub(crate) fn trust(&self, agent: &AgentDid) -> Result<f64, String> {
        Ok(self
            .hv
            .read(|e| e.trust_of(agent))
            .map_err(|e| e.to_string())?
            .map_or(0.0, |s| s.get()))
    }

    /// Moves the hypervisor's clock forward.
    pub(crate) fn advance(&self, d: Duration) {
        self.clock.advance(d);
    }
}

/// Turns the result of a governed command into an [`Outcome`]; other errors stay errors.
pub(crate) fn outcome(r: Result<Reply, RuntimeError>) -> Result<Outcome, String> {
    match r {
        Ok(Reply::Acted(a)) => Ok(Outcome::Allowed(a)),
        Ok(other) => Err(format!("unexpected reply {other:?}")),
        Err(RuntimeError::Engine(EngineError::Denied(d))) => Ok(Outcome::Denied {
            code: d.code.as_str().to_string(),
            reason: d.reason,
        }),
        Err(RuntimeError::Engine(e @ EngineError::RateLimited { .. })) => Ok(Outcome::Denied {
            code: e.code().to_string(),
            reason: e.to_string(),
        }),
        Err(e) => Err(e.to_string()),
    }
}

/// An agent DID from a literal.
pub(crate) fn did(s: &str) -> Result<AgentDid, String> {
    AgentDid::new(s).map_err(|e| e.to_string())
}

/// A declared action with the given reversibility and an undo api.
pub(crate) fn action(id: &str, rev: Reversibility) -> Result<ActionDescriptor, String> {
    let mut a = ActionDescriptor::new(ActionId::new(id).map_err(|e| e.to_string())?);
    a.name = id.replace('_', " ");
    a.execute_api = format!("svc.{id}");
    a.reversibility = rev;
    if rev != Reversibility::None {
        a.undo_api = Some(format!("svc.undo.{id}"));
    }
    Ok(a)
}

/// `2 RING_2_STANDARD`.
pub(crate) fn ring_label(r: Ring) -> String {
    format!("{} {}", r.number(), r.name())
}
