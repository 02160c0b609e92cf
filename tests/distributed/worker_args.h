// Shared by the distributed test programs (ddp_worker, trainer_ddp_worker):
// their `key=value` arguments (a self-launched program re-runs with the same
// argv, so all configuration travels there) and how they print tensors.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <cstdio>
#include <map>
#include <sstream>
#include <string>

namespace worker_args {

inline std::map<std::string, std::string> options;

/// Reads argv[first..] as key=value pairs into `options`.
inline void parse(int argc, char** argv, int first) {
  for (int i = first; i < argc; ++i) {
    const std::string a = argv[i];
    const auto eq = a.find('=');
    if (eq != std::string::npos) options[a.substr(0, eq)] = a.substr(eq + 1);
  }
}

inline int64_t opt(const std::string& key, int64_t fallback) {
  auto it = options.find(key);
  return it == options.end() ? fallback : std::stoll(it->second);
}
inline double optd(const std::string& key, double fallback) {
  auto it = options.find(key);
  return it == options.end() ? fallback : std::stod(it->second);
}
inline std::string opts(const std::string& key, const std::string& fallback = "") {
  auto it = options.find(key);
  return it == options.end() ? fallback : it->second;
}

/// " v0 v1 ..." with every digit of each element (%.17g round-trips doubles).
inline std::string values(const at::Tensor& t) {
  auto flat = t.detach().to(at::kDouble).contiguous().view({-1});
  std::ostringstream out;
  char buf[40];
  for (int64_t i = 0; i < flat.numel(); ++i) {
    std::snprintf(buf, sizeof buf, " %.17g", flat.data_ptr<double>()[i]);
    out << buf;
  }
  return out.str();
}

}  // namespace worker_args
