#!/usr/bin/env bash
# HTTP load benchmark with wrk (64 connections, 2 threads, loopback only):
#   POST /api/v1/rings/check and GET /api/v1/sessions/{id} on `ahv serve` (auth on), a durable
#   governed VFS write (PUT .../vfs/file, each request a new version, fsync'd before the answer,
#   with ring 2's rate limit lifted in an [engine] section so the row measures the write path),
#   and — when REF_VENV points at a venv with the Python reference installed — the same two
#   reference endpoints on its FastAPI server, in the same run.
# Usage: [AHV_BIN=path] scripts/load-bench.sh [DURATION_SECONDS]   (needs: wrk, curl, jq)
set -euo pipefail
cd "$(dirname "$0")/.."
DUR="${1:-10}"
. scripts/bench-lib.sh
REF_PORT=18481
bench_serve 18480
read -r SID _ < <(bench_session did:mesh:alpha 0.85)
BODY='{"agent_ring":2,"action":{"action_id":"draft","name":"Draft","execute_api":"/draft","undo_api":"/undo","reversibility":"full"},"sigma_eff":0.7}'
cat >"$work/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $TOKEN"
wrk.body = '$BODY'
LUA
cat >"$work/get.lua" <<LUA
wrk.headers["Authorization"] = "Bearer $TOKEN"
LUA
run() { # name url script
  local out; out=$(wrk -t2 -c64 -d"${DUR}s" --latency -s "$3" "$2")
  local rps p50 p99 non2xx
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  p50=$(echo "$out" | awk '$1=="50%" {print $2}')
  p99=$(echo "$out" | awk '$1=="99%" {print $2}')
  non2xx=$(echo "$out" | awk '/Non-2xx/ {print $NF}')
  printf '| %-44s | %10s | %8s | %8s | %s\n' "$1" "$rps" "$p50" "$p99" "${non2xx:-0} non-2xx |"
}
echo "| endpoint (wrk -t2 -c64 -d${DUR}s) | requests/s | p50 | p99 | errors |"
echo "|---|---:|---:|---:|---|"
run "ahv: POST /api/v1/rings/check" "$API/rings/check" "$work/post.lua"
run "ahv: GET /api/v1/sessions/{id}" "$API/sessions/$SID" "$work/get.lua"
# The durable write: the VFS needs the agent to have seen the latest version under
# read_committed, so use a snapshot-isolation session for blind writes.
read -r SID2 AGENT < <(bench_session did:mesh:writer 0.99 snapshot)
bench_write_lua "$AGENT" "$work/write.lua"
run "ahv: PUT /api/v1/sessions/{id}/vfs/file (durable)" "$API/sessions/$SID2/vfs/file" "$work/write.lua"
if [ -n "${REF_VENV:-}" ]; then
  "$REF_VENV/bin/uvicorn" hypervisor.api.server:app --host 127.0.0.1 --port $REF_PORT --no-access-log --log-level warning >"$work/ref.log" 2>&1 &
  for _ in $(seq 1 100); do curl -sf 127.0.0.1:$REF_PORT/health >/dev/null && break; sleep 0.2; done
  RSID=$(curl -sf -X POST http://127.0.0.1:$REF_PORT/api/v1/sessions -H 'content-type: application/json' -d '{"creator_did":"did:mesh:admin"}' | jq -r .session_id)
  curl -sf -X POST "http://127.0.0.1:$REF_PORT/api/v1/sessions/$RSID/join" -H 'content-type: application/json' -d '{"agent_did":"did:mesh:alpha","sigma_raw":0.85}' >/dev/null
  run "reference: POST /api/v1/rings/check" "http://127.0.0.1:$REF_PORT/api/v1/rings/check" "$work/post.lua"
  run "reference: GET /api/v1/sessions/{id}" "http://127.0.0.1:$REF_PORT/api/v1/sessions/$RSID" "$work/get.lua"
fi
