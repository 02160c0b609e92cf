# A stand-in libtorch CMake package (see TorchConfigVersion.cmake): found, with
# no library, so that the project's version check is what stops the configure.
set(TORCH_FOUND TRUE)
set(TORCH_LIBRARIES "")
set(TORCH_INCLUDE_DIRS "")
