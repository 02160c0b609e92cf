// AdvancedProfiler: per-action duration distributions and call sites.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <unordered_map>
#include <utility>

#include "lightning/error.h"
#include "lightning/profilers/advanced.h"
#include "profilers/report_text.h"

namespace lightning {

using Clock = std::chrono::steady_clock;

namespace {

std::string seconds(double s) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%.6f", s);
  return buffer;
}

}  // namespace

struct AdvancedProfiler::Impl {
  struct Site {
    double total = 0.0;
    int64_t calls = 0;
  };

  struct Action {
    std::vector<double> durations;
    std::map<std::string, Site> sites;  // enclosing chain -> time spent there
  };

  struct Open {
    std::string name;
    std::string site;   // the chain of actions open when it started
    std::string chain;  // site + this action: the site of what starts inside it
    Clock::time_point start;
  };

  AdvancedProfilerOptions options;
  std::vector<Open> open;  // innermost last
  std::vector<std::pair<std::string, Action>> actions;
  std::unordered_map<std::string, size_t> index;

  const Action& find(const std::string& name) const {
    auto it = index.find(name);
    LIGHTNING_CHECK(it != index.end(), "AdvancedProfiler: no action \"", name,
                    "\" was recorded; recorded actions are listed by summary().");
    return actions[it->second].second;
  }
};

AdvancedProfiler::AdvancedProfiler(AdvancedProfilerOptions options)
    : Profiler(options.dirpath(), options.filename()), impl_(std::make_unique<Impl>()) {
  LIGHTNING_CHECK(options.line_count_restriction() > 0.0,
                  "AdvancedProfilerOptions().line_count_restriction(",
                  options.line_count_restriction(),
                  ") must be > 0: a fraction of the call sites (<= 1, 1.0 = all) or a count.");
  impl_->options = std::move(options);
}

AdvancedProfiler::~AdvancedProfiler() = default;

void AdvancedProfiler::start(const std::string& action_name) {
  for (const Impl::Open& o : impl_->open) {
    LIGHTNING_CHECK(o.name != action_name, "AdvancedProfiler: attempted to start \"", action_name,
                    "\", which has already started; stop it first (each start needs one stop).");
  }
  std::string site = impl_->open.empty() ? std::string() : impl_->open.back().chain;
  std::string chain = site.empty() ? action_name : site + " > " + action_name;
  impl_->open.push_back({action_name, std::move(site), std::move(chain), Clock::now()});
}

void AdvancedProfiler::stop(const std::string& action_name) {
  const Clock::time_point end = Clock::now();
  auto& open = impl_->open;
  auto it = std::find_if(open.rbegin(), open.rend(),
                         [&](const Impl::Open& o) { return o.name == action_name; });
  LIGHTNING_CHECK(it != open.rend(), "AdvancedProfiler: attempted to stop \"", action_name,
                  "\", which was never started; call start(\"", action_name, "\") first.");
  const double duration = std::chrono::duration<double>(end - it->start).count();
  const std::string site = std::move(it->site);
  open.erase(std::next(it).base());
  auto [slot, added] = impl_->index.emplace(action_name, impl_->actions.size());
  if (added) impl_->actions.emplace_back(action_name, Impl::Action{});
  Impl::Action& action = impl_->actions[slot->second].second;
  action.durations.push_back(duration);
  Impl::Site& s = action.sites[site];
  s.total += duration;
  ++s.calls;
}

std::vector<std::string> AdvancedProfiler::actions() const {
  std::vector<std::string> names;
  for (const auto& entry : impl_->actions) names.push_back(entry.first);
  return names;
}

ActionStats AdvancedProfiler::stats(const std::string& action_name) const {
  const Impl::Action& a = impl_->find(action_name);
  ActionStats s;
  s.calls = static_cast<int64_t>(a.durations.size());
  s.total = detail::compensated_sum(a.durations);
  s.mean = s.total / static_cast<double>(s.calls);
  s.p50 = detail::percentile(a.durations, 50);
  s.p90 = detail::percentile(a.durations, 90);
  s.p99 = detail::percentile(a.durations, 99);
  s.max = *std::max_element(a.durations.begin(), a.durations.end());
  return s;
}

std::vector<std::tuple<std::string, double, int64_t>> AdvancedProfiler::call_sites(
    const std::string& action_name) const {
  const Impl::Action& a = impl_->find(action_name);
  std::vector<std::tuple<std::string, double, int64_t>> out;
  for (const auto& [site, s] : a.sites) out.emplace_back(site, s.total, s.calls);
  std::stable_sort(out.begin(), out.end(),
                   [](const auto& x, const auto& y) { return std::get<1>(x) > std::get<1>(y); });
  return out;
}

std::string AdvancedProfiler::summary() const {
  std::string out = detail::report_title(stage());
  const double limit = impl_->options.line_count_restriction();
  for (const auto& [name, action] : impl_->actions) {
    const ActionStats s = stats(name);
    out += "Profile stats for: " + name;
    if (local_rank() != 0) out += " rank: " + std::to_string(local_rank());
    out += "\n";
    out += "  " + std::to_string(s.calls) + " calls, total " + seconds(s.total) + " s, mean " +
           seconds(s.mean) + " s\n";
    out += "  p50 " + seconds(s.p50) + " s   p90 " + seconds(s.p90) + " s   p99 " + seconds(s.p99) +
           " s   max " + seconds(s.max) + " s\n";
    const auto sites = call_sites(name);
    const size_t shown =
        limit <= 1.0 ? static_cast<size_t>(std::ceil(limit * static_cast<double>(sites.size())))
                     : std::min(sites.size(), static_cast<size_t>(limit));
    out += "  call sites (enclosing actions), by total time:\n";
    out += "      total (s)      calls  site\n";
    for (size_t i = 0; i < shown; ++i) {
      const auto& [site, total, calls] = sites[i];
      char line[64];
      std::snprintf(line, sizeof(line), "  %13.6f %10lld  ", total, static_cast<long long>(calls));
      out += line + (site.empty() ? std::string("(top level)") : site) + "\n";
    }
    if (shown < sites.size()) {
      out += "  ... " + std::to_string(sites.size() - shown) + " more (line_count_restriction)\n";
    }
  }
  return out;
}

}  // namespace lightning
