#!/usr/bin/env bash
# Durable governed writes alone: `PUT /api/v1/sessions/{id}/vfs/file` on a fresh `ahv serve`
# (SQLite, fsync per group commit), wrk -t2 -c64, with ring 2's rate limit lifted so the run
# measures the write path. Runs longer than 30 s include the periodic snapshot.
# Usage: [AHV_BIN=path] scripts/write-bench.sh [DURATION_SECONDS]   (needs: wrk, curl, jq)
set -euo pipefail
cd "$(dirname "$0")/.."
DUR="${1:-10}"
. scripts/bench-lib.sh
bench_serve 18495
read -r SID AGENT < <(bench_session did:mesh:writer 0.99 snapshot)
bench_write_lua "$AGENT" "$work/write.lua"
wrk -t2 -c64 -d"${DUR}s" --latency -s "$work/write.lua" "$API/sessions/$SID/vfs/file" \
  | grep -E "Latency |Requests/sec|50%|90%|99%"
