//! Tests of the lock table: each denial with its reason, deadlocks, TTLs, FIFO grants, and a
//! property test that incompatible locks of different agents are never held together.

use std::time::Duration;

use proptest::prelude::*;

use super::graph::has_cycle;
use super::*;
use crate::id::{AgentDid, IdGen, RecordId, StepId};
use crate::time::Timestamp;

use LockIntent::{Exclusive, Read, Write};

fn did(s: &str) -> AgentDid {
    AgentDid::new(s).unwrap()
}

fn t(s: u64) -> Timestamp {
    Timestamp::from_secs(s)
}

struct Fixture {
    table: LockTable,
    ids: IdGen,
}

impl Fixture {
    fn new() -> Self {
        Fixture {
            table: LockTable::new(),
            ids: IdGen::new([1; 16]),
        }
    }

    fn try_lock(
        &mut self,
        agent: &str,
        path: &str,
        intent: LockIntent,
        now: u64,
    ) -> Result<Acquire, LockError> {
        self.table.acquire(
            &mut self.ids,
            LockRequest::new(did(agent), path, intent),
            t(now),
        )
    }

    fn lock(&mut self, agent: &str, path: &str, intent: LockIntent, now: u64) -> Lock {
        match self.try_lock(agent, path, intent, now).unwrap() {
            Acquire::Granted(l) => l,
            Acquire::Queued(q) => panic!("expected a grant, got queued {q:?}"),
        }
    }

    fn wait(
        &mut self,
        agent: &str,
        path: &str,
        intent: LockIntent,
        now: u64,
    ) -> Result<Acquire, LockError> {
        self.table.acquire(
            &mut self.ids,
            LockRequest::new(did(agent), path, intent).wait(),
            t(now),
        )
    }

    fn queue(&mut self, agent: &str, path: &str, intent: LockIntent, now: u64) -> WaitTicket {
        match self.wait(agent, path, intent, now).unwrap() {
            Acquire::Queued(q) => q,
            Acquire::Granted(l) => panic!("expected to queue, got granted {l:?}"),
        }
    }
}

#[test]
fn contention_is_refused_with_the_holders_named() {
    let mut f = Fixture::new();
    let l = f.lock("did:a", "/x", Write, 0);
    assert!(l.lock_id.as_str().starts_with("lock:"));
    assert_eq!(l.lock_id.as_str().len(), "lock:".len() + 16);
    f.lock("did:c", "/y", Read, 0);
    let err = f.try_lock("did:b", "/x", Read, 0).unwrap_err();
    assert_eq!(
        err.to_string(),
        "lock contention on `/x`: `did:b` (read) conflicts with `did:a`"
    );
    assert_eq!(f.table.waiting_count(), 0, "a try-lock never queues");
    f.lock("did:d", "/y", Read, 0);
    let err = f.try_lock("did:b", "/y", Exclusive, 0).unwrap_err();
    assert_eq!(
        err.to_string(),
        "lock contention on `/y`: `did:b` (exclusive) conflicts with `did:c`, `did:d`"
    );
}

#[test]
fn readers_share_and_other_pairs_conflict() {
    for held in LockIntent::ALL {
        for wanted in LockIntent::ALL {
            let mut f = Fixture::new();
            f.lock("did:a", "/x", held, 0);
            let got = f.try_lock("did:b", "/x", wanted, 0);
            assert_eq!(
                got.is_ok(),
                held.compatible_with(wanted),
                "{held} then {wanted}"
            );
        }
    }
}

#[test]
fn same_agent_may_stack_any_locks() {
    let mut f = Fixture::new();
    f.lock("did:a", "/x", Read, 0);
    f.lock("did:a", "/x", Write, 0);
    f.lock("did:a", "/x", Exclusive, 0);
    f.lock("did:a", "/x/y", Exclusive, 0);
    assert_eq!(f.table.locks_of(&did("did:a")).len(), 4);
    assert_eq!(f.table.holders("/x").len(), 3);
    assert!(f.try_lock("did:b", "/x", Read, 0).is_err());
}

