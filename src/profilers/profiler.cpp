// Profiler: the base class's scope, file naming and describe().
#include "lightning/profilers/profiler.h"

#include <filesystem>
#include <fstream>
#include <iostream>
#include <utility>

#include "lightning/error.h"

namespace lightning {

Profiler::Profiler(std::string dirpath, std::string filename)
    : dirpath_(std::move(dirpath)), filename_(std::move(filename)) {}

Profiler::~Profiler() = default;

Profiler::Scope::Scope(Profiler* profiler, std::string action_name)
    : profiler_(profiler), action_name_(std::move(action_name)) {
  profiler_->start(action_name_);
}

Profiler::Scope::Scope(Scope&& other) noexcept
    : profiler_(std::exchange(other.profiler_, nullptr)),
      action_name_(std::move(other.action_name_)) {}

Profiler::Scope::~Scope() {
  if (profiler_ != nullptr) {
    try {
      profiler_->stop(action_name_);
    } catch (...) {  // a destructor must not throw; the action stays open
    }
  }
}

Profiler::Scope Profiler::profile(std::string action_name) {
  return Scope(this, std::move(action_name));
}

void Profiler::setup(Stage stage, std::optional<int64_t> local_rank, const std::string& log_dir) {
  stage_ = stage;
  local_rank_ = local_rank;
  log_dir_ = log_dir;
}

void Profiler::teardown(Stage /*stage*/) { stage_.reset(); }

std::string Profiler::output_path(const std::string& extension,
                                  const std::string& action_name) const {
  const std::string dir = !dirpath_.empty() ? dirpath_ : log_dir_;
  if (dir.empty()) return "";
  // Lightning's name: the parts joined by '-', characters a file name cannot
  // hold replaced by '_', runs of '_' folded into one.
  std::string joined;
  auto add = [&](const std::string& part) {
    if (part.empty()) return;
    if (!joined.empty()) joined += '-';
    joined += part;
  };
  if (stage_) add(to_string(*stage_));
  add(filename_);
  if (local_rank_) add(std::to_string(*local_rank_));
  add(action_name);
  std::string name;
  for (char c : joined) {
    const bool bad = c == '\\' || c == '/' || c == ':' || c == '*' || c == '?' || c == '"' ||
                     c == '<' || c == '>' || c == '|' || c == '\n' || c == '\r' || c == '\t';
    const char out = bad ? '_' : c;
    if (out == '_' && !name.empty() && name.back() == '_') continue;
    name += out;
  }
  if (name.empty()) name = "profile";
  return (std::filesystem::path(dir) / (name + extension)).string();
}

void Profiler::describe() {
  const std::string text = summary();
  const std::string path = filename_.empty() ? "" : output_path();
  if (path.empty()) {
    if (local_rank() == 0 && !text.empty()) std::cout << text << std::flush;
    return;
  }
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  std::ofstream out(path, std::ios::app);
  LIGHTNING_CHECK(out.good(), "Profiler: cannot write its report to ", path,
                  "; pass a writable dirpath");
  out << text;
}

}  // namespace lightning
