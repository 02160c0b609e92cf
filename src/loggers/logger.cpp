#include "lightning/loggers/logger.h"

#include <cctype>
#include <filesystem>
#include <system_error>

#include "lightning/error.h"

namespace lightning {

LoggerVersion::LoggerVersion(int64_t version) : folder_("version_" + std::to_string(version)) {
  LIGHTNING_CHECK(version >= 0, "a logger version must be >= 0, got ", version, ".");
}

LoggerVersion::LoggerVersion(std::string version) : folder_(std::move(version)) {
  LIGHTNING_CHECK(!folder_.empty() && folder_ != "." && folder_ != ".." &&
                      folder_.find('/') == std::string::npos,
                  "a logger version string names one folder, got \"", folder_,
                  "\". Use e.g. \"baseline\" or an int (version_N).");
}

RunFolder::RunFolder(std::string save_dir, std::string name, LoggerVersion version)
    : save_dir_(std::move(save_dir)), name_(std::move(name)), requested_(std::move(version)) {}

std::string RunFolder::root() const {
  return name_.empty() ? save_dir_ : (std::filesystem::path(save_dir_) / name_).string();
}

const std::string& RunFolder::version() const {
  if (version_.empty()) {
    version_ = requested_.is_set() ? requested_.folder()
                                   : "version_" + std::to_string(next_version(root()));
  }
  return version_;
}

std::string RunFolder::path() const { return (std::filesystem::path(root()) / version()).string(); }

int64_t next_version(const std::string& root) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(root, ec)) return 0;
  int64_t next = 0;
  for (const auto& entry : fs::directory_iterator(root, ec)) {
    if (!entry.is_directory(ec)) continue;
    const std::string name = entry.path().filename().string();
    const std::string prefix = "version_";
    if (name.rfind(prefix, 0) != 0 || name.size() == prefix.size()) continue;
    const std::string digits = name.substr(prefix.size());
    bool numeric = digits.size() < 18;
    for (char c : digits) numeric = numeric && std::isdigit(static_cast<unsigned char>(c));
    if (numeric) next = std::max<int64_t>(next, std::stoll(digits) + 1);
  }
  return next;
}

}  // namespace lightning
