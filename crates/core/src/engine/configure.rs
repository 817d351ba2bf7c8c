//! Reconfiguration: the one way the engine's tunables change while it runs.
//!
//! The configuration is part of the replayed state: a command's outcome depends on the rate
//! limits, vouching policy and limits in force when it ran. So a change is itself a logged
//! command, applied at one point in history, recorded in the hypervisor audit log with the keys
//! that changed, and announced by a `hypervisor.configured` event. What is already there
//! stands (bonds made, sessions' VFS limits and log capacities); the new values govern what
//! comes next. The one exception is the hypervisor log's capacity, which outlives every session:
//! it changes at once, and never below what that log must still hold.

use serde_json::Value;

use super::{Actor, Ctx, Engine, EngineConfig, EngineError, Reply, Result};
use crate::audit::entry::Decision;
use crate::event::{Event, EventType};

impl Engine {
    pub(crate) fn configure(
        &mut self,
        actor: &Actor,
        config: EngineConfig,
        ctx: &mut Ctx,
    ) -> Result<Reply> {
        Self::require_admin(actor, "change the engine configuration")?;
        validate(&config)?;
        if config.origin != self.config.origin && !self.signed.is_empty() {
            return Err(EngineError::Conflict(format!(
                "the checkpoint origin is `{}` and checkpoints were signed under it; it cannot change",
                self.config.origin
            )));
        }
        let mut changed = changed_keys(&self.config, &config);
        // A snapshot from before this setting existed holds the log's original capacity.
        if self.hv_log.capacity() != config.max_hypervisor_log_leaves
            && !changed.iter().any(|k| k == "max_hypervisor_log_leaves")
        {
            changed.push("max_hypervisor_log_leaves".to_string());
        }
        if changed.is_empty() {
            return Ok(Reply::Done);
        }
        self.check_hypervisor_log_capacity(config.max_hypervisor_log_leaves)?;
        // The two fallible steps first, so a refusal changes nothing.
        self.vouches
            .set_policy(config.vouch.clone())
            .map_err(|e| EngineError::Invalid(e.to_string()))?;
        self.hv_log
            .set_capacity_keeping_all(config.max_hypervisor_log_leaves)
            .map_err(|e| EngineError::Invalid(e.to_string()))?;
        self.limiter.set_policies(config.rate);
        self.breach.set_policy(config.breaker);
        let detail = crate::detail! {
            "changed": changed.as_slice(),
            "config": serde_json::to_value(&config).unwrap_or(Value::Null),
        };
        self.config = config;
        self.hv_log.append(
            ctx.now,
            None,
            None,
            "hypervisor.configure",
            Decision::Allowed,
            "engine configuration changed",
            detail.clone(),
        );
        self.counters.audit_appends += 1;
        ctx.emit(Event::new(EventType::HypervisorConfigured, ctx.now).payload(detail));
        Ok(Reply::Done)
    }

    /// A new hypervisor-log capacity must hold what is there, the root of every session still
    /// to commit one when it terminates, and the entry recording this change.
    fn check_hypervisor_log_capacity(&self, max: u64) -> Result<()> {
        let held = self.sessions_owing_a_root();
        let needed = self.hv_log.len().saturating_add(held).saturating_add(1);
        if max >= needed {
            return Ok(());
        }
        Err(EngineError::Invalid(format!(
            "invalid configuration: max_hypervisor_log_leaves {max} is below the {needed} entries \
             the hypervisor log must hold ({} recorded, {held} sessions still to commit a root, \
             and this change)",
            self.hv_log.len()
        )))
    }
}

/// Refuses values the engine cannot run with (each named, so the operator can fix the file).
fn validate(c: &EngineConfig) -> Result<()> {
    let bad = |what: &str| {
        Err(EngineError::Invalid(format!(
            "invalid configuration: {what}"
        )))
    };
    c.vouch
        .validate()
        .map_err(|e| EngineError::Invalid(format!("invalid configuration: {e}")))?;
    if c.consensus_quorum == 0 {
        return bad("consensus_quorum must be at least 1");
    }
    if c.max_sessions == 0 || c.max_sagas == 0 {
        return bad("max_sessions and max_sagas must be at least 1");
    }
    if c.lock_ttl.is_zero() {
        return bad("lock_ttl must be longer than zero");
    }
    if c.max_audit_entries == 0 || c.max_audit_leaves < 16 || c.max_hypervisor_log_leaves < 16 {
        return bad(
            "max_audit_entries must be at least 1, and max_audit_leaves and \
             max_hypervisor_log_leaves at least 16",
        );
    }
    if c.origin.trim().is_empty() || c.origin.contains('\n') {
        return bad("origin must be one non-empty line");
    }
    Ok(())
}

/// The top-level keys whose values differ, in key order.
fn changed_keys(old: &EngineConfig, new: &EngineConfig) -> Vec<String> {
    let (Ok(Value::Object(a)), Ok(Value::Object(b))) =
        (serde_json::to_value(old), serde_json::to_value(new))
    else {
        return vec!["*".to_string()];
    };
    let mut keys: Vec<String> = b
        .iter()
        .filter(|(k, v)| a.get(*k) != Some(*v))
        .map(|(k, _)| k.clone())
        .collect();
    keys.sort();
    keys
}