#[test]
fn locks_cover_subtrees_by_whole_segments() {
    let mut f = Fixture::new();
    f.lock("did:a", "/a", Write, 0);
    let err = f.try_lock("did:b", "/a/b/c", Read, 0).unwrap_err();
    assert!(matches!(err, LockError::Contention { .. }));
    f.lock("did:b", "/ab", Write, 0);
    f.lock("did:b", "/b/a", Write, 0);
    let err = f.try_lock("did:c", "/", Read, 0).unwrap_err();
    let LockError::Contention { holders, .. } = err else {
        panic!("expected contention")
    };
    assert_eq!(holders, vec![did("did:a"), did("did:b")]);
    // Readers share a parent and its children.
    let mut f = Fixture::new();
    f.lock("did:a", "/a", Read, 0);
    f.lock("did:b", "/a/b", Read, 0);
    assert!(f.try_lock("did:c", "/a/b", Write, 0).is_err());
    assert!(
        f.try_lock("did:c", "/a/c", Write, 0).is_err(),
        "/a is read-locked"
    );
}

#[test]
fn two_agent_deadlock_is_refused_unlike_reference() {
    let mut f = Fixture::new();
    f.lock("did:a", "/x", Write, 0);
    f.lock("did:b", "/y", Write, 0);
    f.queue("did:a", "/y", Write, 1);
    let err = f.wait("did:b", "/x", Write, 2).unwrap_err();
    assert_eq!(
        err,
        LockError::Deadlock {
            cycle: vec![did("did:b"), did("did:a")]
        }
    );
    assert_eq!(
        err.to_string(),
        "deadlock: waiting would close the cycle `did:b` -> `did:a` -> `did:b`; nothing was queued"
    );
    assert_eq!(
        f.table.waiting_count(),
        1,
        "the refused request was not queued"
    );
    let edges = f.table.wait_for_edges();
    assert_eq!(edges.len(), 1);
    assert!(edges[&did("did:a")].contains(&did("did:b")));
}

#[test]
fn three_cycle_is_refused_unlike_reference() {
    let mut f = Fixture::new();
    f.lock("did:a", "/x", Write, 0);
    f.lock("did:b", "/y", Write, 0);
    f.lock("did:c", "/z", Write, 0);
    f.queue("did:a", "/y", Write, 1);
    f.queue("did:b", "/z", Read, 1);
    let err = f.wait("did:c", "/x", Exclusive, 2).unwrap_err();
    assert_eq!(
        err,
        LockError::Deadlock {
            cycle: vec![did("did:c"), did("did:a"), did("did:b")]
        }
    );
    // A diamond is not a cycle: d waits on a and c, both of which wait (indirectly) on b/c.
    f.queue("did:d", "/x", Read, 3);
    assert!(!has_cycle(&f.table.wait_for_edges()));
}

#[test]
fn waiting_behind_a_queued_request_counts_in_the_wait_for_graph() {
    let mut f = Fixture::new();
    f.lock("did:a", "/x", Write, 0);
    f.lock("did:c", "/y", Write, 0);
    f.queue("did:b", "/x", Write, 1); // b -> a
    // c waits behind b's queued request on /x, then b asks for c's /y: b -> c -> b.
    f.queue("did:c", "/x", Read, 2);
    let err = f.wait("did:b", "/y", Write, 3).unwrap_err();
    assert!(matches!(err, LockError::Deadlock { .. }), "{err}");
}

#[test]
fn upgrade_past_a_queued_writer_is_a_deadlock() {
    let mut f = Fixture::new();
    f.lock("did:a", "/x", Read, 0);
    f.queue("did:b", "/x", Write, 1);
    let err = f.wait("did:a", "/x", Write, 2).unwrap_err();
    assert_eq!(
        err,
        LockError::Deadlock {
            cycle: vec![did("did:a"), did("did:b")]
        }
    );
    // Without a queued writer the upgrade is immediate.
    let mut f = Fixture::new();
    f.lock("did:a", "/x", Read, 0);
    f.lock("did:a", "/x", Write, 0);
}

#[test]
fn queued_writer_is_not_starved_by_new_readers() {
    let mut f = Fixture::new();
    f.lock("did:a", "/x", Read, 0);
    f.queue("did:w", "/x", Write, 1);
    let err = f.try_lock("did:r", "/x", Read, 2).unwrap_err();
    assert_eq!(
        err.to_string(),
        "lock contention on `/x`: `did:r` (read) conflicts with `did:w`"
    );
    // An unrelated path is unaffected.
    f.lock("did:r", "/other", Read, 2);
}

