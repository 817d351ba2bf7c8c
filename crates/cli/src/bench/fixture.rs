//! A deterministic driver around the pure engine for benchmarks: virtual time that advances
//! only when told, a fresh id seed per command (as the runtime logs one), and helpers that feed
//! saga step outcomes back the way the runtime's saga runner would.

use std::collections::VecDeque;

use ahv_core::engine::{ActionRequest, Actor, Command, Ctx, Engine, EngineConfig, Reply};
use ahv_core::id::{AgentDid, SagaId, SessionId};
use ahv_core::saga::{SagaCommand, SagaInput, SagaState};
use ahv_core::score::Score;
use ahv_core::session::SessionConfig;
use ahv_core::time::Timestamp;
use ahv_core::vclock::IsolationLevel;
use serde_json::Value;

/// 2023-11-14T22:13:20Z: an arbitrary fixed start so runs are reproducible.
pub const T0: Timestamp = Timestamp::from_secs(1_700_000_000);

/// Drives one engine with virtual time.
#[derive(Debug)]
pub struct Driver {
    /// The engine.
    pub engine: Engine,
    now: Timestamp,
    seq: u64,
}

impl Driver {
    /// A driver around a fresh engine with `config`.
    pub fn new(config: EngineConfig) -> Result<Self, String> {
        Ok(Driver {
            engine: Engine::new(config).map_err(|e| e.to_string())?,
            now: T0,
            seq: 0,
        })
    }

    /// The current virtual time.
    pub fn now(&self) -> Timestamp {
        self.now
    }

    /// Moves virtual time forward.
    pub fn advance_ms(&mut self, ms: u64) {
        self.now = Timestamp::from_millis(self.now.as_millis().saturating_add(ms));
    }

    /// Applies one command; returns the reply and the saga work it produced.
    pub fn apply(
        &mut self,
        actor: &Actor,
        cmd: Command,
    ) -> Result<(Reply, Vec<(SagaId, SagaCommand)>), String> {
        self.seq += 1;
        let mut seed = [0xa5u8; 16];
        seed[..8].copy_from_slice(&self.seq.to_le_bytes());
        let mut ctx = Ctx::new(self.now, seed);
        let reply = self
            .engine
            .apply(actor, cmd, &mut ctx)
            .map_err(|e| e.to_string())?;
        Ok((reply, ctx.saga_work))
    }

    /// Applies one command as the admin and returns its reply.
    pub fn admin(&mut self, cmd: Command) -> Result<Reply, String> {
        self.apply(&Actor::Admin, cmd).map(|(r, _)| r)
    }

    /// Creates a session, admits `agents` with their σ and activates it.
    pub fn active_session(
        &mut self,
        config: SessionConfig,
        isolation: IsolationLevel,
        agents: &[(AgentDid, f64)],
    ) -> Result<SessionId, String> {
        let creator = did("did:mesh:admin")?;
        let sid = session_of(self.admin(Command::CreateSession {
            creator,
            config,
            isolation,
        })?)?;
        for (agent, sigma) in agents {
            let sigma_raw = Some(Score::checked("sigma_raw", *sigma).map_err(|e| e.to_string())?);
            self.admin(Command::Join {
                session_id: sid.clone(),
                agent: agent.clone(),
                sigma_raw,
                actions: Vec::new(),
            })?;
        }
        self.admin(Command::Activate {
            session_id: sid.clone(),
        })?;
        Ok(sid)
    }

    /// Carries out saga work as the runtime would, with every step call succeeding at once:
    /// each `ExecuteStep` is answered with `StepSucceeded` (and each undo with
    /// `CompensationSucceeded`), feeding any follow-up work back in until none is left.
    pub fn complete_saga_work(&mut self, work: Vec<(SagaId, SagaCommand)>) -> Result<(), String> {
        let mut queue: VecDeque<(SagaId, SagaCommand)> = work.into();
        while let Some((saga_id, cmd)) = queue.pop_front() {
            let input = match cmd {
                SagaCommand::ExecuteStep {
                    step_id, attempt, ..
                } => SagaInput::StepSucceeded {
                    step_id,
                    attempt,
                    output: Value::Null,
                },
                SagaCommand::CompensateStep {
                    step_id, attempt, ..
                } => SagaInput::CompensationSucceeded { step_id, attempt },
                _ => continue,
            };
            let (_, more) = self.apply(&Actor::System, Command::SagaInput { saga_id, input })?;
            queue.extend(more);
        }
        Ok(())
    }

    /// A governed VFS write by `agent`.
    pub fn write(
        &mut self,
        sid: &SessionId,
        agent: &AgentDid,
        path: String,
        content: String,
    ) -> Result<(), String> {
        let request = ActionRequest::VfsWrite { path, content };
        let cmd = Command::Act {
            session_id: sid.clone(),
            agent: agent.clone(),
            request,
        };
        self.apply(&Actor::Agent(agent.clone()), cmd).map(|_| ())
    }
}

/// An agent DID from a literal.
pub fn did(s: &str) -> Result<AgentDid, String> {
    AgentDid::new(s).map_err(|e| e.to_string())
}

/// The session id in a create/activate reply.
pub fn session_of(r: Reply) -> Result<SessionId, String> {
    match r {
        Reply::Session(v) => Ok(v.session_id),
        other => Err(format!("expected a session reply, got {other:?}")),
    }
}

/// The saga id and state in a saga reply.
pub fn saga_of(r: &Reply) -> Result<(SagaId, SagaState), String> {
    match r {
        Reply::Saga(v) => Ok((v.saga_id.clone(), v.state)),
        other => Err(format!("expected a saga reply, got {other:?}")),
    }
}

/// A session config whose lifetime outlasts any benchmark run in virtual time.
pub fn long_session() -> SessionConfig {
    SessionConfig {
        max_duration_seconds: 30 * 24 * 3600,
        ..SessionConfig::default()
    }
}
