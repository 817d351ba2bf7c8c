#!/usr/bin/env bash
# The SHA-256 floor of the composite benchmarks: how many SHA-256 blocks one call of each hashes
# (audit leaves, Merkle nodes, ids), times what one block costs on this machine, beside what the
# whole call costs. Every governed action is audited, so no implementation of these operations
# with this audit log can be faster than its floor.
#
#   scripts/hash-floor.sh                          # ours only
#   REF_JSON=/dir/reference.json scripts/hash-floor.sh
#
# Blocks are counted with callgrind: under valgrind the CPU reports no SHA extensions, so sha2
# runs its portable code, which executes the same number of instructions for every block; the
# instructions inside SHA-256's compression function divided by that per-block count (measured on
# `sha256_64_blocks`) and by the calls made give blocks per call. The cost of a block is
# `ahv bench`'s `sha256_64_blocks` / 64 on the real hardware path (SHA-NI where the CPU has it):
# a long message, so the per-message set-up is left out and the floor is a lower bound.
# REF_JSON is the reference.json that `KEEP_DIR=/dir scripts/bench-compare.sh` leaves, for the
# reference's means and the 20× budget they imply. Needs valgrind and python3.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { apt-get update -qq && apt-get install -y -qq valgrind >/dev/null; }
cargo build --release --locked -p ahv-cli >&2
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
OPS="session_lifecycle saga_3_steps full_governance_pipeline"
for op in sha256_64_blocks $OPS; do
  echo "callgrind: $op…" >&2
  valgrind --tool=callgrind --callgrind-out-file="$work/$op.cg" \
    target/release/ahv bench --quick --json --only "$op" >"$work/$op.quick.json" 2>/dev/null
done
echo "timing on the real hardware path (the whole suite, as bench-compare.sh runs it)…" >&2
# The whole suite, not just these operations: run alone for a fraction of a second, the same
# code measures up to 1.6x slower here (the CPU has not been busy long enough to clock up).
target/release/ahv bench --json >"$work/timed.json"
python3 - "$work" "${REF_JSON:-}" $OPS <<'PY'
import json, re, sys
work, ref_path, ops = sys.argv[1], sys.argv[2], sys.argv[3:]

def compress(path):
    """(instructions inside sha2's compress256, calls to it) from a callgrind profile."""
    names, calls, inclusive = {}, 0, 0
    target = None
    with open(path) as f:
        lines = f.read().splitlines()
    for i, line in enumerate(lines):
        m = re.match(r"c?fn=\((\d+)\)(?: (.*))?", line)
        if m:
            if m.group(2):
                names[m.group(1)] = m.group(2)
            if line.startswith("cfn="):
                target = names.get(m.group(1))
            continue
        if line.startswith("calls=") and target and target.endswith("sha2::sha256::compress256"):
            calls += int(line.split("=")[1].split()[0])
            # The line after `calls=` holds the inclusive cost of those calls.
            inclusive += int(lines[i + 1].split()[1])
    return inclusive, calls

def warmup(n):  # crates/cli/src/bench/harness.rs: warmup_count
    return min(100, n // 10)

BLOCKS = 64  # crates/cli/src/bench/core_ops.rs: SHA256_FLOOR_BLOCKS
def calls_of(op):  # timed calls plus warm-up (a multiple of the batch size when batched)
    q = json.load(open(f"{work}/{op}.quick.json"))[op]["iterations"]
    return q + warmup(q)

ir, _ = compress(f"{work}/sha256_64_blocks.cg")
per_block = ir / calls_of("sha256_64_blocks") / BLOCKS
timed = json.load(open(f"{work}/timed.json"))
ref = json.load(open(ref_path)) if ref_path else {}
ns_block = timed["sha256_64_blocks"]["mean_ns"] / BLOCKS
print(f"SHA-256: {ns_block:.1f} ns per block on this machine, long messages "
      f"({per_block:.0f} instructions per block in the portable code under callgrind)\n")
head = "| operation | SHA-256 blocks per call | hashing floor µs | ours mean µs | hashing share |"
line = "|---|---:|---:|---:|---:|"
if ref:
    head += " reference mean µs | 20× budget µs | floor / budget |"
    line += "---:|---:|---:|"
print(head)
print(line)
for op in ops:
    ir, _ = compress(f"{work}/{op}.cg")
    blocks = ir / per_block / calls_of(op)
    floor = blocks * ns_block / 1000
    ours = timed[op]["mean_ns"] / 1000
    row = f"| {op} | {blocks:.1f} | {floor:.2f} | {ours:.2f} | {100 * floor / ours:.0f} % |"
    if op in ref:
        r = ref[op]["mean_ns"] / 1000
        row += f" {r:.1f} | {r / 20:.2f} | {floor / (r / 20):.2f} |"
    print(row)
PY
