//! Engine-level benchmarks: the pure [`Engine`](ahv_core::engine::Engine) fed commands directly
//! (`Engine::apply` with a fresh `Ctx` per command), saga step outcomes fed back by hand as the
//! runtime's saga runner would. Everything governed is audited, as in production.

use std::hint::black_box;

use ahv_core::engine::{Command, EngineConfig, Reply};
use ahv_core::id::{ActionId, AgentDid, SessionId, StepId};
use ahv_core::saga::{SagaState, StepDefinition};
use ahv_core::session::SessionConfig;
use ahv_core::vclock::IsolationLevel;

use super::fixture::{Driver, did, long_session, saga_of};
use super::harness::{Stats, measure};

/// `session_lifecycle`: new engine, create a session, join one agent (σ 0.8), activate,
/// terminate.
pub fn session_lifecycle(iterations: usize) -> Result<Stats, String> {
    let agent = did("did:mesh:a")?;
    measure(iterations, || {
        let mut d = Driver::new(EngineConfig::default())?;
        let sid = d.active_session(
            SessionConfig::default(),
            IsolationLevel::default(),
            &[(agent.clone(), 0.8)],
        )?;
        let r = d.admin(Command::Terminate { session_id: sid })?;
        black_box(r);
        Ok(())
    })
}

/// `governed_vfs_write`: one governed VFS write (session, membership, quarantine, breaker, rate
/// limit, breach detector, ring, ACL, locks, vector clock, write, audit, event) on a warm engine.
pub fn governed_vfs_write(iterations: usize) -> Result<Stats, String> {
    let agent = did("did:mesh:a")?;
    let mut d = Driver::new(EngineConfig::default())?;
    let sid = d.active_session(
        long_session(),
        IsolationLevel::default(),
        &[(agent.clone(), 0.8)],
    )?;
    let mut n: u64 = 0;
    measure(iterations, || {
        n += 1;
        // 100 ms of virtual time per write keeps a ring-2 agent inside its 20/s rate limit.
        d.advance_ms(100);
        d.write(&sid, &agent, format!("/bench/f{}", n % 64), format!("v{n}"))
    })
}

/// Runs one step-by-step saga to completion on `d`: create, add `agents.len()` steps, execute
/// each (its success fed back as the runtime would), complete.
fn step_by_step_saga(
    d: &mut Driver,
    sid: &SessionId,
    agents: &[AgentDid],
    action: &str,
) -> Result<(), String> {
    let (saga_id, _) = saga_of(&d.admin(Command::CreateSaga {
        session_id: sid.clone(),
    })?)?;
    let mut steps = Vec::with_capacity(agents.len());
    for (i, agent) in agents.iter().enumerate() {
        let step_id = StepId::new(format!("step-{i}")).map_err(|e| e.to_string())?;
        let action_id = ActionId::new(if agents.len() == 1 {
            action.to_string()
        } else {
            format!("{action}{i}")
        })
        .map_err(|e| e.to_string())?;
        let step = StepDefinition::new(
            step_id.clone(),
            action_id,
            agent.clone(),
            format!("api.{i}"),
        )
        .with_undo(format!("api.undo.{i}"));
        d.admin(Command::AddStep {
            saga_id: saga_id.clone(),
            step,
        })?;
        steps.push(step_id);
    }
    for step_id in steps {
        let (_, work) = d.apply(
            &ahv_core::engine::Actor::Admin,
            Command::ExecuteStep {
                saga_id: saga_id.clone(),
                step_id,
            },
        )?;
        d.complete_saga_work(work)?;
    }
    let (_, state) = saga_of(&d.admin(Command::CompleteSaga { saga_id })?)?;
    if state != SagaState::Completed {
        return Err(format!("saga ended {state:?}, expected completed"));
    }
    Ok(())
}

/// `saga_3_steps`: a saga with three steps by three agents, each executed and committed, then
/// completed, on a warm engine (the reference's orchestrator needs no session; ours governs
/// every step as its agent in an active session, so the session exists beforehand).
pub fn saga_3_steps(iterations: usize) -> Result<Stats, String> {
    let agents = vec![did("did:mesh:0")?, did("did:mesh:1")?, did("did:mesh:2")?];
    let mut d = Driver::new(EngineConfig::default())?;
    let members: Vec<(AgentDid, f64)> = agents.iter().map(|a| (a.clone(), 0.8)).collect();
    let sid = d.active_session(long_session(), IsolationLevel::default(), &members)?;
    measure(iterations, || {
        d.advance_ms(100);
        step_by_step_saga(&mut d, &sid, &agents, "action")
    })
}

/// `full_governance_pipeline`: new engine, create, join (σ 0.8), activate, three governed and
/// audited VFS writes, a one-step saga run to completion, terminate with a Merkle root.
pub fn full_governance_pipeline(iterations: usize) -> Result<Stats, String> {
    let agent = did("did:mesh:a")?;
    measure(iterations, || {
        let mut d = Driver::new(EngineConfig::default())?;
        let config = SessionConfig {
            enable_audit: true,
            ..SessionConfig::default()
        };
        let sid = d.active_session(config, IsolationLevel::default(), &[(agent.clone(), 0.8)])?;
        for i in 0..3 {
            d.write(&sid, &agent, format!("/f{i}"), format!("h{i}"))?;
        }
        step_by_step_saga(&mut d, &sid, std::slice::from_ref(&agent), "action")?;
        match d.admin(Command::Terminate { session_id: sid })? {
            Reply::Terminated(t) if t.merkle_root.is_some() => Ok(()),
            other => Err(format!("terminate gave no Merkle root: {other:?}")),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_benchmarks_run() {
        assert_eq!(session_lifecycle(5).unwrap().iterations, 5);
        assert_eq!(governed_vfs_write(200).unwrap().iterations, 200);
        assert_eq!(saga_3_steps(20).unwrap().iterations, 20);
        assert_eq!(full_governance_pipeline(5).unwrap().iterations, 5);
    }
}
