//! Test harness: a [`World`] wraps an [`Engine`], applies commands with an explicit clock and a
//! fresh seed per command, and logs every `(actor, command, now, seed)` so any scenario can be
//! replayed on a fresh engine.

use std::collections::BTreeSet;

use crate::action::{ActionDescriptor, Reversibility};
use crate::audit::entry::{AuditEntry, Decision};
use crate::engine::reply::JoinOutcome;
use crate::engine::{
    ActOutcome, ActionRequest, Actor, Command, Ctx, DenyCode, Engine, EngineConfig, EngineError,
    LoggedCommand, Reply, Result,
};
use crate::event::{Event, EventType};
use crate::id::{ActionId, AgentDid, SagaId, SessionId, StepId};
use crate::locks::LockIntent;
use crate::ring::Ring;
use crate::saga::{SagaCommand, StepDefinition};
use crate::score::Score;
use crate::session::SessionConfig;
use crate::time::Timestamp;
use crate::vclock::IsolationLevel;

/// Start of every scenario's clock.
pub(super) const T0: Timestamp = Timestamp::from_secs(1_700_000_000);

/// An agent DID `did:mesh:{name}`.
pub(super) fn did(name: &str) -> AgentDid {
    AgentDid::new(format!("did:mesh:{name}")).unwrap()
}

/// A score.
pub(super) fn s(v: f64) -> Score {
    Score::new(v).unwrap()
}

/// An action id.
pub(super) fn aid(name: &str) -> ActionId {
    ActionId::new(name).unwrap()
}

/// A step id.
pub(super) fn stid(name: &str) -> StepId {
    StepId::new(name).unwrap()
}

/// The admin actor.
pub(super) fn admin() -> Actor {
    Actor::Admin
}

/// The system actor.
pub(super) fn system() -> Actor {
    Actor::System
}

/// An agent actor.
pub(super) fn agent(a: &AgentDid) -> Actor {
    Actor::Agent(a.clone())
}

/// An action of the given reversibility (ring 2 for full/partial, ring 1 for none).
pub(super) fn action(name: &str, rev: Reversibility) -> ActionDescriptor {
    let mut a = ActionDescriptor::new(aid(name));
    a.reversibility = rev;
    a.execute_api = format!("{name}.run");
    a
}

/// A read-only action (ring 3).
pub(super) fn read_action(name: &str) -> ActionDescriptor {
    let mut a = action(name, Reversibility::Full);
    a.is_read_only = true;
    a
}

/// An admin action (ring 0).
pub(super) fn admin_action(name: &str) -> ActionDescriptor {
    let mut a = action(name, Reversibility::Full);
    a.is_admin = true;
    a
}

/// A session config admitting any σ (so sandboxed agents can be admitted).
pub(super) fn open_config() -> SessionConfig {
    SessionConfig {
        min_sigma_eff: Score::ZERO,
        max_participants: 50,
        ..SessionConfig::default()
    }
}

/// The seed of the `n`-th command.
pub(super) fn seed(n: u64) -> [u8; 16] {
    let mut s = [0u8; 16];
    s[..8].copy_from_slice(&n.to_le_bytes());
    s[8] = 0xa5;
    s
}

/// An engine plus its clock, its command log and what the last command produced.
pub(super) struct World {
    pub(super) engine: Engine,
    pub(super) config: EngineConfig,
    pub(super) now: Timestamp,
    /// Commands as the runtime would log them (bad input and forbidden callers left out).
    pub(super) log: Vec<LoggedCommand>,
    /// Commands applied (logged or not), for seeds.
    pub(super) applied: u64,
    /// Events of the last command.
    pub(super) events: Vec<Event>,
    /// Saga work of the last command.
    pub(super) work: Vec<(SagaId, SagaCommand)>,
}

impl World {
    pub(super) fn new() -> Self {
        Self::with_config(EngineConfig::default())
    }

