//! Session lifecycle through the engine: admission (held σ, ledger advice, minimum σ),
//! membership, departures and rejoining, who may act as whom, termination.

use super::fixtures::*;
use crate::action::Reversibility;
use crate::engine::{ActionRequest, Command, DenyCode, EngineError, Reply};
use crate::event::EventType;
use crate::ring::Ring;
use crate::session::SessionConfig;
use crate::vclock::IsolationLevel;

#[test]
fn join_of_unknown_agent_uses_the_given_sigma() {
    let mut w = World::new();
    let (alice, bob) = (did("alice"), did("bob"));
    let sid = w.session(&alice);
    let j = w.join(&sid, &bob, 0.7);
    assert_eq!(j.sigma_raw.get(), 0.7);
    assert_eq!(j.ring, Ring::Standard);
    assert_eq!(w.engine.trust_of(&bob).unwrap().get(), 0.7);
    // Without a σ an unknown agent starts at zero, in the sandbox.
    let carol = did("carol");
    let r = w.try_join(&sid, &carol, None).unwrap();
    let Reply::Joined(j) = r else { panic!() };
    assert_eq!(j.sigma_raw.get(), 0.0);
    assert_eq!(j.ring, Ring::Sandbox);
}

#[test]
fn join_of_known_agent_uses_the_held_sigma_unless_the_given_one_is_lower() {
    let mut w = World::new();
    let (alice, bob) = (did("alice"), did("bob"));
    w.ok(
        &admin(),
        Command::SetTrust {
            agent: bob.clone(),
            sigma_raw: s(0.65),
        },
    );
    let s1 = w.session(&alice);
    // A caller cannot raise trust by claiming a higher σ.
    let j = w.join(&s1, &bob, 0.99);
    assert_eq!(j.sigma_raw.get(), 0.65);
    assert_eq!(j.ring, Ring::Standard);
    // A lower claimed σ is used (for this session only).
    let s2 = w.session(&alice);
    let j = w.join(&s2, &bob, 0.3);
    assert_eq!(j.sigma_raw.get(), 0.3);
    assert_eq!(j.ring, Ring::Sandbox);
    assert_eq!(w.engine.trust_of(&bob).unwrap().get(), 0.65);
    w.assert_replays();
}

#[test]
fn join_below_the_session_minimum_is_denied_and_audited() {
    let mut w = World::new();
    let (alice, bob) = (did("alice"), did("bob"));
    let sid = w.session_with(
        &alice,
        SessionConfig {
            min_sigma_eff: crate::score::Score::clamped(0.6),
            ..SessionConfig::default()
        },
        IsolationLevel::ReadCommitted,
    );
    let before = w.audit_len(&sid);
    let r = w.try_join(&sid, &bob, Some(0.4));
    assert_denied(&w, &sid, r, DenyCode::SigmaInsufficient, "below");
    assert_eq!(w.audit_len(&sid), before + 1);
    assert!(!w.is_member(&sid, &bob));
    w.assert_replays();
}

/// Four slashes at ω = 1 give a ledger risk of 0.6.
fn blacklist(w: &mut World, sid: &crate::id::SessionId, a: &crate::id::AgentDid, n: usize) {
    for i in 0..n {
        w.ok(
            &admin(),
            Command::Slash {
                session_id: sid.clone(),
                agent: a.clone(),
                omega: s(1.0),
                reason: format!("offence {i}"),
            },
        );
    }
}

#[test]
fn ledger_deny_refuses_admission_with_ledger_denied() {
    let mut w = World::new();
    let (alice, mallory) = (did("alice"), did("mallory"));
    let s1 = w.active_session(&alice, &[(&alice, 0.9), (&mallory, 0.8)]);
    blacklist(&mut w, &s1, &mallory, 4);
    let s2 = w.session(&alice);
    let before = w.audit_len(&s2);
    let r = w.try_join(&s2, &mallory, Some(0.9));
    let reason = assert_denied(&w, &s2, r, DenyCode::LedgerDenied, "exceeds threshold");
    assert!(reason.contains("risk score 0.60"), "{reason}");
    assert_eq!(w.audit_len(&s2), before + 1);
    assert!(!w.events_of(EventType::SessionJoinDenied).is_empty());
    assert!(!w.is_member(&s2, &mallory));
    w.assert_replays();
}

