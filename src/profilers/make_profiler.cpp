// TrainerOptions::profiler -> a Profiler.
#include "profilers/make_profiler.h"

#include <algorithm>
#include <cctype>

#include "lightning/error.h"
#include "lightning/profilers/advanced.h"
#include "lightning/profilers/pytorch.h"
#include "lightning/profilers/simple.h"

namespace lightning::detail {

std::shared_ptr<Profiler> make_profiler(const ProfilerOption& option) {
  if (option.object()) return option.object();
  const std::string& name = option.name();
  if (name.empty()) return std::make_shared<PassThroughProfiler>();
  std::string lower = name;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (lower == "simple") return std::make_shared<SimpleProfiler>();
  if (lower == "advanced") return std::make_shared<AdvancedProfiler>();
  if (lower == "pytorch") return std::make_shared<PyTorchProfiler>();
  LIGHTNING_FAIL("profiler(\"", name,
                 "\") is not a profiler name; use \"simple\", \"advanced\", \"pytorch\", or a "
                 "Profiler object (lightning/profilers/)");
}

}  // namespace lightning::detail
