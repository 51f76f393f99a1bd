#!/usr/bin/env bash
# Builds the AFL++ fuzz targets (cargo-afl, stable Rust) and fuzzes each for a time box,
# starting from its committed corpus. Exits non-zero when a target crashed or hung, and
# leaves the inputs that did so in $FUZZ_OUT/<target>/default/{crashes,hangs}/.
#
#   fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]     (default: 20 s, every target)
#
# Installs cargo-afl (pinned) and builds AFL++ once, cached outside the clone (~/.cargo/bin,
# ~/.local/share/afl.rs). Instrumented builds go to $CARGO_TARGET_DIR/afl (or target/afl),
# apart from the normal build so neither invalidates the other. See fuzz/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."

secs="${1:-20}"
[ $# -gt 0 ] && shift
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(graph_file rules_file gossip_raw api_request)

AFL_VERSION=0.18.2
if [ "$(cargo afl --version 2>/dev/null | awk '{print $2}')" != "$AFL_VERSION" ]; then
  echo "fuzz: installing cargo-afl $AFL_VERSION" >&2
  cargo install cargo-afl --version "$AFL_VERSION" --locked --quiet
fi
# Builds AFL++ (without LLVM plugins: those need nightly) unless already built.
if ! msg=$(cargo afl config --build 2>&1); then
  case "$msg" in
    *"already built"*) ;;
    *) echo "$msg" >&2; exit 1 ;;
  esac
fi

# Real secp256k1 and LDK: without this, cargo-afl sets `--cfg fuzzing`, which turns
# secp256k1's signature checks into stand-ins.
export AFL_NO_CFG_FUZZING=1
# cargo-afl builds every crate at -O3 with one codegen unit; -O1 compiles the tree (LDK, BDK,
# sqlx, axum) about twice as fast and still runs thousands of inputs a second.
export AFL_OPT_LEVEL="${AFL_OPT_LEVEL:-1}"
target_dir="${CARGO_TARGET_DIR:-$PWD/target}/afl"
CARGO_TARGET_DIR="$target_dir" cargo afl build --release --locked -p switchyard-fuzz \
  --features afl --bins --quiet

out="${FUZZ_OUT:-$(mktemp -d /tmp/switchyard-fuzz.XXXXXX)}"
mkdir -p "$out"
# No UI, no CPU pinning (shared machines), no core_pattern or governor demands, and stop at
# the time box or at the first crash (FUZZ_KEEP_GOING=1: only at the time box, collecting every
# crash, for long campaigns).
export AFL_NO_UI=1 AFL_NO_AFFINITY=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1
[ -n "${FUZZ_KEEP_GOING:-}" ] || export AFL_BENCH_UNTIL_CRASH=1

failed=0
for t in "${targets[@]}"; do
  dict=()
  case "$t" in
    graph_file|api_request) dict=(-x fuzz/dict/json.dict) ;;
    rules_file) dict=(-x fuzz/dict/toml.dict) ;;
  esac
  # The API target builds its graph and analytics once per process: allow a slow first run.
  timeout_ms=1000
  [ "$t" = api_request ] && timeout_ms=10000
  rm -rf "${out:?}/$t"
  echo "fuzz: $t for ${secs}s" >&2
  cargo afl fuzz -i "fuzz/corpus/$t" -o "$out/$t" -V "$secs" -t "$timeout_ms" -m none \
    "${dict[@]}" -- "$target_dir/release/$t" >"$out/$t.log" 2>&1 || {
      echo "fuzz: afl-fuzz failed for $t; its log:" >&2
      tail -n 30 "$out/$t.log" >&2
      failed=1
      continue
    }
  stats="$out/$t/default/fuzzer_stats"
  field() { awk -F' *: ' -v k="$1" '$1 == k {print $2}' "$stats"; }
  crashes=$(field saved_crashes)
  hangs=$(field saved_hangs)
  echo "fuzz: $t: $(field execs_done) execs, $(field corpus_count) paths," \
    "$(field bitmap_cvg) coverage, $crashes crashes, $hangs hangs" >&2
  if [ "${crashes:-1}" != 0 ] || [ "${hangs:-1}" != 0 ]; then
    echo "fuzz: $t failed; inputs in $out/$t/default/crashes and hangs" >&2
    failed=1
  fi
done
exit "$failed"
