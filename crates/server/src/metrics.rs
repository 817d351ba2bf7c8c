//! Prometheus text metrics, hand-written (no metrics crate): HTTP requests by route and status
//! with latency sums, command latency around `execute`, governance decisions by outcome and
//! reason, sessions by state, participants by ring, sagas by state, audit appends and events.
//!
//! Request counters sit on the hot path of every request, so they take no global lock: each
//! route endpoint owns a [`RouteSlot`] (created when the router is built) whose entries are
//! atomics found under a per-slot read lock; only the first request with a new
//! (method, status) pair for that endpoint takes the slot's write lock.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use ahv_core::engine::Engine;
use axum::extract::MatchedPath;
use axum::http::Method;

/// One (method, route template, status) counter.
#[derive(Debug)]
struct Entry {
    method: Method,
    /// `None` for requests that matched no route.
    route: Option<MatchedPath>,
    status: u16,
    count: AtomicU64,
    nanos: AtomicU64,
}

impl Entry {
    fn is(&self, method: &Method, route: Option<&MatchedPath>, status: u16) -> bool {
        self.status == status
            && self.method == *method
            && self.route.as_ref().map(MatchedPath::as_str) == route.map(MatchedPath::as_str)
    }

    fn add(&self, took: Duration) {
        self.count.fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        self.nanos.fetch_add(nanos, Ordering::Relaxed);
    }
}

/// The request counters of one route endpoint (or of unmatched requests).
#[derive(Debug, Default)]
pub(crate) struct RouteSlot {
    entries: RwLock<Vec<Entry>>,
}

impl RouteSlot {
    /// Counts one answered request.
    pub(crate) fn observe(
        &self,
        method: &Method,
        route: Option<&MatchedPath>,
        status: u16,
        took: Duration,
    ) {
        if let Ok(entries) = self.entries.read()
            && let Some(e) = entries.iter().find(|e| e.is(method, route, status))
        {
            e.add(took);
            return;
        }
        if let Ok(mut entries) = self.entries.write() {
            if let Some(e) = entries.iter().find(|e| e.is(method, route, status)) {
                e.add(took);
                return;
            }
            let e = Entry {
                method: method.clone(),
                route: route.cloned(),
                status,
                count: AtomicU64::new(0),
                nanos: AtomicU64::new(0),
            };
            e.add(took);
            entries.push(e);
        }
    }
}

/// (method, route template, status) → (count, latency sum in seconds).
type RequestTable = BTreeMap<(String, String, u16), (u64, f64)>;

/// Request and command counters kept by the server.
#[derive(Debug, Default)]
pub struct Metrics {
    // One slot per route endpoint (the fallback's counts unmatched requests). Bounded by the
    // number of routes × methods × statuses (routes are templates, never raw paths).
    slots: Mutex<Vec<Arc<RouteSlot>>>,
    commands: Mutex<(u64, f64)>,
}

impl Metrics {
    /// A new slot for one route endpoint (called while the router is built).
    pub(crate) fn new_slot(&self) -> Arc<RouteSlot> {
        let slot = Arc::new(RouteSlot::default());
        if let Ok(mut slots) = self.slots.lock() {
            slots.push(slot.clone());
        }
        slot
    }

    /// Every request counter, summed over slots.
    fn requests(&self) -> RequestTable {
        let mut table = RequestTable::new();
        let slots: Vec<Arc<RouteSlot>> = self.slots.lock().map(|s| s.clone()).unwrap_or_default();
        for slot in slots {
            let Ok(entries) = slot.entries.read() else {
                continue;
            };
            for e in entries.iter() {
                let route = e
                    .route
                    .as_ref()
                    .map_or("unmatched", MatchedPath::as_str)
                    .to_string();
                let v = table
                    .entry((e.method.as_str().to_string(), route, e.status))
                    .or_insert((0, 0.0));
                v.0 += e.count.load(Ordering::Relaxed);
                v.1 += Duration::from_nanos(e.nanos.load(Ordering::Relaxed)).as_secs_f64();
            }
        }
        table
    }

    pub(crate) fn observe_command(&self, took: Duration) {
        if let Ok(mut m) = self.commands.lock() {
            m.0 += 1;
            m.1 += took.as_secs_f64();
        }
    }

