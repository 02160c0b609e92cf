// lightning/seed.h — seed_everything, as `lightning.seed_everything`.
//
//   L::seed_everything(42);   // torch's default generators and std::rand
#pragma once

#include <cstdint>

#include "lightning/export.h"

namespace lightning {

/// Seeds libtorch's default CPU (and CUDA) generators and the C library's
/// `rand`, and exports PL_GLOBAL_SEED; returns the seed. Shuffling
/// DataLoaders without their own seed then repeat the same order.
LIGHTNING_API uint64_t seed_everything(uint64_t seed);

}  // namespace lightning
