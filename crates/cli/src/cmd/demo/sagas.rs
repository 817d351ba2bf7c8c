//! Parts 5–6 of the demo: sagas whose steps are real HTTP calls to the local service. The first
//! fails midway and compensates in reverse order; in the second a compensation fails, the saga
//! escalates, Shapley attribution blames the right agent and its voucher is slashed and demoted.

use std::time::Duration;

use ahv_core::engine::view::SagaView;
use ahv_core::engine::{Command, Reply};
use ahv_core::id::AgentDid;
use ahv_core::saga::{SagaState, StepState, parse_saga};
use serde_json::json;

use super::world::{World, ring_label};

/// Longest wait for a saga to settle.
const SAGA_BOUND: Duration = Duration::from_secs(20);

/// One step of a demo saga: id, action, agent, execute outcome, undo outcome.
type StepSpec<'a> = (&'a str, &'a str, &'a AgentDid, &'a str, &'a str);

/// Writes the saga in the DSL (YAML) with the service's URLs, parses it with the real parser and
/// submits it; waits until it settles and returns its final view.
async fn run_saga(w: &World, name: &str, steps: &[StepSpec<'_>]) -> Result<SagaView, String> {
    let base = &w.service.base;
    let mut yaml = format!("name: {name}\nsession_id: {}\nsteps:\n", w.sid()?);
    for (id, action, agent, exec, undo) in steps {
        yaml.push_str(&format!(
            "  - id: {id}\n    action_id: {action}\n    agent: {agent}\n    execute_api: {base}/exec/{exec}/{id}\n    undo_api: {base}/undo/{undo}/{id}\n    timeout: 10\n"
        ));
    }
    let def = parse_saga(&yaml).map_err(|e| format!("demo saga `{name}` does not parse: {e}"))?;
    let r = w.admin(Command::SubmitSaga { definition: def }).await?;
    let Reply::Saga(v) = r else {
        return Err(format!("unexpected reply {r:?}"));
    };
    if !w
        .hv
        .wait_saga(&v.saga_id, SAGA_BOUND)
        .await
        .map_err(|e| e.to_string())?
    {
        return Err(format!(
            "saga `{}` did not settle within {SAGA_BOUND:?}",
            v.saga_id
        ));
    }
    let view =
        w.hv.read(|e| e.saga_view(&v.saga_id))
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
    Ok(*view)
}

fn state_name(s: impl serde::Serialize) -> String {
    serde_json::to_value(s)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

fn print_steps(w: &World, v: &SagaView) {
    for s in &v.steps {
        let state = state_name(s.state);
        let painted = match s.state {
            StepState::Compensated | StepState::Committed => {
                w.n.style.green(&format!("{state:<20}"))
            }
            StepState::Failed | StepState::CompensationFailed => {
                w.n.style.red(&format!("{state:<20}"))
            }
            _ => w.n.style.yellow(&format!("{state:<20}")),
        };
        let err = s
            .error
            .as_deref()
            .map(|e| w.n.style.dim(&format!("  {e}")))
            .unwrap_or_default();
        w.n.say(format!(
            "{:<10} {:<16} {painted}{err}",
            s.step_id.as_str(),
            s.agent_did.as_str()
        ));
    }
}

/// Part 5: reserve → provision → migrate (HTTP 500): provision and reserve are undone, in that
/// order, and the service saw the undo calls in that order too.
pub(crate) async fn compensate(w: &mut World) -> Result<(), String> {
    w.n.section("A saga with real HTTP steps fails midway and compensates in reverse");
    w.n.kv("local service", &w.service.base);
    w.service.clear();
    let (alice, bob) = (w.alice.clone(), w.bob.clone());
    let steps: [StepSpec<'_>; 3] = [
        ("reserve", "reserve_gpu", &alice, "ok", "ok"),
        ("provision", "provision_vm", &bob, "ok", "ok"),
        ("migrate", "migrate_db", &alice, "fail500", "ok"),
    ];
    let v = run_saga(w, "gpu-migration", &steps).await?;
    print_steps(w, &v);
    let order: Vec<&str> = v.compensation_order.iter().map(|s| s.as_str()).collect();
    let calls = w.service.calls();
    let labels: Vec<String> = calls.iter().map(|c| c.label()).collect();
    let keyed = !calls.is_empty() && calls.iter().all(|c| c.idempotency_key.is_some());
    w.n.kv("saga", format!("{} → {}", v.saga_id, state_name(v.state)));
    w.n.kv("compensation order", order.join(" → "));
    w.n.kv("service saw", labels.join(", "));
    let failed = v.steps.iter().find(|s| s.state == StepState::Failed);
    w.n.event(
        "saga_compensated",
        json!({
            "saga_id": v.saga_id, "name": v.name, "state": state_name(v.state),
            "failed_step": failed.map(|s| s.step_id.as_str()), "error": failed.and_then(|s| s.error.clone()),
            "compensation_order": order, "service_calls": labels, "idempotency_keys": keyed,
        }),
    );
    w.n.check(
        "the saga ended compensated",
        v.state == SagaState::Compensated,
    );
    w.n.check(
        "steps were undone in reverse order: provision, then reserve",
        order == ["provision", "reserve"],
    );
    w.n.check(
        "the service received exec reserve, exec provision, exec migrate, undo provision, undo reserve",
        labels == ["exec reserve", "exec provision", "exec migrate", "undo provision", "undo reserve"],
    );
    w.n.check("every call carried an Idempotency-Key", keyed);
    Ok(())
}

/// Part 6: export → transfer (undo fails with 400) → settle (HTTP 500). The failed undo
/// escalates; attribution blames bob; bob is slashed, and alice, who vouched for him, loses
/// collateral and is demoted.
pub(crate) async fn escalate(w: &mut World) -> Result<(), String> {
    w.n.section("A failed compensation escalates: Shapley blame, slashing, demotion");
    w.service.clear();
    let (alice, bob) = (w.alice.clone(), w.bob.clone());
    let (a_before, b_before) = (w.participant(&alice)?, w.participant(&bob)?);
    let (a_sigma, b_sigma) = (w.trust(&alice)?, w.trust(&bob)?);
    let steps: [StepSpec<'_>; 3] = [
        ("export", "export_report", &alice, "ok", "ok"),
        ("transfer", "transfer_funds", &bob, "ok", "fail400"),
        ("settle", "settle_funds", &bob, "fail500", "ok"),
    ];
    let v = run_saga(w, "funds-transfer", &steps).await?;
    print_steps(w, &v);
    let failed_comp: Vec<&str> = v
        .steps
        .iter()
        .filter(|s| s.state == StepState::CompensationFailed)
        .map(|s| s.step_id.as_str())
        .collect();
    w.n.kv("saga", format!("{} → {}", v.saga_id, state_name(v.state)));
    w.n.event(
        "saga_escalated",
        json!({
            "saga_id": v.saga_id, "state": state_name(v.state), "failed_compensations": failed_comp,
            "compensation_order": v.compensation_order,
            "service_calls": w.service.calls().iter().map(|c| c.label()).collect::<Vec<_>>(),
        }),
    );
    w.n.check(
        "the saga escalated after the undo of `transfer` failed",
        v.state == SagaState::Escalated && failed_comp == ["transfer"],
    );

    let saga_id = v.saga_id.clone();
    let attribution =
        w.hv.read(|e| {
            e.books()
                .attributions()
                .filter(|a| a.saga_id == saga_id)
                .last()
                .cloned()
        })
        .map_err(|e| e.to_string())?
        .ok_or("no fault attribution was recorded for the escalated saga")?;
    let shares: Vec<_> = attribution
        .attributions
        .iter()
        .map(|a| json!({ "agent": a.agent, "share": a.liability_share, "reason": a.reason }))
        .collect();
    for a in &attribution.attributions {
        w.n.kv(
            "Shapley share",
            format!(
                "{:<16} {:>6.2} %  {}",
                a.agent.as_str(),
                a.liability_share * 100.0,
                a.reason
            ),
        );
    }
    let blamed = attribution.attributions.first().map(|a| a.agent.clone());
    w.n.event(
        "attribution",
        json!({ "saga_id": v.saga_id, "blamed": blamed, "shares": shares, "method": attribution.method, "total_harm": attribution.total_harm }),
    );
    w.n.check(
        "attribution blames bob, who ran the failed steps",
        blamed.as_ref() == Some(&bob),
    );

    let sid = w.sid()?;
    let slash =
        w.hv.read(|e| {
            e.books()
                .slashes()
                .for_session(&sid)
                .into_iter()
                .rfind(|s| s.vouchee == bob)
                .cloned()
        })
        .map_err(|e| e.to_string())?
        .ok_or("bob was not slashed")?;
    let clip = slash.clips.iter().find(|c| c.voucher == alice);
    let (a_after, b_after) = (w.participant(&alice)?, w.participant(&bob)?);
    let (a_sigma_after, b_sigma_after) = (w.trust(&alice)?, w.trust(&bob)?);
    let omega = clip.map_or(0.0, |c| c.omega.get());
    w.n.kv(
        "slashed",
        format!(
            "{bob}: σ {:.3} → {:.3}, ring {} → {}",
            b_sigma,
            b_sigma_after,
            ring_label(b_before.ring),
            ring_label(b_after.ring)
        ),
    );
    w.n.kv(
        "voucher clipped",
        format!(
            "{alice}: σ {:.3} → {:.3} (ω {omega:.2}), ring {} → {}",
            a_sigma,
            a_sigma_after,
            ring_label(a_before.ring),
            ring_label(a_after.ring)
        ),
    );
    w.n.event(
        "slashed",
        json!({
            "agent": bob, "sigma_before": slash.vouchee_sigma_before.get(), "sigma_after": b_sigma_after,
            "ring_before": b_before.ring.number(), "ring_after": b_after.ring.number(),
            "voucher": alice, "voucher_sigma_before": clip.map(|c| c.before.get()), "voucher_sigma_after": a_sigma_after,
            "voucher_ring_before": a_before.ring.number(), "voucher_ring_after": a_after.ring.number(), "omega": omega,
        }),
    );
    w.n.check(
        "bob's σ fell to 0 and he dropped to ring 3",
        b_sigma_after == 0.0 && b_after.ring.number() == 3,
    );
    w.n.check(
        "alice lost ω of her σ as collateral and was demoted from ring 1",
        clip.is_some()
            && (a_sigma_after - a_sigma * (1.0 - omega)).abs() < 1e-9
            && a_before.ring.number() == 1
            && a_after.ring.number() > 1,
    );
    Ok(())
}
