//! Parts 1–4 of the demo: agents join and get rings; a low-trust agent is vouched for and rises;
//! a sandboxed agent is denied a privileged action with the reason; an elevation with a 2 s TTL
//! is requested, approved, used, and expires.

use std::time::Duration;

use ahv_core::action::Reversibility;
use ahv_core::engine::{ActOutcome, Actor, Command, Reply};
use ahv_core::id::AgentDid;
use ahv_core::ring::Ring;
use ahv_core::score::Score;
use ahv_core::session::SessionConfig;
use ahv_core::vclock::IsolationLevel;
use serde_json::json;

use super::world::{DEPLOY, Outcome, World, action, ring_label};

/// Actions the agents declare when they join: the privileged deploy and the saga steps' actions.
fn declared_actions() -> Result<Vec<ahv_core::action::ActionDescriptor>, String> {
    let mut v = vec![action(DEPLOY, Reversibility::None)?];
    for id in [
        "reserve_gpu",
        "provision_vm",
        "migrate_db",
        "export_report",
        "transfer_funds",
        "settle_funds",
    ] {
        v.push(action(id, Reversibility::Full)?);
    }
    Ok(v)
}

/// Part 1: session, three agents, rings; admin consensus lifts the high-trust agent to ring 1.
pub(crate) async fn join(w: &mut World) -> Result<(), String> {
    w.n.section("Agents join and get rings from their trust score σ");
    let config = SessionConfig {
        min_sigma_eff: Score::clamped(0.30),
        ..SessionConfig::default()
    };
    let creator = w.alice.clone();
    let r = w
        .admin(Command::CreateSession {
            creator,
            config,
            isolation: IsolationLevel::ReadCommitted,
        })
        .await?;
    let Reply::Session(view) = r else {
        return Err(format!("unexpected reply {r:?}"));
    };
    w.sid = Some(view.session_id.clone());
    w.n.kv("session", w.n.style.cyan(view.session_id.as_str()));
    w.n.event(
        "session_created",
        json!({ "session_id": view.session_id, "min_sigma_eff": 0.30 }),
    );
    let roster = [
        (w.alice.clone(), 0.97, "high-trust", declared_actions()?),
        (w.bob.clone(), 0.55, "low-trust", Vec::new()),
        (w.carol.clone(), 0.35, "sandboxed", Vec::new()),
    ];
    let mut rings = Vec::new();
    for (agent, sigma, role, actions) in roster {
        let cmd = Command::Join {
            session_id: w.sid()?,
            agent: agent.clone(),
            sigma_raw: Some(Score::clamped(sigma)),
            actions,
        };
        let Reply::Joined(j) = w.admin(cmd).await? else {
            return Err("join gave an unexpected reply".into());
        };
        w.n.say(format!(
            "{}  {:<11} σ_raw {:.2}  σ_eff {:.3}  → ring {}",
            w.n.style.cyan(&format!("{:<16}", agent.as_str())),
            role,
            j.sigma_raw.get(),
            j.sigma_eff.get(),
            ring_label(j.ring)
        ));
        w.n.event(
            "agent_joined",
            json!({ "agent": agent, "role": role, "sigma_raw": j.sigma_raw.get(), "sigma_eff": j.sigma_eff.get(), "ring": j.ring.number() }),
        );
        rings.push(j.ring);
    }
    w.n.check(
        "σ 0.97 → ring 2, σ 0.55 → ring 3, σ 0.35 → ring 3",
        rings == [Ring::Standard, Ring::Sandbox, Ring::Sandbox],
    );
    w.admin(Command::Activate {
        session_id: w.sid()?,
    })
    .await?;
    let r = w
        .admin(Command::ApproveConsensus {
            session_id: w.sid()?,
            agent: w.alice.clone(),
        })
        .await?;
    let ring = match r {
        Reply::Ring { ring, .. } => ring,
        other => return Err(format!("unexpected reply {other:?}")),
    };
    w.n.say(format!(
        "admin approves ring-1 consensus for {} → ring {}",
        w.alice,
        ring_label(ring)
    ));
    w.n.event(
        "consensus",
        json!({ "agent": w.alice, "ring": ring.number() }),
    );
    w.n.check(
        "high-trust agent reaches ring 1 with consensus (σ ≥ 0.95)",
        ring == Ring::Privileged,
    );
    Ok(())
}

/// Part 2: alice vouches for bob; bob's σ_eff and ring rise at once.
pub(crate) async fn vouch(w: &mut World) -> Result<(), String> {
    w.n.section("A low-trust agent is vouched for: σ_eff = σ_raw + ω·bond, ring rises");
    let before = w.participant(&w.bob)?;
    let cmd = Command::Vouch {
        session_id: w.sid()?,
        voucher: w.alice.clone(),
        vouchee: w.bob.clone(),
        bond_pct: Some(Score::clamped(0.25)),
        expiry: None,
    };
    let r =
        w.hv.execute(Actor::Agent(w.alice.clone()), cmd)
            .await
            .map_err(|e| e.to_string())?;
    let Reply::Vouch(rec) = r else {
        return Err(format!("unexpected reply {r:?}"));
    };
    let after = w.participant(&w.bob)?;
    w.n.kv(
        "bond",
        format!(
            "{} bonds 25 % of σ 0.97 = {:.4} for {}",
            w.alice, rec.bonded_amount, w.bob
        ),
    );
    w.n.kv(
        "σ_eff of bob",
        format!(
            "{:.3} → {:.3}  (ω 0.5)",
            before.sigma_eff.get(),
            after.sigma_eff.get()
        ),
    );
    w.n.kv(
        "ring of bob",
        format!("{} → {}", ring_label(before.ring), ring_label(after.ring)),
    );
    w.n.event(
        "vouched",
        json!({
            "voucher": w.alice, "vouchee": w.bob, "vouch_id": rec.vouch_id, "bond_pct": 0.25,
            "bonded_amount": rec.bonded_amount,
            "sigma_eff_before": before.sigma_eff.get(), "sigma_eff_after": after.sigma_eff.get(),
            "ring_before": before.ring.number(), "ring_after": after.ring.number(),
        }),
    );
    let expected = 0.55 + 0.5 * rec.bonded_amount;
    w.n.check(
        "bob's σ_eff rose by ω × bond",
        (after.sigma_eff.get() - expected).abs() < 1e-9,
    );
    w.n.check(
        "bob moved from ring 3 to ring 2",
        before.ring == Ring::Sandbox && after.ring == Ring::Standard,
    );
    Ok(())
}

