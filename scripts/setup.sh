#!/usr/bin/env bash
# Installs what switchyard needs on a fresh Debian/Ubuntu machine (as root, or with sudo):
# PostgreSQL's server binaries for the embedded database. Safe to run again: it only installs
# what is missing.
set -euo pipefail

need_apt=()
have_pg() {
  [ -n "${SWITCHYARD_PG_BIN:-}" ] && [ -x "$SWITCHYARD_PG_BIN/initdb" ] && return 0
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1
}
have_pg || need_apt+=(postgresql)
command -v gzip >/dev/null || need_apt+=(gzip)
command -v xz >/dev/null || need_apt+=(xz-utils)

if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing ${need_apt[*]}" >&2
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
  # Debian starts a system cluster on install; switchyard runs its own, so stop that one.
  if command -v pg_lsclusters >/dev/null 2>&1; then
    $SUDO pg_lsclusters -h 2>/dev/null | while read -r ver name _; do
      $SUDO pg_ctlcluster "$ver" "$name" stop 2>/dev/null || true
    done
  fi
fi

command -v cargo >/dev/null || { echo "setup: cargo not found: install Rust (https://rustup.rs)" >&2; exit 1; }
echo "setup: ok" >&2
