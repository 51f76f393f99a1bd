#!/usr/bin/env bash
# Sets up what is missing, builds switchyard, and runs the main job: an embedded PostgreSQL in
# ./switchyard-data, the bundled 2019 mainnet graph on first start, the API and metrics on
# http://127.0.0.1:8080. Extra arguments go to `switchyard up` (see `switchyard up --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
exec cargo run --release --locked --bin switchyard -- up "$@"