/// Part 3: carol (ring 3) tries the ring-1 deploy and is denied with code and reason.
pub(crate) async fn deny(w: &mut World) -> Result<(), String> {
    w.n.section("A sandboxed agent is denied a privileged action, with the reason");
    let carol = w.carol.clone();
    let o = w.deploy(&carol).await?;
    print_outcome(w, &carol, DEPLOY, &o);
    w.n.event(
        "denied",
        json!({ "agent": carol, "action": DEPLOY, "code": o.code(), "reason": o.reason() }),
    );
    w.n.check(
        "deploy_prod (irreversible → ring 1) denied to the ring-3 agent with a stable code",
        matches!(&o, Outcome::Denied { code, reason } if (code == "sigma_insufficient" || code == "ring_insufficient") && !reason.is_empty()),
    );
    Ok(())
}

/// Part 4: bob asks for ring 1 for 2 s; the admin approves; bob deploys; the TTL runs out; the
/// next deploy is denied again.
pub(crate) async fn elevation(w: &mut World) -> Result<(), String> {
    w.n.section("Elevation (sudo with a TTL): requested, approved, used, expired");
    let bob = w.bob.clone();
    let cmd = Command::RequestElevation {
        session_id: w.sid()?,
        agent: bob.clone(),
        target: Ring::Privileged,
        ttl_seconds: Some(2),
        reason: "hotfix deploy".into(),
    };
    let r =
        w.hv.execute(Actor::Agent(bob.clone()), cmd)
            .await
            .map_err(|e| e.to_string())?;
    let Reply::Elevation(req) = r else {
        return Err(format!("unexpected reply {r:?}"));
    };
    w.n.kv(
        "requested",
        format!(
            "{} asks ring {} → ring {} for 2 s ({})",
            bob,
            req.original_ring.number(),
            req.elevated_ring.number(),
            req.elevation_id
        ),
    );
    w.n.event(
        "elevation_requested",
        json!({ "agent": bob, "elevation_id": req.elevation_id, "from_ring": req.original_ring.number(), "to_ring": req.elevated_ring.number(), "ttl_seconds": 2 }),
    );
    let r = w
        .admin(Command::ApproveElevation {
            elevation_id: req.elevation_id.clone(),
        })
        .await?;
    let Reply::Elevation(granted) = r else {
        return Err(format!("unexpected reply {r:?}"));
    };
    let expires = granted
        .expires_at
        .map(|t| t.to_rfc3339())
        .unwrap_or_default();
    w.n.kv("approved", format!("by the admin, expires {expires}"));
    w.n.event(
        "elevation_approved",
        json!({ "elevation_id": granted.elevation_id, "expires_at": expires }),
    );
    let used = w.deploy(&bob).await?;
    print_outcome(w, &bob, DEPLOY, &used);
    let used_ring = match &used {
        Outcome::Allowed(ActOutcome::Allowed { ring, .. }) => Some(ring.number()),
        _ => None,
    };
    w.n.event(
        "elevation_used",
        json!({ "agent": bob, "action": DEPLOY, "outcome": used.code(), "ring": used_ring }),
    );
    w.n.check(
        "the elevated agent may deploy (ring 1)",
        used_ring == Some(1),
    );
    w.advance(Duration::from_secs(3));
    let r = w.system(Command::Tick).await?;
    let expired = match r {
        Reply::Ticked(t) => t.elevations,
        other => return Err(format!("unexpected reply {other:?}")),
    };
    w.n.kv("3 s later", format!("tick expires {expired} elevation"));
    w.n.event(
        "elevation_expired",
        json!({ "agent": bob, "expired": expired }),
    );
    let again = w.deploy(&bob).await?;
    print_outcome(w, &bob, DEPLOY, &again);
    w.n.event(
        "denied_after_expiry",
        json!({ "agent": bob, "action": DEPLOY, "code": again.code(), "reason": again.reason() }),
    );
    w.n.check(
        "after the TTL the same deploy is denied again",
        expired == 1 && matches!(again, Outcome::Denied { .. }),
    );
    Ok(())
}

/// Prints `agent action → ALLOWED/DENIED code: reason`.
pub(crate) fn print_outcome(w: &World, agent: &AgentDid, what: &str, o: &Outcome) {
    let s = &w.n.style;
    let verdict = match o {
        Outcome::Allowed(_) => s.green("ALLOWED"),
        Outcome::Denied { code, reason } => {
            format!("{} {}: {reason}", s.red("DENIED"), s.bold(code))
        }
    };
    w.n.say(format!(
        "{} {:<14} → {verdict}",
        s.cyan(&format!("{:<16}", agent.as_str())),
        what
    ));
}
