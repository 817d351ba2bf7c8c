//! Runtime-level benchmarks: the same scenarios through the [`Hypervisor`] facade (engine lock,
//! command log, event bus, saga runner with in-process executors) with the in-memory command log,
//! on a current-thread Tokio runtime: one thread, like the reference's asyncio loop, so that a
//! step's hand-offs between tasks are measured rather than cross-core wake-ups.
//!
//! One long-lived hypervisor serves every iteration: a hypervisor is a service, and its saga
//! runner task lives as long as it does, so building one per call would measure task leaks. The
//! pipeline therefore creates a fresh *session* per call. The ring rate limits are raised for
//! these runs (the limiter still runs on every call) so that a benchmark measures the governed
//! path rather than the limiter refusing a loop that is faster than any agent.

use std::sync::Arc;
use std::time::Duration;

use ahv_core::engine::{ActionRequest, Actor, Command, EngineConfig, Reply};
use ahv_core::id::{ActionId, AgentDid, SagaId, SessionId, StepId};
use ahv_core::saga::{SagaDefinition, SagaState, StepDefinition};
use ahv_core::score::Score;
use ahv_core::security::rate_limit::{RatePolicy, RingPolicies};
use ahv_core::session::SessionConfig;
use ahv_core::vclock::IsolationLevel;
use ahv_runtime::{
    Hypervisor, MemoryLog, RuntimeConfig, Signer, StepCall, StepResult, SystemClock,
};

use super::fixture::{did, long_session};
use super::harness::{Stats, measure_async};

/// Name under which the benchmark's in-process step executor is registered.
const STEP_API: &str = "bench.step";
/// Longest wait for one saga before the run is declared broken.
const SAGA_BOUND: Duration = Duration::from_secs(10);

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))
}

fn bench_config() -> Result<EngineConfig, String> {
    let p = RatePolicy::new(1_000_000, 1_000_000).map_err(|e| e.to_string())?;
    Ok(EngineConfig {
        rate: RingPolicies {
            ring0: p,
            ring1: p,
            ring2: p,
            ring3: p,
        },
        ..EngineConfig::default()
    })
}

/// A hypervisor on the in-memory log with an in-process step executor that succeeds at once.
/// Must be called inside the Tokio runtime.
fn hypervisor() -> Result<Hypervisor, String> {
    let engine = ahv_core::engine::Engine::new(bench_config()?).map_err(|e| e.to_string())?;
    let key = Signer::generate_key()?;
    let hv = Hypervisor::new(
        engine,
        Arc::new(MemoryLog::default()),
        Arc::new(SystemClock::new()),
        key,
        RuntimeConfig::default(),
    );
    hv.register_executor(
        STEP_API,
        Arc::new(|_call: StepCall| async { StepResult::Ok(serde_json::Value::Null) }),
    );
    Ok(hv)
}

async fn admin(hv: &Hypervisor, cmd: Command) -> Result<Reply, String> {
    hv.execute(Actor::Admin, cmd)
        .await
        .map_err(|e| e.to_string())
}

async fn active_session(
    hv: &Hypervisor,
    config: SessionConfig,
    agents: &[AgentDid],
) -> Result<SessionId, String> {
    let creator = did("did:mesh:admin")?;
    let r = admin(
        hv,
        Command::CreateSession {
            creator,
            config,
            isolation: IsolationLevel::default(),
        },
    )
    .await?;
    let sid = super::fixture::session_of(r)?;
    for a in agents {
        let join = Command::Join {
            session_id: sid.clone(),
            agent: a.clone(),
            sigma_raw: Some(Score::clamped(0.8)),
            actions: Vec::new(),
        };
        admin(hv, join).await?;
    }
    admin(
        hv,
        Command::Activate {
            session_id: sid.clone(),
        },
    )
    .await?;
    Ok(sid)
}

