#include "lightning/loggers/tensorboard_logger.h"

#include <cmath>
#include <filesystem>
#include <sstream>
#include <system_error>
#include <utility>
#include <vector>

#include "lightning/error.h"
#include "loggers/event_file_writer.h"

namespace lightning {
namespace {

namespace fs = std::filesystem;

constexpr const char* kHpMetric = "hp_metric";
constexpr const char* kEpochTagPrefix = "by_epoch/";
constexpr const char* kHParamsFile = "hparams.yaml";

// Lightning's _flatten_dict(params, delimiter="/"): nested maps become
// "parent/child" keys; an empty nested map leaves no key; a key flattened twice
// ({"a/b": 1, "a": {"b": 2}}) keeps its first position and its last value, as
// the Python dict does.
void flatten(const HParamValue::Map& map, const std::string& parent, HParams& out) {
  for (const auto& [key, value] : map) {
    const std::string name = parent.empty() ? key : parent + "/" + key;
    if (value.is_map()) {
      flatten(std::get<HParamValue::Map>(value.variant()), name, out);
    } else {
      out.set(name, value);
    }
  }
}

// Lightning's _sanitize_params: numbers, bools and strings stay; anything else
// (None, lists) becomes its Python str().
detail::HParamEntry to_entry(const std::string& name, const HParamValue& value) {
  if (value.is_bool()) return {name, value.as<bool>()};
  if (value.is_int() || value.is_double()) return {name, value.as<double>()};
  if (value.is_string()) return {name, value.as<std::string>()};
  std::ostringstream printed;
  printed << value;
  return {name, printed.str()};
}

}  // namespace

TensorBoardLogger::TensorBoardLogger(TensorBoardLoggerOptions options)
    : options_(std::move(options)),
      folder_(options_.save_dir(), options_.name(), options_.version()) {
  LIGHTNING_CHECK(std::isfinite(options_.flush_secs()) && options_.flush_secs() >= 0,
                  "TensorBoardLogger flush_secs must be a finite number >= 0, got ",
                  options_.flush_secs(), ".");
  LIGHTNING_CHECK(!fs::path(options_.sub_dir()).is_absolute(),
                  "TensorBoardLogger sub_dir is a folder inside the run folder, got the absolute "
                  "path \"",
                  options_.sub_dir(), "\". Use a relative name such as \"tb\".");
}

// Out of line: EventFileWriter is complete only here.
TensorBoardLogger::~TensorBoardLogger() = default;

std::string TensorBoardLogger::version() const { return folder_.version(); }

std::string TensorBoardLogger::log_dir() const { return folder_.path(); }

std::string TensorBoardLogger::event_file() const { return event_file_; }

detail::EventFileWriter& TensorBoardLogger::writer() {
  if (!writer_) {
    fs::path dir(log_dir());
    if (!options_.sub_dir().empty()) dir /= options_.sub_dir();
    writer_ = std::make_unique<detail::EventFileWriter>(dir.string(), options_.flush_secs());
    event_file_ = writer_->path();
    session_started_ = false;
  }
  return *writer_;
}

std::string TensorBoardLogger::tag(const std::string& metric) const {
  return options_.prefix().empty() ? metric : options_.prefix() + "-" + metric;
}

void TensorBoardLogger::log_hyperparams(const HParams& hparams) {
  // The event file first: it creates the run folder, or raises the error that
  // names it.
  detail::EventFileWriter& events = writer();
  hparams_.update(hparams);
  save_hparams_to_yaml((fs::path(log_dir()) / kHParamsFile).string(), hparams_);
  if (hparams.empty()) return;  // Lightning does not call log_hyperparams then

  HParams flat;
  flatten(hparams.items(), "", flat);
  std::vector<detail::HParamEntry> entries;
  for (const auto& [name, value] : flat) entries.push_back(to_entry(name, value));
  std::vector<std::string> metrics;
  if (options_.default_hp_metric()) {
    metrics.push_back(tag(kHpMetric));
    events.write_scalars({{tag(kHpMetric), -1.0}}, 0);
  }
  events.write_hparams(entries, metrics);
  session_started_ = true;
}

void TensorBoardLogger::log_metrics(const Metrics& metrics, int64_t step) {
  if (metrics.empty()) return;
  std::vector<std::pair<std::string, double>> scalars;
  for (const auto& [name, value] : metrics) scalars.emplace_back(tag(name), value);
  writer().write_scalars(scalars, step);
}

void TensorBoardLogger::log_epoch_metrics(const Metrics& metrics, int64_t epoch) {
  std::vector<std::pair<std::string, double>> scalars;
  for (const auto& [name, value] : metrics) {
    if (name != "epoch") scalars.emplace_back(kEpochTagPrefix + tag(name), value);
  }
  if (scalars.empty()) return;
  writer().write_scalars(scalars, epoch);
}

void TensorBoardLogger::save() {
  if (writer_) writer_->flush();
  // As Lightning: hparams.yaml appears once the run folder exists.
  const fs::path yaml = fs::path(log_dir()) / kHParamsFile;
  std::error_code ec;
  if (fs::is_directory(log_dir(), ec) && !fs::exists(yaml, ec)) {
    save_hparams_to_yaml(yaml.string(), hparams_);
  }
}

void TensorBoardLogger::finalize(const std::string& status) {
  if (writer_) {
    // Released first: a later log_* call opens a new event file (as PyTorch's
    // SummaryWriter does after close()), even if closing this one failed.
    std::unique_ptr<detail::EventFileWriter> events = std::move(writer_);
    if (session_started_) events->write_session_end(status == "success");
    events->close();
  }
  if (status == "success") save();
}

}  // namespace lightning
