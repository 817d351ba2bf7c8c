//! The `[engine]` section of the configuration file: the engine's tunables in operator terms.
//!
//! Every key is optional and overrides the built-in default; a key left out means the default,
//! so the file alone says what is in force. `ahv serve` compares the result with what the
//! engine holds and, when they differ, sends one logged `Configure` command (so a replay applies
//! the change at the same point). In a cluster, give every node the same section.
//!
//! ```toml
//! [engine]
//! lock_ttl_seconds = 300        # default intent-lock TTL
//! max_sessions = 100000         # sessions held (archived ones evicted first)
//! max_sagas = 100000            # sagas held (finished ones evicted first)
//! consensus_quorum = 2          # ring ≤ 1 approvals for ring-1 consensus
//! bond_weight = 0.5             # ω in σ_eff = σ_raw + ω·Σ bonded
//! max_file_bytes = 1048576      # VFS limits of new sessions
//! max_total_bytes = 67108864
//! max_files = 10000
//! max_audit_leaves = 1048576    # capacity of each new session's audit log
//! max_hypervisor_log_leaves = 1048576  # capacity of the hypervisor log (one entry per session)
//!
//! [engine.rate_limits]          # per ring: calls per second and burst
//! ring2 = { rate_per_sec = 20, burst = 40 }
//! ring3 = { rate_per_sec = 5, burst = 10 }
//!
//! [engine.vouching]
//! min_voucher_sigma = 0.5
//! default_bond_pct = 0.2
//! max_exposure = 0.8
//!
//! [engine.breaker]
//! auto_reset = false
//! cooldown_seconds = 300
//! ```

use std::time::Duration;

use ahv_core::engine::EngineConfig;
use ahv_core::score::Score;
use ahv_core::security::rate_limit::RatePolicy;
use serde::Deserialize;

use crate::error::CliError;

/// The `[engine]` section.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EngineSection {
    /// Default intent-lock TTL, seconds.
    pub lock_ttl_seconds: Option<u64>,
    /// Most sessions held.
    pub max_sessions: Option<usize>,
    /// Most sagas held.
    pub max_sagas: Option<usize>,
    /// Approvals needed for ring-1 consensus.
    pub consensus_quorum: Option<usize>,
    /// ω in σ_eff.
    pub bond_weight: Option<f64>,
    /// Largest VFS file, bytes.
    pub max_file_bytes: Option<u64>,
    /// Largest VFS total, bytes.
    pub max_total_bytes: Option<u64>,
    /// Most VFS files.
    pub max_files: Option<usize>,
    /// Capacity of each new session's audit log, entries.
    pub max_audit_leaves: Option<u64>,
    /// Capacity of the hypervisor log, entries (raising it takes effect at once).
    pub max_hypervisor_log_leaves: Option<u64>,
    /// Per-ring rate limits.
    pub rate_limits: Option<RateLimits>,
    /// Vouching policy.
    pub vouching: Option<Vouching>,
    /// Breach breaker policy.
    pub breaker: Option<Breaker>,
}

/// `[engine.rate_limits]`: a policy per ring, each optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimits {
    /// Ring 0 (root).
    pub ring0: Option<Rate>,
    /// Ring 1 (privileged).
    pub ring1: Option<Rate>,
    /// Ring 2 (standard).
    pub ring2: Option<Rate>,
    /// Ring 3 (sandbox).
    pub ring3: Option<Rate>,
}

/// One ring's rate: sustained calls per second and burst.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rate {
    /// Sustained calls per second.
    pub rate_per_sec: u32,
    /// Calls allowed at once.
    pub burst: u32,
}

/// `[engine.vouching]`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Vouching {
    /// A voucher's σ must be at least this.
    pub min_voucher_sigma: Option<f64>,
    /// Bond fraction when a vouch names none.
    pub default_bond_pct: Option<f64>,
    /// A voucher's total bonded amount may not exceed σ × this.
    pub max_exposure: Option<f64>,
}

/// `[engine.breaker]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Breaker {
    /// Whether a tripped breaker clears itself after the cooldown.
    pub auto_reset: Option<bool>,
    /// Cooldown after a trip, seconds.
    pub cooldown_seconds: Option<u64>,
}

