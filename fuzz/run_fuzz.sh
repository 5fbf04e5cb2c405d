#!/usr/bin/env bash
# Builds the libFuzzer harnesses and runs each one for a given time (`make fuzz`, and a bounded run
# in `make check`). docs/fuzzing.md explains the harnesses, the corpora and what to do with a finding.
#
# Usage: fuzz/run_fuzz.sh [--time SECONDS] [--seed N] [--build DIR] [--seeds full|small] [--jobs N] [HARNESS...]
#   --time   seconds per harness (default 60)
#   --seed   libFuzzer's random seed (default 0: a new one each run); a fixed seed makes a run repeat
#            the same inputs in the same order, so that `make check` fails only on what it found before
#   --build  the libFuzzer build folder (default build-fuzz; configured with clang when missing)
#   --seeds  full: seeds from the demo, the ONNX node tests (generated when missing), the bad-input
#            cases, NumPy files and the committed ones; small: all but the node tests (default full)
#   --jobs   parallel compile jobs for the build (default: nproc)
#   HARNESS  model, tensor, run (default: all three)
# Exit status: 0 no finding; 1 a finding (the input is saved as DIR/fuzz-artifacts/<harness>/...)
# or a build/toolchain problem; 2 usage.
set -u
cd "$(dirname "$0")/.."
ROOT=$(pwd)
TIME=60
SEED=0
BUILD=build-fuzz
SEEDS=full
JOBS=$(nproc 2>/dev/null || echo 2)
HARNESSES=()
PY=/usr/bin/python3
usage() { sed -n '5,15p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case "$1" in
    --time) TIME=${2:-}; shift 2 ;;
    --seed) SEED=${2:-}; shift 2 ;;
    --build) BUILD=${2:-}; shift 2 ;;
    --seeds) SEEDS=${2:-}; shift 2 ;;
    --jobs) JOBS=${2:-}; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    model|tensor|run) HARNESSES+=("$1"); shift ;;
    *) echo "run_fuzz: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
  esac
done
case "$TIME" in ''|*[!0-9]*) echo "run_fuzz: --time needs a number of seconds" >&2; exit 2 ;; esac
case "$SEED" in ''|*[!0-9]*) echo "run_fuzz: --seed needs a number" >&2; exit 2 ;; esac
case "$SEEDS" in full|small) ;; *) echo "run_fuzz: --seeds is full or small" >&2; exit 2 ;; esac
[ ${#HARNESSES[@]} -gt 0 ] || HARNESSES=(model tensor run)
die() { echo "run_fuzz: error: $*" >&2; exit 1; }

# --- the toolchain: clang that links a libFuzzer program -------------------------------------------
command -v clang >/dev/null 2>&1 || die "clang is missing (Debian: apt-get install clang libclang-rt-dev, or scripts/setup.sh fuzz)"
probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
printf '#include <stddef.h>\n#include <stdint.h>\nint LLVMFuzzerTestOneInput(const uint8_t* d, size_t n) { (void)d; (void)n; return 0; }\n' >"$probe/p.c"
if ! clang -fsanitize=fuzzer,address,undefined "$probe/p.c" -o "$probe/p" 2>"$probe/err"; then
  sed -n '1,5p' "$probe/err" >&2
  die "clang cannot link a libFuzzer program: libFuzzer (Debian: libclang-rt-dev) is missing; scripts/setup.sh fuzz installs it"
fi

# --- build ---------------------------------------------------------------------------------------------
if [ ! -f "$BUILD/CMakeCache.txt" ]; then
  echo "== configuring $BUILD (clang, libFuzzer + ASan + UBSan)"
  CC=clang cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDYCL_FUZZ=ON >"$probe/cmake.log" 2>&1 ||
    { tail -20 "$probe/cmake.log" >&2; die "configuring $BUILD failed"; }
fi
echo "== building the fuzz harnesses in $BUILD"
cmake --build "$BUILD" -j"$JOBS" --target fuzz_harnesses >"$probe/build.log" 2>&1 ||
  { grep -E "error|Error" "$probe/build.log" | head -20 >&2; die "building the fuzz harnesses failed"; }

# --- models and seeds ------------------------------------------------------------------------------------
$PY fuzz/gen_models.py "$BUILD/fuzz-models" || die "fuzz/gen_models.py failed"
seed_args=(--models "$BUILD/fuzz-models" --bad-inputs "$BUILD/fuzz-bad-inputs")
if [ "$SEEDS" = full ]; then
  nodes=build/onnx-node-tests
  if [ ! -f "$nodes/.stamp" ]; then
    nodes="$BUILD/onnx-node-tests"
    echo "== generating the ONNX node tests into $nodes (seeds)"
    $PY tests/conformance/gen_node_tests.py "$nodes" >/dev/null || die "generating the ONNX node tests failed"
  fi
  seed_args+=(--node-tests "$nodes")
fi
$PY fuzz/make_seeds.py "$BUILD/fuzz-seeds" "${seed_args[@]}" || die "fuzz/make_seeds.py failed"

# --- run -------------------------------------------------------------------------------------------------------
status=0
summary=""
for h in "${HARNESSES[@]}"; do
  corpus="$BUILD/fuzz-corpus/$h"   # what the fuzzer found, kept between runs
  artifacts="$BUILD/fuzz-artifacts/$h"
  mkdir -p "$corpus" "$artifacts"
  dirs=("$corpus" "$BUILD/fuzz-seeds/$h" "tests/fuzz/seeds/$h")
  [ -d "tests/fuzz/regressions/$h" ] && dirs+=("tests/fuzz/regressions/$h")
  log="$BUILD/fuzz-$h.log"
  echo "== fuzz_$h for ${TIME}s (log: $log)"
  touch "$log.start"
  DYCL_FUZZ_MODELS="$ROOT/$BUILD/fuzz-models" \
  ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    "$BUILD/fuzz/fuzz_$h" -max_total_time="$TIME" -seed="$SEED" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$artifacts/" "${dirs[@]}" >"$log" 2>&1
  rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  cov=$(grep -E '^#[0-9]+' "$log" | tail -1 | sed -n 's/.*cov: \([0-9]*\) ft: \([0-9]*\).*corp: \([0-9]*\).*/cov \1, features \2, corpus \3/p')
  line="fuzz_$h: ${execs:-?} executions, ${rate:-?} exec/s, ${cov:-no stats}"
  if [ $rc -ne 0 ]; then
    status=1
    line="$line — FINDING (exit $rc)"
    echo "run_fuzz: fuzz_$h found a problem:" >&2
    grep -E "ERROR: |runtime error|invariant broken|SUMMARY|Test unit written|deadly signal|timeout" "$log" | head -12 >&2
    # The input itself, so that a finding in a CI log can be reproduced without the build folder.
    for f in "$artifacts"/*; do
      [ -f "$f" ] && [ "$f" -nt "$log.start" ] || continue
      size=$(stat -c %s "$f")
      if [ "$size" -le 8192 ]; then
        echo "run_fuzz: $f ($size bytes), base64 (decode with: base64 -d > FILE):" >&2
        base64 "$f" >&2
      fi
    done
  fi
  echo "$line"
  summary="$summary$line"$'\n'
done
echo "== fuzz summary (${TIME}s per harness)"
printf '%s' "$summary"
if [ $status -ne 0 ]; then
  echo "run_fuzz: reproduce with: $BUILD/fuzz/fuzz_<harness> <input>; once fixed, copy the input to tests/fuzz/regressions/<harness>/" >&2
fi
exit $status
