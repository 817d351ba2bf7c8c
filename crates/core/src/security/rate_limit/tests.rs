//! Tests of the GCRA limiter: reference quotas, retry-after, ring changes without refill, bounds.

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

fn admitted(l: &mut RateLimiter, a: &AgentDid, s: &SessionId, ring: Ring, now: Timestamp) -> usize {
    (0..10_000)
        .take_while(|_| l.check(a, s, ring, 1, now).is_ok())
        .count()
}

#[test]
fn ring3_allows_ten_then_refuses_with_retry_after() {
    let mut l = RateLimiter::default();
    let (a, s) = (did("a"), sid("s"));
    for i in 0..10 {
        let d = l.check(&a, &s, Ring::Sandbox, 1, ms(0)).unwrap();
        assert_eq!(d.remaining, 9 - i);
    }
    let e = l.check(&a, &s, Ring::Sandbox, 1, ms(0)).unwrap_err();
    let RateLimitError::Limited(r) = e.clone() else {
        panic!("{e}")
    };
    assert_eq!(r.retry_after, Duration::from_millis(200));
    assert_eq!(r.ring, Ring::Sandbox);
    assert_eq!(
        e.to_string(),
        "rate limit of ring 3 exceeded (5/s, burst 10); retry after 200 ms"
    );
    let st = l.stats(&a, &s, ms(0)).unwrap();
    assert_eq!(
        (st.total, st.rejected, st.available, st.capacity),
        (11, 1, 0, 10)
    );
}

#[test]
fn ring0_allows_two_hundred() {
    let mut l = RateLimiter::default();
    assert_eq!(
        admitted(&mut l, &did("a"), &sid("s"), Ring::Root, ms(0)),
        200
    );
}

#[test]
fn refills_as_time_passes() {
    let mut l = RateLimiter::default();
    let (a, s) = (did("a"), sid("s"));
    assert_eq!(admitted(&mut l, &a, &s, Ring::Sandbox, ms(0)), 10);
    assert!(l.check(&a, &s, Ring::Sandbox, 1, ms(199)).is_err());
    assert!(l.check(&a, &s, Ring::Sandbox, 1, ms(200)).is_ok());
    assert!(l.check(&a, &s, Ring::Sandbox, 1, ms(200)).is_err());
    assert_eq!(l.stats(&a, &s, ms(1200)).unwrap().available, 5);
    // Never more than the burst, however long the pause.
    assert_eq!(admitted(&mut l, &a, &s, Ring::Sandbox, ms(1_000_000)), 10);
}

#[test]
fn demotion_does_not_refill_unlike_reference() {
    let mut l = RateLimiter::default();
    let (a, s) = (did("a"), sid("s"));
    assert_eq!(admitted(&mut l, &a, &s, Ring::Standard, ms(0)), 40);
    // The reference's update_ring handed the demoted agent a full ring-3 bucket of 10.
    assert!(l.check(&a, &s, Ring::Sandbox, 1, ms(0)).is_err());
    assert_eq!(l.stats(&a, &s, ms(0)).unwrap().ring, Ring::Sandbox);
}

#[test]
fn quota_follows_the_current_ring_unlike_reference() {
    let mut l = RateLimiter::default();
    let (a, s) = (did("a"), sid("s"));
    // First seen in ring 0; the reference kept ring 0's 200-call bucket forever.
    l.check(&a, &s, Ring::Root, 1, ms(0)).unwrap();
    assert_eq!(admitted(&mut l, &a, &s, Ring::Sandbox, ms(0)), 9);
}

#[test]
fn keys_do_not_collide_unlike_reference() {
    let mut l = RateLimiter::default();
    assert_eq!(
        admitted(&mut l, &did("a:b"), &sid("c"), Ring::Sandbox, ms(0)),
        10
    );
    assert_eq!(
        admitted(&mut l, &did("a"), &sid("b:c"), Ring::Sandbox, ms(0)),
        10
    );
}

#[test]
fn time_going_backwards_mints_nothing() {
    let mut l = RateLimiter::default();
    let (a, s) = (did("a"), sid("s"));
    assert_eq!(admitted(&mut l, &a, &s, Ring::Sandbox, ms(10_000)), 10);
    // A clock step back: read as 10 s, still exhausted (the reference went negative).
    assert!(l.check(&a, &s, Ring::Sandbox, 1, ms(0)).is_err());
    assert_eq!(l.stats(&a, &s, ms(0)).unwrap().available, 0);
}

