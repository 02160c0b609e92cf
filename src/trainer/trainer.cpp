// The Trainer: its public API (which delegates to TrainerImpl), the skeleton
// every stage runs in, and `fit`, which reads top to bottom like the hook
// order in docs/hooks.md. The loops themselves are in fit_loop.cpp,
// evaluation_loop.cpp and prediction_loop.cpp.
#include "lightning/trainer.h"

#include <ATen/Parallel.h>
#include <torch/cuda.h>

#include <algorithm>
#include <filesystem>
#include <typeinfo>

#include "lightning/callbacks/early_stopping.h"
#include "lightning/callbacks/model_checkpoint.h"
#include "lightning/callbacks/on_exception_checkpoint.h"
#include "lightning/callbacks/timer.h"
#include "lightning/error.h"
#include "profilers/make_profiler.h"
#include "trainer/grad_mode.h"
#include "trainer/overrides.h"
#include "trainer/trainer_impl.h"
#include "trainer/trainer_options.h"
#include "util/type_name.h"

namespace lightning {

namespace detail {

// ---- Construction ------------------------------------------------------------

TrainerImpl::TrainerImpl(Trainer& self, TrainerOptions options)
    : self_(self), options_(std::move(options)), fit_loop_(*this) {
  const auto& o = options_;
  const std::string& acc = o.accelerator();
  LIGHTNING_CHECK(acc == "auto" || acc == "cpu" || acc == "cuda" || acc == "gpu",
                  "accelerator must be \"auto\", \"cpu\", \"cuda\" or \"gpu\", got \"", acc, "\".");
  const bool cuda = torch::cuda::is_available();
  LIGHTNING_CHECK(
      cuda || acc == "auto" || acc == "cpu", "accelerator(\"", acc,
      "\") needs a CUDA device, but this libtorch sees none (CPU-only build or no GPU). ",
      "Use accelerator(\"cpu\") or \"auto\".");
  device_ = (acc == "cpu" || !cuda) ? at::Device(at::kCPU) : at::Device(at::kCUDA, 0);

  std::optional<int64_t> devices = o.devices();
  if (devices) {
    const int64_t d = *devices;
    LIGHTNING_CHECK(d == -1 || d >= 1, "devices must be >= 1 (or -1 for auto), got ", d, ".");
  }
  if (device_.is_cuda()) {
    // One process per GPU: -1 takes every GPU of the machine, as Lightning's
    // devices=-1 / "auto" on CUDA.
    const int64_t available = static_cast<int64_t>(torch::cuda::device_count());
    if (devices && *devices == -1) devices = available;
    LIGHTNING_CHECK(!devices || *devices <= available, "devices(", devices.value_or(0),
                    ") asks for that many CUDA devices on each machine, but this one has ",
                    available, ". Use devices(", available, ") or fewer.");
  }
  LIGHTNING_CHECK(o.num_nodes() >= 1, "num_nodes must be >= 1, got ", o.num_nodes(), ".");
  strategy_ = make_strategy(o.strategy(), devices, o.num_nodes());
  profiler_ = make_profiler(o.profiler());
  if (o.profiler().enabled()) profiling_ = profiler_.get();
  num_devices_ = strategy_->world_size();

  precision_ = std::make_unique<Precision>(parse_precision(o.precision()));
  precision_->check_device(device_);

  check_loop_options(options_);
  accumulate_grad_batches_ = options_.accumulate_grad_batches();
  apply_barebones(options_);
  apply_fast_dev_run(options_);

  if (options_.num_threads()) at::set_num_threads(static_cast<int>(*options_.num_threads()));
  if (options_.deterministic()) at::globalContext().setDeterministicAlgorithms(true, false);
  // Lightning: benchmark unset means false under deterministic, else as it is.
  if (options_.benchmark()) {
    if (*options_.benchmark() && options_.deterministic()) {
      warn(
          "deterministic(true) with benchmark(true): cuDNN's benchmark mode picks algorithms by "
          "timing, so runs may differ.");
    }
    at::globalContext().setBenchmarkCuDNN(*options_.benchmark());
  } else if (options_.deterministic()) {
    at::globalContext().setBenchmarkCuDNN(false);
  }

  base_callbacks_ = with_default_callbacks(options_);
  // Lightning's defaulting: max_epochs=1000 unless max_steps or a Timer
  // (max_time) bounds the run.
  const bool timed = std::any_of(base_callbacks_.begin(), base_callbacks_.end(), [](const auto& c) {
    return dynamic_cast<Timer*>(c.get()) != nullptr;
  });
  fit_loop_.max_steps = options_.max_steps();
  fit_loop_.max_epochs = options_.max_epochs() ? *options_.max_epochs()
                                               : (fit_loop_.max_steps == -1 && !timed ? 1000 : -1);
  callbacks_ = base_callbacks_;
  loggers_ = options_.logger().loggers();
  train_results_ = std::make_unique<ResultCollection>();
  eval_results_ = std::make_unique<ResultCollection>();
}

TrainerImpl::~TrainerImpl() {
  if (model_ && TrainerAccess::trainer_of(*model_) == &self_) {
    TrainerAccess::set_trainer(*model_, nullptr);
  }
}

std::string TrainerImpl::default_root_dir() const {
  return options_.default_root_dir().empty() ? std::filesystem::current_path().string()
                                             : options_.default_root_dir();
}

std::string TrainerImpl::log_dir() const {
  if (!run_dir_.empty()) return run_dir_;
  if (!loggers_.empty()) {
    const std::string dir = loggers_[0]->log_dir();
    if (!dir.empty()) return dir;
    if (!loggers_[0]->save_dir().empty()) return loggers_[0]->save_dir();
  }
  return default_root_dir();
}

// ---- The stage skeleton ------------------------------------------------------

LightningModule& TrainerImpl::attach(std::shared_ptr<LightningModule> model, Stage stage) {
  LIGHTNING_CHECK(model != nullptr, "Trainer::", to_string(stage), " got a null module.");
  if (model_ && model_ != model && TrainerAccess::trainer_of(*model_) == &self_) {
    TrainerAccess::set_trainer(*model_, nullptr);
  }
  model_ = std::move(model);
  TrainerAccess::set_trainer(*model_, &self_);
  if (profiling_ != nullptr) profiled_module_class_ = unqualified_type_name(typeid(*model_));
  current_hook_ = Hook::None;
  precision_->setup(*model_, device_);
  stage_ = stage;
  should_stop_ = false;
  callback_metrics_.clear();
  logged_metrics_.clear();
  progress_bar_metrics_.clear();
  active_results_ = nullptr;
  return *model_;
}

void TrainerImpl::setup_callbacks(LightningModule& model) {
  callbacks_ = base_callbacks_;
  auto extra =
      call_module_hook(Hook::ConfigureCallbacks, [&] { return model.configure_callbacks(); });
  for (auto& cb : extra) {
    LIGHTNING_CHECK(cb != nullptr, "configure_callbacks returned a null callback.");
    // Lightning: a module's callback replaces Trainer callbacks of the same type.
    callbacks_.erase(std::remove_if(callbacks_.begin(), callbacks_.end(),
                                    [&](const auto& c) { return typeid(*c) == typeid(*cb); }),
                     callbacks_.end());
    callbacks_.push_back(cb);
  }
  // Monitoring callbacks (EarlyStopping, ...) run after the others and the
  // checkpoint callbacks (Lightning's Checkpoint subclasses: ModelCheckpoint,
  // OnExceptionCheckpoint) last of all, as in Lightning, so a checkpoint holds
  // what every other callback decided at that point.
  std::stable_partition(callbacks_.begin(), callbacks_.end(),
                        [](const auto& c) { return !c->is_monitoring_callback(); });
  std::stable_partition(callbacks_.begin(), callbacks_.end(), [](const auto& c) {
    return dynamic_cast<ModelCheckpoint*>(c.get()) == nullptr &&
           dynamic_cast<OnExceptionCheckpoint*>(c.get()) == nullptr;
  });
}

void TrainerImpl::check_steps(LightningModule& model, Stage stage) const {
  switch (stage) {
    case Stage::Fit:
      LIGHTNING_CHECK(overrides_training_step(model), model.name(),
                      " does not override training_step(batch, batch_idx), which `fit` needs. ",
                      "Override it and return the loss.");
      return;
    case Stage::Validate:
      LIGHTNING_CHECK(overrides_validation_step(model),
                      "No validation_step() method is defined on ", model.name(),
                      " to run Trainer::validate. Override it.");
      return;
    case Stage::Test:
      LIGHTNING_CHECK(overrides_test_step(model), "No test_step() method is defined on ",
                      model.name(), " to run Trainer::test. Override it.");
      return;
    case Stage::Predict:
      LIGHTNING_CHECK(overrides_predict_step(model), "No predict_step() method is defined on ",
                      model.name(),
                      " to run Trainer::predict. Override it (return e.g. forward(x)).");
      return;
  }
}

void TrainerImpl::setup_stage(LightningModule& model, LightningDataModule* datamodule,
                              Stage stage) {
  {
    HookScope scope(current_hook_, Hook::PrepareData);
    if (datamodule) {
      ActionScope action(profiling_, [&] { return datamodule_action("prepare_data"); });
      datamodule->prepare_data();
    }
    ActionScope action(profiling_, [&] { return module_action(Hook::PrepareData); });
    model.prepare_data();
  }
  call_hook(
      Hook::Setup, [&](Callback& c) { c.setup(self_, model, stage); },
      [&] {
        if (datamodule) {
          ActionScope action(profiling_, [&] { return datamodule_action("setup"); });
          datamodule->setup(stage);
        }
        model.setup(stage);
      });
  model.to(device_);
  // Metric submodules reduce over this run's processes until the stage ends.
  share_strategy_with_metrics(model, strategy_.get());
}

void TrainerImpl::teardown_stage(LightningModule& model, LightningDataModule* datamodule,
                                 Stage stage) {
  call_hook(
      Hook::Teardown, [&](Callback& c) { c.teardown(self_, model, stage); },
      [&] {
        if (datamodule) {
          ActionScope action(profiling_, [&] { return datamodule_action("teardown"); });
          datamodule->teardown(stage);
        }
        model.teardown(stage);
      });
}

// Tells the other processes (DDP), the callbacks and the loggers that the
// running stage raised; the caller re-throws.
void TrainerImpl::fail_stage(const std::exception& error) {
  fail_strategy(error);
  if (model_) share_strategy_with_metrics(*model_, nullptr);
  HookScope scope(current_hook_, Hook::OnException);
  for (auto& callback : callbacks_) callback->on_exception(self_, *model_, error);
  if (is_global_zero()) {
    for (auto& logger : loggers_) logger->finalize("failed");
  }
  training_ = sanity_checking_ = false;
}

void TrainerImpl::warn_once(const std::string& message) {
  if (warned_.insert(message).second) detail::warn(message);
}

void TrainerImpl::finish_stage() {
  if (is_global_zero()) {
    for (auto& logger : loggers_) logger->finalize("success");
  }
  if (model_) share_strategy_with_metrics(*model_, nullptr);
  strategy_->teardown();
}

// ---- fit -----------------------------------------------------------------------

void TrainerImpl::fit(std::shared_ptr<LightningModule> module, LightningDataModule* datamodule,
                      StageLoaders loaders, const std::optional<std::string>& ckpt_path) {
  fit_loop_.reset();
  accumulate_grad_batches_ = options_.accumulate_grad_batches();
  loaders_ = std::move(loaders);
  train_data_ready_ = false;
  run_stage(std::move(module), Stage::Fit, datamodule, [&](LightningModule& model) {
    std::optional<Checkpoint> restoring;
    if (ckpt_path) {
      // Lightning's order: weights and callbacks before configure_optimizers,
      // optimizer/scheduler/loop state after on_fit_start (where callbacks
      // may replace the schedulers, as StochasticWeightAveraging does, or
      // rebuild parameter groups, as the finetuning callbacks do).
      ckpt_path_ = resolve_ckpt_path(*ckpt_path, Stage::Fit);
      restoring = read_checkpoint(ckpt_path_);
      restore_modules_and_callbacks(model, datamodule, *restoring);
    }
    strategy_->setup_module(model);  // DDP: rank 0's weights everywhere, gradient sync

    configure_optimizers(model);
    start_loggers(model, datamodule);

    call_hook(
        Hook::OnFitStart, [&](Callback& c) { c.on_fit_start(self_, model); },
        [&] { model.on_fit_start(); });
    if (restoring) restore_training_state(*restoring);

    // Lightning's order: the sanity check asks for the val loaders after
    // on_sanity_check_start; without one they come after the training loader.
    // A resumed fit skips the sanity check (its validation ran before the save).
    std::optional<bool> has_validation;
    if (options_.num_sanity_val_steps() != 0 && !fit_loop_.resuming() &&
        validation_defined(model)) {
      has_validation = sanity_check(model);  // loads the val loaders
    }
    setup_train_data(model);  // train_dataloader, unless configure_optimizers needed it already
    if (!has_validation) has_validation = load_validation(model);
    fit_loop_.finish_saved_epoch_end();

    {
      AnomalyDetection anomaly(options_.detect_anomaly());  // the training loop only, as Lightning
      fit_loop_.run(model, *has_validation);
    }

    call_hook(
        Hook::OnFitEnd, [&](Callback& c) { c.on_fit_end(self_, model); },
        [&] { model.on_fit_end(); });
    return true;
  });
}

bool TrainerImpl::sanity_check(LightningModule& model) {
  // Sanity-check metrics are not kept: Lightning resets them afterwards.
  const TensorMetrics callback_before = callback_metrics_;
  const TensorMetrics progress_before = progress_bar_metrics_;
  sanity_checking_ = true;
  {
    HookScope scope(current_hook_, Hook::OnSanityCheckStart);
    for (auto& c : callbacks_) {
      ActionScope action(profiling_, [&] { return callback_action(*c, Hook::OnSanityCheckStart); });
      c->on_sanity_check_start(self_, model);
    }
  }
  const bool has_validation = load_validation(model);
  if (has_validation) {
    run_evaluation(model, Stage::Validate, num_sanity_val_batches_, /*log=*/false);
  }
  {
    HookScope scope(current_hook_, Hook::OnSanityCheckEnd);
    for (auto& c : callbacks_) {
      ActionScope action(profiling_, [&] { return callback_action(*c, Hook::OnSanityCheckEnd); });
      c->on_sanity_check_end(self_, model);
    }
  }
  sanity_checking_ = false;
  callback_metrics_ = callback_before;
  progress_bar_metrics_ = progress_before;
  return has_validation;
}

}  // namespace detail

// ---- The public API ------------------------------------------------------------

using detail::StageLoaders;

Trainer::Trainer(TrainerOptions options)
    : impl_(std::make_unique<detail::TrainerImpl>(*this, std::move(options))) {}

Trainer::~Trainer() = default;

void Trainer::fit(std::shared_ptr<LightningModule> model, LightningDataModule& datamodule,
                  const std::optional<std::string>& ckpt_path) {
  impl_->fit(std::move(model), &datamodule, StageLoaders{}, ckpt_path);
}
void Trainer::fit(std::shared_ptr<LightningModule> model, DataLoaders train_dataloaders,
                  DataLoaders val_dataloaders, const std::optional<std::string>& ckpt_path) {
  impl_->fit(std::move(model), nullptr,
             StageLoaders{std::move(train_dataloaders), std::move(val_dataloaders), {}, {}},
             ckpt_path);
}
void Trainer::fit(std::shared_ptr<LightningModule> model) {
  impl_->fit(std::move(model), nullptr, StageLoaders{}, std::nullopt);
}
void Trainer::fit(std::shared_ptr<LightningModule> model, const std::string& ckpt_path) {
  impl_->fit(std::move(model), nullptr, StageLoaders{}, ckpt_path);
}

std::vector<Metrics> Trainer::validate(std::shared_ptr<LightningModule> model,
                                       LightningDataModule& datamodule,
                                       const std::optional<std::string>& ckpt_path, bool verbose) {
  return impl_->evaluate(std::move(model), Stage::Validate, &datamodule, {}, ckpt_path, verbose);
}
std::vector<Metrics> Trainer::validate(std::shared_ptr<LightningModule> model,
                                       DataLoaders dataloaders,
                                       const std::optional<std::string>& ckpt_path, bool verbose) {
  return impl_->evaluate(std::move(model), Stage::Validate, nullptr, std::move(dataloaders),
                         ckpt_path, verbose);
}
std::vector<Metrics> Trainer::validate(std::shared_ptr<LightningModule> model) {
  return impl_->evaluate(std::move(model), Stage::Validate, nullptr, {}, std::nullopt, true);
}
std::vector<Metrics> Trainer::validate(std::shared_ptr<LightningModule> model,
                                       const std::string& ckpt_path) {
  return impl_->evaluate(std::move(model), Stage::Validate, nullptr, {}, ckpt_path, true);
}
std::vector<Metrics> Trainer::test(std::shared_ptr<LightningModule> model,
                                   LightningDataModule& datamodule,
                                   const std::optional<std::string>& ckpt_path, bool verbose) {
  return impl_->evaluate(std::move(model), Stage::Test, &datamodule, {}, ckpt_path, verbose);
}
std::vector<Metrics> Trainer::test(std::shared_ptr<LightningModule> model, DataLoaders dataloaders,
                                   const std::optional<std::string>& ckpt_path, bool verbose) {
  return impl_->evaluate(std::move(model), Stage::Test, nullptr, std::move(dataloaders), ckpt_path,
                         verbose);
}
std::vector<Metrics> Trainer::test(std::shared_ptr<LightningModule> model) {
  return impl_->evaluate(std::move(model), Stage::Test, nullptr, {}, std::nullopt, true);
}
std::vector<Metrics> Trainer::test(std::shared_ptr<LightningModule> model,
                                   const std::string& ckpt_path) {
  return impl_->evaluate(std::move(model), Stage::Test, nullptr, {}, ckpt_path, true);
}

std::vector<c10::IValue> Trainer::predict(std::shared_ptr<LightningModule> model,
                                          LightningDataModule& datamodule,
                                          const std::optional<std::string>& ckpt_path) {
  return impl_->predict(std::move(model), &datamodule, {}, ckpt_path);
}
std::vector<c10::IValue> Trainer::predict(std::shared_ptr<LightningModule> model,
                                          DataLoaders dataloaders,
                                          const std::optional<std::string>& ckpt_path) {
  return impl_->predict(std::move(model), nullptr, std::move(dataloaders), ckpt_path);
}
std::vector<c10::IValue> Trainer::predict(std::shared_ptr<LightningModule> model) {
  return impl_->predict(std::move(model), nullptr, {}, std::nullopt);
}
std::vector<c10::IValue> Trainer::predict(std::shared_ptr<LightningModule> model,
                                          const std::string& ckpt_path) {
  return impl_->predict(std::move(model), nullptr, {}, ckpt_path);
}

const TrainerOptions& Trainer::options() const { return impl_->options_; }
int64_t Trainer::current_epoch() const { return impl_->fit_loop_.counters().epoch; }
int64_t Trainer::global_step() const { return impl_->fit_loop_.counters().global_step; }
const LoopState& Trainer::loop_state() const { return impl_->fit_loop_.counters(); }
bool Trainer::should_stop() const { return impl_->should_stop_; }
void Trainer::set_should_stop(bool value) { impl_->should_stop_ = value; }
Stage Trainer::state() const { return impl_->stage_; }
bool Trainer::training() const { return impl_->training_; }
bool Trainer::sanity_checking() const { return impl_->sanity_checking_; }

void Trainer::save_checkpoint(const std::string& path, bool weights_only) {
  impl_->save_checkpoint(path, weights_only);
}
Checkpoint Trainer::dump_checkpoint(bool weights_only) {
  return impl_->dump_checkpoint(weights_only);
}
ModelCheckpoint* Trainer::checkpoint_callback() const {
  auto all = checkpoint_callbacks();
  return all.empty() ? nullptr : all.front();
}
std::vector<ModelCheckpoint*> Trainer::checkpoint_callbacks() const {
  std::vector<ModelCheckpoint*> out;
  for (const auto& c : impl_->callbacks_) {
    if (auto* m = dynamic_cast<ModelCheckpoint*>(c.get())) out.push_back(m);
  }
  return out;
}
EarlyStopping* Trainer::early_stopping_callback() const {
  for (const auto& c : impl_->callbacks_) {
    if (auto* e = dynamic_cast<EarlyStopping*>(c.get())) return e;
  }
  return nullptr;
}
const std::string& Trainer::ckpt_path() const { return impl_->ckpt_path_; }

const TensorMetrics& Trainer::callback_metrics() const { return impl_->callback_metrics_; }
const TensorMetrics& Trainer::logged_metrics() const { return impl_->logged_metrics_; }
const TensorMetrics& Trainer::progress_bar_metrics() const { return impl_->progress_bar_metrics_; }

int64_t Trainer::num_training_batches() const { return impl_->fit_loop_.num_training_batches; }
const std::vector<int64_t>& Trainer::num_val_batches() const { return impl_->num_val_batches_; }
const std::vector<int64_t>& Trainer::num_sanity_val_batches() const {
  return impl_->num_sanity_val_batches_;
}
const std::vector<int64_t>& Trainer::num_test_batches() const { return impl_->num_test_batches_; }
const std::vector<int64_t>& Trainer::num_predict_batches() const {
  return impl_->num_predict_batches_;
}

const std::vector<std::shared_ptr<Callback>>& Trainer::callbacks() const {
  return impl_->callbacks_;
}
const std::vector<std::shared_ptr<Logger>>& Trainer::loggers() const { return impl_->loggers_; }
Logger* Trainer::logger() const {
  return impl_->loggers_.empty() ? nullptr : impl_->loggers_[0].get();
}
std::string Trainer::log_dir() const { return impl_->log_dir(); }
LightningModule& Trainer::lightning_module() const {
  LIGHTNING_CHECK(impl_->model_ != nullptr,
                  "trainer.lightning_module() is only available once fit/validate/test/predict "
                  "has been called with a module.");
  return *impl_->model_;
}
const std::vector<std::shared_ptr<torch::optim::Optimizer>>& Trainer::optimizers() const {
  return impl_->optimizers_;
}
const std::vector<LRSchedulerConfig>& Trainer::lr_scheduler_configs() const {
  return impl_->lr_scheduler_configs_;
}
Precision& Trainer::precision_plugin() { return *impl_->precision_; }
const Precision& Trainer::precision_plugin() const { return *impl_->precision_; }
at::Device Trainer::root_device() const { return impl_->device_; }
Profiler& Trainer::profiler() const { return *impl_->profiler_; }
std::string Trainer::default_root_dir() const { return impl_->default_root_dir(); }
Strategy& Trainer::strategy() const { return *impl_->strategy_; }
int64_t Trainer::global_rank() const { return impl_->strategy_->global_rank(); }
int64_t Trainer::local_rank() const { return impl_->strategy_->local_rank(); }
int64_t Trainer::node_rank() const { return impl_->strategy_->node_rank(); }
int64_t Trainer::world_size() const { return impl_->strategy_->world_size(); }
bool Trainer::is_global_zero() const { return impl_->is_global_zero(); }
int64_t Trainer::num_devices() const { return impl_->num_devices_; }
int64_t Trainer::max_epochs() const { return impl_->fit_loop_.max_epochs; }
int64_t Trainer::estimated_stepping_batches() { return impl_->estimated_stepping_batches(); }
int64_t Trainer::accumulate_grad_batches() const { return impl_->accumulate_grad_batches_; }
void Trainer::set_accumulate_grad_batches(int64_t value) {
  LIGHTNING_CHECK(value >= 1, "accumulate_grad_batches must be >= 1, got ", value, ".");
  impl_->accumulate_grad_batches_ = value;
}

}  // namespace lightning
