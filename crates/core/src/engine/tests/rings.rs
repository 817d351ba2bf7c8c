//! Ring changes that σ alone cannot give: elevation (approved, with a TTL), consensus, spawned
//! children.

use super::fixtures::*;
use crate::action::Reversibility;
use crate::engine::{ActOutcome, Command, DenyCode, EngineError, Reply};
use crate::event::EventType;
use crate::id::{AgentDid, RecordId, SessionId};
use crate::ring::Ring;

fn request(
    w: &mut World,
    sid: &SessionId,
    a: &AgentDid,
    target: Ring,
    ttl: u64,
) -> crate::engine::Result<Reply> {
    w.apply(
        &agent(a),
        Command::RequestElevation {
            session_id: sid.clone(),
            agent: a.clone(),
            target,
            ttl_seconds: Some(ttl),
            reason: "maintenance window".into(),
        },
    )
}

fn elevation_id(r: Reply) -> RecordId {
    match r {
        Reply::Elevation(e) => e.elevation_id,
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_approved_elevation_grants_a_ring_1_action_for_its_ttl_then_expires_on_tick() {
    let mut w = World::new();
    let (alice, bob, carl) = (did("alice"), did("bob"), did("carl"));
    let sid = w.session(&alice);
    w.join_with(
        &sid,
        &alice,
        0.8,
        vec![action("wire_money", Reversibility::None)],
    );
    w.join(&sid, &bob, 0.8);
    w.join(&sid, &carl, 0.97);
    w.activate(&sid);
    let r = w.tool(&sid, &alice, "wire_money");
    assert_denied(
        &w,
        &sid,
        r,
        DenyCode::SigmaInsufficient,
        "Ring 1 requires σ_eff ≥ 0.95, got 0.800",
    );
    let id = elevation_id(request(&mut w, &sid, &alice, Ring::Privileged, 60).unwrap());
    // Pending: nothing granted yet.
    let r = w.tool(&sid, &alice, "wire_money");
    assert_denied(&w, &sid, r, DenyCode::SigmaInsufficient, "Ring 1 requires");
    // Self-approval and approval by a ring-2 agent are forbidden (and change nothing).
    let before = w.json();
    let r = w.apply(
        &agent(&alice),
        Command::ApproveElevation {
            elevation_id: id.clone(),
        },
    );
    assert!(matches!(r, Err(EngineError::Forbidden(_))), "{r:?}");
    let r = w.apply(
        &agent(&bob),
        Command::ApproveElevation {
            elevation_id: id.clone(),
        },
    );
    assert!(matches!(r, Err(EngineError::Forbidden(_))), "{r:?}");
    let r = w.apply(
        &agent(&carl),
        Command::ApproveElevation {
            elevation_id: id.clone(),
        },
    );
    assert!(
        matches!(r, Err(EngineError::Forbidden(_))),
        "carl is ring 2 without consensus: {r:?}"
    );
    assert_same(&w.json(), &before);
    // A ring-1 agent may approve.
    w.ok(
        &admin(),
        Command::ApproveConsensus {
            session_id: sid.clone(),
            agent: carl.clone(),
        },
    );
    assert_eq!(w.ring(&sid, &carl), Ring::Privileged);
    w.ok(
        &agent(&carl),
        Command::ApproveElevation { elevation_id: id },
    );
    assert_eq!(w.events_of(EventType::RingElevated).len(), 1);
    let p = w.participant(&sid, &alice);
    assert!(p.elevated);
    assert_eq!(
        (p.ring, p.effective_ring),
        (Ring::Standard, Ring::Privileged)
    );
    assert!(matches!(
        w.tool(&sid, &alice, "wire_money").unwrap(),
        ActOutcome::Allowed {
            ring: Ring::Privileged,
            ..
        }
    ));
    // Within the TTL it still works.
    w.advance(59);
    w.tool(&sid, &alice, "wire_money").unwrap();
    // After the TTL: the tick expires it, and the action is denied again.
    w.advance(2);
    let t = w.tick();
    assert_eq!(t.elevations, 1);
    assert_eq!(w.events_of(EventType::RingElevationExpired).len(), 1);
    assert!(!w.participant(&sid, &alice).elevated);
    let r = w.tool(&sid, &alice, "wire_money");
    assert_denied(&w, &sid, r, DenyCode::SigmaInsufficient, "Ring 1 requires");
    w.assert_replays();
}

#[test]
fn an_elevation_past_its_ttl_grants_nothing_even_before_the_tick() {
    let mut w = World::new();
    let alice = did("alice");
    let sid = w.session(&alice);
    w.join_with(
        &sid,
        &alice,
        0.8,
        vec![action("wire_money", Reversibility::None)],
    );
    w.activate(&sid);
    let id = elevation_id(request(&mut w, &sid, &alice, Ring::Privileged, 10).unwrap());
    w.ok(&admin(), Command::ApproveElevation { elevation_id: id });
    w.tool(&sid, &alice, "wire_money").unwrap();
    w.advance(11);
    let r = w.tool(&sid, &alice, "wire_money");
    assert_denied(&w, &sid, r, DenyCode::SigmaInsufficient, "Ring 1 requires");
    w.assert_replays();
}

#[test]
fn elevation_requests_are_validated() {
    let mut w = World::new();
    let (alice, bob) = (did("alice"), did("bob"));
    let sid = w.active_session(&alice, &[(&alice, 0.8), (&bob, 0.8)]);
    let r = request(&mut w, &sid, &alice, Ring::Root, 60);
    assert!(
        matches!(r, Err(EngineError::Conflict(_))),
        "ring 0 is never granted by elevation: {r:?}"
    );
    let r = request(&mut w, &sid, &alice, Ring::Sandbox, 60);
    assert!(matches!(r, Err(EngineError::Conflict(_))), "{r:?}");
    // Another agent cannot request for alice.
    let r = w.apply(
        &agent(&bob),
        Command::RequestElevation {
            session_id: sid.clone(),
            agent: alice.clone(),
            target: Ring::Privileged,
            ttl_seconds: None,
            reason: String::new(),
        },
    );
    assert!(matches!(r, Err(EngineError::Forbidden(_))), "{r:?}");
    // The requester may withdraw; others may not revoke.
    let id = elevation_id(request(&mut w, &sid, &alice, Ring::Privileged, 60).unwrap());
    let r = w.apply(
        &agent(&bob),
        Command::RevokeElevation {
            elevation_id: id.clone(),
        },
    );
    assert!(matches!(r, Err(EngineError::Forbidden(_))), "{r:?}");
    w.ok(
        &agent(&alice),
        Command::RevokeElevation {
            elevation_id: id.clone(),
        },
    );
    let r = w.apply(&admin(), Command::ApproveElevation { elevation_id: id });
    assert!(matches!(r, Err(EngineError::Conflict(_))), "{r:?}");
    w.assert_replays();
}

#[test]
fn consensus_by_quorum_of_ring_1_agents() {
    let mut w = World::new();
    let (a, b, c, d) = (did("a"), did("b"), did("c"), did("d"));
    let sid = w.active_session(&a, &[(&a, 0.97), (&b, 0.97), (&c, 0.97), (&d, 0.97)]);
    w.ok(
        &admin(),
        Command::ApproveConsensus {
            session_id: sid.clone(),
            agent: a.clone(),
        },
    );
    w.ok(
        &admin(),
        Command::ApproveConsensus {
            session_id: sid.clone(),
            agent: b.clone(),
        },
    );
    // d is ring 2: its approval does not count.
    let r = w.apply(
        &agent(&d),
        Command::ApproveConsensus {
            session_id: sid.clone(),
            agent: c.clone(),
        },
    );
    assert!(matches!(r, Err(EngineError::Forbidden(_))), "{r:?}");
    let r = w.apply(
        &agent(&c),
        Command::ApproveConsensus {
            session_id: sid.clone(),
            agent: c.clone(),
        },
    );
    assert!(matches!(r, Err(EngineError::Forbidden(_))), "{r:?}");
    w.ok(
        &agent(&a),
        Command::ApproveConsensus {
            session_id: sid.clone(),
            agent: c.clone(),
        },
    );
    assert_eq!(w.ring(&sid, &c), Ring::Standard, "one approval of two");
    let Reply::Ring { ring, .. } = w.ok(
        &agent(&b),
        Command::ApproveConsensus {
            session_id: sid.clone(),
            agent: c.clone(),
        },
    ) else {
        panic!()
    };
    assert_eq!(ring, Ring::Privileged);
    // Consensus with σ below 0.95 gives nothing.
    let e = did("e");
    w.join(&sid, &e, 0.9);
    w.ok(
        &admin(),
        Command::ApproveConsensus {
            session_id: sid.clone(),
            agent: e.clone(),
        },
    );
    assert_eq!(w.ring(&sid, &e), Ring::Standard);
    w.assert_replays();
}

#[test]
fn a_spawned_child_is_capped_below_its_parent() {
    let mut w = World::new();
    let (alice, parent, kid, kid2) = (did("alice"), did("parent"), did("kid"), did("kid2"));
    let sid = w.active_session(&alice, &[(&alice, 0.9), (&parent, 0.8), (&kid, 0.9)]);
    assert_eq!(w.ring(&sid, &kid), Ring::Standard);
    // Registering a child already in the session caps it at once.
    let Reply::Ring { ring, .. } = w.ok(
        &agent(&parent),
        Command::RegisterChild {
            session_id: sid.clone(),
            parent: parent.clone(),
            child: kid.clone(),
        },
    ) else {
        panic!()
    };
    assert_eq!(ring, Ring::Sandbox);
    assert_eq!(w.ring(&sid, &kid), Ring::Sandbox);
    let r = w.write(&sid, &kid, "a.txt", "x");
    assert_denied(
        &w,
        &sid,
        r,
        DenyCode::RingInsufficient,
        "Agent ring 3 insufficient for required ring 2",
    );
    // Later σ changes do not lift the cap.
    w.ok(
        &admin(),
        Command::SetTrust {
            agent: kid.clone(),
            sigma_raw: s(0.92),
        },
    );
    assert_eq!(w.ring(&sid, &kid), Ring::Sandbox);
    // A child registered before it joins is capped when it joins.
    w.ok(
        &agent(&parent),
        Command::RegisterChild {
            session_id: sid.clone(),
            parent: parent.clone(),
            child: kid2.clone(),
        },
    );
    let j = w.join(&sid, &kid2, 0.9);
    assert_eq!(j.ring, Ring::Sandbox);
    // Another agent cannot register children for the parent.
    let r = w.apply(
        &agent(&alice),
        Command::RegisterChild {
            session_id: sid.clone(),
            parent: parent.clone(),
            child: did("kid3"),
        },
    );
    assert!(matches!(r, Err(EngineError::Forbidden(_))), "{r:?}");
    w.assert_replays();
}
