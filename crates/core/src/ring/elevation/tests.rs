//! Tests of the elevation book: approval, denials with reasons, expiry, bounds.

use super::*;

fn did(s: &str) -> AgentDid {
    AgentDid::new(s).unwrap()
}
fn sid(s: &str) -> SessionId {
    SessionId::new(s).unwrap()
}
fn t(s: u64) -> Timestamp {
    Timestamp::from_secs(s)
}
fn ids() -> IdGen {
    IdGen::new([1; 16])
}

fn req(
    b: &mut ElevationBook,
    g: &mut IdGen,
    a: &str,
    cur: Ring,
    tgt: Ring,
    ttl: Option<u64>,
    now: u64,
) -> Result<Elevation, ElevationError> {
    b.request(
        g,
        did(a),
        sid("s1"),
        cur,
        tgt,
        ttl.map(Duration::from_secs),
        "deploy".into(),
        t(now),
    )
}

#[test]
fn request_is_pending_and_grants_nothing_until_approved_unlike_reference() {
    let (mut b, mut g) = (ElevationBook::new(), ids());
    let e = req(
        &mut b,
        &mut g,
        "a",
        Ring::Sandbox,
        Ring::Privileged,
        Some(60),
        0,
    )
    .unwrap();
    assert!(e.elevation_id.as_str().starts_with("elev:"));
    assert_eq!(e.status, ElevationStatus::Pending);
    assert_eq!(
        b.effective_ring(&did("a"), &sid("s1"), Ring::Sandbox, t(1)),
        Ring::Sandbox
    );
    let e = b.approve(&e.elevation_id, Approver::Admin, t(10)).unwrap();
    assert_eq!(e.status, ElevationStatus::Active);
    assert_eq!(e.granted_at, Some(t(10)));
    // TTL starts at approval.
    assert_eq!(e.expires_at, Some(t(70)));
    assert_eq!(e.remaining(t(20)), Duration::from_secs(50));
    assert_eq!(
        b.effective_ring(&did("a"), &sid("s1"), Ring::Sandbox, t(69)),
        Ring::Privileged
    );
    assert_eq!(
        b.effective_ring(&did("a"), &sid("s1"), Ring::Sandbox, t(70)),
        Ring::Sandbox
    );
    // Other sessions are unaffected.
    assert_eq!(
        b.effective_ring(&did("a"), &sid("s2"), Ring::Sandbox, t(20)),
        Ring::Sandbox
    );
}

#[test]
fn effective_ring_never_lowers_base() {
    let (mut b, mut g) = (ElevationBook::new(), ids());
    let e = req(&mut b, &mut g, "a", Ring::Sandbox, Ring::Standard, None, 0).unwrap();
    b.approve(&e.elevation_id, Approver::Admin, t(0)).unwrap();
    // The agent was promoted to ring 1 meanwhile; the ring-2 elevation does not lower it.
    assert_eq!(
        b.effective_ring(&did("a"), &sid("s1"), Ring::Privileged, t(1)),
        Ring::Privileged
    );
}

#[test]
fn request_denials_have_reasons() {
    let (mut b, mut g) = (ElevationBook::new(), ids());
    let e = req(&mut b, &mut g, "a", Ring::Standard, Ring::Sandbox, None, 0).unwrap_err();
    assert_eq!(
        e.to_string(),
        "target ring 3 is not more privileged than current ring 2"
    );
    let e = req(&mut b, &mut g, "a", Ring::Standard, Ring::Standard, None, 0).unwrap_err();
    assert_eq!(
        e.to_string(),
        "target ring 2 is not more privileged than current ring 2"
    );
    let e = req(&mut b, &mut g, "a", Ring::Standard, Ring::Root, None, 0).unwrap_err();
    assert_eq!(
        e.to_string(),
        "ring 0 elevation not available — requires an admin witness"
    );
    let e = b
        .request(
            &mut g,
            did("a"),
            sid("s1"),
            Ring::Sandbox,
            Ring::Standard,
            None,
            "x".repeat(2000),
            t(0),
        )
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "elevation reason is 2000 bytes long; the limit is 1024"
    );
}

#[test]
fn one_open_elevation_per_agent_and_session() {
    let (mut b, mut g) = (ElevationBook::new(), ids());
    let first = req(&mut b, &mut g, "a", Ring::Sandbox, Ring::Standard, None, 0).unwrap();
    let e = req(
        &mut b,
        &mut g,
        "a",
        Ring::Sandbox,
        Ring::Privileged,
        None,
        1,
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "agent `a` already has a pending elevation to ring 2 in this session"
    );
    b.approve(&first.elevation_id, Approver::Admin, t(1))
        .unwrap();
    let e = req(
        &mut b,
        &mut g,
        "a",
        Ring::Sandbox,
        Ring::Privileged,
        None,
        2,
    )
    .unwrap_err();
    assert!(matches!(
        e,
        ElevationError::AlreadyOpen {
            status: ElevationStatus::Active,
            ..
        }
    ));
    // A different session is independent.
    b.request(
        &mut g,
        did("a"),
        sid("s2"),
        Ring::Sandbox,
        Ring::Standard,
        None,
        String::new(),
        t(2),
    )
    .unwrap();
    // After expiry (even before `expire` runs) a new request is accepted.
    let again = req(
        &mut b,
        &mut g,
        "a",
        Ring::Sandbox,
        Ring::Privileged,
        None,
        301,
    )
    .unwrap();
    assert_eq!(
        b.get(&first.elevation_id).unwrap().status,
        ElevationStatus::Expired
    );
    assert_eq!(again.status, ElevationStatus::Pending);
    assert_eq!(b.open_count(), 2);
}