#[test]
fn release_grants_waiters_first_come_first_served() {
    let mut f = Fixture::new();
    let a = f.lock("did:a", "/x", Write, 0);
    let b = f.queue("did:b", "/x", Write, 1);
    let c = f.queue("did:c", "/x", Write, 2);
    assert_eq!(f.table.ticket_status(&b.id), Some(TicketState::Waiting));
    let granted = f.table.release(&a.lock_id, t(10)).unwrap();
    assert_eq!(granted.len(), 1);
    let gb = &granted[0];
    assert_eq!(
        (gb.agent.as_str(), gb.lock_id.clone()),
        ("did:b", b.id.clone())
    );
    assert_eq!(gb.acquired_at, t(10));
    assert_eq!(gb.expires_at, t(10).plus(DEFAULT_LOCK_TTL));
    assert_eq!(
        f.table.ticket_status(&b.id),
        Some(TicketState::Granted(gb.clone()))
    );
    assert_eq!(f.table.ticket_status(&c.id), Some(TicketState::Waiting));
    assert_eq!(
        f.table.wait_for_edges()[&did("did:c")],
        [did("did:b")].into_iter().collect()
    );
    let granted = f.table.release(&b.id, t(11)).unwrap();
    assert_eq!(
        granted
            .iter()
            .map(|l| l.lock_id.clone())
            .collect::<Vec<_>>(),
        vec![c.id]
    );
    assert!(f.table.wait_for_edges().is_empty());
}

#[test]
fn release_grants_all_compatible_readers_in_order() {
    let mut f = Fixture::new();
    let a = f.lock("did:a", "/x", Exclusive, 0);
    f.queue("did:r1", "/x", Read, 1);
    f.queue("did:r2", "/x/y", Read, 2);
    f.queue("did:w", "/x", Write, 3);
    f.queue("did:r3", "/x", Read, 4);
    let granted = f.table.release(&a.lock_id, t(5)).unwrap();
    let who: Vec<&str> = granted.iter().map(|l| l.agent.as_str()).collect();
    assert_eq!(
        who,
        ["did:r1", "did:r2"],
        "r3 may not overtake the queued writer"
    );
    assert_eq!(f.table.waiting_count(), 2);
}

#[test]
fn release_of_unknown_lock_is_refused() {
    let mut f = Fixture::new();
    let id = RecordId::new("lock:nope").unwrap();
    assert_eq!(
        f.table.release(&id, t(0)).unwrap_err().to_string(),
        "no lock `lock:nope` is held in this session"
    );
    let l = f.lock("did:a", "/x", Write, 0);
    f.table.release(&l.lock_id, t(1)).unwrap();
    assert!(matches!(
        f.table.release(&l.lock_id, t(1)),
        Err(LockError::NotFound { .. })
    ));
}

#[test]
fn only_the_holder_may_release_as() {
    let mut f = Fixture::new();
    let l = f.lock("did:a", "/x", Write, 0);
    let err = f
        .table
        .release_as(&did("did:b"), &l.lock_id, t(1))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("lock `{}` is held by `did:a`, not `did:b`", l.lock_id)
    );
    f.table.release_as(&did("did:a"), &l.lock_id, t(1)).unwrap();
    assert_eq!(f.table.active_count(), 0);
}

#[test]
fn ttl_expiry_frees_a_path_even_before_purge() {
    let mut f = Fixture::new();
    let req = LockRequest::new(did("did:a"), "/x", Write).ttl(Duration::from_secs(10));
    let Acquire::Granted(a) = f.table.acquire(&mut f.ids, req, t(100)).unwrap() else {
        panic!("expected a grant")
    };
    assert_eq!(a.expires_at, t(110));
    assert_eq!(f.table.next_expiry(), Some(t(110)));
    assert!(f.try_lock("did:b", "/x", Write, 109).is_err());
    // At the deadline the expired lock no longer blocks, though it is not yet purged.
    f.lock("did:b", "/x", Write, 110);
    let (expired, granted) = f.table.expire(t(110));
    assert_eq!(expired, vec![a]);
    assert!(granted.is_empty());
    assert_eq!(f.table.active_count(), 1);
}

#[test]
fn expiry_grants_waiters() {
    let mut f = Fixture::new();
    let req = LockRequest::new(did("did:a"), "/x", Write).ttl(Duration::from_secs(10));
    f.table.acquire(&mut f.ids, req, t(0)).unwrap();
    let b = f.queue("did:b", "/x", Write, 1);
    let (expired, granted) = f.table.expire(t(9));
    assert!(expired.is_empty() && granted.is_empty());
    let (expired, granted) = f.table.expire(t(10));
    assert_eq!(expired.len(), 1);
    assert_eq!(granted.len(), 1);
    assert_eq!(granted[0].lock_id, b.id);
}

