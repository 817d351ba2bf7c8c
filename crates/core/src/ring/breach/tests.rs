//! Tests of the breach detector: the reference worked examples, the breaker policy, bounds, and an incremental-vs-rescan proptest.

use super::*;

fn did(s: &str) -> AgentDid {
    AgentDid::new(s).unwrap()
}
fn sid(s: &str) -> SessionId {
    SessionId::new(s).unwrap()
}
fn ms(v: u64) -> Timestamp {
    Timestamp::from_millis(v)
}

#[test]
fn ten_anomalous_calls_give_one_critical_then_cooldown() {
    let mut d = BreachDetector::default();
    let (a, s) = (did("a"), sid("s"));
    let out: Vec<_> = (0..10)
        .map(|i| d.record_call(&a, &s, Ring::Sandbox, Ring::Privileged, ms(i * 100)))
        .collect();
    assert!(out[..4].iter().all(Option::is_none));
    let e = out[4].as_ref().unwrap();
    assert_eq!(e.severity, BreachSeverity::Critical);
    assert_eq!(e.anomaly_score.get(), 1.0);
    assert!(e.tripped_breaker);
    assert_eq!(
        e.details,
        "5/5 calls to more-privileged rings in 60s window"
    );
    assert!(out[5..].iter().all(Option::is_none));
    assert!(d.is_tripped(&a, &s, ms(1000)));
    assert_eq!(d.breach_count(), 1);
    assert_eq!(d.stats(&a, &s, ms(1000)).total_calls, 10);
}

#[test]
fn mixed_pattern_escalates_like_reference() {
    let mut d = BreachDetector::default();
    let (a, s) = (did("a"), sid("s"));
    let mut events = Vec::new();
    for i in 0..10u64 {
        let called = if i < 3 {
            Ring::Sandbox
        } else {
            Ring::Privileged
        };
        if let Some(e) = d.record_call(&a, &s, Ring::Sandbox, called, ms(i)) {
            events.push((
                e.severity,
                (e.anomaly_score.get() * 1000.0).round() / 1000.0,
            ));
        }
    }
    assert_eq!(
        events,
        vec![
            (BreachSeverity::Low, 0.4),
            (BreachSeverity::Medium, 0.5),
            (BreachSeverity::Medium, 0.571),
            (BreachSeverity::Medium, 0.625),
            (BreachSeverity::Medium, 0.667),
            (BreachSeverity::High, 0.7),
        ]
    );
    assert!(d.is_tripped(&a, &s, ms(10)));
}

#[test]
fn normal_calls_raise_nothing() {
    let mut d = BreachDetector::default();
    let (a, s) = (did("a"), sid("s"));
    for i in 0..10 {
        assert!(
            d.record_call(&a, &s, Ring::Standard, Ring::Standard, ms(i))
                .is_none()
        );
    }
    assert!(!d.is_tripped(&a, &s, ms(10)));
    let st = d.stats(&a, &s, ms(10));
    assert_eq!(st.window_calls, 10);
    assert_eq!(st.ring_distribution, BTreeMap::from([(2, 10)]));
    assert_eq!(d.stats(&did("x"), &s, ms(0)), BreachStats::default());
}

fn trip(d: &mut BreachDetector, a: &AgentDid, s: &SessionId) {
    for i in 0..5 {
        d.record_call(a, s, Ring::Sandbox, Ring::Root, ms(i));
    }
    assert!(d.is_tripped(a, s, ms(5)));
}

#[test]
fn is_tripped_is_a_pure_query_unlike_reference() {
    let mut d = BreachDetector::new(BreakerPolicy {
        auto_reset: true,
        ..BreakerPolicy::default()
    });
    let (a, s) = (did("a"), sid("s"));
    trip(&mut d, &a, &s);
    let before = serde_json::to_string(&d).unwrap();
    // After the cooldown the auto-reset breaker reads as clear, without being mutated.
    assert!(!d.is_tripped(&a, &s, ms(40_000)));
    assert!(d.is_tripped(&a, &s, ms(29_000)));
    assert_eq!(serde_json::to_string(&d).unwrap(), before);
}

