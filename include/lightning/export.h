// Symbol visibility of the library's API.
//
// liblightning is compiled with hidden visibility: only the declarations
// marked LIGHTNING_API are exported from the shared library. A static build
// defines LIGHTNING_STATIC_DEFINE (the CMake target sets it for its users),
// which makes the macros empty.
//
// LIGHTNING_INTERNAL_API marks the few internal functions (declared under
// src/, in namespace lightning::detail) that lightning.cpp's own tests and
// benchmarks call. They are exported only so that those programs can link;
// they are not part of the public API and may change or disappear in any
// release.
#pragma once

#if defined(LIGHTNING_STATIC_DEFINE)
#define LIGHTNING_API
#else
#define LIGHTNING_API __attribute__((visibility("default")))
#endif

#define LIGHTNING_INTERNAL_API LIGHTNING_API