    pub(super) fn with_config(config: EngineConfig) -> Self {
        World {
            engine: Engine::new(config.clone()).unwrap(),
            config,
            now: T0,
            log: Vec::new(),
            applied: 0,
            events: Vec::new(),
            work: Vec::new(),
        }
    }

    /// Moves the clock forward.
    pub(super) fn advance_ms(&mut self, ms: u64) {
        self.now = Timestamp::from_millis(self.now.as_millis() + ms);
    }

    /// Moves the clock forward.
    pub(super) fn advance(&mut self, secs: u64) {
        self.advance_ms(secs * 1000);
    }

    /// Applies a command, logging it.
    pub(super) fn apply(&mut self, actor: &Actor, cmd: Command) -> Result<Reply> {
        self.applied += 1;
        let n = self.applied;
        let logged = LoggedCommand {
            actor: actor.clone(),
            command: cmd.clone(),
            at: self.now,
            seed: seed(n),
        };
        let mut ctx = Ctx::new(self.now, seed(n));
        let r = self.engine.apply(actor, cmd, &mut ctx);
        // Like the runtime: refusals of bad input and of unauthorised callers are not logged.
        if !matches!(r, Err(EngineError::Invalid(_) | EngineError::Forbidden(_))) {
            self.log.push(logged);
        }
        self.events = ctx.events;
        self.work = ctx.saga_work;
        r
    }

    /// Applies a command that must succeed.
    pub(super) fn ok(&mut self, actor: &Actor, cmd: Command) -> Reply {
        let dbg = format!("{cmd:?}");
        match self.apply(actor, cmd) {
            Ok(r) => r,
            Err(e) => panic!("{dbg} failed: {e:?}"),
        }
    }

    /// Creates and returns an active-able (handshaking) session created by `creator`.
    pub(super) fn session_with(
        &mut self,
        creator: &AgentDid,
        config: SessionConfig,
        isolation: IsolationLevel,
    ) -> SessionId {
        let r = self.ok(
            &admin(),
            Command::CreateSession {
                creator: creator.clone(),
                config,
                isolation,
            },
        );
        match r {
            Reply::Session(v) => v.session_id,
            other => panic!("unexpected {other:?}"),
        }
    }

    /// A handshaking session open to any σ, read-committed.
    pub(super) fn session(&mut self, creator: &AgentDid) -> SessionId {
        self.session_with(creator, open_config(), IsolationLevel::ReadCommitted)
    }

    /// Joins `a` with σ and no actions.
    pub(super) fn join(&mut self, sid: &SessionId, a: &AgentDid, sigma: f64) -> JoinOutcome {
        self.join_with(sid, a, sigma, Vec::new())
    }

    /// Joins `a` with σ and declared actions.
    pub(super) fn join_with(
        &mut self,
        sid: &SessionId,
        a: &AgentDid,
        sigma: f64,
        actions: Vec<ActionDescriptor>,
    ) -> JoinOutcome {
        let r = self.ok(
            &admin(),
            Command::Join {
                session_id: sid.clone(),
                agent: a.clone(),
                sigma_raw: Some(s(sigma)),
                actions,
            },
        );
        match r {
            Reply::Joined(j) => j,
            other => panic!("unexpected {other:?}"),
        }
    }

    /// Attempts a join.
    pub(super) fn try_join(
        &mut self,
        sid: &SessionId,
        a: &AgentDid,
        sigma: Option<f64>,
    ) -> Result<Reply> {
        self.apply(
            &admin(),
            Command::Join {
                session_id: sid.clone(),
                agent: a.clone(),
                sigma_raw: sigma.map(s),
                actions: Vec::new(),
            },
        )
    }

    pub(super) fn activate(&mut self, sid: &SessionId) {
        self.ok(
            &admin(),
            Command::Activate {
                session_id: sid.clone(),
            },
        );
    }

    /// An active session whose members joined with the given σ.
    pub(super) fn active_session(
        &mut self,
        creator: &AgentDid,
        members: &[(&AgentDid, f64)],
    ) -> SessionId {
        let sid = self.session(creator);
        for (a, sigma) in members {
            self.join(&sid, a, *sigma);
        }
        self.activate(&sid);
        sid
    }

