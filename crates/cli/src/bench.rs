//! The benchmark suite behind `ahv bench`: the nine benchmarks of the reference's
//! `benchmarks/bench_hypervisor.py` under the same operation names, definitions, iteration
//! counts and warm-up, plus our own extras. See each function for what exactly is timed.
//!
//! | name | iterations | what one call does |
//! |---|---|---|
//! | `ring_computation` | 50,000 | σ 0.85 → ring |
//! | `vouching_sigma_eff` | 10,000 | one vouch + one σ_eff on a shared, growing vouch book |
//! | `delta_capture` | 50,000 | fresh audit trail + one entry |
//! | `merkle_root_10_deltas` | 10,000 | fresh trail, 10 entries, root |
//! | `merkle_root_100_deltas` | 1,000 | fresh trail, 100 entries, root |
//! | `chain_verify_50_deltas` | 2,000 | 50 entries, re-hash all, recompute and compare root |
//! | `session_lifecycle` | 5,000 | new engine, create, join σ 0.8, activate, terminate |
//! | `saga_3_steps` | 5,000 | 3-step saga to completion (engine level) |
//! | `full_governance_pipeline` | 2,000 | new engine … 3 audited writes, 1-step saga, terminate with root |
//! | `saga_3_steps_runtime` | 5,000 | as `saga_3_steps`, through the `Hypervisor` |
//! | `full_governance_pipeline_runtime` | 2,000 | as the pipeline, through the `Hypervisor` |
//! | `vouching_sigma_eff_at_10k` | 1,000 | one vouch + σ_eff with 10,000 bonds stored |
//! | `governed_vfs_write` | 10,000 | one governed VFS write on a warm engine |
//! | `inclusion_proof_1k` | 10,000 | inclusion proof + verification in a 1,000-entry log |
//! | `sha256_64_blocks` | 10,000 | SHA-256 of a 64-block message (the unit of audit hashing) |

pub mod core_ops;
pub mod engine_ops;
pub mod fixture;
pub mod harness;
pub mod runtime_ops;

pub use harness::Stats;

/// One benchmark: its name, its iteration count, and how to run it.
#[derive(Debug, Clone, Copy)]
pub struct Bench {
    /// Operation name (the reference's where it has one).
    pub name: &'static str,
    /// Timed iterations (the reference's count for its nine).
    pub iterations: usize,
    /// Whether the reference has this benchmark.
    pub reference: bool,
    run: fn(usize) -> Result<Stats, String>,
}

impl Bench {
    /// Runs it with `iterations` timed calls.
    pub fn run(&self, iterations: usize) -> Result<Stats, String> {
        (self.run)(iterations).map_err(|e| format!("benchmark `{}` failed: {e}", self.name))
    }
}

fn merkle_10(n: usize) -> Result<Stats, String> {
    core_ops::merkle_root(10, n)
}

fn merkle_100(n: usize) -> Result<Stats, String> {
    core_ops::merkle_root(100, n)
}

const fn b(
    name: &'static str,
    iterations: usize,
    reference: bool,
    run: fn(usize) -> Result<Stats, String>,
) -> Bench {
    Bench {
        name,
        iterations,
        reference,
        run,
    }
}

