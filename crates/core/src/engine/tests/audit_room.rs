//! A full audit log fails closed: new work is refused before the log fills, closing and safety
//! work still fits in the reserve, and no allowed action is ever missing from the log.

use super::fixtures::*;
use crate::audit::entry::Decision;
use crate::engine::audit_room::reserve;
use crate::engine::{Command, EngineConfig, EngineError, Reply};
use crate::security::kill::KillReason;

const CAPACITY: u64 = 64;

fn small_logs() -> World {
    World::with_config(small_config())
}

fn small_config() -> EngineConfig {
    EngineConfig {
        max_audit_leaves: CAPACITY,
        max_hypervisor_log_leaves: CAPACITY,
        ..EngineConfig::default()
    }
}

fn create_session(w: &mut World) -> Result<Reply, EngineError> {
    w.apply(
        &admin(),
        Command::CreateSession {
            creator: did("alice"),
            config: open_config(),
            isolation: Default::default(),
        },
    )
}

fn configure(w: &mut World, config: EngineConfig) -> Result<Reply, EngineError> {
    w.apply(
        &admin(),
        Command::Configure {
            config: Box::new(config),
        },
    )
}

#[test]
fn new_work_is_refused_before_the_session_log_fills_and_closing_work_still_fits() {
    let mut w = small_logs();
    let (alice, bob) = (did("alice"), did("bob"));
    let sid = w.active_session(&alice, &[(&alice, 0.9), (&bob, 0.8)]);
    let mut allowed = Vec::new();
    let refusal = loop {
        w.advance(1);
        let path = format!("/f{}", allowed.len());
        match w.write(&sid, &alice, &path, "x") {
            Ok(_) => allowed.push(path),
            Err(e) => break e,
        }
        assert!(allowed.len() < CAPACITY as usize, "never refused");
    };
    let EngineError::Conflict(reason) = refusal else {
        panic!("expected a conflict, got {refusal:?}");
    };
    assert!(reason.contains("audit log of session"), "{reason}");
    assert!(reason.contains("terminate the session"), "{reason}");
    // Refused exactly at the reserve, and the refusal itself appended nothing.
    let len = w.audit_len(&sid);
    assert_eq!(CAPACITY - len, reserve(CAPACITY));
    // Every acknowledged write is in the log.
    let entries = w.audit(&sid);
    for path in &allowed {
        assert!(
            entries.iter().any(|e| e.kind == "vfs.write"
                && e.decision == Decision::Allowed
                && e.detail.as_str().contains(&format!("\"{path}\""))),
            "write to {path} not audited"
        );
    }
    // Other new work is refused too; nothing changes.
    let before = without_counters(w.json());
    assert!(matches!(
        w.apply(
            &admin(),
            Command::Join {
                session_id: sid.clone(),
                agent: did("carol"),
                sigma_raw: Some(s(0.8)),
                actions: Vec::new(),
            },
        ),
        Err(EngineError::Conflict(_))
    ));
    assert!(matches!(
        w.apply(
            &admin(),
            Command::CreateSaga {
                session_id: sid.clone()
            }
        ),
        Err(EngineError::Conflict(_))
    ));
    assert_same(&without_counters(w.json()), &before);
    // Safety and closing work use the reserve and are recorded.
    let Reply::Killed(_) = w.ok(
        &admin(),
        Command::Kill {
            session_id: sid.clone(),
            agent: bob.clone(),
            reason: KillReason::Manual,
            substitute: None,
        },
    ) else {
        panic!("kill refused");
    };
    let Reply::Terminated(t) = w.ok(
        &admin(),
        Command::Terminate {
            session_id: sid.clone(),
        },
    ) else {
        panic!("terminate refused");
    };
    assert!(t.merkle_root.is_some());
    let kinds: Vec<String> = w.audit(&sid).iter().map(|e| e.kind.to_string()).collect();
    assert!(kinds.iter().any(|k| k == "security.kill"), "{kinds:?}");
    assert!(w.audit_len(&sid) <= CAPACITY);
    w.assert_replays();
}

#[test]
fn a_new_session_is_refused_when_the_hypervisor_log_cannot_take_every_root() {
    let mut w = small_logs();
    let mut created = Vec::new();
    let refusal = loop {
        match create_session(&mut w) {
            Ok(Reply::Session(v)) => created.push(v.session_id),
            Ok(other) => panic!("{other:?}"),
            Err(e) => break e,
        }
        assert!(created.len() as u64 <= CAPACITY, "never refused");
    };
    let EngineError::Conflict(reason) = refusal else {
        panic!("expected a conflict, got {refusal:?}");
    };
    assert!(reason.contains("hypervisor audit log"), "{reason}");
    assert!(reason.contains("max_hypervisor_log_leaves"), "{reason}");
    // Exactly as many sessions as the log has roots for, and every one can still terminate and
    // commit its root.
    assert_eq!(created.len() as u64, CAPACITY);
    for sid in &created {
        let Reply::Terminated(_) = w.ok(
            &admin(),
            Command::Terminate {
                session_id: sid.clone(),
            },
        ) else {
            panic!("terminate refused");
        };
    }
    assert_eq!(w.engine.hv_log.len(), CAPACITY);
    w.assert_replays();
}

