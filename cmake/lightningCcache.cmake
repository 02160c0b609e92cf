# Compiling through ccache, safely with precompiled headers.
#
# ccache in its default mode falls back to hashing the preprocessed source when
# a header changed. A header whose comments alone changed preprocesses to the
# same text, so ccache would hand back the precompiled header built from the
# old file. GCC's #pragma once check inside that header compares file contents,
# sees a different file, and includes the header a second time: "redefinition
# of struct ...". Depend mode hashes the headers named in the compiler's -MD
# output by content instead and never uses the preprocessed text, so a changed
# header always rebuilds the precompiled header.
#
# The sloppiness flags are the ones ccache needs to cache compiles that make or
# use a precompiled header at all. CCACHE_DIR and CCACHE_BASEDIR still come from
# the environment.
function(lightning_use_ccache)
  if(CMAKE_CXX_COMPILER_LAUNCHER AND NOT CMAKE_CXX_COMPILER_LAUNCHER MATCHES "ccache$")
    return()  # the user's own launcher
  endif()
  find_program(LIGHTNING_CCACHE_PROGRAM ccache)
  if(NOT LIGHTNING_CCACHE_PROGRAM)
    return()
  endif()
  set(CMAKE_CXX_COMPILER_LAUNCHER
      "${CMAKE_COMMAND}" -E env CCACHE_DEPEND=1
      "CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime"
      "${LIGHTNING_CCACHE_PROGRAM}"
      PARENT_SCOPE)
endfunction()