/// Every benchmark, the reference's nine first, in the reference's order.
pub const ALL: &[Bench] = &[
    b("ring_computation", 50_000, true, core_ops::ring_computation),
    b(
        "vouching_sigma_eff",
        10_000,
        true,
        core_ops::vouching_sigma_eff,
    ),
    b("delta_capture", 50_000, true, core_ops::delta_capture),
    b("merkle_root_10_deltas", 10_000, true, merkle_10),
    b("merkle_root_100_deltas", 1_000, true, merkle_100),
    b(
        "chain_verify_50_deltas",
        2_000,
        true,
        core_ops::chain_verify_50,
    ),
    b(
        "session_lifecycle",
        5_000,
        true,
        engine_ops::session_lifecycle,
    ),
    b("saga_3_steps", 5_000, true, engine_ops::saga_3_steps),
    b(
        "full_governance_pipeline",
        2_000,
        true,
        engine_ops::full_governance_pipeline,
    ),
    b(
        "saga_3_steps_runtime",
        5_000,
        false,
        runtime_ops::saga_3_steps_runtime,
    ),
    b(
        "full_governance_pipeline_runtime",
        2_000,
        false,
        runtime_ops::full_governance_pipeline_runtime,
    ),
    b(
        "vouching_sigma_eff_at_10k",
        1_000,
        false,
        core_ops::vouching_sigma_eff_at_10k,
    ),
    b(
        "governed_vfs_write",
        10_000,
        false,
        engine_ops::governed_vfs_write,
    ),
    b(
        "inclusion_proof_1k",
        10_000,
        false,
        core_ops::inclusion_proof_1k,
    ),
    b(
        "sha256_64_blocks",
        10_000,
        false,
        core_ops::sha256_64_blocks,
    ),
];

/// Iterations to run: the full count, or a tenth of it (at least one) when `quick`.
pub fn iterations_for(bench: &Bench, quick: bool) -> usize {
    if quick {
        (bench.iterations / 10).max(1)
    } else {
        bench.iterations
    }
}

/// Whether the reference has a benchmark of this name.
pub fn is_reference(name: &str) -> bool {
    ALL.iter().any(|b| b.name == name && b.reference)
}

/// The benchmarks named in `only` (all when empty), in suite order; an unknown name is an error.
pub fn select(only: &[String]) -> Result<Vec<&'static Bench>, String> {
    if let Some(bad) = only
        .iter()
        .find(|n| !ALL.iter().any(|b| b.name == n.as_str()))
    {
        let names: Vec<&str> = ALL.iter().map(|b| b.name).collect();
        return Err(format!(
            "unknown benchmark `{bad}`; known: {}",
            names.join(", ")
        ));
    }
    Ok(ALL
        .iter()
        .filter(|b| only.is_empty() || only.iter().any(|n| n == b.name))
        .collect())
}

/// Runs `benches` in order, calling `progress(index, total, name)` before each.
pub fn run_all(
    benches: &[&Bench],
    quick: bool,
    mut progress: impl FnMut(usize, usize, &str),
) -> Result<Vec<(&'static str, Stats)>, String> {
    let mut out = Vec::with_capacity(benches.len());
    for (i, bench) in benches.iter().enumerate() {
        progress(i, benches.len(), bench.name);
        out.push((bench.name, bench.run(iterations_for(bench, quick))?));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reference_nine_come_first_with_its_counts() {
        let names: Vec<_> = ALL
            .iter()
            .filter(|b| b.reference)
            .map(|b| (b.name, b.iterations))
            .collect();
        assert_eq!(
            names,
            vec![
                ("ring_computation", 50_000),
                ("vouching_sigma_eff", 10_000),
                ("delta_capture", 50_000),
                ("merkle_root_10_deltas", 10_000),
                ("merkle_root_100_deltas", 1_000),
                ("chain_verify_50_deltas", 2_000),
                ("session_lifecycle", 5_000),
                ("saga_3_steps", 5_000),
                ("full_governance_pipeline", 2_000),
            ]
        );
        assert!(ALL.iter().take(9).all(|b| b.reference));
    }

    #[test]
    fn selection_keeps_suite_order_and_refuses_unknown_names() {
        let picked = select(&["inclusion_proof_1k".into(), "ring_computation".into()]).unwrap();
        let names: Vec<_> = picked.iter().map(|b| b.name).collect();
        assert_eq!(names, ["ring_computation", "inclusion_proof_1k"]);
        assert_eq!(select(&[]).unwrap().len(), ALL.len());
        assert!(
            select(&["nope".into()])
                .unwrap_err()
                .contains("unknown benchmark `nope`")
        );
    }

    #[test]
    fn quick_divides_by_ten() {
        assert_eq!(iterations_for(&ALL[0], true), 5_000);
        assert_eq!(iterations_for(&ALL[0], false), 50_000);
    }
}