impl EngineSection {
    /// The engine configuration this section asks for: the defaults with every given key
    /// applied. Out-of-range values are errors naming the key.
    pub fn to_engine_config(&self) -> Result<EngineConfig, CliError> {
        let mut c = EngineConfig::default();
        if let Some(s) = self.lock_ttl_seconds {
            if s == 0 {
                return Err(bad("engine.lock_ttl_seconds", "must be at least 1"));
            }
            c.lock_ttl = Duration::from_secs(s);
        }
        if let Some(n) = self.max_sessions {
            c.max_sessions = n;
        }
        if let Some(n) = self.max_sagas {
            c.max_sagas = n;
        }
        if let Some(n) = self.consensus_quorum {
            c.consensus_quorum = n;
        }
        if let Some(w) = self.bond_weight {
            c.bond_weight = score("engine.bond_weight", w)?;
        }
        if let Some(n) = self.max_file_bytes {
            c.vfs.max_file_bytes = n;
        }
        if let Some(n) = self.max_total_bytes {
            c.vfs.max_total_bytes = n;
        }
        if let Some(n) = self.max_files {
            c.vfs.max_files = n;
        }
        if let Some(n) = self.max_audit_leaves {
            c.max_audit_leaves = at_least_16("engine.max_audit_leaves", n)?;
        }
        if let Some(n) = self.max_hypervisor_log_leaves {
            c.max_hypervisor_log_leaves = at_least_16("engine.max_hypervisor_log_leaves", n)?;
        }
        if let Some(r) = &self.rate_limits {
            let rings = [
                (&r.ring0, &mut c.rate.ring0, "ring0"),
                (&r.ring1, &mut c.rate.ring1, "ring1"),
                (&r.ring2, &mut c.rate.ring2, "ring2"),
                (&r.ring3, &mut c.rate.ring3, "ring3"),
            ];
            for (given, slot, name) in rings {
                if let Some(g) = given {
                    *slot = RatePolicy::new(g.rate_per_sec, g.burst)
                        .map_err(|e| bad(&format!("engine.rate_limits.{name}"), &e.to_string()))?;
                }
            }
        }
        if let Some(v) = &self.vouching {
            if let Some(x) = v.min_voucher_sigma {
                c.vouch.min_voucher_sigma = score("engine.vouching.min_voucher_sigma", x)?;
            }
            if let Some(x) = v.default_bond_pct {
                c.vouch.default_bond_pct = score("engine.vouching.default_bond_pct", x)?;
            }
            if let Some(x) = v.max_exposure {
                c.vouch.max_exposure = score("engine.vouching.max_exposure", x)?;
            }
        }
        if let Some(b) = &self.breaker {
            if let Some(a) = b.auto_reset {
                c.breaker.auto_reset = a;
            }
            if let Some(s) = b.cooldown_seconds {
                c.breaker.cooldown = Duration::from_secs(s);
            }
        }
        Ok(c)
    }
}

fn at_least_16(key: &'static str, n: u64) -> Result<u64, CliError> {
    if n < 16 {
        return Err(bad(key, "must be at least 16"));
    }
    Ok(n)
}

fn score(key: &'static str, v: f64) -> Result<Score, CliError> {
    Score::checked(key, v).map_err(|e| bad(key, &e.to_string()))
}

fn bad(key: &str, why: &str) -> CliError {
    CliError::usage(format!("invalid configuration: {why}"), key.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> EngineSection {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn given_keys_override_the_defaults_and_the_rest_stay() {
        let s = parse(
            "lock_ttl_seconds = 60\nbond_weight = 0.25\n\
             [rate_limits]\nring3 = { rate_per_sec = 1, burst = 2 }\n\
             [vouching]\nmax_exposure = 0.5\n[breaker]\nauto_reset = true\n",
        );
        let c = s.to_engine_config().unwrap();
        let d = EngineConfig::default();
        assert_eq!(c.lock_ttl, Duration::from_secs(60));
        assert_eq!(c.bond_weight.get(), 0.25);
        assert_eq!(c.rate.ring3, RatePolicy::new(1, 2).unwrap());
        assert_eq!(c.rate.ring2, d.rate.ring2);
        assert_eq!(c.vouch.max_exposure.get(), 0.5);
        assert!(c.breaker.auto_reset);
        assert_eq!(c.max_sessions, d.max_sessions);
        assert_eq!(c.max_hypervisor_log_leaves, d.max_hypervisor_log_leaves);
        let logs = parse("max_audit_leaves = 4096\nmax_hypervisor_log_leaves = 33554432")
            .to_engine_config()
            .unwrap();
        assert_eq!(
            (logs.max_audit_leaves, logs.max_hypervisor_log_leaves),
            (4096, 1 << 25)
        );
        assert_eq!(EngineSection::default().to_engine_config().unwrap(), d);
    }

    #[test]
    fn out_of_range_values_and_unknown_keys_are_refused_by_name() {
        let e = parse("bond_weight = 1.5").to_engine_config().unwrap_err();
        assert_eq!(e.place, "engine.bond_weight");
        let e = parse("[rate_limits]\nring1 = { rate_per_sec = 0, burst = 1 }")
            .to_engine_config()
            .unwrap_err();
        assert_eq!(e.place, "engine.rate_limits.ring1");
        let e = parse("lock_ttl_seconds = 0")
            .to_engine_config()
            .unwrap_err();
        assert_eq!(e.place, "engine.lock_ttl_seconds");
        let e = parse("max_hypervisor_log_leaves = 15")
            .to_engine_config()
            .unwrap_err();
        assert_eq!(e.place, "engine.max_hypervisor_log_leaves");
        assert!(e.to_string().contains("at least 16"), "{e}");
        assert!(toml::from_str::<EngineSection>("max_sesions = 3").is_err());
        assert!(
            toml::from_str::<EngineSection>("[rate_limits]\nring4 = {rate_per_sec=1,burst=1}")
                .is_err()
        );
    }
}
