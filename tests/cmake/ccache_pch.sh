#!/usr/bin/env bash
# ctest ccache_pch_comment_change: a header inside the precompiled header whose
# comments alone changed must not come back from ccache as the old precompiled
# header (GCC would then include the #pragma once header twice and stop with
# "redefinition of struct"). A clone whose headers differ from the cached build
# only in comments reproduces what a CI run sees.
#   bash tests/cmake/ccache_pch.sh <lightning source dir>
set -uo pipefail
src=$1
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
command -v ccache >/dev/null 2>&1 || { echo "SKIP: ccache is not installed"; exit 77; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export CCACHE_DIR="$work/cache" CCACHE_BASEDIR="$work"
unset CCACHE_DEPEND CCACHE_NODEPEND CCACHE_SLOPPINESS CCACHE_DISABLE CCACHE_RECACHE
fail() { echo "FAIL: $*"; cat "$work/out.txt"; exit 1; }
build() {  # <copy name>
  cmake -S "$work/$1" -B "$work/$1/build" -DLIGHTNING_SOURCE_DIR="$src" >"$work/out.txt" 2>&1 &&
    cmake --build "$work/$1/build" >>"$work/out.txt" 2>&1 && "$work/$1/build/ccache_pch"
}
cp -r "$here/ccache_pch" "$work/first"
build first || fail "the first build failed"
cp -r "$here/ccache_pch" "$work/second"
sed -i 's/version 1 of this comment/version 2 of this comment, longer/' "$work/second/once.h"
echo "// a new line, so that main.cpp itself is compiled again" >>"$work/second/main.cpp"
build second || fail "the build after a comment-only header change failed"
grep -q "ccache" "$work/second/build/CMakeCache.txt" || fail "the build did not use ccache"
echo "a comment-only change to a precompiled header rebuilt it (no stale header from ccache)"
