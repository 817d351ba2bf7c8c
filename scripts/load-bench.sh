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
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
# AHV_BIN: a prebuilt binary to measure (lets the sources change while runs go on).
if [ -z "${AHV_BIN:-}" ]; then cargo build --release --locked --bin ahv >/dev/null; AHV_BIN=target/release/ahv; fi
work="$(mktemp -d)"; PORT=18480; REF_PORT=18481
cleanup() { kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
TOKEN=bench-admin-token
# The durable-write row measures the write path, not one agent's ring quota (20/s by default):
# lift ring 2's rate limit through the configuration file for this run.
cat >"$work/ahv.toml" <<TOML
[engine]
rate_limits.ring2 = { rate_per_sec = 1000000, burst = 1000000 }
TOML
AHV_CONFIG="$work/ahv.toml" AHV_ADMIN_TOKEN=$TOKEN RUST_LOG=warn "$AHV_BIN" serve --listen 127.0.0.1:$PORT --data-dir "$work/data" >"$work/serve.log" 2>&1 &
for _ in $(seq 1 100); do curl -sf 127.0.0.1:$PORT/health >/dev/null && break; sleep 0.2; done
API=http://127.0.0.1:$PORT/api/v1
SID=$(curl -sf -X POST $API/sessions -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' \
  -d '{"creator_did":"did:mesh:admin","max_duration_seconds":86400}' | jq -r .session_id)
AGENT=$(curl -sf -X POST "$API/sessions/$SID/join" -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' \
  -d '{"agent_did":"did:mesh:alpha","sigma_raw":0.85}' | jq -r .agent_token)
curl -sf -X POST "$API/sessions/$SID/activate" -H "Authorization: Bearer $TOKEN" >/dev/null
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
cat >"$work/write.lua" <<LUA
wrk.method = "PUT"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $AGENT"
counter = 0
request = function()
  counter = counter + 1
  return wrk.format(nil, nil, nil, '{"path":"/bench/' .. (counter % 64) .. '.txt","content":"v' .. counter .. '"}')
end
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
SID2=$(curl -sf -X POST $API/sessions -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' \
  -d '{"creator_did":"did:mesh:admin","max_duration_seconds":86400,"isolation":"snapshot"}' | jq -r .session_id)
AGENT=$(curl -sf -X POST "$API/sessions/$SID2/join" -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' \
  -d '{"agent_did":"did:mesh:writer","sigma_raw":0.99}' | jq -r .agent_token)
curl -sf -X POST "$API/sessions/$SID2/activate" -H "Authorization: Bearer $TOKEN" >/dev/null
sed -i "s|Bearer [^\"]*\"|Bearer $AGENT\"|" "$work/write.lua"
run "ahv: PUT /api/v1/sessions/{id}/vfs/file (durable)" "$API/sessions/$SID2/vfs/file" "$work/write.lua"
if [ -n "${REF_VENV:-}" ]; then
  "$REF_VENV/bin/uvicorn" hypervisor.api.server:app --host 127.0.0.1 --port $REF_PORT --no-access-log --log-level warning >"$work/ref.log" 2>&1 &
  for _ in $(seq 1 100); do curl -sf 127.0.0.1:$REF_PORT/health >/dev/null && break; sleep 0.2; done
  RSID=$(curl -sf -X POST http://127.0.0.1:$REF_PORT/api/v1/sessions -H 'content-type: application/json' -d '{"creator_did":"did:mesh:admin"}' | jq -r .session_id)
  curl -sf -X POST "http://127.0.0.1:$REF_PORT/api/v1/sessions/$RSID/join" -H 'content-type: application/json' -d '{"agent_did":"did:mesh:alpha","sigma_raw":0.85}' >/dev/null
  run "reference: POST /api/v1/rings/check" "http://127.0.0.1:$REF_PORT/api/v1/rings/check" "$work/post.lua"
  run "reference: GET /api/v1/sessions/{id}" "http://127.0.0.1:$REF_PORT/api/v1/sessions/$RSID" "$work/get.lua"
fi
