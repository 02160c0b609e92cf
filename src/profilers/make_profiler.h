// The profiler TrainerOptions::profiler names.
#pragma once

#include <memory>

#include "lightning/profilers/profiler.h"

namespace lightning::detail {

/// A PassThroughProfiler when off, the object when one was passed, else the
/// profiler the name stands for; `lightning::Error` for an unknown name.
std::shared_ptr<Profiler> make_profiler(const ProfilerOption& option);

}  // namespace lightning::detail
