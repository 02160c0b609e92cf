// SimpleProfiler: Lightning's table of calls, mean, total and share per action.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "lightning/error.h"
#include "lightning/profilers/simple.h"
#include "profilers/report_text.h"

namespace lightning {

using Clock = std::chrono::steady_clock;

struct SimpleProfiler::Impl {
  SimpleProfilerOptions options;
  Clock::time_point created = Clock::now();
  std::unordered_map<std::string, Clock::time_point> running;
  detail::ActionDurations durations;  // in the order first recorded
  std::unordered_map<std::string, size_t> index;
};

SimpleProfiler::SimpleProfiler(SimpleProfilerOptions options)
    : Profiler(options.dirpath(), options.filename()), impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
}

SimpleProfiler::~SimpleProfiler() = default;

void SimpleProfiler::start(const std::string& action_name) {
  auto [it, inserted] = impl_->running.emplace(action_name, Clock::time_point{});
  LIGHTNING_CHECK(inserted, "SimpleProfiler: attempted to start \"", action_name,
                  "\", which has already started; stop it first (each start needs one stop).");
  it->second = Clock::now();
}

void SimpleProfiler::stop(const std::string& action_name) {
  const Clock::time_point end = Clock::now();
  auto it = impl_->running.find(action_name);
  LIGHTNING_CHECK(it != impl_->running.end(), "SimpleProfiler: attempted to stop \"", action_name,
                  "\", which was never started; call start(\"", action_name, "\") first.");
  const double seconds = std::chrono::duration<double>(end - it->second).count();
  impl_->running.erase(it);
  auto [slot, added] = impl_->index.emplace(action_name, impl_->durations.size());
  if (added) impl_->durations.emplace_back(action_name, std::vector<double>{});
  impl_->durations[slot->second].second.push_back(seconds);
}

std::vector<std::pair<std::string, std::vector<double>>> SimpleProfiler::recorded_durations()
    const {
  return impl_->durations;
}

std::string SimpleProfiler::summary() const {
  const double elapsed = std::chrono::duration<double>(Clock::now() - impl_->created).count();
  return detail::simple_report(stage(), impl_->durations, elapsed, impl_->options.extended());
}

}  // namespace lightning