#[test]
fn cost_is_validated_and_counted() {
    let mut l = RateLimiter::default();
    let (a, s) = (did("a"), sid("s"));
    assert_eq!(
        l.check(&a, &s, Ring::Sandbox, 0, ms(0)).unwrap_err(),
        RateLimitError::ZeroCost
    );
    assert_eq!(
        l.check(&a, &s, Ring::Sandbox, 11, ms(0))
            .unwrap_err()
            .to_string(),
        "cost 11 exceeds the burst 10 of ring 3; it can never be admitted"
    );
    assert_eq!(
        l.check(&a, &s, Ring::Sandbox, 7, ms(0)).unwrap().remaining,
        3
    );
    let RateLimitError::Limited(r) = l.check(&a, &s, Ring::Sandbox, 4, ms(0)).unwrap_err() else {
        panic!()
    };
    assert_eq!(r.retry_after, Duration::from_millis(200));
}

#[test]
fn policies_are_validated() {
    assert_eq!(
        RatePolicy::new(0, 5).unwrap_err().to_string(),
        "rate policy needs 1 ≤ rate ≤ 1000000 and 1 ≤ burst ≤ 1000000, got rate 0 and burst 5"
    );
    assert!(serde_json::from_str::<RatePolicy>(r#"{"rate_per_sec":5,"burst":0}"#).is_err());
    let p: RatePolicy = serde_json::from_str(r#"{"rate_per_sec":3,"burst":2}"#).unwrap();
    assert_eq!((p.rate_per_sec(), p.burst()), (3, 2));
}

#[test]
fn key_space_is_bounded_evicting_the_fullest_bucket() {
    let mut l = RateLimiter::default().with_max_keys(2);
    let s = sid("s");
    assert_eq!(admitted(&mut l, &did("busy"), &s, Ring::Sandbox, ms(0)), 10);
    l.check(&did("idle"), &s, Ring::Sandbox, 1, ms(0)).unwrap();
    l.check(&did("new"), &s, Ring::Sandbox, 1, ms(0)).unwrap();
    assert_eq!(l.tracked(), 2);
    // The idle key (smallest TAT) went; the exhausted one is still limited.
    assert!(l.stats(&did("idle"), &s, ms(0)).is_none());
    assert!(l.check(&did("busy"), &s, Ring::Sandbox, 1, ms(0)).is_err());
}

#[test]
fn prune_drops_full_buckets() {
    let mut l = RateLimiter::default();
    let s = sid("s");
    l.check(&did("a"), &s, Ring::Sandbox, 1, ms(0)).unwrap();
    l.check(&did("b"), &s, Ring::Sandbox, 5, ms(0)).unwrap();
    assert_eq!(l.prune(ms(200)), 1);
    assert_eq!(l.prune(ms(1000)), 1);
    assert_eq!(l.tracked(), 0);
}

#[test]
fn round_trips_through_json() {
    let mut l = RateLimiter::default();
    let (a, s) = (did("did:mesh:a"), sid("s"));
    admitted(&mut l, &a, &s, Ring::Sandbox, ms(0));
    let mut back: RateLimiter = serde_json::from_str(&serde_json::to_string(&l).unwrap()).unwrap();
    assert!(back.check(&a, &s, Ring::Sandbox, 1, ms(0)).is_err());
}

proptest::proptest! {
    #[test]
    fn never_admits_more_than_burst_plus_refill(
        gaps in proptest::collection::vec(0u64..500, 1..200), ring in 0i64..4
    ) {
        let ring = Ring::from_number(ring).unwrap();
        let policy = RingPolicies::default().for_ring(ring);
        let mut l = RateLimiter::default();
        let (a, s) = (did("a"), sid("s"));
        let mut t = 0;
        let mut ok = 0u64;
        for g in gaps {
            t += g;
            if l.check(&a, &s, ring, 1, ms(t)).is_ok() { ok += 1; }
        }
        let bound = u64::from(policy.burst()) + t * u64::from(policy.rate_per_sec()) / 1000;
        proptest::prop_assert!(ok <= bound, "{ok} > {bound}");
    }
}
