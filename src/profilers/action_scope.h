// Internal: one profiled action around a scope, free when profiling is off.
#pragma once

#include <string>
#include <type_traits>
#include <utility>

#include "lightning/profilers/profiler.h"

namespace lightning::detail {

/// Starts `name` on `profiler` and stops it when the scope ends, also when it
/// unwinds through an exception. With a null profiler (profiling off) it does
/// nothing and the name is never built: pass a callable that makes it.
class ActionScope {
 public:
  template <typename MakeName, typename = std::enable_if_t<std::is_invocable_v<MakeName&>>>
  ActionScope(Profiler* profiler, MakeName&& make_name) : profiler_(profiler) {
    if (profiler_ == nullptr) return;
    name_ = make_name();
    profiler_->start(name_);
  }
  ActionScope(Profiler* profiler, const char* name)
      : ActionScope(profiler, [name] { return std::string(name); }) {}
  ~ActionScope() {
    if (profiler_ == nullptr) return;
    try {
      profiler_->stop(name_);
    } catch (...) {  // never from a destructor; a broken stop loses one record
    }
  }
  ActionScope(const ActionScope&) = delete;
  ActionScope& operator=(const ActionScope&) = delete;

 private:
  Profiler* profiler_;
  std::string name_;
};

}  // namespace lightning::detail
