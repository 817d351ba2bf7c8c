//! The session VFS through the governed path: intent locks, vector clocks, isolation levels,
//! ACLs, path validation and namespaces, snapshots.

use super::fixtures::*;
use crate::engine::{ActOutcome, ActionRequest, Command, DenyCode, EngineConfig, EngineError};
use crate::event::EventType;
use crate::locks::LockIntent;
use crate::vclock::IsolationLevel;
use crate::vfs::VfsLimits;

fn lock_id(o: ActOutcome) -> crate::id::RecordId {
    match o {
        ActOutcome::Locked { lock } => lock.lock_id,
        other => panic!("not locked: {other:?}"),
    }
}

#[test]
fn another_agents_lock_blocks_a_write() {
    let mut w = World::new();
    let (alice, bob) = (did("alice"), did("bob"));
    let sid = w.active_session(&alice, &[(&alice, 0.9), (&bob, 0.8)]);
    let l = lock_id(
        w.lock(&sid, &bob, "docs/a.txt", LockIntent::Write, false)
            .unwrap(),
    );
    let r = w.write(&sid, &alice, "docs/a.txt", "x");
    assert_denied(
        &w,
        &sid,
        r,
        DenyCode::LockConflict,
        "`/docs/a.txt` is locked by did:mesh:bob (write on /docs/a.txt)",
    );
    assert_eq!(w.events_of(EventType::VfsConflict).len(), 1);
    // A lock on a directory covers its subtree, by whole segments.
    let r = w.lock(&sid, &alice, "docs", LockIntent::Exclusive, false);
    assert_denied(&w, &sid, r, DenyCode::LockConflict, "lock contention on");
    w.write(&sid, &alice, "docsx/a.txt", "x").unwrap();
    // The holder itself may write.
    w.write(&sid, &bob, "docs/a.txt", "mine").unwrap();
    w.act(&sid, &bob, ActionRequest::LockRelease { lock_id: l })
        .unwrap();
    w.read(&sid, &alice, "docs/a.txt").unwrap();
    w.write(&sid, &alice, "docs/a.txt", "x").unwrap();
    w.assert_replays();
}

#[test]
fn releasing_another_agents_lock_is_forbidden_and_changes_nothing() {
    let mut w = World::new();
    let (alice, bob) = (did("alice"), did("bob"));
    let sid = w.active_session(&alice, &[(&alice, 0.9), (&bob, 0.8)]);
    let l = lock_id(
        w.lock(&sid, &bob, "a.txt", LockIntent::Write, false)
            .unwrap(),
    );
    let before = w.json();
    let r = w.act(
        &sid,
        &alice,
        ActionRequest::LockRelease { lock_id: l.clone() },
    );
    assert!(matches!(r, Err(EngineError::Forbidden(_))), "{r:?}");
    assert_same(&w.json(), &before);
    assert!(w.engine.books().slot(&sid).unwrap().locks.get(&l).is_some());
    w.assert_replays();
}

#[test]
fn waiting_that_would_close_a_cycle_is_a_deadlock() {
    let mut w = World::new();
    let (alice, bob) = (did("alice"), did("bob"));
    let sid = w.active_session(&alice, &[(&alice, 0.9), (&bob, 0.8)]);
    let la = lock_id(
        w.lock(&sid, &alice, "a", LockIntent::Exclusive, false)
            .unwrap(),
    );
    lock_id(
        w.lock(&sid, &bob, "b", LockIntent::Exclusive, false)
            .unwrap(),
    );
    let q = w.lock(&sid, &alice, "b", LockIntent::Write, true).unwrap();
    let ActOutcome::LockQueued { ticket } = q else {
        panic!("{q:?}")
    };
    assert_eq!(w.events_of(EventType::LockWaiting).len(), 1);
    let r = w.lock(&sid, &bob, "a", LockIntent::Write, true);
    assert_denied(
        &w,
        &sid,
        r,
        DenyCode::Deadlock,
        "deadlock: waiting would close the cycle",
    );
    assert_eq!(w.events_of(EventType::LockDeadlock).len(), 1);
    // Without waiting it is plain contention.
    let r = w.lock(&sid, &bob, "a", LockIntent::Write, false);
    assert_denied(&w, &sid, r, DenyCode::LockConflict, "lock contention");
    // When bob leaves, his lock is released and alice's queued request is granted.
    w.ok(
        &agent(&bob),
        Command::Leave {
            session_id: sid.clone(),
            agent: bob.clone(),
        },
    );
    let st = w
        .engine
        .books()
        .slot(&sid)
        .unwrap()
        .locks
        .ticket_status(&ticket);
    assert!(
        matches!(st, Some(crate::locks::TicketState::Granted(_))),
        "{st:?}"
    );
    assert!(
        w.events_of(EventType::LockAcquired)
            .iter()
            .any(|e| e.payload.to_value()["from_queue"] == true)
    );
    w.act(&sid, &alice, ActionRequest::LockRelease { lock_id: la })
        .unwrap();
    w.assert_replays();
}

