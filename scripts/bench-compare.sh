#!/usr/bin/env bash
# Compare `ahv bench` with the Python reference's own benchmark script, in one run on one machine.
#
#   scripts/bench-compare.sh                       # ours only
#   REF_DIR=/path/to/agent-hypervisor REF_VENV=/path/to/venv scripts/bench-compare.sh
#
# Builds `ahv` in release mode, runs `ahv bench --json`, then (when REF_DIR is set) runs the
# reference's benchmarks/bench_hypervisor.py with REF_VENV's Python, and prints a markdown table:
# operation, reference mean µs, ours mean µs, speed-up (and the same for p50). Our runtime-level
# and at-scale variants are compared with the reference operation they extend.
#
# Env: REF_DIR, REF_VENV (default $REF_DIR/.venv), BENCH_ARGS (extra `ahv bench` flags, e.g.
# --quick), KEEP_DIR (directory to keep ours.json and reference.json in).
# Note: the reference's script rewrites its own benchmarks/results/ directory when it runs.
set -euo pipefail
cd "$(dirname "$0")/.."

work="${KEEP_DIR:-$(mktemp -d)}"
mkdir -p "$work"

echo "building ahv (release)…" >&2
cargo build --release --locked -p ahv-cli >&2

echo "running ahv bench --json ${BENCH_ARGS:-}…" >&2
# shellcheck disable=SC2086 # BENCH_ARGS is a list of flags
./target/release/ahv bench --json ${BENCH_ARGS:-} >"$work/ours.json"

ref_json=""
if [ -n "${REF_DIR:-}" ]; then
  venv="${REF_VENV:-$REF_DIR/.venv}"
  script="$REF_DIR/benchmarks/bench_hypervisor.py"
  [ -f "$script" ] || { echo "error: no reference benchmark at $script (REF_DIR)" >&2; exit 2; }
  [ -x "$venv/bin/python" ] || { echo "error: no Python at $venv/bin/python (REF_VENV)" >&2; exit 2; }
  echo "running the reference's $script…" >&2
  # Load the reference's script as a module and run its own main(); record each result object
  # as its report method is called, so the times are its exact nanoseconds, not rounded µs.
  (cd "$REF_DIR" && "$venv/bin/python" - "$script" >"$work/reference.json" <<'PY'
import contextlib, importlib.util, json, sys
spec = importlib.util.spec_from_file_location("reference_bench", sys.argv[1])
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)
seen = []
report = bench.BenchmarkResult.to_dict
def recording(self):
    seen.append(self)
    return report(self)
bench.BenchmarkResult.to_dict = recording
with contextlib.redirect_stdout(sys.stderr):
    bench.main()
print(json.dumps({r.name: {"mean_ns": float(r.mean_ns), "p50_ns": float(r.median_ns),
                           "p99_ns": int(r.p99_ns), "ops_per_s": float(r.ops_per_sec)} for r in seen}))
PY
  )
  ref_json="$work/reference.json"
fi

python3 - "$work/ours.json" "$ref_json" <<'PY'
import json, sys
ours = json.load(open(sys.argv[1]))
ref = json.load(open(sys.argv[2])) if sys.argv[2] else {}
# Our extra operations, compared with the reference operation they extend.
counterpart = {
    "saga_3_steps_runtime": "saga_3_steps",
    "full_governance_pipeline_runtime": "full_governance_pipeline",
    "vouching_sigma_eff_at_10k": "vouching_sigma_eff",
}
def us(ns):
    return f"{ns / 1000:,.2f}"
def ratio(a, b):
    return f"{a / b:,.1f}×" if b > 0 else "—"
if ref:
    print("| operation | reference mean µs | ours mean µs | speed-up (mean) | reference p50 µs | ours p50 µs | speed-up (p50) |")
    print("|---|---:|---:|---:|---:|---:|---:|")
else:
    print("| operation | ours mean µs | ours p50 µs | ours p99 µs | ops/s |")
    print("|---|---:|---:|---:|---:|")
for name, o in ours.items():
    if not ref:
        print(f"| {name} | {us(o['mean_ns'])} | {us(o['p50_ns'])} | {us(o['p99_ns'])} | {o['ops_per_s']:,.0f} |")
        continue
    base = counterpart.get(name, name)
    r = ref.get(base)
    label = name if base == name else f"{name} (vs {base})"
    if r is None:
        print(f"| {label} | — | {us(o['mean_ns'])} | — | — | {us(o['p50_ns'])} | — |")
    else:
        print(f"| {label} | {us(r['mean_ns'])} | {us(o['mean_ns'])} | {ratio(r['mean_ns'], o['mean_ns'])} "
              f"| {us(r['p50_ns'])} | {us(o['p50_ns'])} | {ratio(r['p50_ns'], o['p50_ns'])} |")
PY
