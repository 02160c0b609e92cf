#!/usr/bin/env bash
# Installs the dependencies, builds everything and runs the whole test suite.
#
#   bash scripts/test.sh                # all tests, against Debian's libtorch 1.13 (./build)
#   bash scripts/test.sh -R Logging     # extra arguments go to ctest
#   bash scripts/test.sh --torch=pip    # the second leg: libtorch 2.x from the pinned
#                                       # PyTorch wheel (./build-pip), cross-checked
#                                       # against real PyTorch Lightning
#
# Exits with ctest's status; a suite that finds no test at all is a failure.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

torch=debian
ctest_args=()
for arg in "$@"; do
  case "$arg" in
    --torch=*) torch="${arg#--torch=}" ;;
    *) ctest_args+=("$arg") ;;
  esac
done
case "$torch" in
  debian) build_dir=build ;;
  pip) build_dir=build-pip ;;
  *) echo "test.sh: --torch must be debian or pip, got '$torch'" >&2; exit 2 ;;
esac

bash scripts/setup.sh
bash scripts/build.sh --torch="$torch"
exec ctest --test-dir "$build_dir" --output-on-failure --no-tests=error \
  -j "${CTEST_PARALLEL_LEVEL:-2}" --timeout 900 "${ctest_args[@]}"
