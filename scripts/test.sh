#!/usr/bin/env bash
# Runs the whole test suite against real services: installs what is missing, then
# `cargo test`. Tests start their own PostgreSQL cluster (in /tmp/switchyard-test-pg, or
# SWITCHYARD_TEST_PG_DIR) unless DATABASE_URL names a server; this script gives them a fresh
# one and stops it at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh

export SWITCHYARD_TEST_PG_DIR="${SWITCHYARD_TEST_PG_DIR:-/tmp/switchyard-test-pg}"

pg_bin() {
  if [ -n "${SWITCHYARD_PG_BIN:-}" ]; then echo "$SWITCHYARD_PG_BIN"; return; fi
  ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}
stop_test_cluster() {
  local data="$SWITCHYARD_TEST_PG_DIR/data"
  [ -f "$data/postmaster.pid" ] || return 0
  local ctl; ctl="$(pg_bin)/pg_ctl"
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$ctl" -D "$data" stop -m fast >/dev/null 2>&1 || true
  else
    "$ctl" -D "$data" stop -m fast >/dev/null 2>&1 || true
  fi
}

# A fresh cluster each run: no databases left over from earlier runs.
stop_test_cluster
rm -rf "$SWITCHYARD_TEST_PG_DIR" "$SWITCHYARD_TEST_PG_DIR.lock"
trap stop_test_cluster EXIT

cargo test --workspace --locked "$@"
