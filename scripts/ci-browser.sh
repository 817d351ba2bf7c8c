#!/usr/bin/env bash
# Runs the dashboard's browser test: Debian's Chromium (installed if missing) driven by
# playwright-core against a real `ahv serve` on 127.0.0.1 with a throwaway data directory.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x /usr/bin/chromium ]; then
  echo "installing Debian's chromium"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
cargo build --locked -p ahv-cli --bin ahv
AHV_BIN="$(pwd)/target/debug/ahv"
cd crates/server/tests/browser
npm ci --no-audit --no-fund --loglevel=error
AHV_DASHBOARD_SERVER="$AHV_BIN serve --listen 127.0.0.1:{port} --data-dir {data_dir}" \
  node --test --test-concurrency=1 dashboard.test.mjs