#[test]
fn ledger_probation_admits_into_the_sandbox() {
    let mut w = World::new();
    let (alice, pat) = (did("alice"), did("pat"));
    let s1 = w.active_session(&alice, &[(&alice, 0.9), (&pat, 0.8)]);
    blacklist(&mut w, &s1, &pat, 2);
    w.ok(
        &admin(),
        Command::SetTrust {
            agent: pat.clone(),
            sigma_raw: s(0.9),
        },
    );
    let s2 = w.session(&alice);
    let j = w.join(&s2, &pat, 0.9);
    assert!(j.probation);
    assert_eq!(j.ring, Ring::Sandbox);
    w.activate(&s2);
    // σ is high but probation confines it: ring, not σ, is what is insufficient.
    let r = w.write(&s2, &pat, "a.txt", "x");
    assert_denied(
        &w,
        &s2,
        r,
        DenyCode::RingInsufficient,
        "Agent ring 3 insufficient for required ring 2",
    );
    // Raising trust later does not lift probation.
    w.ok(
        &admin(),
        Command::SetTrust {
            agent: pat.clone(),
            sigma_raw: s(0.99),
        },
    );
    assert_eq!(w.ring(&s2, &pat), Ring::Sandbox);
    w.assert_replays();
}

#[test]
fn outsider_is_not_a_member() {
    let mut w = World::new();
    let (alice, eve) = (did("alice"), did("eve"));
    let sid = w.active_session(&alice, &[(&alice, 0.9)]);
    let r = w.read(&sid, &eve, "a.txt");
    assert_denied(
        &w,
        &sid,
        r,
        DenyCode::NotMember,
        "is not an active participant",
    );
    w.assert_replays();
}

#[test]
fn actions_need_an_active_session() {
    let mut w = World::new();
    let alice = did("alice");
    let sid = w.session(&alice);
    w.join(&sid, &alice, 0.9);
    let r = w.write(&sid, &alice, "a.txt", "x");
    assert_denied(
        &w,
        &sid,
        r,
        DenyCode::SessionNotActive,
        "is handshaking; actions need an active session",
    );
    w.activate(&sid);
    w.write(&sid, &alice, "a.txt", "x").unwrap();
    w.ok(
        &admin(),
        Command::Terminate {
            session_id: sid.clone(),
        },
    );
    // The archived session's log is sealed: the refusal is returned but not appended.
    let sealed = w.audit_len(&sid);
    let r = w.read(&sid, &alice, "a.txt");
    match r {
        Err(crate::engine::EngineError::Denied(d)) => {
            assert_eq!(d.code, DenyCode::SessionNotActive);
            assert!(d.reason.contains("is archived"), "{}", d.reason);
        }
        other => panic!("expected a denial, got {other:?}"),
    }
    assert_eq!(w.audit_len(&sid), sealed);
    w.assert_replays();
}

#[test]
fn an_agent_token_cannot_act_as_another_did() {
    let mut w = World::new();
    let (alice, bob) = (did("alice"), did("bob"));
    let sid = w.active_session(&alice, &[(&alice, 0.9), (&bob, 0.9)]);
    let before = w.json();
    let r = w.apply(
        &agent(&bob),
        Command::Act {
            session_id: sid.clone(),
            agent: alice.clone(),
            request: ActionRequest::VfsWrite {
                path: "a.txt".into(),
                content: "x".into(),
            },
        },
    );
    assert!(
        matches!(r, Err(EngineError::Forbidden(ref m)) if m.contains("may not act as")),
        "{r:?}"
    );
    let r = w.apply(
        &agent(&bob),
        Command::Leave {
            session_id: sid.clone(),
            agent: alice.clone(),
        },
    );
    assert!(matches!(r, Err(EngineError::Forbidden(_))), "{r:?}");
    let r = w.apply(
        &agent(&bob),
        Command::Vouch {
            session_id: sid.clone(),
            voucher: alice.clone(),
            vouchee: bob.clone(),
            bond_pct: None,
            expiry: None,
        },
    );
    assert!(matches!(r, Err(EngineError::Forbidden(_))), "{r:?}");
    // Administrative commands are refused to agents.
    let r = w.apply(
        &agent(&bob),
        Command::SetTrust {
            agent: bob.clone(),
            sigma_raw: s(1.0),
        },
    );
    assert!(matches!(r, Err(EngineError::Forbidden(_))), "{r:?}");
    let r = w.apply(
        &agent(&bob),
        Command::Join {
            session_id: sid,
            agent: bob.clone(),
            sigma_raw: None,
            actions: vec![],
        },
    );
    assert!(matches!(r, Err(EngineError::Forbidden(_))), "{r:?}");
    let r = w.apply(&agent(&bob), Command::Tick);
    assert!(matches!(r, Err(EngineError::Forbidden(_))), "{r:?}");
    assert_same(&w.json(), &before);
    w.assert_replays();
}

