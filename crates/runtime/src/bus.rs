//! The event bus: every event the engine produces, numbered, retained (bounded) and fanned out.
//!
//! Delivery never blocks or fails the emitter: live subscribers read from a bounded broadcast
//! channel, and one that falls behind loses its place (it is told so) and can resume from the
//! retained history by sequence number — the same mechanism SSE clients use with
//! `Last-Event-ID`. The reference called subscribers synchronously inside `emit`, so one slow or
//! failing subscriber blocked or broke the emitter.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Mutex;

use ahv_core::event::{Event, EventType};
use ahv_core::id::{AgentDid, SessionId};
use serde::Serialize;
use tokio::sync::broadcast;

/// An event with its global sequence number.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StoredEvent {
    /// Global, gap-free sequence number (1-based). Also the SSE event id.
    pub seq: u64,
    /// Stable id derived from the sequence (`evt-{seq}`).
    pub event_id: String,
    /// The event itself.
    #[serde(flatten)]
    pub event: Event,
}

/// Which events a query or a subscriber wants.
#[derive(Clone, Debug, Default)]
pub struct EventFilter {
    /// Only this type.
    pub event_type: Option<EventType>,
    /// Only this session.
    pub session_id: Option<SessionId>,
    /// Only this agent.
    pub agent_did: Option<AgentDid>,
    /// Only events with a sequence number greater than this.
    pub after_seq: Option<u64>,
}

impl EventFilter {
    /// Whether `e` passes the filter.
    pub fn matches(&self, e: &StoredEvent) -> bool {
        self.event_type.is_none_or(|t| e.event.event_type == t)
            && self
                .session_id
                .as_ref()
                .is_none_or(|s| e.event.session_id.as_ref() == Some(s))
            && self
                .agent_did
                .as_ref()
                .is_none_or(|a| e.event.agent_did.as_ref() == Some(a))
            && self.after_seq.is_none_or(|n| e.seq > n)
    }
}

#[derive(Debug)]
struct Retained {
    next_seq: u64,
    events: VecDeque<StoredEvent>,
    by_type: BTreeMap<EventType, u64>,
    total: u64,
}

/// Bounded event history plus live fan-out.
#[derive(Debug)]
pub struct EventBus {
    retained: Mutex<Retained>,
    capacity: usize,
    live: broadcast::Sender<StoredEvent>,
}

impl EventBus {
    /// A bus that retains at most `capacity` events (oldest evicted first).
    pub fn new(capacity: usize) -> Self {
        let (live, _) = broadcast::channel(4096);
        EventBus {
            retained: Mutex::new(Retained {
                next_seq: 1,
                events: VecDeque::new(),
                by_type: BTreeMap::new(),
                total: 0,
            }),
            capacity: capacity.max(1),
            live,
        }
    }

    /// Sets the next sequence number (after recovery, so numbering continues).
    pub fn resume_from(&self, next_seq: u64) {
        if let Ok(mut r) = self.retained.lock() {
            r.next_seq = r.next_seq.max(next_seq);
        }
    }

    /// Sets the next sequence number back to `next_seq` (cluster mode: after a failed round
    /// numbered events that were never committed, the engine is rebuilt and numbering resumes
    /// where the durable log ends). Retained events are untouched: uncommitted ones were never
    /// published.
    pub(crate) fn rewind_to(&self, next_seq: u64) {
        if let Ok(mut r) = self.retained.lock() {
            r.next_seq = next_seq.max(1);
        }
    }

    /// Gives events their sequence numbers. The runtime calls it under the engine lock, so
    /// numbers follow the order in which commands were applied (and logged).
    pub fn number(&self, events: Vec<Event>) -> Vec<StoredEvent> {
        let Ok(mut r) = self.retained.lock() else {
            return Vec::new();
        };
        events
            .into_iter()
            .map(|event| {
                let seq = r.next_seq;
                r.next_seq += 1;
                StoredEvent {
                    seq,
                    event_id: format!("evt-{seq}"),
                    event,
                }
            })
            .collect()
    }

    /// Retains and broadcasts numbered events. Never blocks on subscribers.
    pub fn publish_numbered(&self, events: Vec<StoredEvent>) {
        if let Ok(mut r) = self.retained.lock() {
            for e in &events {
                r.total += 1;
                *r.by_type.entry(e.event.event_type).or_insert(0) += 1;
                // Commands finish out of order by a hair; keep the history sorted by sequence
                // by inserting from the back (O(distance), not a sort of the whole history,
                // which held this lock — and so `number` under the engine lock — for a
                // full pass over up to `capacity` events on every publish).
                let at = r
                    .events
                    .iter()
                    .rev()
                    .position(|x| x.seq < e.seq)
                    .map_or(0, |back| r.events.len() - back);
                r.events.insert(at, e.clone());
            }
            while r.events.len() > self.capacity {
                r.events.pop_front();
            }
        }
        // Nobody listening: skip the per-event send (and its clone into the channel ring).
        if self.live.receiver_count() == 0 {
            return;
        }
        for e in events {
            // No receivers is fine; lagging receivers are told by the channel.
            let _ = self.live.send(e);
        }
    }

    /// Numbers, retains and broadcasts events in one go.
    pub fn publish(&self, events: Vec<Event>) -> Vec<StoredEvent> {
        let numbered = self.number(events);
        self.publish_numbered(numbered.clone());
        numbered
    }

