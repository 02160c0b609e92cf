# A stand-in libtorch CMake package of an unsupported version, for
# tests/cmake/old_torch.sh: only its version matters.
set(PACKAGE_VERSION "1.12.1")
set(PACKAGE_VERSION_COMPATIBLE TRUE)
