#!/usr/bin/env bash
# Builds a regtest-capable bitcoind + bitcoin-cli from the Bitcoin Core source that the
# `libbitcoinkernel-sys` crate vendors (no prebuilt binary can be downloaded here), and caches
# them outside the clone so later runs reuse them. Prints the bin directory on stdout.
#
#   scripts/build-bitcoind.sh            # build if missing, print the bin dir
#   SWITCHYARD_BITCOIND_DIR=/opt/btc ... # cache somewhere else
#
# Takes about 10-15 minutes on 2 cores the first time; a no-op afterwards.
set -euo pipefail

KERNEL_SYS_VERSION="0.4.1"
CACHE="${SWITCHYARD_CACHE_DIR:-$HOME/.cache/switchyard}"
PREFIX="${SWITCHYARD_BITCOIND_DIR:-$CACHE/bitcoind-$KERNEL_SYS_VERSION}"
BIN="$PREFIX/bin"

log() { echo "build-bitcoind: $*" >&2; }

if [[ -x "$BIN/bitcoind" && -x "$BIN/bitcoin-cli" ]] && "$BIN/bitcoind" -version >/dev/null 2>&1; then
    echo "$BIN"
    exit 0
fi

mkdir -p "$CACHE"
LOCK="$CACHE/bitcoind-build.lock"
# One builder at a time: a second caller waits for the first and then reuses its binary.
exec 9>"$LOCK"
flock 9
if [[ -x "$BIN/bitcoind" && -x "$BIN/bitcoin-cli" ]]; then
    echo "$BIN"
    exit 0
fi

need_pkgs=()
command -v cmake >/dev/null || need_pkgs+=(cmake)
command -v pkg-config >/dev/null || need_pkgs+=(pkg-config)
command -v g++ >/dev/null || need_pkgs+=(g++)
[[ -d /usr/include/boost ]] || need_pkgs+=(libboost-dev)
[[ -f /usr/include/event2/event.h ]] || need_pkgs+=(libevent-dev)
if ((${#need_pkgs[@]})); then
    log "installing build tools: ${need_pkgs[*]}"
    SUDO=""
    [[ $(id -u) -ne 0 ]] && SUDO="sudo"
    $SUDO apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_pkgs[@]}" >&2
fi

# Let cargo fetch the crate (it knows the registry and its mirrors), then find its source.
FETCH="$CACHE/bitcoind-fetch"
mkdir -p "$FETCH/src"
cat >"$FETCH/Cargo.toml" <<TOML
[package]
name = "switchyard-bitcoind-fetch"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
libbitcoinkernel-sys = "=$KERNEL_SYS_VERSION"

[workspace]
TOML
: >"$FETCH/src/lib.rs"
log "fetching libbitcoinkernel-sys $KERNEL_SYS_VERSION"
cargo fetch --quiet --manifest-path "$FETCH/Cargo.toml" >&2
SRC=$(cargo metadata --quiet --format-version 1 --manifest-path "$FETCH/Cargo.toml" |
    python3 -c 'import json,sys,os
m = json.load(sys.stdin)
p = next(p for p in m["packages"] if p["name"] == "libbitcoinkernel-sys")
print(os.path.join(os.path.dirname(p["manifest_path"]), "bitcoin"))')
[[ -f "$SRC/CMakeLists.txt" ]] || { log "no Bitcoin Core source at $SRC"; exit 1; }

BUILD="$CACHE/bitcoind-build"
# The crate leaves out the ASMap data file, so it cannot be embedded (WITH_EMBEDDED_ASMAP=OFF).
log "configuring Bitcoin Core from $SRC (build dir $BUILD)"
cmake -S "$SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release \
    -DBUILD_DAEMON=ON -DBUILD_CLI=ON -DBUILD_BITCOIN_BIN=OFF -DBUILD_TX=OFF -DBUILD_UTIL=OFF \
    -DENABLE_WALLET=OFF -DENABLE_IPC=OFF -DWITH_ZMQ=OFF -DENABLE_EXTERNAL_SIGNER=OFF \
    -DBUILD_TESTS=OFF -DBUILD_GUI=OFF -DBUILD_BENCH=OFF -DBUILD_FUZZ_BINARY=OFF \
    -DBUILD_KERNEL_LIB=OFF -DWITH_CCACHE=OFF -DINSTALL_MAN=OFF \
    -DWITH_EMBEDDED_ASMAP=OFF >&2
log "compiling bitcoind and bitcoin-cli with $(nproc) jobs (10-15 minutes on 2 cores)"
cmake --build "$BUILD" -j"$(nproc)" --target bitcoind bitcoin-cli >&2

mkdir -p "$BIN.tmp"
cp "$BUILD/bin/bitcoind" "$BUILD/bin/bitcoin-cli" "$BIN.tmp/"
rm -rf "$BIN" && mv "$BIN.tmp" "$BIN"
"$BIN/bitcoind" -version | head -1 >&2
echo "$BIN"
