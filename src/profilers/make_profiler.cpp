// TrainerOptions::profiler -> a Profiler.
#include "profilers/make_profiler.h"

#include "lightning/error.h"

namespace lightning::detail {

std::shared_ptr<Profiler> make_profiler(const ProfilerOption& option) {
  if (option.object()) return option.object();
  const std::string& name = option.name();
  if (name.empty()) return std::make_shared<PassThroughProfiler>();
  LIGHTNING_FAIL("profiler(\"", name,
                 "\") is not a profiler name; use \"simple\", \"advanced\", \"pytorch\", or a "
                 "Profiler object (lightning/profilers/)");
}

}  // namespace lightning::detail
