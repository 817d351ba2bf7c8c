#!/usr/bin/env bash
# Property-based fuzzing of the HTTP API from its own OpenAPI document with schemathesis:
# every operation, with generated valid and invalid inputs and stateful sequences, as the admin.
# Fails on any 5xx, any response that does not match its documented schema, and any status the
# document does not list for that operation.
#
#   scripts/api-fuzz.sh [SECONDS]        # default 300; needs python3 (schemathesis is installed
#                                        # from PyPI into ST_VENV, default .fuzz-venv, pinned)
set -euo pipefail
cd "$(dirname "$0")/.."
SECS="${1:-300}"
VENV="${ST_VENV:-.fuzz-venv}"
[ -x "$VENV/bin/schemathesis" ] || {
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q 'schemathesis==4.32.5'
}
cargo build --release --locked --bin ahv >/dev/null
work="$(mktemp -d)"; PORT=18520; TOKEN=fuzz-admin-token
cleanup() { kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
AHV_ADMIN_TOKEN=$TOKEN RUST_LOG=warn target/release/ahv serve --listen 127.0.0.1:$PORT --data-dir "$work/data" >"$work/serve.log" 2>&1 &
for _ in $(seq 1 100); do curl -sf 127.0.0.1:$PORT/health >/dev/null && break; sleep 0.2; done
"$VENV/bin/schemathesis" run "http://127.0.0.1:$PORT/api/v1/openapi.json" \
  -H "Authorization: Bearer $TOKEN" \
  -c not_a_server_error,response_schema_conformance,status_code_conformance \
  --max-time "$SECS" -w 2 --continue-on-failure
