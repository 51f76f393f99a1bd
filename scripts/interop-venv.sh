#!/usr/bin/env bash
# The Python venv that tests/interop_pyln.rs drives a second Lightning implementation from:
# pyln-proto, Core Lightning's Python wire library (pinned; created once, reused after).
# Prints the venv's directory. Exit status: 0 ready; 75 the package index cannot be reached
# (the test then skips and says so); anything else is a real failure.
set -euo pipefail
venv="${SWITCHYARD_INTEROP_VENV:-$HOME/.cache/switchyard/venv-interop}"
pinned="pyln-proto==26.6.9"
if [ "$(cat "$venv/.pinned" 2>/dev/null)" = "$pinned" ] && "$venv/bin/python" -c 'import pyln.proto.wire' 2>/dev/null; then
  echo "$venv"
  exit 0
fi
echo "interop: creating $venv ($pinned)" >&2
rm -rf "$venv"
python3 -m venv "$venv" >&2
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
# shellcheck disable=SC2086
if ! "$venv/bin/pip" install -q --disable-pip-version-check --retries 2 --timeout 30 $pinned >"$log" 2>&1; then
  cat "$log" >&2
  rm -rf "$venv"
  if grep -qE 'NewConnectionError|Failed to establish a new connection|Temporary failure in name resolution|Name or service not known|Network is unreachable|ConnectTimeoutError|Connection refused|Read timed out|ProxyError|Max retries exceeded' "$log"; then
    echo "interop: the package index is unreachable" >&2
    exit 75
  fi
  exit 1
fi
"$venv/bin/python" -c 'import pyln.proto.wire' >&2
echo "$pinned" > "$venv/.pinned"
echo "$venv"