#[test]
fn join_with_an_invalid_action_list_changes_nothing() {
    let mut w = World::new();
    let (alice, bob) = (did("alice"), did("bob"));
    let sid = w.session(&alice);
    let before = w.json();
    let a = action("deploy", Reversibility::Full);
    let r = w.apply(
        &admin(),
        Command::Join {
            session_id: sid.clone(),
            agent: bob.clone(),
            sigma_raw: Some(s(0.9)),
            actions: vec![a.clone(), a],
        },
    );
    assert!(matches!(r, Err(EngineError::Invalid(_))), "{r:?}");
    assert_same(&w.json(), &before);
    assert!(!w.is_member(&sid, &bob));
    assert_eq!(w.engine.trust_of(&bob), None);
    w.assert_replays();
}

#[test]
fn a_departed_agent_can_rejoin() {
    let mut w = World::new();
    let (alice, bob) = (did("alice"), did("bob"));
    let sid = w.active_session(&alice, &[(&alice, 0.9), (&bob, 0.8)]);
    w.write(&sid, &bob, "a.txt", "x").unwrap();
    w.ok(
        &agent(&bob),
        Command::Leave {
            session_id: sid.clone(),
            agent: bob.clone(),
        },
    );
    assert!(!w.is_member(&sid, &bob));
    assert!(w.engine.sessions_of(&bob).is_empty());
    let r = w.read(&sid, &bob, "a.txt");
    assert_denied(
        &w,
        &sid,
        r,
        DenyCode::NotMember,
        "is not an active participant",
    );
    let j = w.join(&sid, &bob, 0.8);
    assert_eq!(j.ring, Ring::Standard);
    assert_eq!(w.engine.sessions_of(&bob), vec![sid.clone()]);
    w.read(&sid, &bob, "a.txt").unwrap();
    // Joining twice while active is a conflict.
    let r = w.try_join(&sid, &bob, Some(0.8));
    assert!(matches!(r, Err(EngineError::Conflict(_))), "{r:?}");
    w.assert_replays();
}

#[test]
fn irreversible_action_forces_strong_consistency() {
    let mut w = World::new();
    let (alice, bob) = (did("alice"), did("bob"));
    let sid = w.session(&alice);
    let j = w.join_with(
        &sid,
        &bob,
        0.9,
        vec![action("wire_money", Reversibility::None)],
    );
    assert!(j.forced_strong);
    let v = w.engine.session_view(&sid).unwrap();
    assert_eq!(v.consistency_mode, crate::session::ConsistencyMode::Strong);
}

