#!/usr/bin/env bash
# Installs a built lightning.cpp into a temporary prefix, then configures,
# builds and runs the consumer project beside this script against it, as a
# user's own project would (find_package(lightning) + lightning::lightning).
#
#   bash tests/package/run.sh <build dir of lightning.cpp>
#
# The temporary directory is removed on exit.
set -euo pipefail

if [ $# -ne 1 ] || [ ! -f "$1/CMakeCache.txt" ]; then
  echo "usage: $0 <configured and built lightning.cpp build directory>" >&2
  exit 2
fi
build=$(cd "$1" && pwd)
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

tmp=$(mktemp -d "${TMPDIR:-/tmp}/lightning-package.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

cache_value() {  # the value of a variable in the main build's CMake cache, or nothing
  sed -n "s/^$1:[A-Z]*=//p" "$build/CMakeCache.txt" | head -n 1
}

cmake --install "$build" --prefix "$tmp/prefix"
test -f "$tmp/prefix/include/lightning/lightning.h" ||
  { echo "run.sh: the install has no include/lightning/lightning.h" >&2; exit 1; }

# The consumer's sources are copied under $tmp so that ccache (with base_dir
# $tmp) sees the same relative paths on every run.
mkdir -p "$tmp/src"
cp "$here/CMakeLists.txt" "$here/main.cpp" "$tmp/src/"

# The main build's CMAKE_PREFIX_PATH too: for a PyTorch wheel it names the
# torch package's folder, without which libtorch's CMake package can take
# another libtorch.so from the system folders.
main_prefix=$(cache_value CMAKE_PREFIX_PATH)
args=(-S "$tmp/src" -B "$tmp/build" "-DCMAKE_PREFIX_PATH=$tmp/prefix${main_prefix:+;$main_prefix}")
# Build with the same compiler and libtorch as the library itself.
compiler=$(cache_value CMAKE_CXX_COMPILER)
[ -n "$compiler" ] && args+=("-DCMAKE_CXX_COMPILER=$compiler")
torch_dir=$(cache_value Torch_DIR)
[ -n "$torch_dir" ] && args+=("-DTorch_DIR=$torch_dir")
if command -v ccache >/dev/null 2>&1; then
  args+=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  export CCACHE_BASEDIR="$tmp"
fi

cmake "${args[@]}"
cmake --build "$tmp/build" --parallel "$(nproc)"
(cd "$tmp" && "$tmp/build/consumer")
