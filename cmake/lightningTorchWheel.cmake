# The libtorch inside a PyTorch wheel (a CUDA build) finds its CUDA libraries
# (NCCL, cuBLAS, cuDNN, ...) in the nvidia/*/lib folders beside the torch
# package, through its own RPATH. At run time that is enough; at link time the
# linker resolves libtorch_cuda.so's dependencies by its own search order and
# takes a CUDA toolkit's copies first (/usr/local/cuda/lib, which the wheel's
# CMake package adds), which can be older than the wheel's ("undefined
# reference to ncclPutSignal"). This module sets
# LIGHTNING_TORCH_WHEEL_LINK_OPTIONS to -rpath-link options for the wheel's
# folders (empty for any other libtorch); used by the project and by the
# installed lightningConfig.cmake.
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