#[test]
fn a_full_hypervisor_log_is_raised_by_configuration_and_never_lowered_below_what_it_holds() {
    let mut w = small_logs();
    let mut sessions = Vec::new();
    while let Ok(Reply::Session(v)) = create_session(&mut w) {
        sessions.push(v.session_id);
    }
    assert_eq!(sessions.len() as u64, CAPACITY);
    // Any other change cannot be recorded: refused by name, nothing changes.
    let before = without_counters(w.json());
    let other = EngineConfig {
        consensus_quorum: 3,
        ..small_config()
    };
    let Err(EngineError::Invalid(reason)) = configure(&mut w, other) else {
        panic!("a change the full log cannot record was accepted");
    };
    assert!(
        reason.contains("max_hypervisor_log_leaves 64 is below the 65 entries"),
        "{reason}"
    );
    // Lowering below what it must hold is refused the same way.
    let lower = EngineConfig {
        max_hypervisor_log_leaves: 16,
        ..small_config()
    };
    assert!(matches!(
        configure(&mut w, lower),
        Err(EngineError::Invalid(_))
    ));
    assert_eq!(without_counters(w.json()), before);
    // Raising it works at once, is recorded, and sessions can be created again.
    let raised = EngineConfig {
        max_hypervisor_log_leaves: 2 * CAPACITY,
        ..small_config()
    };
    assert!(matches!(configure(&mut w, raised), Ok(Reply::Done)));
    assert_eq!(w.engine.hv_log.capacity(), 2 * CAPACITY);
    assert_eq!(w.engine.hv_log.len(), 1);
    let last = w.engine.hv_log.entries(0, 1)[0].clone();
    assert_eq!(last.kind, "hypervisor.configure");
    assert!(
        last.detail.as_str().contains("max_hypervisor_log_leaves"),
        "{}",
        last.detail.as_str()
    );
    assert!(matches!(create_session(&mut w), Ok(Reply::Session(_))));
    // Session logs keep the capacity they were created with.
    assert_eq!(w.engine.sessions[&sessions[0]].audit.capacity(), CAPACITY);
    w.assert_replays();
}

#[test]
fn archived_sessions_hold_back_no_room_in_the_hypervisor_log() {
    let mut w = small_logs();
    let mut sessions = Vec::new();
    while let Ok(Reply::Session(v)) = create_session(&mut w) {
        sessions.push(v.session_id);
    }
    for sid in &sessions {
        w.ok(
            &admin(),
            Command::Terminate {
                session_id: sid.clone(),
            },
        );
    }
    assert_eq!(w.engine.hv_log.len(), CAPACITY);
    assert!(matches!(
        create_session(&mut w),
        Err(EngineError::Conflict(_))
    ));
    // The archived sessions (still held) have committed their roots: raising the capacity by
    // CAPACITY leaves all the new room usable, less the entry recording the change.
    let raised = EngineConfig {
        max_hypervisor_log_leaves: 2 * CAPACITY,
        ..small_config()
    };
    assert!(matches!(configure(&mut w, raised), Ok(Reply::Done)));
    let mut more = Vec::new();
    while let Ok(Reply::Session(v)) = create_session(&mut w) {
        more.push(v.session_id);
    }
    assert_eq!(more.len() as u64, CAPACITY - 1);
    assert_eq!(w.engine.sessions.len() as u64, 2 * CAPACITY - 1);
    // And every one of them can still commit its root.
    for sid in &more {
        w.ok(
            &admin(),
            Command::Terminate {
                session_id: sid.clone(),
            },
        );
    }
    assert_eq!(w.engine.hv_log.len(), 2 * CAPACITY);
    w.assert_replays();
}

#[test]
fn the_hypervisor_log_capacity_is_its_own_setting() {
    let w = World::with_config(EngineConfig {
        max_audit_leaves: CAPACITY,
        ..EngineConfig::default()
    });
    assert_eq!(
        w.engine.hv_log.capacity(),
        crate::engine::DEFAULT_MAX_HYPERVISOR_LOG_LEAVES
    );
}

/// The engine as JSON without its command counters (a refused command is still counted).
fn without_counters(mut v: serde_json::Value) -> serde_json::Value {
    if let Some(m) = v.as_object_mut() {
        m.remove("counters");
    }
    v
}

#[test]
fn the_hypervisor_log_keeps_every_entry_in_memory_for_exports() {
    // Session logs keep only two entries in memory; the hypervisor log keeps all of its own.
    let config = EngineConfig {
        max_audit_entries: 2,
        max_hypervisor_log_leaves: 16,
        ..EngineConfig::default()
    };
    let mut w = World::with_config(config.clone());
    let terminate_one = |w: &mut World| {
        let Ok(Reply::Session(v)) = create_session(w) else {
            panic!("session refused");
        };
        w.ok(
            &admin(),
            Command::Terminate {
                session_id: v.session_id,
            },
        );
    };
    for _ in 0..5 {
        terminate_one(&mut w);
    }
    assert_eq!(
        (w.engine.hv_log.len(), w.engine.hv_log.first_held()),
        (5, 0)
    );
    let raised = EngineConfig {
        max_hypervisor_log_leaves: 32,
        ..config
    };
    assert!(matches!(configure(&mut w, raised), Ok(Reply::Done)));
    for _ in 0..8 {
        terminate_one(&mut w);
    }
    assert_eq!(
        (w.engine.hv_log.len(), w.engine.hv_log.first_held()),
        (14, 0)
    );
    w.assert_replays();
}