    /// `a` acting as itself.
    pub(super) fn act(
        &mut self,
        sid: &SessionId,
        a: &AgentDid,
        request: ActionRequest,
    ) -> Result<ActOutcome> {
        let r = self.apply(
            &agent(a),
            Command::Act {
                session_id: sid.clone(),
                agent: a.clone(),
                request,
            },
        )?;
        match r {
            Reply::Acted(o) => Ok(o),
            other => panic!("unexpected {other:?}"),
        }
    }

    pub(super) fn write(
        &mut self,
        sid: &SessionId,
        a: &AgentDid,
        path: &str,
        content: &str,
    ) -> Result<ActOutcome> {
        self.act(
            sid,
            a,
            ActionRequest::VfsWrite {
                path: path.into(),
                content: content.into(),
            },
        )
    }

    pub(super) fn read(&mut self, sid: &SessionId, a: &AgentDid, path: &str) -> Result<ActOutcome> {
        self.act(sid, a, ActionRequest::VfsRead { path: path.into() })
    }

    pub(super) fn tool(&mut self, sid: &SessionId, a: &AgentDid, name: &str) -> Result<ActOutcome> {
        self.act(
            sid,
            a,
            ActionRequest::Tool {
                action_id: aid(name),
                input: serde_json::json!({}),
            },
        )
    }

    pub(super) fn lock(
        &mut self,
        sid: &SessionId,
        a: &AgentDid,
        path: &str,
        intent: LockIntent,
        wait: bool,
    ) -> Result<ActOutcome> {
        self.act(
            sid,
            a,
            ActionRequest::LockAcquire {
                path: path.into(),
                intent,
                ttl_seconds: None,
                wait,
            },
        )
    }

    pub(super) fn tick(&mut self) -> crate::engine::reply::TickReport {
        match self.ok(&system(), Command::Tick) {
            Reply::Ticked(t) => t,
            other => panic!("unexpected {other:?}"),
        }
    }

    /// The base ring of `a` in `sid` (active participants only).
    pub(super) fn ring(&self, sid: &SessionId, a: &AgentDid) -> Ring {
        self.participant(sid, a).ring
    }

    /// σ_eff of `a` in `sid`.
    pub(super) fn sigma_eff(&self, sid: &SessionId, a: &AgentDid) -> f64 {
        self.participant(sid, a).sigma_eff.get()
    }

    pub(super) fn participant(
        &self,
        sid: &SessionId,
        a: &AgentDid,
    ) -> crate::engine::view::ParticipantView {
        let v = self.engine.session_view(sid).unwrap();
        v.participants
            .iter()
            .find(|p| &p.agent_did == a)
            .cloned()
            .unwrap_or_else(|| panic!("{a} not active in {sid}"))
    }

    pub(super) fn is_member(&self, sid: &SessionId, a: &AgentDid) -> bool {
        self.engine
            .session_view(sid)
            .unwrap()
            .participants
            .iter()
            .any(|p| &p.agent_did == a)
    }

    /// Number of entries in the session's audit log.
    pub(super) fn audit_len(&self, sid: &SessionId) -> u64 {
        self.engine.audit_trail(sid).unwrap().len()
    }

    /// The session's audit entries held in memory.
    pub(super) fn audit(&self, sid: &SessionId) -> Vec<AuditEntry> {
        self.engine
            .audit_trail(sid)
            .unwrap()
            .entries(0, usize::MAX)
            .into_iter()
            .cloned()
            .collect()
    }

    /// The newest denied audit entry of the session.
    pub(super) fn last_denied(&self, sid: &SessionId) -> AuditEntry {
        self.audit(sid)
            .into_iter()
            .rev()
            .find(|e| e.decision == Decision::Denied)
            .expect("a denied entry")
    }

    /// Events of the last command of the given type.
    pub(super) fn events_of(&self, t: EventType) -> Vec<&Event> {
        self.events.iter().filter(|e| e.event_type == t).collect()
    }

