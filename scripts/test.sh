#!/usr/bin/env bash
# Installs the dependencies, builds everything and runs the whole test suite.
#
#   bash scripts/test.sh            # all tests
#   bash scripts/test.sh -R Logging # extra arguments go to ctest
#
# Exits with ctest's status; a suite that finds no test at all is a failure.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

bash scripts/setup.sh
bash scripts/build.sh
exec ctest --test-dir build --output-on-failure --no-tests=error \
  -j "${CTEST_PARALLEL_LEVEL:-2}" --timeout 900 "$@"
