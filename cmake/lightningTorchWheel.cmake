# Included after find_package(Torch) by the project and by the installed
# lightningConfig.cmake.
#
# 1. TorchConfig.cmake finds libtorch.so with find_library, which looks in the
# system folders before the package's own: with a wheel's package found
# through torch.utils.cmake_prefix_path and Debian's libtorch-dev installed, it
# takes /usr/lib's 1.13 library for the 2.x headers. That mix is refused here,
# saying what to pass instead.
#
# 2. The libtorch inside a PyTorch wheel (a CUDA build) finds its CUDA libraries
# (NCCL, cuBLAS, cuDNN, ...) in the nvidia/*/lib folders beside the torch
# package, through its own RPATH. At run time that is enough; at link time the
# linker resolves libtorch_cuda.so's dependencies by its own search order and
# takes a CUDA toolkit's copies first (/usr/local/cuda/lib, which the wheel's
# CMake package adds), which can be older than the wheel's ("undefined
# reference to ncclPutSignal"). This module sets
# LIGHTNING_TORCH_WHEEL_LINK_OPTIONS to -rpath-link options for the wheel's
# folders (empty for any other libtorch); used by the project and by the
# installed lightningConfig.cmake.
get_filename_component(_lightning_lib_dir "${TORCH_LIBRARY}" DIRECTORY)
get_filename_component(_lightning_lib_dir "${_lightning_lib_dir}" REALPATH)
get_filename_component(_lightning_prefix "${TORCH_INSTALL_PREFIX}" REALPATH)
if(NOT _lightning_lib_dir STREQUAL "${_lightning_prefix}/lib" AND NOT _lightning_prefix STREQUAL "/usr")
  message(FATAL_ERROR
    "The libtorch package at ${Torch_DIR} (version ${Torch_VERSION}) found its library at "
    "${TORCH_LIBRARY}, which belongs to another libtorch. Put the package's own folder "
    "${_lightning_prefix} first in CMAKE_PREFIX_PATH (for a PyTorch wheel: "
    "python3 -c 'import os, torch; print(os.path.dirname(torch.__file__))'), delete "
    "CMakeCache.txt and configure again.")
endif()

set(LIGHTNING_TORCH_WHEEL_LINK_OPTIONS "")
if(DEFINED TORCH_INSTALL_PREFIX)
  get_filename_component(_lightning_torch_root "${TORCH_INSTALL_PREFIX}" REALPATH)
  get_filename_component(_lightning_site "${_lightning_torch_root}" DIRECTORY)
  file(GLOB _lightning_wheel_libs LIST_DIRECTORIES true "${_lightning_site}/nvidia/*/lib")
  if(_lightning_wheel_libs)
    list(JOIN _lightning_wheel_libs ":" _lightning_joined)
    set(LIGHTNING_TORCH_WHEEL_LINK_OPTIONS "LINKER:-rpath-link,${_lightning_joined}")
  endif()
endif()
