#!/usr/bin/env bash
# The fuzz ctests (checkpoint_reader_fuzz, hparams_yaml_fuzz,
# metrics_csv_fuzz): a short libFuzzer run of one target over its seed corpus.
#
#   bash tests/fuzz/run.sh [--python-seeds SCRIPT] [--min-seeds N] <build>/tests/<name>
#   bash tests/fuzz/run.sh --missing <name> "<why>"   # (CMake) no clang/libFuzzer: fail
#
# Steps: write the seeds (`<name> --write-seeds DIR`, and SCRIPT DIR with
# Python when given: the checkpoint reader's torch.save seeds); check that
# there are at least N (default 5) and that every seed is accepted
# (LIGHTNING_FUZZ_EXPECT_LOAD=1: a valid input must load, not merely fail
# cleanly); replay tests/fuzz/regressions/<name>/*; then fuzz for
# LIGHTNING_FUZZ_SECONDS (default 20) seconds. Any crash, sanitizer report,
# exception other than lightning::Error, timeout (> 5 s for one input) or
# memory blow-up (> 4 GB) fails the test; the input that caused it is kept in
# $LIGHTNING_FUZZ_ARTIFACTS (default: artifacts/<name> beside the binary).
#
# Environment: LIGHTNING_FUZZ_SECONDS, LIGHTNING_FUZZ_ARTIFACTS,
# LIGHTNING_PYTHON (default /usr/bin/python3, Debian's, which has torch; the
# build passes its LIGHTNING_TEST_PYTHON).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)

name=fuzz
fail() {
  echo "$name: FAILED: $*" >&2
  exit 1
}

if [ "${1:-}" = "--missing" ]; then
  name=${2:-fuzz}
  fail "${3:-clang++ with libFuzzer is missing}. The fuzz tests need clang and its" \
    "libFuzzer/sanitizer runtime (Debian: clang, libclang-rt-dev): run" \
    "scripts/setup.sh, then reconfigure and rebuild (bash scripts/build.sh)."
fi
python_seeds=""
min_seeds=5
while [ $# -gt 1 ]; do
  case "$1" in
    --python-seeds) python_seeds=$2; shift 2 ;;
    --min-seeds) min_seeds=$2; shift 2 ;;
    *) break ;;
  esac