#[test]
fn terminate_commits_a_merkle_root_and_a_second_terminate_conflicts() {
    let mut w = World::new();
    let (alice, bob) = (did("alice"), did("bob"));
    let sid = w.active_session(&alice, &[(&alice, 0.9), (&bob, 0.8)]);
    w.write(&sid, &alice, "a.txt", "hello").unwrap();
    w.write(&sid, &alice, "dir/b.txt", "world!").unwrap();
    let Reply::Terminated(t) = w.ok(
        &admin(),
        Command::Terminate {
            session_id: sid.clone(),
        },
    ) else {
        panic!()
    };
    let root = t.merkle_root.clone().unwrap();
    assert_eq!(root.len(), 64);
    assert!(root.chars().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(t.files_purged, 2);
    assert_eq!(t.bytes_freed, 11);
    assert_eq!(t.hv_index, Some(0));
    // The root committed to the hypervisor log is the session log's root at termination.
    let hv = w.engine.hypervisor_log();
    assert_eq!(hv.len(), 1);
    let e = hv.entry(0).unwrap();
    assert_eq!(e.detail.to_value()["root"], root.as_str());
    assert_eq!(e.detail.to_value()["tree_size"], t.tree_size);
    let trail = w.engine.audit_trail(&sid).unwrap();
    assert_eq!(trail.log().root_at(t.tree_size).unwrap().to_hex(), root);
    // Both members got a clean-session ledger entry.
    for a in [&alice, &bob] {
        assert_eq!(
            w.engine
                .books()
                .ledger()
                .risk_profile(a)
                .clean_session_count,
            1
        );
    }
    assert!(w.engine.sessions_of(&alice).is_empty());
    let v = w.engine.session_view(&sid).unwrap();
    assert_eq!(v.merkle_root.as_deref(), Some(root.as_str()));
    let r = w.apply(
        &admin(),
        Command::Terminate {
            session_id: sid.clone(),
        },
    );
    assert!(matches!(r, Err(EngineError::Conflict(_))), "{r:?}");
    w.assert_replays();
}

#[test]
fn terminate_releases_bonds() {
    let mut w = World::new();
    let (alice, bob) = (did("alice"), did("bob"));
    let sid = w.active_session(&alice, &[(&alice, 0.9), (&bob, 0.5)]);
    w.ok(
        &agent(&alice),
        Command::Vouch {
            session_id: sid.clone(),
            voucher: alice.clone(),
            vouchee: bob.clone(),
            bond_pct: None,
            expiry: None,
        },
    );
    assert!(w.engine.books().vouches().exposure(&alice, w.now) > 0.0);
    w.ok(&admin(), Command::Terminate { session_id: sid });
    assert_eq!(w.engine.books().vouches().exposure(&alice, w.now), 0.0);
    w.assert_replays();
}

#[test]
fn unknown_session_is_not_found() {
    let mut w = World::new();
    let alice = did("alice");
    let ghost = crate::id::SessionId::new("session:ghost").unwrap();
    let r = w.read(&ghost, &alice, "a");
    assert!(
        matches!(
            r,
            Err(EngineError::NotFound {
                kind: "session",
                ..
            })
        ),
        "{r:?}"
    );
}

#[test]
fn evicting_an_archived_session_forgets_its_sagas_everywhere() {
    let cfg = crate::engine::EngineConfig {
        max_sessions: 1,
        ..crate::engine::EngineConfig::default()
    };
    let mut w = World::with_config(cfg);
    let alice = did("alice");
    let s1 = w.active_session(&alice, &[(&alice, 0.9)]);
    let Reply::Saga(v) = w.ok(
        &admin(),
        Command::CreateSaga {
            session_id: s1.clone(),
        },
    ) else {
        panic!()
    };
    w.ok(
        &agent(&alice),
        Command::AddStep {
            saga_id: v.saga_id.clone(),
            step: step("s1", "noop", &alice),
        },
    );
    // At capacity with nothing archived: refused.
    let r = w.apply(
        &admin(),
        Command::CreateSession {
            creator: alice.clone(),
            config: open_config(),
            isolation: IsolationLevel::ReadCommitted,
        },
    );
    assert!(matches!(r, Err(EngineError::Conflict(_))), "{r:?}");
    w.ok(
        &admin(),
        Command::Terminate {
            session_id: s1.clone(),
        },
    );
    // The archived session makes room; its saga is forgotten in every index.
    let s2 = w.session(&alice);
    assert!(w.engine.session_view(&s1).is_err());
    assert!(w.engine.saga_view(&v.saga_id).is_err());
    assert!(w.engine.saga_ids(None, None).is_empty());
    let j = w.json();
    assert_eq!(j["saga_order"], serde_json::json!([]));
    assert_eq!(j["held_steps"], serde_json::json!({}));
    assert_eq!(w.engine.session_ids(None), vec![s2]);
    w.assert_replays();
}
