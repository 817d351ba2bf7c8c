//! Reconfiguration is admin-only, validated, recorded in the hypervisor log, takes effect on
//! the next command and replays at the same point.

use super::fixtures::*;
use crate::engine::{Command, EngineConfig, EngineError, Reply};
use crate::event::EventType;
use crate::security::rate_limit::RatePolicy;

fn configure(config: EngineConfig) -> Command {
    Command::Configure {
        config: Box::new(config),
    }
}

#[test]
fn a_lower_rate_limit_applies_to_the_next_write_and_is_recorded() {
    let mut w = World::new();
    let alice = did("alice");
    let sid = w.active_session(&alice, &[(&alice, 0.8)]);
    // Default ring-2 quota: several writes in one instant pass.
    for i in 0..3 {
        w.write(&sid, &alice, &format!("/a{i}"), "x").unwrap();
    }
    let mut strict = EngineConfig::default();
    strict.rate.ring2 = RatePolicy::new(1, 1).unwrap();
    let hv_before = w.engine.hv_log.len();
    assert!(matches!(
        w.ok(&admin(), configure(strict.clone())),
        Reply::Done
    ));
    assert_eq!(w.engine.config(), &strict);
    // Recorded: one hypervisor-log entry naming what changed, and an event.
    assert_eq!(w.engine.hv_log.len(), hv_before + 1);
    let entry = w
        .engine
        .hv_log
        .entries(hv_before, 1)
        .first()
        .map(|e| (*e).clone())
        .unwrap();
    assert_eq!(entry.kind, "hypervisor.configure");
    assert_eq!(
        entry.detail.to_value()["changed"],
        serde_json::json!(["rate"])
    );
    assert_eq!(w.events_of(EventType::HypervisorConfigured).len(), 1);
    // The next instant allows one write, the one after it is refused by the new quota.
    w.advance(2);
    w.write(&sid, &alice, "/b0", "x").unwrap();
    let r = w.write(&sid, &alice, "/b1", "x");
    assert!(
        matches!(r, Err(EngineError::RateLimited { ref reason, .. }) if reason.contains("ring 2")),
        "{r:?}"
    );
    // The same configuration again changes and records nothing.
    let len = w.engine.hv_log.len();
    w.ok(&admin(), configure(strict));
    assert_eq!(w.engine.hv_log.len(), len);
    w.assert_replays();
}

#[test]
fn only_an_admin_may_reconfigure_and_bad_values_are_refused_by_name() {
    let mut w = World::new();
    let alice = did("alice");
    let sid = w.active_session(&alice, &[(&alice, 0.9)]);
    let before = w.json();
    let r = w.apply(&agent(&alice), configure(EngineConfig::default()));
    assert!(matches!(r, Err(EngineError::Forbidden(_))), "{r:?}");
    let bad = EngineConfig {
        consensus_quorum: 0,
        ..EngineConfig::default()
    };
    match w.apply(&admin(), configure(bad)) {
        Err(EngineError::Invalid(m)) => assert!(m.contains("consensus_quorum"), "{m}"),
        other => panic!("{other:?}"),
    }
    let mut bad = EngineConfig::default();
    bad.vouch.max_exposure = s(0.0);
    match w.apply(&admin(), configure(bad)) {
        Err(EngineError::Invalid(m)) => assert!(m.contains("max_exposure"), "{m}"),
        other => panic!("{other:?}"),
    }
    assert_same(&w.json(), &before);
    let _ = sid;
}

#[test]
fn a_hypervisor_log_restored_with_another_capacity_is_brought_to_the_configured_one() {
    let mut w = World::new();
    // As a snapshot taken under another capacity restores it.
    w.engine.hv_log.set_capacity_keeping_all(1 << 16).unwrap();
    let config = EngineConfig::default();
    assert_eq!(w.engine.config(), &config);
    assert!(matches!(
        w.ok(&admin(), configure(config.clone())),
        Reply::Done
    ));
    assert_eq!(w.engine.hv_log.capacity(), config.max_hypervisor_log_leaves);
    let entry = w.engine.hv_log.entries(0, 1)[0].clone();
    assert!(
        entry
            .detail
            .as_str()
            .contains("\"changed\":[\"max_hypervisor_log_leaves\"]"),
        "{}",
        entry.detail.as_str()
    );
    // Now in step: the same configuration again records nothing.
    assert!(matches!(w.ok(&admin(), configure(config)), Reply::Done));
    assert_eq!(w.engine.hv_log.len(), 1);
}