#[test]
fn a_lapsed_holder_leaves_no_stale_deadlock_edge() {
    let mut f = Fixture::new();
    let short = LockRequest::new(did("did:a"), "/x", Write).ttl(Duration::from_secs(5));
    f.table.acquire(&mut f.ids, short, t(0)).unwrap();
    f.lock("did:b", "/y", Write, 0);
    f.queue("did:b", "/x", Write, 1); // b -> a until a's lock lapses at 5
    // At 6, a's lock has lapsed: a waiting for b's /y is not a deadlock.
    f.queue("did:a", "/y", Write, 6);
    assert!(!has_cycle(&f.table.wait_for_edges()));
}

#[test]
fn ttl_is_validated() {
    let mut f = Fixture::new();
    let zero = LockRequest::new(did("did:a"), "/x", Write).ttl(Duration::ZERO);
    assert_eq!(
        f.table
            .acquire(&mut f.ids, zero, t(0))
            .unwrap_err()
            .to_string(),
        "lock ttl must be positive"
    );
    let long = LockRequest::new(did("did:a"), "/x", Write).ttl(Duration::from_secs(3601));
    assert_eq!(
        f.table
            .acquire(&mut f.ids, long, t(0))
            .unwrap_err()
            .to_string(),
        "lock ttl of 3601 s exceeds the maximum of 3600 s"
    );
    let max = LockRequest::new(did("did:a"), "/x", Write).ttl(MAX_LOCK_TTL);
    assert!(f.table.acquire(&mut f.ids, max, t(0)).is_ok());
}

#[test]
fn paths_are_validated() {
    let mut f = Fixture::new();
    assert_eq!(
        f.try_lock("did:a", "", Read, 0).unwrap_err(),
        LockError::EmptyPath
    );
    let long = format!("/{}", "x".repeat(MAX_PATH_LEN));
    assert!(matches!(
        f.try_lock("did:a", &long, Read, 0),
        Err(LockError::PathTooLong { .. })
    ));
}

#[test]
fn release_agent_frees_its_locks_cancels_its_waits_and_grants_others() {
    let mut f = Fixture::new();
    f.lock("did:a", "/x", Write, 0);
    f.lock("did:a", "/y", Read, 0);
    f.lock("did:b", "/z", Write, 0);
    let a_wait = f.queue("did:a", "/z", Write, 1);
    let c_wait = f.queue("did:c", "/x", Write, 2);
    let (released, granted) = f.table.release_agent(&did("did:a"), t(3));
    assert_eq!(released.len(), 2);
    assert_eq!(granted.len(), 1);
    assert_eq!(granted[0].lock_id, c_wait.id);
    assert_eq!(
        f.table.ticket_status(&a_wait.id),
        Some(TicketState::Cancelled)
    );
    assert!(f.table.locks_of(&did("did:a")).is_empty());
    assert!(f.table.wait_for_edges().is_empty());
}

#[test]
fn cancel_wait_removes_edges_and_unblocks_later_waiters() {
    let mut f = Fixture::new();
    f.lock("did:a", "/x", Read, 0);
    let w = f.queue("did:w", "/x", Write, 1);
    let r = f.queue("did:r", "/x", Read, 2); // behind the writer
    assert_eq!(f.table.wait_for_edges().len(), 2);
    let granted = f.table.cancel_wait(&w.id, t(3)).unwrap();
    assert_eq!(granted.len(), 1);
    assert_eq!(granted[0].lock_id, r.id);
    assert_eq!(f.table.ticket_status(&w.id), Some(TicketState::Cancelled));
    assert!(
        f.table.cancel_wait(&w.id, t(3)).is_none(),
        "already cancelled"
    );
    assert!(
        f.table.cancel_wait(&r.id, t(3)).is_none(),
        "already granted"
    );
    assert!(f.table.wait_for_edges().is_empty());
}

#[test]
fn release_all_empties_the_table() {
    let mut f = Fixture::new();
    f.lock("did:a", "/x", Write, 0);
    f.lock("did:b", "/y", Write, 0);
    let q = f.queue("did:b", "/x", Read, 1);
    let released = f.table.release_all(t(2));
    assert_eq!(released.len(), 2);
    assert_eq!(f.table.active_count(), 0);
    assert_eq!(f.table.waiting_count(), 0);
    assert_eq!(f.table.ticket_status(&q.id), Some(TicketState::Cancelled));
    assert_eq!(f.table.next_expiry(), None);
    f.lock("did:c", "/x", Exclusive, 3);
}

