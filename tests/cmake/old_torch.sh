#!/usr/bin/env bash
# ctest cmake_refuses_old_libtorch: configuring against a libtorch older than
# the oldest tested one stops CMake with a message naming the version found,
# where it was found and the supported versions.
#   bash tests/cmake/old_torch.sh <source dir>
set -uo pipefail
src=$1
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cmake -S "$src" -B "$work/build" -DCMAKE_PREFIX_PATH="$here/old_torch" \
  -DLIGHTNING_BUILD_TESTS=OFF -DLIGHTNING_BUILD_EXAMPLES=OFF -DLIGHTNING_BUILD_BENCHMARKS=OFF \
  >"$work/out.txt" 2>&1
rc=$?
text=$(tr -s ' \n' ' ' <"$work/out.txt")
fail() { echo "FAIL: $*"; cat "$work/out.txt"; exit 1; }
[ $rc -ne 0 ] || fail "cmake accepted libtorch 1.12.1"
for want in "lightning.cpp needs libtorch 1.13 or newer" "is version 1.12.1" \
            "$here/old_torch/share/cmake/Torch" "Tested versions: 1.13.1" "2.15.0"; do
  grep -qF -- "$want" <<<"$text" || fail "the message lacks: $want"
done
echo "cmake stopped with the expected message (libtorch 1.12.1 refused)"
