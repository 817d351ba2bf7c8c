//! Tests of the session aggregate: each transition, each refusal with its message, and each
//! reference bug fixed (§17 item 22).

use super::*;
use crate::ring::Ring;
use crate::score::Score;

fn did(s: &str) -> AgentDid {
    AgentDid::new(format!("did:mesh:{s}")).unwrap()
}

fn sc(v: f64) -> Score {
    Score::new(v).unwrap()
}

fn t(s: u64) -> Timestamp {
    Timestamp::from_secs(s)
}

fn session_with(config: SessionConfig) -> Session {
    Session::new(
        SessionId::new("session:1").unwrap(),
        did("creator"),
        config,
        t(1000),
    )
    .unwrap()
}

fn handshaking() -> Session {
    let mut s = session_with(SessionConfig::default());
    s.begin_handshake().unwrap();
    s
}

fn join(s: &mut Session, name: &str, sigma: f64) -> Result<(), SessionError> {
    s.join(
        did(name),
        sc(sigma),
        sc(sigma),
        Ring::Standard,
        false,
        t(1001),
    )
    .map(|_| ())
}

#[test]
fn new_session_is_created_with_expiry_from_config() {
    let s = session_with(SessionConfig::default());
    assert_eq!(s.state(), SessionState::Created);
    assert_eq!(s.expires_at(), t(1000 + 3600));
    assert_eq!(s.consistency_mode(), ConsistencyMode::Eventual);
    assert_eq!(s.creator_did(), &did("creator"));
    assert_eq!(s.active_count(), 0);
}

#[test]
fn new_refuses_invalid_config() {
    let r = Session::new(
        SessionId::new("session:1").unwrap(),
        did("c"),
        SessionConfig {
            max_participants: 0,
            ..SessionConfig::default()
        },
        t(0),
    );
    assert!(matches!(r, Err(SessionError::InvalidConfig { .. })));
}

#[test]
fn full_lifecycle() {
    let mut s = handshaking();
    join(&mut s, "a", 0.8).unwrap();
    s.activate(t(1002)).unwrap();
    assert_eq!(s.state(), SessionState::Active);
    assert_eq!(s.activated_at(), Some(t(1002)));
    s.terminate(t(1003)).unwrap();
    assert_eq!(s.state(), SessionState::Terminating);
    assert_eq!(s.terminated_at(), Some(t(1003)));
    s.archive(t(1004)).unwrap();
    assert_eq!(s.state(), SessionState::Archived);
    assert_eq!(s.archived_at(), Some(t(1004)));
}

#[test]
fn transitions_from_wrong_state_are_refused_with_allowed_list() {
    let mut s = session_with(SessionConfig::default());
    assert_eq!(
        s.activate(t(1001)).unwrap_err().to_string(),
        "operation `activate` not allowed in state created; allowed: handshaking"
    );
    assert_eq!(
        join(&mut s, "a", 0.9).unwrap_err().to_string(),
        "operation `join` not allowed in state created; allowed: handshaking, active"
    );
    assert!(s.archive(t(1001)).is_err());
    s.begin_handshake().unwrap();
    assert!(s.begin_handshake().is_err());
    s.terminate(t(1002)).unwrap();
    s.archive(t(1003)).unwrap();
    assert_eq!(
        s.terminate(t(1004)).unwrap_err().to_string(),
        "operation `terminate` not allowed in state archived; allowed: active, handshaking"
    );
    assert_eq!(
        s.leave(&did("a"), t(1004)).unwrap_err(),
        SessionError::InvalidState {
            operation: "leave",
            state: SessionState::Archived,
            allowed: &[
                SessionState::Handshaking,
                SessionState::Active,
                SessionState::Terminating
            ],
        }
    );
    assert!(s.force_consistency_mode(ConsistencyMode::Strong).is_err());
    assert!(
        s.update_participant(&did("a"), Ring::Sandbox, sc(0.1))
            .is_err()
    );
}

#[test]
fn activation_with_no_members_is_refused() {
    let mut s = handshaking();
    assert_eq!(
        s.activate(t(1001)).unwrap_err().to_string(),
        "cannot activate session with no active participants"
    );
}

#[test]
fn activation_with_only_departed_members_is_refused_unlike_reference() {
    let mut s = handshaking();
    join(&mut s, "a", 0.8).unwrap();
    s.leave(&did("a"), t(1002)).unwrap();
    assert_eq!(s.participants().len(), 1);
    assert_eq!(
        s.activate(t(1003)).unwrap_err(),
        SessionError::NoActiveParticipants
    );
    assert_eq!(s.state(), SessionState::Handshaking);
}