    /// Renders everything in the Prometheus text exposition format.
    pub fn render(&self, engine: &Engine, events_total: u64) -> String {
        let mut out = String::new();
        let mut line = |s: String| {
            out.push_str(&s);
            out.push('\n');
        };
        line("# HELP ahv_http_requests_total HTTP requests by method, route and status.".into());
        line("# TYPE ahv_http_requests_total counter".into());
        let reqs = self.requests();
        for ((m, r, s), (n, _)) in &reqs {
            line(format!(
                "ahv_http_requests_total{{method=\"{m}\",route=\"{}\",status=\"{s}\"}} {n}",
                esc(r)
            ));
        }
        line("# HELP ahv_http_request_seconds_sum Total time spent answering, by method, route and status.".into());
        line("# TYPE ahv_http_request_seconds_sum counter".into());
        for ((m, r, s), (_, t)) in &reqs {
            line(format!(
                "ahv_http_request_seconds_sum{{method=\"{m}\",route=\"{}\",status=\"{s}\"}} {t}",
                esc(r)
            ));
        }
        let (cn, ct) = self.commands.lock().map(|c| *c).unwrap_or_default();
        line("# HELP ahv_command_seconds Time from submitting a command to its durable acknowledgement.".into());
        line("# TYPE ahv_command_seconds summary".into());
        line(format!("ahv_command_seconds_count {cn}"));
        line(format!("ahv_command_seconds_sum {ct}"));
        let c = engine.counters();
        line("# HELP ahv_decisions_total Governed decisions by outcome and reason code.".into());
        line("# TYPE ahv_decisions_total counter".into());
        line(format!(
            "ahv_decisions_total{{outcome=\"allowed\",reason=\"\"}} {}",
            c.allowed
        ));
        for (code, n) in &c.denied {
            line(format!(
                "ahv_decisions_total{{outcome=\"denied\",reason=\"{}\"}} {n}",
                esc(code)
            ));
        }
        line("# HELP ahv_audit_appends_total Audit entries appended over all logs.".into());
        line("# TYPE ahv_audit_appends_total counter".into());
        line(format!("ahv_audit_appends_total {}", c.audit_appends));
        let hv_log = engine.hypervisor_log();
        line("# HELP ahv_audit_hypervisor_log_entries Entries in the hypervisor log (one per terminated session and configuration change).".into());
        line("# TYPE ahv_audit_hypervisor_log_entries gauge".into());
        line(format!("ahv_audit_hypervisor_log_entries {}", hv_log.len()));
        line("# HELP ahv_audit_hypervisor_log_capacity Entries the hypervisor log accepts before new sessions are refused (max_hypervisor_log_leaves).".into());
        line("# TYPE ahv_audit_hypervisor_log_capacity gauge".into());
        line(format!(
            "ahv_audit_hypervisor_log_capacity {}",
            hv_log.capacity()
        ));
        line("# HELP ahv_commands_total Commands applied by the engine.".into());
        line("# TYPE ahv_commands_total counter".into());
        line(format!("ahv_commands_total {}", c.commands));
        line("# HELP ahv_events_total Events published.".into());
        line("# TYPE ahv_events_total counter".into());
        line(format!("ahv_events_total {events_total}"));
        let mut by_state: BTreeMap<&'static str, u64> = BTreeMap::new();
        let mut by_ring: BTreeMap<&'static str, u64> = BTreeMap::new();
        for sid in engine.session_ids(None) {
            if let Ok(slot) = engine.books().slot(&sid) {
                *by_state.entry(slot.session.state().as_str()).or_default() += 1;
                for p in slot.session.active_participants() {
                    *by_ring.entry(p.ring.name()).or_default() += 1;
                }
            }
        }
        line("# HELP ahv_sessions Sessions by state.".into());
        line("# TYPE ahv_sessions gauge".into());
        for (s, n) in by_state {
            line(format!("ahv_sessions{{state=\"{s}\"}} {n}"));
        }
        line("# HELP ahv_participants Active participants by ring.".into());
        line("# TYPE ahv_participants gauge".into());
        for (r, n) in by_ring {
            line(format!("ahv_participants{{ring=\"{r}\"}} {n}"));
        }
        let mut sagas: BTreeMap<String, u64> = BTreeMap::new();
        for id in engine.saga_ids(None, None) {
            if let Ok(v) = engine.saga_view(&id) {
                let st = serde_json::to_value(v.state)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default();
                *sagas.entry(st).or_default() += 1;
            }
        }
        line("# HELP ahv_sagas Sagas by state.".into());
        line("# TYPE ahv_sagas gauge".into());
        for (s, n) in sagas {
            line(format!("ahv_sagas{{state=\"{s}\"}} {n}"));
        }
        out
    }
}

/// Escapes a label value.
fn esc(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
