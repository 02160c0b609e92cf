#!/usr/bin/env bash
# Builds and runs the consumer project beside this script, which builds
# lightning.cpp from source inside its own build (add_subdirectory or
# FetchContent), and runs its program: the installed-package consumer's
# main.cpp (tests/package/main.cpp), a short fit of a tiny module.
#
#   bash tests/subproject/run.sh add_subdirectory|fetchcontent <lightning.cpp build dir>
#
# The build dir gives the compiler and libtorch to use. Only the library and
# the consumer are built, through ccache when it is installed: the sources
# are copied under a temporary directory that is ccache's base_dir, so the
# paths it sees are the same on every run and later runs take the objects
# from the cache. The temporary directory is removed on exit.
set -euo pipefail

if [ $# -ne 2 ] || [ ! -f "$2/CMakeCache.txt" ]; then
  echo "usage: $0 add_subdirectory|fetchcontent <configured lightning.cpp build directory>" >&2
  exit 2
fi
mode=$1
build=$(cd "$2" && pwd)
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)

tmp=$(mktemp -d "${TMPDIR:-/tmp}/lightning-subproject.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

cache_value() {  # the value of a variable in the main build's CMake cache, or nothing
  sed -n "s/^$1:[A-Z]*=//p" "$build/CMakeCache.txt" | head -n 1
}

# What a build of the library needs from the tree (the working tree as it is,
# committed or not).
mkdir -p "$tmp/src" "$tmp/lightning"
cp -R "$root/CMakeLists.txt" "$root/cmake" "$root/include" "$root/src" "$root/tools" \
  "$tmp/lightning/"
cp "$here/CMakeLists.txt" "$root/tests/package/main.cpp" "$tmp/src/"

args=(-S "$tmp/src" -B "$tmp/build" "-DCONSUMER_MODE=$mode")
case "$mode" in
  add_subdirectory)
    args+=("-DLIGHTNING_SOURCE=$tmp/lightning")
    ;;
  fetchcontent)
    git -C "$tmp/lightning" init -q
    git -C "$tmp/lightning" add -A
    git -C "$tmp/lightning" -c user.name=test -c user.email=test@localhost \
      commit -q -m "lightning.cpp snapshot"
    args+=("-DLIGHTNING_GIT=file://$tmp/lightning"
           "-DLIGHTNING_TAG=$(git -C "$tmp/lightning" rev-parse HEAD)"
           -DCMAKE_BUILD_TYPE=Release -DFETCHCONTENT_QUIET=ON)
    ;;
  *)
    echo "run.sh: mode must be add_subdirectory or fetchcontent, got '$mode'" >&2
    exit 2
    ;;
esac

# The main build's CMAKE_PREFIX_PATH (for a PyTorch wheel, the torch package's
# folder), compiler and libtorch.
main_prefix=$(cache_value CMAKE_PREFIX_PATH)
[ -n "$main_prefix" ] && args+=("-DCMAKE_PREFIX_PATH=$main_prefix")
compiler=$(cache_value CMAKE_CXX_COMPILER)
[ -n "$compiler" ] && args+=("-DCMAKE_CXX_COMPILER=$compiler")
torch_dir=$(cache_value Torch_DIR)
[ -n "$torch_dir" ] && args+=("-DTorch_DIR=$torch_dir")
if command -v ninja >/dev/null 2>&1; then
  args+=(-G Ninja)
fi
if command -v ccache >/dev/null 2>&1; then
  # As a subproject lightning.cpp leaves the launcher to its parent; the mode
  # that is safe with precompiled headers (cmake/lightningCcache.cmake).
  args+=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  export CCACHE_BASEDIR="$tmp" CCACHE_DEPEND=1
  export CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime
fi

cmake "${args[@]}"
cmake --build "$tmp/build" --target consumer --parallel "$(nproc)"
(cd "$tmp" && "$tmp/build/consumer")
