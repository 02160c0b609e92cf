#!/usr/bin/env bash
# The sanitizer legs: the whole test suite under AddressSanitizer +
# UndefinedBehaviorSanitizer, and the threaded and multi-process tests under
# ThreadSanitizer, against Debian's libtorch (CPU).
#
#   bash scripts/sanitize.sh          # both
#   bash scripts/sanitize.sh asan     # ASan+UBSan only (./build-asan)
#   bash scripts/sanitize.sh tsan     # TSan only (./build-tsan)
#   bash scripts/sanitize.sh asan -R DataLoader   # extra arguments go to ctest
#
# A leg passes when ctest passes and no process wrote a sanitizer report:
# every report of every process (DDP ranks and other children included) is
# written to <build>/sanitizer-reports/ and printed at the end. Suppressions
# live in scripts/sanitizers/, each with the third-party cause it hides.
#
# Not in .ci/run: a cold ASan build and run alone takes longer than the CI
# budget leaves (the closing notes of the reliability work give the times).
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
legs=()
ctest_args=()
for arg in "$@"; do
  case "$arg" in
    asan | tsan) legs+=("$arg") ;;
    *) ctest_args+=("$arg") ;;
  esac
done
[ ${#legs[@]} -gt 0 ] || legs=(asan tsan)
supp="$root/scripts/sanitizers"

# Tests that cannot run in a sanitized build: CMake projects that link the
# sanitized library into unsanitized programs, and the fuzzer (a sanitized
# build of its own).
not_here='^(package_consumer|cmake_refuses_old_libtorch|ccache_pch_comment_change|checkpoint_reader_fuzz|hparams_yaml_fuzz|metrics_csv_fuzz)$'
# ThreadSanitizer: the DataLoader workers, the launcher and DDP (threads and
# processes), the loggers' writers, kill/resume.
tsan_tests='^(DataLoaderTest|DataShardTest|ExactResume|DDP|TrainerDDP|DistributedEnvironment|KillAndResume|CrashDuringSave|LoggersFit|TensorBoardLogger|CSVLoggerTest)|^(ddp_example|ddp_netns_hosts)$'

common_cmake=(-DLIGHTNING_BUILD_FUZZERS=OFF -DLIGHTNING_BUILD_BENCHMARKS=OFF)
status=0
for leg in "${legs[@]}"; do
  dir="build-$leg"
  reports="$root/$dir/sanitizer-reports"
  case "$leg" in
    asan)
      # No -fsanitize=vptr: it needs the typeinfo of every polymorphic class
      # it checks, and libtorch does not export some (c10::DynamicType: the
      # link fails with "undefined reference to typeinfo for c10::DynamicType").
      flags="-fsanitize=address,undefined -fno-sanitize=vptr -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g1"
      env=("ASAN_OPTIONS=detect_leaks=1:log_path=$reports/asan:strict_string_checks=1:detect_stack_use_after_return=1"
           "LSAN_OPTIONS=suppressions=$supp/lsan.supp:print_suppressions=0"
           "UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:log_path=$reports/ubsan:suppressions=$supp/ubsan.supp")
      select=(-E "$not_here")
      targets=()
      ;;
    tsan)
      flags="-fsanitize=thread -g1"
      env=("TSAN_OPTIONS=log_path=$reports/tsan:halt_on_error=0:second_deadlock_stack=1:suppressions=$supp/tsan.supp")
      select=(-R "$tsan_tests" -E "$not_here")
      # Only what those tests run.
      targets=(data_test data_shard_test resume_test kill_resume_test resume_worker ddp_test
               ddp_worker trainer_ddp_test trainer_ddp_worker loggers_test lightning-report ddp)
      ;;
  esac
  echo "=== $leg: building $dir"
  started=$(date +%s)
  target_args=()
  for t in "${targets[@]}"; do target_args+=(--target "$t"); done
  if ! bash scripts/build.sh --build-dir="$dir" "${target_args[@]}" "${common_cmake[@]}" \
    "-DCMAKE_CXX_FLAGS=$flags" "-DCMAKE_EXE_LINKER_FLAGS=$flags" \
    "-DCMAKE_SHARED_LINKER_FLAGS=$flags"; then
    echo "=== $leg: the build failed"
    status=1
    continue
  fi
  built=$(date +%s)
  rm -rf "$reports"
  mkdir -p "$reports"
  echo "=== $leg: running the tests"
  env "${env[@]}" ctest --test-dir "$dir" --output-on-failure --no-tests=error -j "${CTEST_PARALLEL_LEVEL:-2}" \
    --timeout 1800 "${select[@]}" "${ctest_args[@]}"
  rc=$?
  finished=$(date +%s)
  found=$(find "$reports" -type f | sort)
  if [ -n "$found" ]; then
    echo "=== $leg: sanitizer reports:"
    for f in $found; do
      echo "--- $f"
      cat "$f"
    done
  fi
  n_reports=$(printf '%s' "$found" | grep -c . || true)
  echo "=== $leg: ctest exit $rc, $n_reports report file(s), build $((built - started)) s, tests $((finished - built)) s"
  if [ $rc -ne 0 ] || [ -n "$found" ]; then status=1; fi
done
exit $status