#[test]
fn ttl_defaults_and_is_capped_not_refused() {
    let (mut b, mut g) = (ElevationBook::new(), ids());
    let e = req(&mut b, &mut g, "a", Ring::Sandbox, Ring::Standard, None, 0).unwrap();
    assert_eq!(e.ttl, Duration::from_secs(300));
    let e = req(
        &mut b,
        &mut g,
        "b",
        Ring::Sandbox,
        Ring::Standard,
        Some(0),
        0,
    )
    .unwrap();
    assert_eq!(e.ttl, Duration::from_secs(300));
    let e = req(
        &mut b,
        &mut g,
        "c",
        Ring::Sandbox,
        Ring::Standard,
        Some(999_999),
        0,
    )
    .unwrap();
    assert_eq!(e.ttl, Duration::from_secs(3600));
    let e = b.approve(&e.elevation_id, Approver::Admin, t(5)).unwrap();
    assert_eq!(e.expires_at, Some(t(3605)));
}

#[test]
fn self_approval_is_refused() {
    let (mut b, mut g) = (ElevationBook::new(), ids());
    let e = req(
        &mut b,
        &mut g,
        "a",
        Ring::Standard,
        Ring::Privileged,
        None,
        0,
    )
    .unwrap();
    let err = b
        .approve(
            &e.elevation_id,
            Approver::Agent {
                did: did("a"),
                ring: Ring::Privileged,
            },
            t(1),
        )
        .unwrap_err();
    assert_eq!(err.to_string(), "self-approval is not allowed");
    assert_eq!(
        b.get(&e.elevation_id).unwrap().status,
        ElevationStatus::Pending
    );
}

#[test]
fn approver_must_hold_target_ring() {
    let (mut b, mut g) = (ElevationBook::new(), ids());
    let e = req(
        &mut b,
        &mut g,
        "a",
        Ring::Sandbox,
        Ring::Privileged,
        None,
        0,
    )
    .unwrap();
    let err = b
        .approve(
            &e.elevation_id,
            Approver::Agent {
                did: did("b"),
                ring: Ring::Standard,
            },
            t(1),
        )
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "approver `b` holds ring 2, which cannot grant ring 1"
    );
    let ok = b
        .approve(
            &e.elevation_id,
            Approver::Agent {
                did: did("b"),
                ring: Ring::Privileged,
            },
            t(1),
        )
        .unwrap();
    assert_eq!(
        ok.approved_by,
        Some(Approver::Agent {
            did: did("b"),
            ring: Ring::Privileged
        })
    );
    let err = b
        .approve(&e.elevation_id, Approver::Admin, t(2))
        .unwrap_err();
    assert!(err.to_string().ends_with("is active, not pending"));
}

#[test]
fn deny_and_withdraw() {
    let (mut b, mut g) = (ElevationBook::new(), ids());
    let e = req(&mut b, &mut g, "a", Ring::Sandbox, Ring::Standard, None, 0).unwrap();
    let err = b
        .deny(
            &e.elevation_id,
            Approver::Agent {
                did: did("c"),
                ring: Ring::Sandbox,
            },
            t(1),
        )
        .unwrap_err();
    assert!(matches!(err, ElevationError::ApproverTooLow { .. }));
    // The requester may withdraw.
    let d = b
        .deny(
            &e.elevation_id,
            Approver::Agent {
                did: did("a"),
                ring: Ring::Sandbox,
            },
            t(1),
        )
        .unwrap();
    assert_eq!(d.status, ElevationStatus::Denied);
    assert!(b.open_for(&did("a"), &sid("s1")).is_none());
    let err = b
        .approve(&e.elevation_id, Approver::Admin, t(2))
        .unwrap_err();
    assert!(err.to_string().ends_with("is denied, not pending"));
}

