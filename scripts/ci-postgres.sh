#!/usr/bin/env bash
# Starts a throwaway PostgreSQL cluster on 127.0.0.1:54329 for the store's PostgreSQL tests and
# exports AHV_TEST_POSTGRES_URL. Installs the server from Debian's packages if it is missing.
# Source it (`. scripts/ci-postgres.sh`); the cluster is stopped when the calling shell exits.
# Fails loudly: under CI the PostgreSQL tests must run, never skip.
set -euo pipefail

PGPORT="${AHV_PG_PORT:-54329}"
pgbin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }
if [ -z "$(pgbin)" ] || [ ! -x "$(pgbin)/initdb" ]; then
  echo "installing PostgreSQL server packages"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi
PGBIN="$(pgbin)"
id postgres >/dev/null 2>&1 || useradd --system --home /var/lib/postgresql postgres

AHV_PGDATA="$(mktemp -d /tmp/ahv-pg.XXXXXX)"
chown postgres "$AHV_PGDATA"
runuser -u postgres -- "$PGBIN/initdb" -D "$AHV_PGDATA" -A trust -U postgres >/dev/null
runuser -u postgres -- "$PGBIN/pg_ctl" -D "$AHV_PGDATA" -w -l "$AHV_PGDATA/server.log" \
  -o "-p $PGPORT -k /tmp -c listen_addresses=127.0.0.1 -c max_connections=200" start >/dev/null
"$PGBIN/psql" -h 127.0.0.1 -p "$PGPORT" -U postgres -qc "CREATE DATABASE ahv_test" >/dev/null
export AHV_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$PGPORT/ahv_test" AHV_REQUIRE_POSTGRES=1
export AHV_PGBIN="$PGBIN" AHV_PGDATA AHV_PG_PORT="$PGPORT"
ahv_pg_stop() { runuser -u postgres -- "$PGBIN/pg_ctl" -D "$AHV_PGDATA" -m fast stop >/dev/null 2>&1 || true; }
trap ahv_pg_stop EXIT
echo "PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}') ready at $AHV_TEST_POSTGRES_URL"
