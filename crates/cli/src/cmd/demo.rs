//! `ahv demo [--json] [--no-color] [--data-dir DIR] [--export-bundle PATH]`: a scripted
//! multi-agent scenario on an embedded hypervisor (in-memory log), narrated in the terminal or
//! printed as JSON lines. The demo checks its own facts; it exits 0 only if every step behaved
//! as expected, 1 otherwise.
//!
//! The scenario, in order: agents join and get rings; a low-trust agent is vouched for and
//! rises; a sandboxed agent is denied a privileged action; an elevation with a 2 s TTL is
//! requested, approved, used and expires; a saga with real local HTTP steps fails and
//! compensates in reverse; a saga whose compensation fails escalates, Shapley attribution blames
//! the right agent and its voucher is slashed and demoted; a breach trips the breaker and
//! quarantines; the session ends with a Merkle root, a signed checkpoint and a verified
//! inclusion proof.

mod finale;
mod narrate;
mod sagas;
mod service;
mod trust;
mod world;

use serde_json::json;

use crate::args::DemoArgs;
use crate::config::Settings;
use crate::error::{CliError, EXIT_CHECK_FAILED};
use crate::style::Style;
use narrate::Narrator;
use world::World;

/// Runs `ahv demo`.
pub fn run(a: &DemoArgs, settings: &Settings) -> Result<u8, CliError> {
    let style = if a.json {
        Style::plain()
    } else {
        Style::detect(settings.no_color)
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::usage(format!("cannot start the async runtime: {e}"), "ahv demo"))?;
    rt.block_on(scenario(a, settings, Narrator::new(a.json, style)))
}

async fn scenario(a: &DemoArgs, settings: &Settings, n: Narrator) -> Result<u8, CliError> {
    let fail = |e: String| CliError::check(format!("demo stopped: {e}"), "ahv demo");
    let mut w = World::new(n)
        .await
        .map_err(|e| CliError::usage(e, "ahv demo"))?;
    intro(&w, settings);
    trust::join(&mut w).await.map_err(fail)?;
    trust::vouch(&mut w).await.map_err(fail)?;
    trust::deny(&mut w).await.map_err(fail)?;
    trust::elevation(&mut w).await.map_err(fail)?;
    sagas::compensate(&mut w).await.map_err(fail)?;
    sagas::escalate(&mut w).await.map_err(fail)?;
    finale::breach(&mut w).await.map_err(fail)?;
    let bundle = finale::seal(&mut w).await.map_err(fail)?;
    w.service.stop();
    if let Some(path) = &a.export_bundle {
        let text = serde_json::to_string_pretty(&bundle).map_err(|e| {
            CliError::usage(
                format!("cannot encode the bundle: {e}"),
                path.display().to_string(),
            )
        })?;
        std::fs::write(path, text).map_err(|e| CliError::write(path, &e))?;
        w.n.kv(
            "bundle written",
            format!(
                "{} (check it: ahv audit verify {} --key '{}')",
                path.display(),
                path.display(),
                w.hv.signer().vkey()
            ),
        );
        w.n.event(
            "bundle_exported",
            json!({ "path": path, "key": w.hv.signer().vkey() }),
        );
    }
    Ok(summary(&w.n))
}

fn intro(w: &World, settings: &Settings) {
    let s = &w.n.style;
    w.n.say(s.bold("ahv demo — a governed multi-agent session on an embedded hypervisor"));
    let store = match &settings.data_dir {
        Some(d) => format!(
            "in memory; --data-dir {} accepted: the durable store arrives with `ahv serve`",
            d.display()
        ),
        None => "in memory (the durable store arrives with `ahv serve`)".to_string(),
    };
    w.n.kv("state", store);
    w.n.kv(
        "agents",
        format!(
            "{} (high trust), {} (low trust), {} (sandboxed)",
            w.alice, w.bob, w.carol
        ),
    );
    w.n.event(
        "setup",
        json!({ "store": "memory", "data_dir": settings.data_dir, "service": w.service.base, "agents": [w.alice, w.bob, w.carol] }),
    );
}

fn summary(n: &Narrator) -> u8 {
    let (checks, failed) = n.tally();
    n.event(
        "summary",
        json!({ "checks": checks, "failed": failed, "ok": failed.is_empty() }),
    );
    if !n.is_json() {
        crate::out::line("");
        if failed.is_empty() {
            crate::out::line(
                n.style
                    .green(&n.style.bold(&format!("All {checks} checks passed."))),
            );
        } else {
            crate::out::line(
                n.style.red(
                    &n.style
                        .bold(&format!("{} of {checks} checks failed:", failed.len())),
                ),
            );
            for f in failed {
                crate::out::line(format!("   - {f}"));
            }
        }
    }
    if failed.is_empty() {
        0
    } else {
        crate::out::err_line(format!(
            "error: {} demo check(s) failed (ahv demo)",
            failed.len()
        ));
        EXIT_CHECK_FAILED
    }
}
