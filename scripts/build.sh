#!/usr/bin/env bash
# Configures and builds lightning.cpp into ./build (Release).
#
#   bash scripts/build.sh                          # everything: library, tests, examples, benchmarks
#   bash scripts/build.sh --target fashion_mnist   # only some targets (repeatable)
#   bash scripts/build.sh -DLIGHTNING_BUILD_BENCHMARKS=OFF   # other arguments go to cmake
#   bash scripts/build.sh --torch=pip              # the second leg: libtorch 2.x from the
#                                                  # pinned PyTorch wheel, into ./build-pip
#   CMAKE_PREFIX_PATH=/path/to/libtorch bash scripts/build.sh   # another libtorch
#   bash scripts/build.sh --build-dir=build-asan ...   # another build folder
#   LIGHTNING_WARNINGS_AS_ERRORS=ON bash scripts/build.sh   # compile with -Werror (CI);
#                                       # kept in the build folder's cache until set OFF
#
# --torch=debian (the default) builds against Debian's libtorch-dev into
# ./build. --torch=pip installs the wheel when needed (scripts/setup_pip.sh),
# builds against the libtorch inside it into ./build-pip, and points the tests'
# Python cross-checks at that environment's interpreter (torch 2.x, PyTorch
# Lightning, TensorBoard) instead of Debian's /usr/bin/python3.
#
# Compiles through ccache when it is installed. The cache lives outside the
# repository (default $HOME/.cache/ccache, override with CCACHE_DIR) and paths
# are taken relative to the repository, so a fresh clone in another folder
# (as CI makes) reuses the objects of earlier builds.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
build_dir=build
torch=debian

build_dir_arg=""
targets=()
cmake_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --target)
      [ $# -ge 2 ] || { echo "build.sh: --target needs a name" >&2; exit 2; }
      targets+=("$2")
      shift 2
      ;;
    --target=*)
      targets+=("${1#--target=}")
      shift
      ;;
    --torch=*)
      torch="${1#--torch=}"
      shift
      ;;
    --build-dir=*)
      build_dir_arg="${1#--build-dir=}"
      shift
      ;;
    *)
      cmake_args+=("$1")
      shift
      ;;
  esac
done

case "$torch" in
  debian) ;;
  pip)
    build_dir=build-pip
    venv=$(bash scripts/setup_pip.sh | tail -n 1)
    # The torch package's own folder, not torch.utils.cmake_prefix_path
    # (its share/cmake): with that one, TorchConfig.cmake's search for
    # libtorch.so looks in the system folders first and, where Debian's
    # libtorch-dev is installed, takes /usr/lib's 1.13 library.
    prefix=$("$venv/bin/python" -c 'import os, torch; print(os.path.dirname(torch.__file__))')
    # No libFuzzer target on this leg: clang++ 14 code calling the inline
    # IValue hashing of the gcc-built 2.15 wheel crashes in it (seen in the
    # seed writer), so the readers are fuzzed on the Debian leg.
    cmake_args=("-DCMAKE_PREFIX_PATH=$prefix" "-DLIGHTNING_TEST_PYTHON=$venv/bin/python"
                "-DLIGHTNING_BUILD_FUZZERS=OFF"
                "${cmake_args[@]}")
    ;;
  *)
    echo "build.sh: --torch must be debian or pip, got '$torch'" >&2
    exit 2
    ;;
esac

if command -v ccache >/dev/null 2>&1; then
  if [ -z "${CCACHE_DIR:-}" ]; then
    if [ -n "${HOME:-}" ] && mkdir -p "$HOME/.cache/ccache" 2>/dev/null; then
      export CCACHE_DIR="$HOME/.cache/ccache"
    else
      export CCACHE_DIR="$root/.cache/ccache"  # .cache/ is git-ignored
    fi
  fi
  export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$root}"
  # CMakeLists.txt runs the compiler through ccache (cmake/lightningCcache.cmake
  # sets the mode that is safe with precompiled headers).
fi

if [ -n "$build_dir_arg" ]; then build_dir=$build_dir_arg; fi

# Ninja when available; an existing build dir keeps the generator it was made with.
if [ ! -f "$build_dir/CMakeCache.txt" ] && command -v ninja >/dev/null 2>&1; then
  cmake_args=(-G Ninja "${cmake_args[@]}")
fi

if [ -n "${LIGHTNING_WARNINGS_AS_ERRORS:-}" ]; then
  cmake_args=("-DLIGHTNING_WARNINGS_AS_ERRORS=$LIGHTNING_WARNINGS_AS_ERRORS" "${cmake_args[@]}")
fi

cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release "${cmake_args[@]}"

build_args=(--build "$build_dir" --parallel "$(nproc)")
if [ ${#targets[@]} -gt 0 ]; then
  build_args+=(--target "${targets[@]}")
fi
cmake "${build_args[@]}"
