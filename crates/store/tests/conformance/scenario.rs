//! A real hypervisor over a store, and a scenario that touches most of the state: sessions,
//! joins, activation, VFS writes (including a refused one), a vouch and a termination.

use std::sync::Arc;

use ahv_core::engine::{ActionRequest, Actor, Command, EngineConfig, Reply};
use ahv_core::id::{AgentDid, SessionId};
use ahv_core::score::Score;
use ahv_core::session::SessionConfig;
use ahv_core::vclock::IsolationLevel;
use ahv_runtime::{Hypervisor, RuntimeConfig, Signer, SystemClock};
use ahv_store::{RecoveryReport, Store};
use serde_json::Value;

/// Recovers `store` and wraps the engine in a running hypervisor.
pub async fn start(store: &Store) -> (Hypervisor, RecoveryReport) {
    start_with(store, EngineConfig::default()).await
}

/// As [`start`], with an engine configuration.
pub async fn start_with(store: &Store, config: EngineConfig) -> (Hypervisor, RecoveryReport) {
    let r = store.recover(config).await.unwrap();
    let mut clock = SystemClock::new();
    if let Some(at) = r.report.last_at {
        clock = clock.not_before(at);
    }
    let hv = Hypervisor::new(
        r.engine,
        r.log,
        Arc::new(clock),
        Signer::generate_key().unwrap(),
        RuntimeConfig::default(),
    );
    hv.bus().restore(r.events);
    (hv, r.report)
}

pub fn did(name: &str) -> AgentDid {
    AgentDid::new(format!("did:mesh:{name}")).unwrap()
}

/// The whole engine as JSON.
pub fn engine_json(hv: &Hypervisor) -> Value {
    hv.read(|e| serde_json::to_value(e).unwrap()).unwrap()
}

/// Creates a session with the given members, all admitted with σ 0.8, and activates it.
pub async fn open_session(hv: &Hypervisor, members: &[&str]) -> SessionId {
    let creator = did(members.first().copied().unwrap_or("creator"));
    let cmd = Command::CreateSession {
        creator,
        config: SessionConfig {
            max_participants: 1000,
            ..SessionConfig::default()
        },
        isolation: IsolationLevel::ReadCommitted,
    };
    let Reply::Session(view) = hv.execute(Actor::Admin, cmd).await.unwrap() else {
        panic!("not a session")
    };
    let sid = view.session_id.clone();
    for m in members {
        let cmd = Command::Join {
            session_id: sid.clone(),
            agent: did(m),
            sigma_raw: Some(Score::clamped(0.8)),
            actions: vec![],
        };
        hv.execute(Actor::Admin, cmd).await.unwrap();
    }
    hv.execute(
        Actor::Admin,
        Command::Activate {
            session_id: sid.clone(),
        },
    )
    .await
    .unwrap();
    sid
}

/// A governed VFS write by `agent`; returns whether it was allowed.
pub async fn write(
    hv: &Hypervisor,
    sid: &SessionId,
    agent: &str,
    path: &str,
    content: &str,
) -> bool {
    let request = ActionRequest::VfsWrite {
        path: path.into(),
        content: content.into(),
    };
    let cmd = Command::Act {
        session_id: sid.clone(),
        agent: did(agent),
        request,
    };
    hv.execute(Actor::Agent(did(agent)), cmd).await.is_ok()
}

/// Reads a file through the engine (no command, no audit entry).
pub fn read(hv: &Hypervisor, sid: &SessionId, agent: &str, path: &str) -> Option<String> {
    hv.read(|e| {
        let slot = e.books().slot(sid).ok()?;
        let p = slot.vfs.path(path).ok()?;
        slot.vfs.read(&p, &did(agent)).ok().map(str::to_string)
    })
    .unwrap()
}

/// The scenario: returns the live session (with files) and the terminated one.
pub async fn run(hv: &Hypervisor) -> (SessionId, SessionId) {
    let done = open_session(hv, &["alice", "bob"]).await;
    assert!(write(hv, &done, "alice", "/notes/a.txt", "one").await);
    assert!(write(hv, &done, "alice", "/notes/a.txt", "two").await);
    // bob has not seen alice's write: refused under read-committed, and the refusal is logged.
    assert!(!write(hv, &done, "bob", "/notes/a.txt", "lost update").await);
    let vouch = Command::Vouch {
        session_id: done.clone(),
        voucher: did("alice"),
        vouchee: did("bob"),
        bond_pct: None,
        expiry: None,
    };
    hv.execute(Actor::Agent(did("alice")), vouch).await.unwrap();
    hv.execute(
        Actor::Admin,
        Command::Terminate {
            session_id: done.clone(),
        },
    )
    .await
    .unwrap();
    let live = open_session(hv, &["carol", "dave"]).await;
    assert!(write(hv, &live, "carol", "/c.txt", "carol's").await);
    assert!(write(hv, &live, "dave", "/d.txt", "dave's").await);
    (live, done)
}