#[test]
fn serializable_needs_the_writers_own_write_lock() {
    let mut w = World::new();
    let (alice, bob) = (did("alice"), did("bob"));
    let sid = w.session_with(&alice, open_config(), IsolationLevel::Serializable);
    w.join(&sid, &alice, 0.9);
    w.join(&sid, &bob, 0.8);
    w.activate(&sid);
    let r = w.write(&sid, &alice, "a.txt", "x");
    assert_denied(
        &w,
        &sid,
        r,
        DenyCode::LockRequired,
        "serializable isolation: agent `did:mesh:alice` must hold a write lock on `/a.txt` to change it",
    );
    // A read lock is not enough.
    w.lock(&sid, &alice, "a.txt", LockIntent::Read, false)
        .unwrap();
    let r = w.write(&sid, &alice, "a.txt", "x");
    assert_denied(
        &w,
        &sid,
        r,
        DenyCode::LockRequired,
        "must hold a write lock",
    );
    let l = lock_id(
        w.lock(&sid, &alice, "b.txt", LockIntent::Write, false)
            .unwrap(),
    );
    w.write(&sid, &alice, "b.txt", "x").unwrap();
    // And it must be the writer's own lock: bob is blocked by alice's.
    let r = w.write(&sid, &bob, "b.txt", "y");
    assert_denied(
        &w,
        &sid,
        r,
        DenyCode::LockConflict,
        "is locked by did:mesh:alice",
    );
    w.act(&sid, &alice, ActionRequest::LockRelease { lock_id: l })
        .unwrap();
    let r = w.write(&sid, &bob, "b.txt", "y");
    assert_denied(
        &w,
        &sid,
        r,
        DenyCode::LockRequired,
        "must hold a write lock",
    );
    w.assert_replays();
}

#[test]
fn a_stale_writer_must_read_first() {
    let mut w = World::new();
    let (alice, bob) = (did("alice"), did("bob"));
    let sid = w.active_session(&alice, &[(&alice, 0.9), (&bob, 0.8)]);
    w.write(&sid, &alice, "a.txt", "v1").unwrap();
    let r = w.write(&sid, &bob, "a.txt", "v2 by bob");
    assert_denied(
        &w,
        &sid,
        r,
        DenyCode::StaleClock,
        "has stale state for `/a.txt`: must re-read before writing",
    );
    let ActOutcome::Read {
        content, version, ..
    } = w.read(&sid, &bob, "a.txt").unwrap()
    else {
        panic!()
    };
    assert_eq!((content.as_str(), version), ("v1", 1));
    let ActOutcome::Written { version, .. } = w.write(&sid, &bob, "a.txt", "v2 by bob").unwrap()
    else {
        panic!()
    };
    assert_eq!(version, 2);
    // Now alice is the stale one.
    let r = w.write(&sid, &alice, "a.txt", "v3");
    assert_denied(&w, &sid, r, DenyCode::StaleClock, "must re-read");
    w.assert_replays();
}

#[test]
fn snapshot_isolation_is_last_writer_wins() {
    let mut w = World::new();
    let (alice, bob) = (did("alice"), did("bob"));
    let sid = w.session_with(&alice, open_config(), IsolationLevel::Snapshot);
    w.join(&sid, &alice, 0.9);
    w.join(&sid, &bob, 0.8);
    w.activate(&sid);
    w.write(&sid, &alice, "a.txt", "v1").unwrap();
    w.write(&sid, &bob, "a.txt", "v2").unwrap();
}

