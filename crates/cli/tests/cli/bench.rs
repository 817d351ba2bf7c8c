//! `ahv bench --json --quick`: one JSON object with every operation and its statistics.

use crate::util::{ahv, code, stderr, stdout};

#[test]
fn quick_json_bench_has_every_key() {
    let o = ahv(&["bench", "--json", "--quick"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(stdout(&o).trim()).expect("one JSON object");
    let keys = [
        "ring_computation",
        "vouching_sigma_eff",
        "delta_capture",
        "merkle_root_10_deltas",
        "merkle_root_100_deltas",
        "chain_verify_50_deltas",
        "session_lifecycle",
        "saga_3_steps",
        "full_governance_pipeline",
        "saga_3_steps_runtime",
        "full_governance_pipeline_runtime",
        "vouching_sigma_eff_at_10k",
        "governed_vfs_write",
        "inclusion_proof_1k",
        "sha256_64_blocks",
    ];
    assert_eq!(v.as_object().unwrap().len(), keys.len(), "{v}");
    for k in keys {
        let r = &v[k];
        for f in ["mean_ns", "p50_ns", "p99_ns", "ops_per_s"] {
            assert!(r[f].as_f64().is_some_and(|x| x > 0.0), "{k}.{f}: {r}");
        }
        assert!(r["iterations"].as_u64().is_some_and(|n| n > 0), "{k}: {r}");
    }
    assert_eq!(v["ring_computation"]["iterations"], 5_000);
    assert_eq!(v["full_governance_pipeline"]["iterations"], 200);
}