#[test]
fn join_records_scores_ring_and_probation() {
    let mut s = handshaking();
    let p = s
        .join(did("a"), sc(0.9), sc(0.7), Ring::Standard, true, t(1005))
        .unwrap();
    assert_eq!(p.sigma_raw, sc(0.9));
    assert_eq!(p.sigma_eff, sc(0.7));
    assert_eq!(p.ring, Ring::Standard);
    assert!(p.probation && p.is_active);
    assert_eq!(p.joined_at, t(1005));
    assert_eq!(p.left_at, None);
    assert!(s.is_member(&did("a")));
}

#[test]
fn duplicate_active_member_is_refused() {
    let mut s = handshaking();
    join(&mut s, "a", 0.8).unwrap();
    assert_eq!(
        join(&mut s, "a", 0.8).unwrap_err().to_string(),
        "agent `did:mesh:a` already in session"
    );
}

#[test]
fn capacity_counts_active_members_only() {
    let mut s = session_with(SessionConfig {
        max_participants: 2,
        ..SessionConfig::default()
    });
    s.begin_handshake().unwrap();
    join(&mut s, "a", 0.8).unwrap();
    join(&mut s, "b", 0.8).unwrap();
    assert_eq!(
        join(&mut s, "c", 0.8).unwrap_err().to_string(),
        "session at capacity (2)"
    );
    s.leave(&did("a"), t(1002)).unwrap();
    join(&mut s, "c", 0.8).unwrap();
    assert_eq!(s.active_count(), 2);
    // A departed agent rejoining still needs a free seat.
    assert_eq!(
        join(&mut s, "a", 0.8).unwrap_err(),
        SessionError::AtCapacity { max: 2 }
    );
}

#[test]
fn departed_agent_can_rejoin_unlike_reference() {
    let mut s = handshaking();
    join(&mut s, "a", 0.8).unwrap();
    s.leave(&did("a"), t(1002)).unwrap();
    assert!(!s.is_member(&did("a")));
    let p = s
        .join(did("a"), sc(0.7), sc(0.65), Ring::Sandbox, true, t(1003))
        .unwrap();
    assert!(p.is_active);
    assert_eq!(p.sigma_eff, sc(0.65));
    assert_eq!(p.ring, Ring::Sandbox);
    assert_eq!(p.joined_at, t(1003));
    assert_eq!(p.left_at, None);
    assert_eq!(s.participants().len(), 1);
    assert!(s.departed.is_empty());
    // And it can leave again.
    s.leave(&did("a"), t(1004)).unwrap();
    assert_eq!(s.departed.len(), 1);
}

#[test]
fn sigma_below_minimum_is_refused_for_every_ring_unlike_reference() {
    let mut s = session_with(SessionConfig {
        min_sigma_eff: sc(0.70),
        ..SessionConfig::default()
    });
    s.begin_handshake().unwrap();
    // The reference refused 0.65 (ring 2) but admitted 0.55 to the sandbox.
    assert_eq!(
        s.join(
            did("mid"),
            sc(0.65),
            sc(0.65),
            Ring::Standard,
            false,
            t(1001)
        )
        .unwrap_err()
        .to_string(),
        "σ_eff 0.65 below minimum 0.70"
    );
    assert_eq!(
        s.join(
            did("low"),
            sc(0.55),
            sc(0.55),
            Ring::Sandbox,
            false,
            t(1001)
        )
        .unwrap_err()
        .to_string(),
        "σ_eff 0.55 below minimum 0.70"
    );
    // Probation does not bypass the rule either.
    assert!(
        s.join(did("low"), sc(0.55), sc(0.55), Ring::Sandbox, true, t(1001))
            .is_err()
    );
    // Exactly the minimum is admitted (inclusive, like the ring thresholds).
    s.join(
        did("ok"),
        sc(0.70),
        sc(0.70),
        Ring::Standard,
        false,
        t(1001),
    )
    .unwrap();
    assert_eq!(s.active_count(), 1);
}

#[test]
fn minimum_message_matches_brief() {
    let mut s = session_with(SessionConfig {
        min_sigma_eff: Score::clamped(0.60),
        ..SessionConfig::default()
    });
    s.begin_handshake().unwrap();
    assert_eq!(
        join(&mut s, "a", 0.55).unwrap_err().to_string(),
        "σ_eff 0.55 below minimum 0.60"
    );
}

