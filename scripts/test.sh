#!/usr/bin/env bash
# Runs the whole test suite against real services: installs what is missing, then
# `cargo test`. Tests start their own PostgreSQL cluster (in /tmp/switchyard-test-pg, or
# SWITCHYARD_TEST_PG_DIR) unless DATABASE_URL names a server; this script gives them a fresh
# one and stops it at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh

# What tests/observability.rs checks the dashboards, alert rules and deploy files with:
# Prometheus + promtool and systemd-analyze from Debian, and a Python venv with the
# Kubernetes-schema and compose-spec validators (pinned; created once, reused after).
# And the daemons the node's network tests start on loopback (services/regtest/src/daemons.rs):
# dnsmasq as a BOLT 10 DNS seed, microsocks as a SOCKS5 proxy, tor (offline) for its control
# port. dnsmasq-base and microsocks ship no service; tor's is stopped if the install started it.
test_apt=()
command -v prometheus >/dev/null && command -v promtool >/dev/null || test_apt+=(prometheus)
command -v systemd-analyze >/dev/null || test_apt+=(systemd)
have() { command -v "$1" >/dev/null || [ -x "/usr/sbin/$1" ]; }
have dnsmasq || test_apt+=(dnsmasq-base)
have microsocks || test_apt+=(microsocks)
have tor || test_apt+=(tor)
if [ ${#test_apt[@]} -gt 0 ]; then
  echo "test: installing ${test_apt[*]}" >&2
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${test_apt[@]}" >/dev/null
  if [[ " ${test_apt[*]} " == *" tor "* ]]; then
    $SUDO service tor stop >/dev/null 2>&1 || true
  fi
fi
export SWITCHYARD_VALIDATE_VENV="${SWITCHYARD_VALIDATE_VENV:-$HOME/.cache/switchyard/venv-validate}"
validators="kubernetes-validate==1.37.0 check-jsonschema==0.39.0"
if [ "$(cat "$SWITCHYARD_VALIDATE_VENV/.pinned" 2>/dev/null)" != "$validators" ]; then
  echo "test: creating $SWITCHYARD_VALIDATE_VENV ($validators)" >&2
  rm -rf "$SWITCHYARD_VALIDATE_VENV"
  python3 -m venv "$SWITCHYARD_VALIDATE_VENV"
  # shellcheck disable=SC2086
  "$SWITCHYARD_VALIDATE_VENV/bin/pip" install -q $validators
  echo "$validators" > "$SWITCHYARD_VALIDATE_VENV/.pinned"
fi

# pyln-proto (Core Lightning's Python wire library) for tests/interop_pyln.rs, in its own venv
# (pinned; created once, reused after). The test runs the same script: it skips, saying so,
# only when the package index is unreachable, and fails on any other install error.
export SWITCHYARD_INTEROP_VENV="${SWITCHYARD_INTEROP_VENV:-$HOME/.cache/switchyard/venv-interop}"
./scripts/interop-venv.sh >/dev/null || echo "test: pyln-proto not installed; tests/interop_pyln.rs says why" >&2

# A regtest bitcoind for the node tests: built once from the Bitcoin Core source vendored in
# the libbitcoinkernel-sys crate (10-20 minutes on 2 cores), cached in ~/.cache/switchyard.
SWITCHYARD_BITCOIND="${SWITCHYARD_BITCOIND:-$(./scripts/build-bitcoind.sh)/bitcoind}"
export SWITCHYARD_BITCOIND

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

# Fuzz each parser briefly (fuzz/README.md), failing on a crash or hang; the committed corpus
# and regression inputs are replayed below as plain tests (fuzz/tests/corpus.rs).
# FUZZ_SECONDS=0 skips this (e.g. when iterating on one test).
if [ "${FUZZ_SECONDS:-20}" != 0 ]; then
  ./fuzz/run.sh "${FUZZ_SECONDS:-20}"
fi

cargo test --workspace --locked "$@"