#[test]
fn breaker_stays_tripped_until_admin_reset_by_default() {
    let mut d = BreachDetector::default();
    let (a, s) = (did("a"), sid("s"));
    trip(&mut d, &a, &s);
    assert!(d.is_tripped(&a, &s, ms(3_600_000)));
    assert!(d.stats(&a, &s, ms(3_600_000)).breaker_tripped);
    assert!(d.reset(&a, &s));
    assert!(!d.is_tripped(&a, &s, ms(3_600_000)));
    assert!(!d.reset(&a, &s));
}

#[test]
fn admin_reset_forgets_the_window_so_the_next_call_does_not_trip_again() {
    let mut d = BreachDetector::default();
    let (a, s) = (did("a"), sid("s"));
    trip(&mut d, &a, &s);
    let total = d.stats(&a, &s, ms(1_000)).total_calls;
    assert!(d.reset(&a, &s));
    // Before the fix the 5 anomalous calls stayed in the window: 5/6 ≥ 0.7 tripped again.
    assert_eq!(
        d.record_call(&a, &s, Ring::Sandbox, Ring::Sandbox, ms(1_000)),
        None
    );
    assert!(!d.is_tripped(&a, &s, ms(1_000)));
    assert_eq!(d.stats(&a, &s, ms(1_000)).window_calls, 1);
    assert_eq!(
        d.stats(&a, &s, ms(1_000)).total_calls,
        total + 1,
        "lifetime counters stay"
    );
}

#[test]
fn analysis_resumes_after_cooldown() {
    let mut d = BreachDetector::default();
    let (a, s) = (did("a"), sid("s"));
    trip(&mut d, &a, &s);
    assert!(
        d.record_call(&a, &s, Ring::Sandbox, Ring::Root, ms(29_999))
            .is_none()
    );
    let e = d
        .record_call(&a, &s, Ring::Sandbox, Ring::Root, ms(30_004))
        .unwrap();
    assert_eq!(e.severity, BreachSeverity::Critical);
    assert_eq!(d.stats(&a, &s, ms(30_004)).tripped_at, Some(ms(30_004)));
}

#[test]
fn window_slides_and_old_calls_stop_counting() {
    let mut d = BreachDetector::default();
    let (a, s) = (did("a"), sid("s"));
    for i in 0..4 {
        d.record_call(&a, &s, Ring::Sandbox, Ring::Root, ms(i));
    }
    // 61 s later the four anomalous calls have left the window.
    for i in 0..5 {
        assert!(
            d.record_call(&a, &s, Ring::Sandbox, Ring::Sandbox, ms(61_000 + i))
                .is_none()
        );
    }
    assert_eq!(d.stats(&a, &s, ms(61_010)).window_calls, 5);
    assert_eq!(d.stats(&a, &s, ms(200_000)).window_calls, 0);
}

#[test]
fn time_going_backwards_is_read_as_last_seen() {
    let mut d = BreachDetector::default();
    let (a, s) = (did("a"), sid("s"));
    d.record_call(&a, &s, Ring::Sandbox, Ring::Sandbox, ms(100_000));
    // An earlier instant neither re-orders the window nor evicts the later call.
    d.record_call(&a, &s, Ring::Sandbox, Ring::Sandbox, ms(0));
    assert_eq!(d.stats(&a, &s, ms(100_000)).window_calls, 2);
}

#[test]
fn keys_do_not_collide_unlike_reference() {
    let mut d = BreachDetector::default();
    // "a:b" + ":" + "c" == "a" + ":" + "b:c" in the reference's string key.
    let (a1, s1) = (did("a:b"), sid("c"));
    let (a2, s2) = (did("a"), sid("b:c"));
    trip(&mut d, &a1, &s1);
    assert!(!d.is_tripped(&a2, &s2, ms(5)));
    assert_eq!(d.stats(&a2, &s2, ms(5)).total_calls, 0);
}

