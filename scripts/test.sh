#!/usr/bin/env bash
# The whole test suite, on a fresh machine or a developer's: installs what the tests need
# (scripts/install-test-deps.sh), makes sure PostgreSQL and Redis are running, then runs every
# test of the workspace. PostgreSQL is required: the conformance and multi-instance tests fail,
# never skip, when it is unreachable.
#
#   scripts/test.sh            # everything
#   scripts/test.sh -p switchboard-store   # extra arguments go to `cargo test`
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

log() { echo "test.sh: $*" >&2; }

bash scripts/install-test-deps.sh

PG_URL="${SWITCHBOARD_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
export SWITCHBOARD_TEST_POSTGRES_URL="$PG_URL"

if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  log "PostgreSQL is not answering on 127.0.0.1:5432; starting the local cluster"
  if command -v pg_ctlcluster >/dev/null 2>&1; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
  fi
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
  pg_isready -h 127.0.0.1 -p 5432 || { log "PostgreSQL is unreachable: the test suite needs it"; exit 1; }
fi
if command -v redis-cli >/dev/null 2>&1 && ! redis-cli -h 127.0.0.1 ping >/dev/null 2>&1; then
  log "Redis is not answering; starting it"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no >/dev/null || true
fi

# Databases left behind by earlier runs (each test makes its own sbtest_* database).
if command -v psql >/dev/null 2>&1; then
  psql "$PG_URL" -Atc "select datname from pg_database where datname like 'sbtest\_%'" 2>/dev/null |
    while read -r db; do
      [ -n "$db" ] && psql "$PG_URL" -qc "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1 || true
    done
fi

log "cargo test --workspace $*"
cargo test --workspace --all-targets --locked --no-fail-fast "$@"
