// The Trainer's side of profiling: action names and the profiler's stage.
#include <c10/util/Type.h>

#include <typeinfo>

#include "lightning/datamodule.h"
#include "trainer/trainer_impl.h"

namespace lightning::detail {

namespace {

// The class name without its namespaces, as Lightning's __class__.__name__.
template <typename T>
std::string class_name(const T& object) {
  std::string name = c10::demangle(typeid(object).name());
  const auto pos = name.rfind("::");
  return pos == std::string::npos ? name : name.substr(pos + 2);
}

bool is_step(Hook hook) {
  return hook == Hook::TrainingStep || hook == Hook::ValidationStep || hook == Hook::TestStep ||
         hook == Hook::PredictStep;
}

}  // namespace

std::string TrainerImpl::module_action(Hook hook) const {
  return is_step(hook) ? strategy_action(hook_name(hook)) : module_action(hook_name(hook));
}

std::string TrainerImpl::module_action(const char* hook) const {
  return "[LightningModule]" + (model_ ? class_name(*model_) : std::string("LightningModule")) +
         "." + hook;
}

std::string TrainerImpl::callback_action(const Callback& callback, Hook hook) const {
  // state_key() formats the callback's settings: once per callback and stage.
  auto [it, added] = profiled_state_keys_.emplace(&callback, std::string());
  if (added) it->second = "[Callback]" + callback.state_key() + ".";
  return it->second + hook_name(hook);
}

std::string TrainerImpl::datamodule_action(const char* hook) const {
  return "[LightningDataModule]" +
         (datamodule_ ? class_name(*datamodule_) : std::string("LightningDataModule")) + "." + hook;
}

std::string TrainerImpl::strategy_action(const char* what) const {
  return "[Strategy]" + class_name(*strategy_) + "." + what;
}

void TrainerImpl::start_profiler(Stage stage) {
  if (profiling_ == nullptr) return;
  profiled_state_keys_.clear();
  const std::optional<int64_t> rank =
      world_size() > 1 ? std::optional<int64_t>(strategy_->local_rank()) : std::nullopt;
  profiler_dir_ = log_dir();
  profiler_->setup(stage, rank, profiler_dir_);
}

void TrainerImpl::finish_profiler(Stage stage) {
  if (profiling_ == nullptr) return;
  // The default loggers create the run folder after the setup hooks: tell
  // the profiler where it is now.
  if (log_dir() != profiler_dir_) {
    profiler_dir_ = log_dir();
    const std::optional<int64_t> rank =
        world_size() > 1 ? std::optional<int64_t>(strategy_->local_rank()) : std::nullopt;
    profiler_->setup(stage, rank, profiler_dir_);
  }
  profiler_->describe();
  profiler_->teardown(stage);
}

}  // namespace lightning::detail