#[test]
fn contention_points_and_saga_steps() {
    let mut f = Fixture::new();
    f.lock("did:a", "/x", Read, 0);
    f.lock("did:b", "/x", Read, 0);
    f.lock("did:a", "/y", Write, 0);
    f.lock("did:a", "/y", Read, 0);
    f.lock("did:c", "/z", Write, 0);
    f.queue("did:d", "/z", Write, 0);
    assert_eq!(
        f.table.contention_points(),
        vec!["/x".to_string(), "/z".to_string()]
    );
    let step = StepId::new("step:1").unwrap();
    let req = LockRequest::new(did("did:e"), "/s", Write).saga_step(step.clone());
    let Acquire::Granted(l) = f.table.acquire(&mut f.ids, req, t(0)).unwrap() else {
        panic!("expected a grant")
    };
    assert_eq!(l.saga_step_id, Some(step));
}

#[test]
fn holds_checks_strength_subtree_and_ttl() {
    let mut f = Fixture::new();
    let req = LockRequest::new(did("did:a"), "/a", Write).ttl(Duration::from_secs(10));
    f.table.acquire(&mut f.ids, req, t(0)).unwrap();
    let a = did("did:a");
    assert!(f.table.holds(&a, "/a/b", Write, t(1)));
    assert!(f.table.holds(&a, "/a", Read, t(1)));
    assert!(!f.table.holds(&a, "/a", Exclusive, t(1)));
    assert!(!f.table.holds(&a, "/ab", Read, t(1)));
    assert!(!f.table.holds(&a, "/a", Write, t(10)), "expired");
    assert!(!f.table.holds(&did("did:b"), "/a", Read, t(1)));
}

#[test]
fn bounds_on_locks_waiters_and_remembered_tickets() {
    let limits = LockLimits {
        max_locks: 2,
        max_waiters: 1,
        max_resolved_tickets: 1,
    };
    let mut f = Fixture::new();
    f.table = LockTable::with_limits(limits);
    let a = f.lock("did:a", "/x", Write, 0);
    f.lock("did:a", "/y", Write, 0);
    assert_eq!(
        f.try_lock("did:a", "/z", Write, 0).unwrap_err().to_string(),
        "too many locks: a session holds at most 2 locks"
    );
    let w1 = f.queue("did:b", "/x", Write, 0);
    assert_eq!(
        f.wait("did:c", "/y", Write, 0).unwrap_err().to_string(),
        "too many waiters: a session queues at most 1 lock requests"
    );
    f.table.release(&a.lock_id, t(1)).unwrap();
    assert!(matches!(
        f.table.ticket_status(&w1.id),
        Some(TicketState::Granted(_))
    ));
    let w2 = f.queue("did:c", "/x", Write, 2);
    f.table.cancel_wait(&w2.id, t(3)).unwrap();
    assert_eq!(f.table.ticket_status(&w2.id), Some(TicketState::Cancelled));
    assert_eq!(
        f.table.ticket_status(&w1.id),
        None,
        "forgotten: only 1 is remembered"
    );
}

#[test]
fn a_full_table_keeps_waiters_queued_until_there_is_room() {
    let mut f = Fixture::new();
    f.table = LockTable::with_limits(LockLimits {
        max_locks: 1,
        ..LockLimits::default()
    });
    let a = f.lock("did:a", "/x", Write, 0);
    let b = f.queue("did:b", "/x", Write, 1);
    let granted = f.table.release(&a.lock_id, t(2)).unwrap();
    assert_eq!(granted[0].lock_id, b.id);
}

#[test]
fn table_round_trips_through_serde() {
    let mut f = Fixture::new();
    f.lock("did:a", "/x", Write, 0);
    let q = f.queue("did:b", "/x", Read, 1);
    f.queue("did:c", "/x", Write, 1);
    f.table.release_agent(&did("did:a"), t(2));
    let json = serde_json::to_string(&f.table).unwrap();
    let back: LockTable = serde_json::from_str(&json).unwrap();
    assert_eq!(back, f.table);
    let status = serde_json::to_value(f.table.ticket_status(&q.id).unwrap()).unwrap();
    assert_eq!(status["state"], "granted");
    assert_eq!(status["intent"], "read");
    let waiting = serde_json::to_value(TicketState::Waiting).unwrap();
    assert_eq!(waiting, serde_json::json!({"state": "waiting"}));
}

