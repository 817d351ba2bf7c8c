#!/usr/bin/env bash
# Durable governed writes alone: `PUT /api/v1/sessions/{id}/vfs/file` on a fresh `ahv serve`
# (SQLite, fsync per group commit), wrk -t2 -c64, with ring 2's rate limit lifted so the run
# measures the write path. Runs longer than 30 s include the periodic snapshot.
# Usage: [AHV_BIN=path] scripts/write-bench.sh [DURATION_SECONDS]   (needs: wrk, curl, jq)
set -euo pipefail
cd "$(dirname "$0")/.."
DUR="${1:-10}"
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
if [ -z "${AHV_BIN:-}" ]; then cargo build --release --locked --bin ahv >/dev/null; AHV_BIN=target/release/ahv; fi
work="$(mktemp -d)"; PORT=18495; TOKEN=bench-admin-token
cleanup() { kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
cat >"$work/ahv.toml" <<TOML
[engine]
rate_limits.ring2 = { rate_per_sec = 1000000, burst = 1000000 }
TOML
AHV_CONFIG="$work/ahv.toml" AHV_ADMIN_TOKEN=$TOKEN RUST_LOG=warn "$AHV_BIN" serve --listen 127.0.0.1:$PORT --data-dir "$work/data" >"$work/serve.log" 2>&1 &
for _ in $(seq 1 100); do curl -sf 127.0.0.1:$PORT/health >/dev/null && break; sleep 0.2; done
API=http://127.0.0.1:$PORT/api/v1
SID=$(curl -sf -X POST $API/sessions -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' \
  -d '{"creator_did":"did:mesh:admin","max_duration_seconds":86400,"isolation":"snapshot"}' | jq -r .session_id)
AGENT=$(curl -sf -X POST "$API/sessions/$SID/join" -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' \
  -d '{"agent_did":"did:mesh:writer","sigma_raw":0.99}' | jq -r .agent_token)
curl -sf -X POST "$API/sessions/$SID/activate" -H "Authorization: Bearer $TOKEN" >/dev/null
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
wrk -t2 -c64 -d"${DUR}s" --latency -s "$work/write.lua" "$API/sessions/$SID/vfs/file" \
  | grep -E "Latency |Requests/sec|50%|90%|99%"