    /// The engine as JSON.
    pub(super) fn json(&self) -> serde_json::Value {
        serde_json::to_value(&self.engine).unwrap()
    }

    /// Replays the whole log on a fresh engine and checks it reaches the same state.
    pub(super) fn assert_replays(&self) {
        let mut fresh = Engine::new(self.config.clone()).unwrap();
        for l in &self.log {
            let _ = fresh.replay(l);
        }
        let a = self.json();
        let b = serde_json::to_value(&fresh).unwrap();
        if let Some(d) = json_diff(&a, &b, "engine") {
            panic!("replayed engine differs from the original: {d}");
        }
    }
}

/// Asserts a governance denial with its code, that the reason contains `needle`, that the
/// session's newest denied audit entry carries the same reason and code, and that the last
/// command emitted `governance.denied` with that code.
#[track_caller]
pub(super) fn assert_denied<T: std::fmt::Debug>(
    w: &World,
    sid: &SessionId,
    r: Result<T>,
    code: DenyCode,
    needle: &str,
) -> String {
    let reason = match r {
        Err(EngineError::Denied(d)) => {
            assert_eq!(d.code, code, "wrong code, reason: {}", d.reason);
            d.reason
        }
        other => panic!("expected denial {code:?}, got {other:?}"),
    };
    assert!(
        reason.contains(needle),
        "reason `{reason}` lacks `{needle}`"
    );
    let e = w.last_denied(sid);
    assert_eq!(e.reason, reason, "audited reason differs");
    assert_eq!(
        e.detail.to_value()["code"],
        code.as_str(),
        "audited code differs"
    );
    let ev = w.events_of(EventType::GovernanceDenied);
    assert!(
        ev.iter()
            .any(|e| e.payload.to_value()["code"] == code.as_str()
                && e.payload.to_value()["reason"] == reason.as_str()),
        "no governance.denied event with code {code:?}: {:?}",
        w.events
    );
    reason
}

/// A step definition with an undo api.
pub(super) fn step(id: &str, action_name: &str, a: &AgentDid) -> StepDefinition {
    StepDefinition::new(
        stid(id),
        aid(action_name),
        a.clone(),
        format!("{action_name}.run"),
    )
    .with_undo(format!("{action_name}.undo"))
}

/// The set of DIDs.
pub(super) fn dids(list: &[&AgentDid]) -> BTreeSet<AgentDid> {
    list.iter().map(|a| (*a).clone()).collect()
}

/// The first place where two JSON values differ, as `path: left != right` (values shortened).
pub(super) fn json_diff(
    a: &serde_json::Value,
    b: &serde_json::Value,
    path: &str,
) -> Option<String> {
    use serde_json::Value as V;
    match (a, b) {
        (V::Object(x), V::Object(y)) => {
            for k in x.keys().chain(y.keys()) {
                let p = format!("{path}.{k}");
                match (x.get(k), y.get(k)) {
                    (Some(u), Some(v)) => {
                        if let Some(d) = json_diff(u, v, &p) {
                            return Some(d);
                        }
                    }
                    (u, v) => return Some(format!("{p}: {} != {}", short(u), short(v))),
                }
            }
            None
        }
        (V::Array(x), V::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find_map(|(i, (u, v))| json_diff(u, v, &format!("{path}[{i}]"))),
        _ if a == b => None,
        _ => Some(format!("{path}: {} != {}", short(Some(a)), short(Some(b)))),
    }
}

fn short(v: Option<&serde_json::Value>) -> String {
    let s = v.map_or("<absent>".to_string(), ToString::to_string);
    if s.len() > 300 {
        format!("{}…", &s[..s.floor_char_boundary(300)])
    } else {
        s
    }
}

/// Asserts two engine states are identical, naming the first difference.
#[track_caller]
pub(super) fn assert_same(now: &serde_json::Value, before: &serde_json::Value) {
    if let Some(d) = json_diff(now, before, "engine") {
        panic!("state differs: {d}");
    }
}
