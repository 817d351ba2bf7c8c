#!/usr/bin/env bash
# What an event query costs when the history is full of events the caller may not see: fills
# the retained history (100,000 events) with one agent's durable writes, then times
# `GET /api/v1/events?limit=100` 20 times as another agent (who sees none of them) and as the
# admin. Usage: [AHV_BIN=path] scripts/events-bench.sh   (needs: wrk, curl, jq)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
if [ -z "${AHV_BIN:-}" ]; then cargo build --release --locked --bin ahv >/dev/null; AHV_BIN=target/release/ahv; fi
work="$(mktemp -d)"; PORT=18490; TOKEN=bench-admin-token
cleanup() { kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
cat >"$work/ahv.toml" <<TOML
[engine]
rate_limits.ring2 = { rate_per_sec = 1000000, burst = 1000000 }
TOML
AHV_CONFIG="$work/ahv.toml" AHV_ADMIN_TOKEN=$TOKEN RUST_LOG=warn "$AHV_BIN" serve --listen 127.0.0.1:$PORT --data-dir "$work/data" >"$work/serve.log" 2>&1 &
for _ in $(seq 1 100); do curl -sf 127.0.0.1:$PORT/health >/dev/null && break; sleep 0.2; done
API=http://127.0.0.1:$PORT/api/v1
session_for() { # agent → "session token"
  local sid tok
  sid=$(curl -sf -X POST $API/sessions -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' \
    -d '{"creator_did":"did:mesh:admin","max_duration_seconds":86400,"isolation":"snapshot"}' | jq -r .session_id)
  tok=$(curl -sf -X POST "$API/sessions/$sid/join" -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' \
    -d "{\"agent_did\":\"$1\",\"sigma_raw\":0.99}" | jq -r .agent_token)
  curl -sf -X POST "$API/sessions/$sid/activate" -H "Authorization: Bearer $TOKEN" >/dev/null
  echo "$sid $tok"
}
read -r SID WRITER < <(session_for did:mesh:writer)
read -r _ OTHER < <(session_for did:mesh:other)
cat >"$work/write.lua" <<LUA
wrk.method = "PUT"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $WRITER"
counter = 0
request = function()
  counter = counter + 1
  return wrk.format(nil, nil, nil, '{"path":"/bench/' .. (counter % 64) .. '.txt","content":"v' .. counter .. '"}')
end
LUA
wrk -t2 -c64 -d8s -s "$work/write.lua" "$API/sessions/$SID/vfs/file" | grep Requests/sec
echo "events published: $(curl -sf "$API/events/stats" -H "Authorization: Bearer $TOKEN" | jq .total_events)"
for who in OTHER TOKEN; do
  t=${!who}
  times=$(for _ in $(seq 1 20); do curl -s -o /dev/null -w '%{time_total}\n' "$API/events?limit=100" -H "Authorization: Bearer $t"; done | sort -n)
  echo "$who: median $(echo "$times" | sed -n 10p) s, max $(echo "$times" | tail -1) s"
done
