// The Trainer's side of profiling: action names and the profiler's stage.
#include <typeinfo>

#include "lightning/datamodule.h"
#include "trainer/trainer_impl.h"
#include "util/type_name.h"

namespace lightning::detail {

namespace {

bool is_step(Hook hook) {
  return hook == Hook::TrainingStep || hook == Hook::ValidationStep || hook == Hook::TestStep ||
         hook == Hook::PredictStep;
}

}  // namespace

std::string TrainerImpl::module_action(Hook hook) const {
  return is_step(hook) ? strategy_action(hook_name(hook)) : module_action(hook_name(hook));
}

std::string TrainerImpl::module_action(const char* hook) const {
  // The class is named once per stage (attach), not per action.
  return "[LightningModule]" + profiled_module_class_ + "." + hook;
}

std::string TrainerImpl::callback_action(const Callback& callback, Hook hook) const {
  // state_key() formats the callback's settings: once per callback and stage.
  auto [it, added] = profiled_state_keys_.emplace(&callback, std::string());
  if (added) it->second = "[Callback]" + callback.state_key() + ".";
  return it->second + hook_name(hook);
}

std::string TrainerImpl::datamodule_action(const char* hook) const {
  return "[LightningDataModule]" +
         (datamodule_ ? unqualified_type_name(typeid(*datamodule_))
                      : std::string("LightningDataModule")) +
         "." + hook;
}

std::string TrainerImpl::strategy_action(const char* what) const {
  return "[Strategy]" + unqualified_type_name(typeid(*strategy_)) + "." + what;
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
