//! Tests of kill planning: eligibility, round-robin, compensation, pool and log bounds.

use super::*;

fn did(s: &str) -> AgentDid {
    AgentDid::new(s).unwrap()
}
fn sid(s: &str) -> SessionId {
    SessionId::new(s).unwrap()
}
fn step(i: usize, ring: Ring) -> PendingStep {
    (
        SagaId::new("saga:1").unwrap(),
        StepId::new(format!("step:{i}")).unwrap(),
        ring,
    )
}
fn targets(h: &[StepHandoff]) -> Vec<Option<&str>> {
    h.iter()
        .map(|h| h.to.as_ref().map(AgentDid::as_str))
        .collect()
}

#[test]
fn round_robin_across_substitutes_unlike_reference() {
    let steps: Vec<_> = (0..4).map(|i| step(i, Ring::Standard)).collect();
    let cands = [
        (did("b"), Ring::Standard, true),
        (did("c"), Ring::Standard, true),
    ];
    let h = plan_handoffs(&did("k"), &steps, &cands);
    // The reference handed every step to the first pool member.
    assert_eq!(
        targets(&h),
        vec![Some("b"), Some("c"), Some("b"), Some("c")]
    );
    assert!(
        h.iter()
            .all(|h| h.status == HandoffStatus::HandedOff && h.from == did("k"))
    );
}

#[test]
fn substitutes_need_ring_liveness_and_must_not_be_the_killed_agent() {
    let steps = [
        step(0, Ring::Privileged),
        step(1, Ring::Standard),
        step(2, Ring::Root),
    ];
    let cands = [
        (did("k"), Ring::Root, true),      // the killed agent
        (did("dead"), Ring::Root, false),  // not active
        (did("low"), Ring::Sandbox, true), // ring too low for everything
        (did("mid"), Ring::Standard, true),
        (did("high"), Ring::Privileged, true),
    ];
    let h = plan_handoffs(&did("k"), &steps, &cands);
    assert_eq!(targets(&h), vec![Some("high"), Some("mid"), None]);
    assert_eq!(h[2].status, HandoffStatus::Compensate);
}

#[test]
fn no_candidates_means_compensate() {
    let h = plan_handoffs(&did("k"), &[step(0, Ring::Sandbox)], &[]);
    assert_eq!(h[0].status, HandoffStatus::Compensate);
    assert!(plan_handoffs(&did("k"), &[], &[(did("b"), Ring::Root, true)]).is_empty());
}

#[test]
fn duplicate_candidates_count_once() {
    let steps: Vec<_> = (0..3).map(|i| step(i, Ring::Sandbox)).collect();
    let cands = [
        (did("b"), Ring::Standard, true),
        (did("b"), Ring::Standard, true),
        (did("c"), Ring::Standard, true),
    ];
    let h = plan_handoffs(&did("k"), &steps, &cands);
    assert_eq!(targets(&h), vec![Some("b"), Some("c"), Some("b")]);
}

#[test]
fn pool_is_a_set_and_restricts_candidates() {
    let mut p = SubstitutePool::new();
    let s = sid("s");
    assert!(p.register(&s, did("b")).unwrap());
    assert!(!p.register(&s, did("b")).unwrap());
    assert_eq!(p.members(&s), vec![did("b")]);
    let cands = [
        (did("b"), Ring::Standard, true),
        (did("c"), Ring::Root, true),
    ];
    let h = p.plan_handoffs(
        &did("k"),
        &s,
        &[step(0, Ring::Standard), step(1, Ring::Standard)],
        &cands,
    );
    assert_eq!(targets(&h), vec![Some("b"), Some("b")]);
    assert!(p.unregister(&s, &did("b")));
    assert!(!p.unregister(&s, &did("b")));
    let h = p.plan_handoffs(&did("k"), &s, &[step(0, Ring::Standard)], &cands);
    assert_eq!(h[0].status, HandoffStatus::Compensate);
}

#[test]
fn pool_is_bounded() {
    let mut p = SubstitutePool::new();
    let s = sid("s");
    for i in 0..MAX_SUBSTITUTES_PER_SESSION {
        p.register(&s, did(&format!("a{i}"))).unwrap();
    }
    assert_eq!(
        p.register(&s, did("extra")).unwrap_err().to_string(),
        "substitute pool of session `s` is full (1000 agents)"
    );
}

#[test]
fn kill_record_and_log() {
    let mut ids = IdGen::new([3; 16]);
    let h = plan_handoffs(
        &did("k"),
        &[step(0, Ring::Standard), step(1, Ring::Root)],
        &[(did("b"), Ring::Standard, true)],
    );
    let r = KillRecord::new(
        &mut ids,
        did("k"),
        sid("s"),
        KillReason::RingBreach,
        Timestamp::ZERO,
        h,
        "x".into(),
    )
    .unwrap();
    assert!(r.kill_id.as_str().starts_with("kill:"));
    assert_eq!(r.handoff_success_count(), 1);
    assert!(r.compensation_triggered());
    let mut log = KillLog::new();
    log.record(r.clone());
    log.record(r);
    assert_eq!((log.total_kills(), log.total_handoffs()), (2, 2));
    assert_eq!(log.history().count(), 2);
    let e = KillRecord::new(
        &mut ids,
        did("k"),
        sid("s"),
        KillReason::Manual,
        Timestamp::ZERO,
        vec![],
        "x".repeat(5000),
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "kill details are 5000 bytes long; the limit is 4096"
    );
    assert_eq!(
        serde_json::to_string(&KillReason::BehavioralDrift).unwrap(),
        "\"behavioral_drift\""
    );
}