    /// Loads previously persisted events (after recovery) and continues numbering after them.
    pub fn restore(&self, events: Vec<StoredEvent>) {
        if let Some(last) = events.iter().map(|e| e.seq).max() {
            self.resume_from(last + 1);
        }
        self.publish_numbered(events);
    }

    /// A live subscription. Combine with [`EventBus::query`] (by `after_seq`) to resume.
    pub fn subscribe(&self) -> broadcast::Receiver<StoredEvent> {
        self.live.subscribe()
    }

    /// Retained events passing `filter`, oldest first, keeping at most the **last** `limit`.
    pub fn query(&self, filter: &EventFilter, limit: usize) -> Vec<StoredEvent> {
        self.query_where(filter, limit, |_| true)
    }

    /// Like [`EventBus::query`], keeping only events `keep` accepts. Events are tested before
    /// they are copied, so a caller who may see few of them (an agent) costs no copy of the
    /// others while the history is locked. `keep` must not lock the engine: publishing takes
    /// this lock too.
    pub fn query_where(
        &self,
        filter: &EventFilter,
        limit: usize,
        keep: impl Fn(&StoredEvent) -> bool,
    ) -> Vec<StoredEvent> {
        let Ok(r) = self.retained.lock() else {
            return Vec::new();
        };
        let mut out: Vec<StoredEvent> = r
            .events
            .iter()
            .rev()
            .filter(|e| filter.matches(e) && keep(e))
            .take(limit)
            .cloned()
            .collect();
        out.reverse();
        out
    }

    /// The distinct sessions of the retained events passing `filter` (to decide visibility
    /// once per session rather than once per event).
    pub fn sessions_in(&self, filter: &EventFilter) -> BTreeSet<SessionId> {
        let Ok(r) = self.retained.lock() else {
            return BTreeSet::new();
        };
        let mut out = BTreeSet::new();
        for e in r.events.iter().filter(|e| filter.matches(e)) {
            if let Some(s) = &e.event.session_id
                && !out.contains(s)
            {
                out.insert(s.clone());
            }
        }
        out
    }

    /// Total events ever published and the count per type.
    pub fn stats(&self) -> (u64, BTreeMap<EventType, u64>) {
        match self.retained.lock() {
            Ok(r) => (r.total, r.by_type.clone()),
            Err(_) => (0, BTreeMap::new()),
        }
    }

    /// Sequence number of the newest event (0 if none).
    pub fn last_seq(&self) -> u64 {
        self.retained
            .lock()
            .map(|r| r.next_seq.saturating_sub(1))
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use ahv_core::time::Timestamp;

    use super::*;

    fn ev(t: EventType) -> Event {
        Event::new(t, Timestamp::ZERO)
    }

    #[test]
    fn numbers_retains_and_bounds() {
        let bus = EventBus::new(3);
        bus.publish(vec![ev(EventType::SessionCreated); 5]);
        let all = bus.query(&EventFilter::default(), 100);
        assert_eq!(all.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![3, 4, 5]);
        assert_eq!(bus.stats().0, 5);
        assert_eq!(bus.query(&EventFilter::default(), 1)[0].seq, 5);
        let f = EventFilter {
            after_seq: Some(4),
            ..Default::default()
        };
        assert_eq!(bus.query(&f, 10).len(), 1);
    }

    #[test]
    fn out_of_order_publishes_stay_sorted() {
        let bus = EventBus::new(10);
        let n = bus.number(vec![ev(EventType::VfsWrite); 4]);
        bus.publish_numbered(vec![n[2].clone(), n[3].clone()]);
        bus.publish_numbered(vec![n[0].clone()]);
        bus.publish_numbered(vec![n[1].clone()]);
        let seqs: Vec<u64> = bus
            .query(&EventFilter::default(), 10)
            .iter()
            .map(|e| e.seq)
            .collect();
        assert_eq!(seqs, vec![1, 2, 3, 4]);
    }

    #[test]
    fn a_predicate_filters_before_the_limit_and_sessions_are_listed_once() {
        let bus = EventBus::new(10);
        let (a, b) = (
            SessionId::new("session:a").unwrap(),
            SessionId::new("session:b").unwrap(),
        );
        let mut events = Vec::new();
        for s in [&a, &b, &a, &b, &b] {
            events.push(ev(EventType::VfsWrite).session(s));
        }
        events.push(ev(EventType::VfsWrite));
        bus.publish(events);
        let sessions = bus.sessions_in(&EventFilter::default());
        assert_eq!(sessions.into_iter().collect::<Vec<_>>(), vec![a.clone(), b]);
        let only_a = bus.query_where(&EventFilter::default(), 1, |e| {
            e.event.session_id.as_ref() == Some(&a)
        });
        assert_eq!(only_a.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![3]);
    }

    #[tokio::test]
    async fn slow_subscriber_never_blocks_the_emitter() {
        let bus = EventBus::new(10);
        let mut rx = bus.subscribe();
        // Far more than the channel holds: publish must still return at once.
        for _ in 0..10_000 {
            bus.publish(vec![ev(EventType::VfsWrite)]);
        }
        assert!(matches!(
            rx.recv().await,
            Err(broadcast::error::RecvError::Lagged(_))
        ));
        assert_eq!(bus.last_seq(), 10_000);
    }
}