#[test]
fn profiles_are_bounded_lru() {
    let mut d = BreachDetector::default().with_max_profiles(2);
    let s = sid("s");
    d.record_call(&did("a"), &s, Ring::Sandbox, Ring::Sandbox, ms(0));
    d.record_call(&did("b"), &s, Ring::Sandbox, Ring::Sandbox, ms(1));
    d.record_call(&did("a"), &s, Ring::Sandbox, Ring::Sandbox, ms(2));
    d.record_call(&did("c"), &s, Ring::Sandbox, Ring::Sandbox, ms(3));
    assert_eq!(d.profile_count(), 2);
    assert_eq!(d.stats(&did("b"), &s, ms(3)).total_calls, 0);
    assert_eq!(d.stats(&did("a"), &s, ms(3)).total_calls, 2);
    assert_eq!(d.lru.len(), 2);
    d.forget(&did("a"), &s);
    assert_eq!((d.profile_count(), d.lru.len()), (1, 1));
}

#[test]
fn per_profile_calls_are_capped() {
    let mut d = BreachDetector::default();
    let (a, s) = (did("a"), sid("s"));
    for _ in 0..1500 {
        d.record_call(&a, &s, Ring::Sandbox, Ring::Sandbox, ms(0));
    }
    let st = d.stats(&a, &s, ms(0));
    assert_eq!(st.window_calls, MAX_CALLS_PER_PROFILE);
    assert_eq!(st.total_calls, 1500);
}

#[test]
fn round_trips_through_json() {
    let mut d = BreachDetector::default();
    let (a, s) = (did("did:mesh:a"), sid("s"));
    trip(&mut d, &a, &s);
    let back: BreachDetector = serde_json::from_str(&serde_json::to_string(&d).unwrap()).unwrap();
    assert!(back.is_tripped(&a, &s, ms(6)));
}

/// Naive model: rescans the whole window, as the reference did.
fn naive(calls: &[(u64, u8, u8)]) -> Vec<Option<(BreachSeverity, u64)>> {
    let mut window: VecDeque<(u64, u8)> = VecDeque::new();
    let mut tripped: Option<u64> = None;
    let mut out = Vec::new();
    for &(t, agent, called) in calls {
        window.push_back((t, called));
        if window.len() > MAX_CALLS_PER_PROFILE {
            window.pop_front();
        }
        while window.front().is_some_and(|c| c.0 + 60_000 < t) {
            window.pop_front();
        }
        if tripped.is_some_and(|tt| t < tt + 30_000) || window.len() < MIN_CALLS {
            out.push(None);
            continue;
        }
        let anomalous = window.iter().filter(|c| c.1 < agent).count();
        let rate = anomalous as f64 / window.len() as f64;
        let sev = BreachSeverity::from_rate(rate);
        if sev.is_some_and(BreachSeverity::trips_breaker) {
            tripped = Some(t);
        }
        out.push(sev.map(|s| (s, anomalous as u64)));
    }
    out
}

proptest::proptest! {
    #[test]
    fn incremental_counts_match_a_full_rescan(
        steps in proptest::collection::vec((0u64..20_000, 0u8..4, 0u8..4), 1..300)
    ) {
        let mut t = 0;
        let calls: Vec<(u64, u8, u8)> = steps
            .iter()
            .map(|&(dt, a, c)| { t += dt; (t, a, c) })
            .collect();
        let mut d = BreachDetector::default();
        let (a, s) = (did("a"), sid("s"));
        let got: Vec<_> = calls
            .iter()
            .map(|&(t, ar, cr)| {
                let ar = Ring::from_number(i64::from(ar)).unwrap();
                let cr = Ring::from_number(i64::from(cr)).unwrap();
                d.record_call(&a, &s, ar, cr, ms(t)).map(|e| {
                    let anomalous = e.details.split('/').next().unwrap().parse::<u64>().unwrap();
                    (e.severity, anomalous)
                })
            })
            .collect();
        proptest::prop_assert_eq!(got, naive(&calls));
    }
}