#[test]
fn revoke_and_revoke_agent() {
    let (mut b, mut g) = (ElevationBook::new(), ids());
    let e = req(&mut b, &mut g, "a", Ring::Sandbox, Ring::Standard, None, 0).unwrap();
    b.approve(&e.elevation_id, Approver::Admin, t(0)).unwrap();
    let r = b.revoke(&e.elevation_id, t(1)).unwrap();
    assert_eq!(r.status, ElevationStatus::Revoked);
    assert!(b.active(&did("a"), &sid("s1"), t(1)).is_none());
    let err = b.revoke(&e.elevation_id, t(2)).unwrap_err();
    assert!(
        err.to_string()
            .contains("is revoked; only pending or active")
    );
    let unknown = RecordId::new("elev:nope").unwrap();
    assert_eq!(
        b.revoke(&unknown, t(2)).unwrap_err().to_string(),
        "elevation `elev:nope` not found"
    );

    for s in ["s1", "s2", "s3"] {
        b.request(
            &mut g,
            did("k"),
            sid(s),
            Ring::Sandbox,
            Ring::Standard,
            None,
            String::new(),
            t(3),
        )
        .unwrap();
    }
    req(
        &mut b,
        &mut g,
        "other",
        Ring::Sandbox,
        Ring::Standard,
        None,
        3,
    )
    .unwrap();
    let revoked = b.revoke_agent(&did("k"), t(4));
    assert_eq!(revoked.len(), 3);
    assert!(revoked.iter().all(|e| e.status == ElevationStatus::Revoked));
    assert_eq!(b.open_count(), 1);
}

#[test]
fn expire_returns_newly_expired_only() {
    let (mut b, mut g) = (ElevationBook::new(), ids());
    let e1 = req(
        &mut b,
        &mut g,
        "a",
        Ring::Sandbox,
        Ring::Standard,
        Some(10),
        0,
    )
    .unwrap();
    let e2 = req(
        &mut b,
        &mut g,
        "b",
        Ring::Sandbox,
        Ring::Standard,
        Some(100),
        0,
    )
    .unwrap();
    let _pending = req(
        &mut b,
        &mut g,
        "c",
        Ring::Sandbox,
        Ring::Standard,
        Some(100),
        0,
    )
    .unwrap();
    b.approve(&e1.elevation_id, Approver::Admin, t(0)).unwrap();
    b.approve(&e2.elevation_id, Approver::Admin, t(0)).unwrap();
    assert!(b.expire(t(9)).is_empty());
    let x = b.expire(t(10));
    assert_eq!(x.len(), 1);
    assert_eq!(x[0].elevation_id, e1.elevation_id);
    assert_eq!(x[0].status, ElevationStatus::Expired);
    assert!(b.expire(t(11)).is_empty());
    assert_eq!(b.expire(t(100))[0].agent, did("b"));
    // The unapproved request lapses after the pending timeout.
    assert!(b.expire(t(899)).is_empty());
    let x = b.expire(t(900));
    assert_eq!(x.len(), 1);
    assert_eq!(x[0].agent, did("c"));
    assert!(b.expire(t(10_000)).is_empty());
    assert_eq!(b.open_count(), 0);
    assert!(b.deadlines.is_empty());
}

#[test]
fn lapsed_request_cannot_be_approved() {
    let (mut b, mut g) = (ElevationBook::new(), ids());
    let e = req(&mut b, &mut g, "a", Ring::Sandbox, Ring::Standard, None, 0).unwrap();
    let err = b
        .approve(&e.elevation_id, Approver::Admin, t(900))
        .unwrap_err();
    assert!(err.to_string().ends_with("is expired, not pending"));
}

#[test]
fn list_filters() {
    let (mut b, mut g) = (ElevationBook::new(), ids());
    let e = req(&mut b, &mut g, "a", Ring::Sandbox, Ring::Standard, None, 0).unwrap();
    req(&mut b, &mut g, "b", Ring::Sandbox, Ring::Standard, None, 0).unwrap();
    b.approve(&e.elevation_id, Approver::Admin, t(0)).unwrap();
    let f = ElevationFilter {
        status: Some(ElevationStatus::Active),
        ..Default::default()
    };
    assert_eq!(b.list(&f).len(), 1);
    let f = ElevationFilter {
        agent: Some(did("b")),
        ..Default::default()
    };
    assert_eq!(b.list(&f)[0].status, ElevationStatus::Pending);
    assert_eq!(b.list(&ElevationFilter::default()).len(), 2);
}

#[test]
fn closed_history_is_bounded() {
    let (mut b, mut g) = (ElevationBook::new(), ids());
    let mut first = None;
    for i in 0..MAX_CLOSED_HISTORY + 3 {
        let e = req(&mut b, &mut g, "a", Ring::Sandbox, Ring::Standard, None, 0).unwrap();
        first.get_or_insert(e.elevation_id.clone());
        b.revoke(&e.elevation_id, t(i as u64)).unwrap();
    }
    assert_eq!(b.records.len(), MAX_CLOSED_HISTORY);
    assert!(b.get(&first.unwrap()).is_none());
}

#[test]
fn state_round_trips_through_json() {
    let (mut b, mut g) = (ElevationBook::new(), ids());
    let e = req(&mut b, &mut g, "a", Ring::Sandbox, Ring::Standard, None, 0).unwrap();
    b.approve(
        &e.elevation_id,
        Approver::Agent {
            did: did("z"),
            ring: Ring::Root,
        },
        t(0),
    )
    .unwrap();
    let json = serde_json::to_string(&b).unwrap();
    let back: ElevationBook = serde_json::from_str(&json).unwrap();
    assert_eq!(
        back.effective_ring(&did("a"), &sid("s1"), Ring::Sandbox, t(1)),
        Ring::Standard
    );
    assert_eq!(back.open_count(), 1);
}