#[test]
fn acls_refuse_and_only_the_creator_or_admin_may_change_them() {
    let mut w = World::new();
    let (alice, bob) = (did("alice"), did("bob"));
    let sid = w.active_session(&alice, &[(&alice, 0.9), (&bob, 0.8)]);
    w.write(&sid, &alice, "secret/plan.txt", "plan").unwrap();
    w.write(&sid, &alice, "public.txt", "hi").unwrap();
    w.ok(
        &agent(&alice),
        Command::SetAcl {
            session_id: sid.clone(),
            path: "secret".into(),
            allowed: Some(dids(&[&alice])),
        },
    );
    let r = w.read(&sid, &bob, "secret/plan.txt");
    assert_denied(
        &w,
        &sid,
        r,
        DenyCode::AclDenied,
        "agent `did:mesh:bob` not permitted to access `/secret/plan.txt`",
    );
    let r = w.write(&sid, &bob, "secret/new.txt", "x");
    assert_denied(
        &w,
        &sid,
        r,
        DenyCode::AclDenied,
        "not permitted to access `/secret/new.txt`",
    );
    // Listing hides what bob may not read.
    let ActOutcome::Listed { files } = w
        .act(&sid, &bob, ActionRequest::VfsList { prefix: None })
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(files.len(), 1);
    // Bob may not change the ACL (and trying changes nothing).
    let before = w.json();
    let r = w.apply(
        &agent(&bob),
        Command::SetAcl {
            session_id: sid.clone(),
            path: "secret".into(),
            allowed: None,
        },
    );
    assert!(
        matches!(r, Err(EngineError::Forbidden(ref m)) if m.contains("only the session creator or an admin")),
        "{r:?}"
    );
    assert_same(&w.json(), &before);
    // The admin may.
    w.ok(
        &admin(),
        Command::SetAcl {
            session_id: sid.clone(),
            path: "secret".into(),
            allowed: Some(dids(&[&alice, &bob])),
        },
    );
    w.read(&sid, &bob, "secret/plan.txt").unwrap();
    w.assert_replays();
}

#[test]
fn bad_paths_change_nothing() {
    let mut w = World::new();
    let alice = did("alice");
    let sid = w.active_session(&alice, &[(&alice, 0.9)]);
    w.write(&sid, &alice, "a.txt", "x").unwrap();
    let before = w.json();
    let audit = w.audit_len(&sid);
    for p in ["../x", "a/../../x", "", "a\\b", "/sessions/other/x", "/"] {
        let r = w.write(&sid, &alice, p, "x");
        assert!(matches!(r, Err(EngineError::Invalid(_))), "{p}: {r:?}");
        let r = w.read(&sid, &alice, p);
        assert!(matches!(r, Err(EngineError::Invalid(_))), "{p}: {r:?}");
        let r = w.act(&sid, &alice, ActionRequest::VfsDelete { path: p.into() });
        assert!(matches!(r, Err(EngineError::Invalid(_))), "{p}: {r:?}");
    }
    let r = w.lock(&sid, &alice, "../x", LockIntent::Write, false);
    assert!(matches!(r, Err(EngineError::Invalid(_))), "{r:?}");
    let r = w.act(
        &sid,
        &alice,
        ActionRequest::VfsSnapshot {
            snapshot_id: Some("bad id with spaces/..".into()),
        },
    );
    assert!(matches!(r, Err(EngineError::Invalid(_))), "{r:?}");
    let r = w.apply(
        &admin(),
        Command::SetAcl {
            session_id: sid.clone(),
            path: "../x".into(),
            allowed: None,
        },
    );
    assert!(matches!(r, Err(EngineError::Invalid(_))), "{r:?}");
    assert_eq!(w.audit_len(&sid), audit);
    assert_same(&w.json(), &before);
    w.assert_replays();
}

#[test]
fn oversized_content_changes_nothing() {
    let cfg = EngineConfig {
        vfs: VfsLimits {
            max_file_bytes: 8,
            ..VfsLimits::default()
        },
        ..EngineConfig::default()
    };
    let mut w = World::with_config(cfg);
    let alice = did("alice");
    let sid = w.active_session(&alice, &[(&alice, 0.9)]);
    let before = w.json();
    let r = w.write(&sid, &alice, "a.txt", "123456789");
    assert!(matches!(r, Err(EngineError::Invalid(_))), "{r:?}");
    assert_same(&w.json(), &before);
    w.write(&sid, &alice, "a.txt", "12345678").unwrap();
    w.assert_replays();
}