/// A defined saga with one in-process step per agent.
fn definition(sid: &SessionId, agents: &[AgentDid]) -> Result<SagaDefinition, String> {
    let mut def = SagaDefinition::new("bench", sid.clone());
    for (i, a) in agents.iter().enumerate() {
        let step_id = StepId::new(format!("step-{i}")).map_err(|e| e.to_string())?;
        let action = ActionId::new(format!("action{i}")).map_err(|e| e.to_string())?;
        def.steps
            .push(StepDefinition::new(step_id, action, a.clone(), STEP_API).with_undo(STEP_API));
    }
    Ok(def)
}

/// Submits a saga and waits until it has finished; returns its id.
async fn run_saga(hv: &Hypervisor, def: SagaDefinition) -> Result<SagaId, String> {
    let r = admin(hv, Command::SubmitSaga { definition: def }).await?;
    let (id, _) = super::fixture::saga_of(&r)?;
    if !hv
        .wait_saga(&id, SAGA_BOUND)
        .await
        .map_err(|e| e.to_string())?
    {
        return Err(format!("saga `{id}` did not finish within {SAGA_BOUND:?}"));
    }
    Ok(id)
}

fn saga_state(hv: &Hypervisor, id: &SagaId) -> Result<SagaState, String> {
    hv.read(|e| e.saga_view(id).map(|v| v.state))
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())
}

/// `saga_3_steps_runtime`: a three-step saga (three agents, in-process executors) submitted to
/// the hypervisor and awaited until completed.
pub fn saga_3_steps_runtime(iterations: usize) -> Result<Stats, String> {
    runtime()?.block_on(async {
        let hv = hypervisor()?;
        let agents = vec![did("did:mesh:0")?, did("did:mesh:1")?, did("did:mesh:2")?];
        let sid = active_session(&hv, long_session(), &agents).await?;
        let last = std::rc::Rc::new(std::cell::RefCell::new(None));
        let stats = measure_async(iterations, || {
            let hv = hv.clone();
            let def = definition(&sid, &agents);
            let last = last.clone();
            async move {
                let id = run_saga(&hv, def?).await?;
                last.replace(Some(id));
                Ok(())
            }
        })
        .await?;
        let last = last.take();
        match last {
            Some(id) if saga_state(&hv, &id)? == SagaState::Completed => Ok(stats),
            Some(id) => Err(format!(
                "saga `{id}` ended {:?}, expected completed",
                saga_state(&hv, &id)?
            )),
            None => Ok(stats),
        }
    })
}

/// `full_governance_pipeline_runtime`: through the hypervisor — create, join, activate, three
/// governed VFS writes by the agent itself, a one-step saga run to completion by the saga
/// runner, terminate with a Merkle root.
pub fn full_governance_pipeline_runtime(iterations: usize) -> Result<Stats, String> {
    runtime()?.block_on(async {
        let hv = hypervisor()?;
        let agent = did("did:mesh:a")?;
        measure_async(iterations, || {
            let hv = hv.clone();
            let agent = agent.clone();
            async move {
                let config = SessionConfig {
                    enable_audit: true,
                    ..SessionConfig::default()
                };
                let sid = active_session(&hv, config, std::slice::from_ref(&agent)).await?;
                for i in 0..3 {
                    let request = ActionRequest::VfsWrite {
                        path: format!("/f{i}"),
                        content: format!("h{i}"),
                    };
                    let cmd = Command::Act {
                        session_id: sid.clone(),
                        agent: agent.clone(),
                        request,
                    };
                    hv.execute(Actor::Agent(agent.clone()), cmd)
                        .await
                        .map_err(|e| e.to_string())?;
                }
                let id = run_saga(&hv, definition(&sid, std::slice::from_ref(&agent))?).await?;
                let state = saga_state(&hv, &id)?;
                if state != SagaState::Completed {
                    return Err(format!("saga ended {state:?}, expected completed"));
                }
                match admin(&hv, Command::Terminate { session_id: sid }).await? {
                    Reply::Terminated(t) if t.merkle_root.is_some() => Ok(()),
                    other => Err(format!("terminate gave no Merkle root: {other:?}")),
                }
            }
        })
        .await
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runtime_benchmarks_run() {
        assert_eq!(saga_3_steps_runtime(10).unwrap().iterations, 10);
        assert_eq!(full_governance_pipeline_runtime(10).unwrap().iterations, 10);
    }
}