#[test]
fn expired_session_refuses_join_and_activation_unlike_reference() {
    let mut s = session_with(SessionConfig {
        max_duration_seconds: 10,
        ..SessionConfig::default()
    });
    s.begin_handshake().unwrap();
    s.join(did("a"), sc(0.8), sc(0.8), Ring::Standard, false, t(1009))
        .unwrap();
    assert!(!s.is_expired(t(1009)));
    assert!(s.is_expired(t(1010)));
    assert_eq!(
        s.join(did("b"), sc(0.8), sc(0.8), Ring::Standard, false, t(1010))
            .unwrap_err()
            .to_string(),
        format!("session expired at {}", t(1010))
    );
    assert_eq!(
        s.activate(t(1010)).unwrap_err(),
        SessionError::Expired {
            expires_at: t(1010)
        }
    );
    // An expired session can still be wound down.
    s.terminate(t(1011)).unwrap();
    s.archive(t(1012)).unwrap();
}

#[test]
fn leave_refuses_unknown_and_departed_agents() {
    let mut s = handshaking();
    assert_eq!(
        s.leave(&did("x"), t(1001)).unwrap_err().to_string(),
        "agent `did:mesh:x` not in session"
    );
    join(&mut s, "a", 0.8).unwrap();
    s.leave(&did("a"), t(1002)).unwrap();
    let p = s.participant(&did("a")).unwrap();
    assert!(!p.is_active);
    assert_eq!(p.left_at, Some(t(1002)));
    assert_eq!(
        s.leave(&did("a"), t(1003)).unwrap_err().to_string(),
        "agent `did:mesh:a` already left the session"
    );
}

#[test]
fn leave_is_allowed_while_terminating() {
    let mut s = handshaking();
    join(&mut s, "a", 0.8).unwrap();
    s.activate(t(1002)).unwrap();
    s.terminate(t(1003)).unwrap();
    s.leave(&did("a"), t(1004)).unwrap();
    assert_eq!(s.active_count(), 0);
    assert!(join(&mut s, "b", 0.8).is_err());
}

#[test]
fn participant_queries() {
    let mut s = handshaking();
    join(&mut s, "b", 0.8).unwrap();
    join(&mut s, "a", 0.8).unwrap();
    join(&mut s, "c", 0.8).unwrap();
    s.leave(&did("b"), t(1002)).unwrap();
    let active: Vec<&str> = s
        .active_participants()
        .map(|p| p.agent_did.as_str())
        .collect();
    assert_eq!(active, ["did:mesh:a", "did:mesh:c"]);
    assert_eq!(s.active_count(), 2);
    assert!(s.participant(&did("b")).is_ok());
    assert!(matches!(
        s.participant(&did("z")),
        Err(SessionError::NotParticipant { .. })
    ));
}

#[test]
fn update_participant_changes_ring_and_sigma() {
    let mut s = handshaking();
    join(&mut s, "a", 0.8).unwrap();
    let p = s
        .update_participant(&did("a"), Ring::Sandbox, sc(0.3))
        .unwrap();
    assert_eq!((p.ring, p.sigma_eff), (Ring::Sandbox, sc(0.3)));
    assert_eq!(p.sigma_raw, sc(0.8));
    assert!(matches!(
        s.update_participant(&did("z"), Ring::Sandbox, sc(0.3)),
        Err(SessionError::NotParticipant { .. })
    ));
}

#[test]
fn force_consistency_mode_overrides_config() {
    let mut s = handshaking();
    s.force_consistency_mode(ConsistencyMode::Strong).unwrap();
    assert_eq!(s.consistency_mode(), ConsistencyMode::Strong);
    assert_eq!(s.config().consistency_mode, ConsistencyMode::Eventual);
}

#[test]
fn departed_records_are_bounded_oldest_first() {
    let mut s = session_with(SessionConfig {
        max_participants: 1,
        ..SessionConfig::default()
    });
    s.begin_handshake().unwrap();
    for i in 0..(MAX_DEPARTED_RECORDS + 5) {
        let name = format!("a{i:05}");
        join(&mut s, &name, 0.8).unwrap();
        s.leave(&did(&name), t(1002)).unwrap();
    }
    assert_eq!(s.participants().len(), MAX_DEPARTED_RECORDS);
    assert_eq!(s.departed.len(), MAX_DEPARTED_RECORDS);
    assert!(s.participant(&did("a00000")).is_err());
    assert!(s.participant(&did("a00005")).is_ok());
}

#[test]
fn serde_round_trip_and_wire_names() {
    let mut s = handshaking();
    join(&mut s, "a", 0.8).unwrap();
    let json = serde_json::to_value(&s).unwrap();
    assert_eq!(json["state"], "handshaking");
    assert_eq!(json["consistency_mode"], "eventual");
    let back: Session = serde_json::from_value(json).unwrap();
    assert_eq!(back, s);
    assert_eq!(
        serde_json::to_string(&SessionState::Terminating).unwrap(),
        "\"terminating\""
    );
}
