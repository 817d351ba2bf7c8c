#!/usr/bin/env bash
# Runs the commands of README.md exactly as written, in order, so the README cannot drift:
# every ```sh block is extracted; `cargo run --release -- serve …` lines start the server in the
# background and wait for /health; `cargo test --workspace` is skipped (CI runs it already); the
# placeholder PostgreSQL URL is replaced by the CI cluster's URL when one is running.
# Then it restarts the server and checks that the session created by the README survived.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v jq >/dev/null || { apt-get update -qq && apt-get install -y -qq jq >/dev/null; }
work="$(mktemp -d)"
rm -rf ahv-data my-saga.yaml bundle.json witness.json witness.tmp
trap 'kill $(cat "$work"/serve.pid 2>/dev/null) 2>/dev/null || true; rm -rf ahv-data my-saga.yaml bundle.json witness.json witness.tmp "$work"' EXIT

python3 - "$work/readme.sh" <<'PY'
import re, shlex, sys
text = open("README.md").read()
blocks = re.findall(r"```sh\n(.*?)```", text, re.S)
out = ["set -euo pipefail",
       "wait_health() { for _ in $(seq 1 600); do curl -sf http://127.0.0.1:8080/health >/dev/null && return 0; sleep 0.5; done; echo 'server did not start'; cat \"$WORK/serve.log\"; return 1; }",
       "stop_server() { kill $(cat \"$WORK/serve.pid\") 2>/dev/null || true; while curl -sf http://127.0.0.1:8080/health >/dev/null; do sleep 0.2; done; }"]
for b in blocks:
    lines = b.replace("\\\n", " ").splitlines()
    for line in lines:
        cmd = line.split("#")[0].rstrip() if not line.lstrip().startswith("#") else ""
        if not cmd.strip():
            continue
        if cmd.startswith("cargo test --workspace"):
            continue
        if cmd.startswith("cargo run --release -- serve"):
            if "postgres://" in cmd:
                cmd = re.sub(r"postgres://\S+", '"$AHV_TEST_POSTGRES_URL"', cmd)
                out.append('if [ -n "${AHV_TEST_POSTGRES_URL:-}" ]; then stop_server')
                out.append("printf '%s\\n' " + shlex.quote("+ " + cmd) + f'; {cmd} --listen 127.0.0.1:8080 > "$WORK/serve.log" 2>&1 & echo $! > "$WORK/serve.pid"; wait_health; stop_server; fi')
                continue
            out.append("printf '%s\\n' " + shlex.quote("+ " + cmd) + f'; {cmd} > "$WORK/serve.log" 2>&1 & echo $! > "$WORK/serve.pid"; wait_health')
            continue
        out.append("printf '%s\\n' " + shlex.quote("+ " + cmd))
        out.append(cmd)
open(sys.argv[1], "w").write("\n".join(out) + "\n")
PY
export WORK="$work"
# `cargo run --release` builds first; build up front so the server start below is quick.
cargo build --release --locked --bin ahv
# The README's commands, then: restart and check the README's session is still there.
cat >> "$work/readme.sh" <<'SH'
test -n "$SID" && test "$SID" != null
stop_server
cargo run --release -- serve > "$WORK/serve2.log" 2>&1 & echo $! > "$WORK/serve.pid"; wait_health
state=$(curl -sf "$API/sessions/$SID" -H "Authorization: Bearer $TOKEN" | jq -r .state)
test "$state" = archived || { echo "session state after restart: $state"; exit 1; }
echo "README commands ok; state survived a restart"
SH
bash "$work/readme.sh"
