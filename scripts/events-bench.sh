#!/usr/bin/env bash
# What an event query costs when the history is full of events the caller may not see: fills
# the retained history (100,000 events) with one agent's durable writes, then times
# `GET /api/v1/events?limit=100` 20 times as another agent (who sees none of them) and as the
# admin. Usage: [AHV_BIN=path] scripts/events-bench.sh   (needs: wrk, curl, jq)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/bench-lib.sh
bench_serve 18490
read -r SID WRITER < <(bench_session did:mesh:writer 0.99 snapshot)
read -r _ OTHER < <(bench_session did:mesh:other 0.99 snapshot)
bench_write_lua "$WRITER" "$work/write.lua"
wrk -t2 -c64 -d8s -s "$work/write.lua" "$API/sessions/$SID/vfs/file" | grep Requests/sec
echo "events published: $(curl -sf "$API/events/stats" -H "Authorization: Bearer $TOKEN" | jq .total_events)"
for who in OTHER TOKEN; do
  t=${!who}
  times=$(for _ in $(seq 1 20); do curl -s -o /dev/null -w '%{time_total}\n' "$API/events?limit=100" -H "Authorization: Bearer $t"; done | sort -n)
  echo "$who: median $(echo "$times" | sed -n 10p) s, max $(echo "$times" | tail -1) s"
done
