# Shared by the HTTP benchmark scripts (source it after `cd` to the repository root):
# a release `ahv serve` on loopback with the admin token and ring 2's rate limit lifted (so a
# write row measures the write path, not one agent's 20/s quota), sessions with one agent, and
# wrk's durable-write script. Sets `work` (a temporary directory removed on exit) and `TOKEN`.
# shellcheck shell=bash

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
# AHV_BIN: a prebuilt binary to measure (lets the sources change while runs go on).
if [ -z "${AHV_BIN:-}" ]; then cargo build --release --locked --bin ahv >/dev/null; AHV_BIN=target/release/ahv; fi
work="$(mktemp -d)"
TOKEN=bench-admin-token
bench_cleanup() { kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"; }
trap bench_cleanup EXIT

# bench_serve PORT: starts the server and waits for /health; sets API.
bench_serve() {
  cat >"$work/ahv.toml" <<TOML
[engine]
rate_limits.ring2 = { rate_per_sec = 1000000, burst = 1000000 }
TOML
  AHV_CONFIG="$work/ahv.toml" AHV_ADMIN_TOKEN=$TOKEN RUST_LOG=warn "$AHV_BIN" serve --listen "127.0.0.1:$1" --data-dir "$work/data" >"$work/serve.log" 2>&1 &
  for _ in $(seq 1 100); do curl -sf "127.0.0.1:$1/health" >/dev/null && break; sleep 0.2; done
  API="http://127.0.0.1:$1/api/v1"
}

# bench_session AGENT SIGMA [ISOLATION]: an active session with AGENT joined; prints
# "SESSION_ID AGENT_TOKEN". Blind writes need `snapshot` (read_committed wants the agent to have
# seen the latest version).
bench_session() {
  local iso="" sid tok
  [ -n "${3:-}" ] && iso=",\"isolation\":\"$3\""
  sid=$(curl -sf -X POST "$API/sessions" -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' \
    -d "{\"creator_did\":\"did:mesh:admin\",\"max_duration_seconds\":86400$iso}" | jq -r .session_id)
  tok=$(curl -sf -X POST "$API/sessions/$sid/join" -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' \
    -d "{\"agent_did\":\"$1\",\"sigma_raw\":$2}" | jq -r .agent_token)
  curl -sf -X POST "$API/sessions/$sid/activate" -H "Authorization: Bearer $TOKEN" >/dev/null
  echo "$sid $tok"
}

# bench_write_lua AGENT_TOKEN FILE: wrk script of durable writes, each a new version of one of
# 64 files.
bench_write_lua() {
  cat >"$2" <<LUA
wrk.method = "PUT"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $1"
counter = 0
request = function()
  counter = counter + 1
  return wrk.format(nil, nil, nil, '{"path":"/bench/' .. (counter % 64) .. '.txt","content":"v' .. counter .. '"}')
end
LUA
}