#[test]
fn same_calls_give_the_same_state() {
    let run = || {
        let mut f = Fixture::new();
        f.lock("did:a", "/x", Write, 0);
        f.queue("did:b", "/x", Read, 1);
        f.queue("did:c", "/x", Read, 1);
        f.table.release_agent(&did("did:a"), t(2));
        serde_json::to_string(&f.table).unwrap()
    };
    assert_eq!(run(), run());
}

// ---- property test -------------------------------------------------------------------------

#[derive(Clone, Debug)]
enum Op {
    Acquire {
        agent: usize,
        path: usize,
        intent: LockIntent,
        wait: bool,
        ttl: u64,
    },
    Release(usize),
    Cancel(usize),
    ReleaseAgent(usize),
    Expire,
    Tick(u64),
}

const AGENTS: [&str; 4] = ["did:a", "did:b", "did:c", "did:d"];
const PATHS: [&str; 5] = ["/", "/a", "/a/b", "/ab", "/c"];

fn arb_op() -> impl Strategy<Value = Op> {
    let intent = prop_oneof![Just(Read), Just(Write), Just(Exclusive)];
    prop_oneof![
        5 => (0..AGENTS.len(), 0..PATHS.len(), intent, any::<bool>(), 1u64..30).prop_map(
            |(agent, path, intent, wait, ttl)| Op::Acquire { agent, path, intent, wait, ttl }
        ),
        2 => (0usize..16).prop_map(Op::Release),
        1 => (0usize..16).prop_map(Op::Cancel),
        1 => (0..AGENTS.len()).prop_map(Op::ReleaseAgent),
        1 => Just(Op::Expire),
        2 => (1u64..10).prop_map(Op::Tick),
    ]
}

/// No two live locks of different agents on overlapping paths have incompatible intents.
fn assert_safe(table: &LockTable, now: Timestamp) -> Result<(), TestCaseError> {
    let live: Vec<Lock> = AGENTS
        .iter()
        .flat_map(|a| table.locks_of(&did(a)))
        .filter(|l| !l.is_expired(now))
        .cloned()
        .collect();
    for x in &live {
        for y in &live {
            if x.agent != y.agent && super::path::overlaps(&x.path, &y.path) {
                prop_assert!(
                    x.intent.compatible_with(y.intent),
                    "{x:?} and {y:?} are both held"
                );
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn incompatible_locks_are_never_held_together(ops in proptest::collection::vec(arb_op(), 1..60)) {
        let mut table = LockTable::new();
        let mut ids = IdGen::new([9; 16]);
        let mut now = Timestamp::ZERO;
        let mut seen: Vec<RecordId> = Vec::new();
        for op in ops {
            match op {
                Op::Acquire { agent, path, intent, wait, ttl } => {
                    let mut req = LockRequest::new(did(AGENTS[agent]), PATHS[path], intent)
                        .ttl(Duration::from_secs(ttl));
                    if wait {
                        req = req.wait();
                    }
                    match table.acquire(&mut ids, req, now) {
                        Ok(Acquire::Granted(l)) => seen.push(l.lock_id),
                        Ok(Acquire::Queued(q)) => seen.push(q.id),
                        Err(LockError::Contention { .. } | LockError::Deadlock { .. }) => {}
                        Err(e) => prop_assert!(false, "unexpected error {e}"),
                    }
                }
                Op::Release(i) => {
                    if let Some(id) = seen.get(i) {
                        let _ = table.release(id, now);
                    }
                }
                Op::Cancel(i) => {
                    if let Some(id) = seen.get(i) {
                        let _ = table.cancel_wait(id, now);
                    }
                }
                Op::ReleaseAgent(a) => {
                    table.release_agent(&did(AGENTS[a]), now);
                }
                Op::Expire => {
                    table.expire(now);
                }
                Op::Tick(s) => now = now.plus(Duration::from_secs(s)),
            }
            assert_safe(&table, now)?;
            prop_assert!(!has_cycle(&table.wait_for_edges()), "wait-for graph has a cycle");
            // After expiry runs, nobody waits for nothing: every waiter is blocked by someone.
            let mut probe = table.clone();
            probe.expire(now);
            let edges = probe.wait_for_edges();
            for w in probe.waiting() {
                prop_assert!(edges.contains_key(&w.agent), "{w:?} waits for no one");
            }
        }
    }
}