#[test]
fn session_namespaces_cannot_be_confused_by_prefix() {
    let mut w = World::new();
    let alice = did("alice");
    let s1 = w.active_session(&alice, &[(&alice, 0.9)]);
    let s2 = w.active_session(&alice, &[(&alice, 0.9)]);
    w.write(&s1, &alice, "x", "in s1").unwrap();
    // The namespaced form of s1's own path is the same file.
    let ActOutcome::Read { content, .. } =
        w.read(&s1, &alice, &format!("/sessions/{s1}/x")).unwrap()
    else {
        panic!()
    };
    assert_eq!(content, "in s1");
    // `{s1}0` is a different namespace, not a sub-path of `{s1}`: refused outright.
    let r = w.read(&s1, &alice, &format!("/sessions/{s1}0/x"));
    assert!(matches!(r, Err(EngineError::Invalid(_))), "{r:?}");
    let r = w.write(&s1, &alice, &format!("/sessions/{s1}0/x"), "escape");
    assert!(matches!(r, Err(EngineError::Invalid(_))), "{r:?}");
    // Another session's namespace is refused, and its files are separate.
    let r = w.read(&s2, &alice, &format!("/sessions/{s1}/x"));
    assert!(matches!(r, Err(EngineError::Invalid(_))), "{r:?}");
    let r = w.read(&s2, &alice, "x");
    assert!(matches!(r, Err(EngineError::NotFound { .. })), "{r:?}");
    // Locks are per session too.
    w.lock(&s1, &alice, "x", LockIntent::Exclusive, false)
        .unwrap();
    let bob = did("bob");
    w.join(&s2, &bob, 0.8);
    w.lock(&s2, &bob, "x", LockIntent::Exclusive, false)
        .unwrap();
    w.assert_replays();
}

#[test]
fn only_the_creator_restores_snapshots_and_restore_forces_a_reread() {
    let mut w = World::new();
    let (alice, bob) = (did("alice"), did("bob"));
    let sid = w.active_session(&alice, &[(&alice, 0.9), (&bob, 0.8)]);
    w.write(&sid, &alice, "a.txt", "v1").unwrap();
    let ActOutcome::Snapshot { snapshot_id } = w
        .act(
            &sid,
            &alice,
            ActionRequest::VfsSnapshot {
                snapshot_id: Some("snap-1".into()),
            },
        )
        .unwrap()
    else {
        panic!()
    };
    w.read(&sid, &bob, "a.txt").unwrap();
    w.write(&sid, &bob, "a.txt", "v2").unwrap();
    let r = w.act(
        &sid,
        &bob,
        ActionRequest::VfsRestore {
            snapshot_id: snapshot_id.clone(),
        },
    );
    assert_denied(
        &w,
        &sid,
        r,
        DenyCode::NotCreator,
        "only the session creator may restore a snapshot",
    );
    w.read(&sid, &alice, "a.txt").unwrap();
    w.act(&sid, &alice, ActionRequest::VfsRestore { snapshot_id })
        .unwrap();
    let ActOutcome::Read { content, .. } = w.read(&sid, &bob, "a.txt").unwrap() else {
        panic!()
    };
    assert_eq!(content, "v1");
    w.assert_replays();
}

#[test]
fn a_write_below_ring_2_is_denied_before_locks_are_considered() {
    let mut w = World::new();
    let (alice, sam) = (did("alice"), did("sam"));
    let sid = w.active_session(&alice, &[(&alice, 0.9), (&sam, 0.3)]);
    let r = w.lock(&sid, &sam, "a.txt", LockIntent::Write, false);
    assert_denied(&w, &sid, r, DenyCode::SigmaInsufficient, "Ring 2 requires");
    // A read lock is a ring-3 action.
    w.lock(&sid, &sam, "a.txt", LockIntent::Read, false)
        .unwrap();
}

#[test]
fn an_acl_change_is_audited_as_whoever_made_it() {
    let mut w = World::new();
    let alice = did("alice");
    let sid = w.active_session(&alice, &[(&alice, 0.9)]);
    w.ok(
        &admin(),
        Command::SetAcl {
            session_id: sid.clone(),
            path: "a".into(),
            allowed: Some(dids(&[&alice])),
        },
    );
    let e = w.audit(&sid).pop().unwrap();
    assert_eq!(e.kind, "vfs.acl");
    assert_eq!(e.agent_did, None, "the admin made it, not the creator");
    assert_eq!(e.detail.to_value()["by"], "admin");
    w.ok(
        &agent(&alice),
        Command::SetAcl {
            session_id: sid.clone(),
            path: "a".into(),
            allowed: None,
        },
    );
    let e = w.audit(&sid).pop().unwrap();
    assert_eq!(e.agent_did.as_ref(), Some(&alice));
    assert_eq!(e.detail.to_value()["by"], "did:mesh:alice");
    w.assert_replays();
}