done
[ $# -eq 1 ] || { echo "usage: $0 [--python-seeds SCRIPT] [--min-seeds N] <fuzzer binary>" >&2; exit 2; }
fuzzer=$1
name=$(basename "$fuzzer")
[ -x "$fuzzer" ] || fail "$fuzzer is not built (ninja $name)."

python=${LIGHTNING_PYTHON:-/usr/bin/python3}
seconds=${LIGHTNING_FUZZ_SECONDS:-20}
artifacts=${LIGHTNING_FUZZ_ARTIFACTS:-$(dirname "$fuzzer")/fuzz/artifacts/$name}
mkdir -p "$artifacts"

work=$(mktemp -d "${TMPDIR:-/tmp}/$name.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir "$work/seeds" "$work/corpus" "$work/tmp"
export LIGHTNING_FUZZ_TMPDIR=$work/tmp  # where the target writes each input

# libtorch and yaml-cpp are not instrumented. Leak checking stays on, with only
# libtorch_cpu's own allocations suppressed (see lsan.supp: its zip reader
# leaks when its constructor throws). allocator_may_return_null: an absurd
# allocation (a size read from a corrupt file) fails as it would without ASan
# (std::bad_alloc / c10::Error, to be turned into lightning::Error) instead
# of ASan aborting.
export ASAN_OPTIONS="detect_leaks=1:allocator_may_return_null=1:abort_on_error=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export LSAN_OPTIONS="suppressions=$here/lsan.supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"

# A sanitizer or libFuzzer report anywhere in a log fails the test even when
# the process somehow exited 0.
check_log() {  # <log> <what>
  if grep -qE "ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:|SUMMARY: (Address|Undefined|Leak)" "$1"; then
    cat "$1" >&2
    fail "$2: sanitizer or libFuzzer report above."
  fi
}

# ------------------------------------------------------------- seeds --

"$fuzzer" --write-seeds "$work/seeds" >"$work/seeds.log" 2>&1 ||
  { cat "$work/seeds.log" >&2; fail "writing the C++ seeds failed."; }
check_log "$work/seeds.log" "writing the C++ seeds"
if [ -n "$python_seeds" ]; then
  if ! "$python" -c "import torch" >/dev/null 2>&1; then
    fail "$python cannot import torch; the Python seeds need it." \
      "Run scripts/setup.sh (Debian's python3-torch) or, on the wheel leg, scripts/setup_pip.sh."
  fi
  "$python" "$python_seeds" "$work/seeds" ||
    fail "writing the Python seeds ($(basename "$python_seeds")) failed."
fi
count=$(find "$work/seeds" -type f | wc -l)
[ "$count" -ge "$min_seeds" ] || fail "only $count seeds were written."

# Every seed is a valid input: it must load, not merely fail cleanly.
LIGHTNING_FUZZ_EXPECT_LOAD=1 "$fuzzer" -runs=0 -artifact_prefix="$work/" "$work/seeds" >"$work/seeds_check.log" 2>&1 || {
  cat "$work/seeds_check.log" >&2
  fail "a seed does not load (see above)."
}
check_log "$work/seeds_check.log" "loading the seeds"
echo "$name: $count seeds, all load"

# ------------------------------------------------------- regressions --

regressions=()
if [ -d "$here/regressions/$name" ]; then
  while IFS= read -r -d '' f; do regressions+=("$f"); done \
    < <(find "$here/regressions/$name" -type f ! -name '*.md' ! -name '.*' -print0 | sort -z)
fi
if [ ${#regressions[@]} -gt 0 ]; then
  "$fuzzer" -timeout=5 -rss_limit_mb=4096 -artifact_prefix="$work/" "${regressions[@]}" \
    >"$work/regressions.log" 2>&1 || {
    cat "$work/regressions.log" >&2
    fail "a regression input of tests/fuzz/regressions/$name/ fails again (see above)."
  }
  check_log "$work/regressions.log" "replaying tests/fuzz/regressions/$name"
  echo "$name: ${#regressions[@]} regression inputs replayed cleanly"
fi

# --------------------------------------------------------------- fuzz --

# One process (no -jobs/-fork: output stays here, ctest's timeout applies).
# New inputs go to $work/corpus (discarded); crashes to $artifacts.
# -detect_leaks=0 turns off libFuzzer's leak check after each input that
# mallocs more than it frees, which is nearly every input of the checkpoint
# reader (libtorch's zip reader leaks on corrupt archives) and scans the whole
# heap each time: 10 times fewer executions. LeakSanitizer still checks once at exit, over
# everything the run leaked (rerun an input with -detect_leaks=1 to pin one).
# tests/fuzz/<name>.dict, where there is one: the format's tokens.
dict=()
[ -f "$here/$name.dict" ] && dict=(-dict="$here/$name.dict")
set +e
"$fuzzer" -max_total_time="$seconds" -timeout=5 -rss_limit_mb=4096 -detect_leaks=0 \
  -artifact_prefix="$artifacts/" -print_final_stats=1 "${dict[@]}" \
  "$work/corpus" "$work/seeds" >"$work/fuzz.log" 2>&1
rc=$?
set -e
# The summary without the per-input NEW/REDUCE lines and the dictionary.
grep -vE '^#[0-9]+[[:space:]]+(NEW|REDUCE)|^"|^[[:space:]]+NEW_FUNC' "$work/fuzz.log" | tail -n 60
if [ $rc -ne 0 ]; then
  echo "----- last lines of the fuzzer log -----" >&2
  tail -n 80 "$work/fuzz.log" >&2
  # The inputs of this run, for reproducing.
  rm -rf "$artifacts/last_corpus"
  cp -r "$work/corpus" "$artifacts/last_corpus"
  if grep -q "ERROR: LeakSanitizer" "$work/fuzz.log"; then
    fail "LeakSanitizer found a leak at exit (the reader's own allocations; libtorch's" \
      "are suppressed). To find the input: ASAN_OPTIONS=allocator_may_return_null=1" \
      "LSAN_OPTIONS=suppressions=$here/lsan.supp $fuzzer -detect_leaks=1 -runs=0" \
      "$artifacts/last_corpus"
  fi
  crash=$(grep -o "Test unit written to .*" "$work/fuzz.log" | tail -n 1 | sed 's/Test unit written to //')
  fail "the fuzzer exited with status $rc. Reproduce with: $fuzzer ${crash:-<input>}" \
    "(this run's inputs: $artifacts/last_corpus). Fix the reader, then add the input to" \
    "$root/tests/fuzz/regressions/$name/."
fi
check_log "$work/fuzz.log" "fuzzing"
echo "$name: passed"
