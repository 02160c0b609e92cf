#!/usr/bin/env bash
# Flake hunt: reruns the multi-process, threaded and kill/resume tests N times
# while a load generator keeps the other cores busy, and reports how often each
# test failed. A test that fails even once here is a defect to fix at its
# cause.
#
#   bash scripts/stress.sh [N] [--build=DIR] [--tests=REGEX] [--jobs=J]
#
# N defaults to 30. J (default 1) is ctest's parallel level: 2 runs two tests
# at once beside the load, which is more contention and a shorter pass. The
# build directory (default build/) must be built already (bash
# scripts/build.sh). The default REGEX selects the DDP and launcher tests
# (self-launched and torchrun-style processes), the kill/resume tests, the
# DataLoader worker threads, the adverse-save tests and the logger writers.
# Prints one line per failing test ("FLAKY <count>/<N> <test>") and a summary;
# exits 1 when any test failed. Logs of failing runs are kept in
# <build>/stress/run-<i>.log.
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
runs=30
build="$root/build"
jobs=1
regex='^(DDP|TrainerDDP|DistributedEnvironment|KillAndResume|CrashDuringSave|ExactResume|DataLoaderTest|DataShardTest|AdverseSave|LoggersFit|TensorBoardLogger|CSVLoggerTest)|^(ddp_example|ddp_netns_hosts)$'
for arg in "$@"; do
  case "$arg" in
    --build=*) build=${arg#--build=} ;;
    --tests=*) regex=${arg#--tests=} ;;
    --jobs=*) jobs=${arg#--jobs=} ;;
    [0-9]*) runs=$arg ;;
    *)
      echo "stress.sh: unknown argument '$arg' (expected N, --build=DIR, --tests=REGEX, --jobs=J)" >&2
      exit 2
      ;;
  esac
done
if [ ! -f "$build/CTestTestfile.cmake" ]; then
  echo "stress.sh: $build is not a built build directory: run bash scripts/build.sh first" >&2
  exit 2
fi
count=$(cd "$build" && ctest -N -R "$regex" | sed -n 's/^Total Tests: //p')
if [ -z "$count" ] || [ "$count" -eq 0 ]; then
  echo "stress.sh: no test matches '$regex' in $build" >&2
  exit 2
fi

# One busy process per core but one: the tests run on the remaining core
# (with --jobs=1) and compete with the load for everything else.
load_pids=()
stop_load() {
  for pid in "${load_pids[@]}"; do kill "$pid" 2>/dev/null; done
  wait "${load_pids[@]}" 2>/dev/null
}
trap stop_load EXIT
cores=$(nproc)
for ((c = 1; c < (cores > 1 ? cores : 2); c++)); do
  (while :; do :; done) &
  load_pids+=($!)
done

mkdir -p "$build/stress"
declare -A failures
started=$(date +%s)
echo "stress: $count tests x $runs runs, ctest -j$jobs, $((${#load_pids[@]})) busy-loop process(es) as load"
for ((i = 1; i <= runs; i++)); do
  log="$build/stress/run-$i.log"
  (cd "$build" && ctest -R "$regex" -j"$jobs" --timeout 600 --output-on-failure) >"$log" 2>&1
  failed=$(sed -n '/The following tests FAILED:/,$p' "$log" | sed -n 's/^[[:space:]]*[0-9]* - \(.*\) (.*)$/\1/p')
  if [ -z "$failed" ]; then
    rm -f "$log"
    echo "run $i/$runs: all $count passed"
  else
    while IFS= read -r t; do failures[$t]=$((${failures[$t]:-0} + 1)); done <<<"$failed"
    echo "run $i/$runs: $(wc -l <<<"$failed") failed (log: $log)"
  fi
done
elapsed=$(($(date +%s) - started))
bad=0
for t in "${!failures[@]}"; do
  echo "FLAKY ${failures[$t]}/$runs $t"
  bad=1
done
echo "stress: $runs runs of $count tests in ${elapsed} s: $([ $bad -eq 0 ] && echo 'no failure' || echo "${#failures[@]} test(s) failed at least once")"
exit $bad
