// The Trainer's loops. `run_fit` reads top to bottom like the hook order in
// docs/hooks.md; each helper it calls is one level deep.
#include "lightning/trainer.h"

#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>
#include <torch/cuda.h>
#include <torch/optim/optimizer.h>

#include <algorithm>
#include <cmath>
#include <exception>
#include <filesystem>
#include <typeinfo>

#include "detail/hooks.h"
#include "detail/result_collection.h"
#include "lightning/callbacks/early_stopping.h"
#include "lightning/callbacks/gradient_accumulation_scheduler.h"
#include "lightning/callbacks/model_checkpoint.h"
#include "lightning/callbacks/model_summary.h"
#include "lightning/callbacks/progress_bar.h"
#include "lightning/error.h"
#include "lightning/loggers/csv_logger.h"
#include "lightning/loggers/tensorboard_logger.h"
#include "lightning/optim/param_groups.h"

namespace lightning {

using detail::Hook;

namespace {

// Marks the hook running now, so `self.log` can apply that hook's rules.
// When the hook throws, the mark stays: the entry point's handler reports
// the innermost failed hook (DDP tells the other ranks its name).
class HookScope {
 public:
  HookScope(int& current, Hook hook)
      : current_(current), saved_(current), uncaught_(std::uncaught_exceptions()) {
    current_ = static_cast<int>(hook);
  }
  ~HookScope() {
    if (std::uncaught_exceptions() == uncaught_) current_ = saved_;
  }
  HookScope(const HookScope&) = delete;
  HookScope& operator=(const HookScope&) = delete;

 private:
  int& current_;
  int saved_;
  int uncaught_;
};

// The one dispatch helper: every callback in order, then the module.
template <typename OnCallback, typename OnModule>
void dispatch(int& current, Hook hook, const std::vector<std::shared_ptr<Callback>>& callbacks,
              OnCallback&& on_callback, OnModule&& on_module) {
  HookScope scope(current, hook);
  for (const auto& callback : callbacks) on_callback(*callback);
  on_module();
}

// Module-only hooks (data and step hooks) go through here to set the hook.
template <typename Fn>
auto call_module(int& current, Hook hook, Fn&& fn) {
  HookScope scope(current, hook);
  return fn();
}

void check_limit(const BatchLimit& limit, const char* name) {
  if (limit.is_fraction()) {
    LIGHTNING_CHECK(limit.fraction() >= 0.0 && limit.fraction() <= 1.0, name,
                    " must be an int >= 0 (batches) or a float in [0.0, 1.0] (fraction of the "
                    "dataloader), got ",
                    limit.fraction(), ". Use e.g. ", name, "(0.25) or ", name, "(10).");
  } else {
    LIGHTNING_CHECK(limit.count() >= 0, name,
                    " must be an int >= 0 (batches) or a float in [0.0, 1.0] (fraction of the "
                    "dataloader), got ",
                    limit.count(), ".");
  }
}

std::string loader_suffix(size_t num_loaders, int64_t dataloader_idx) {
  return num_loaders > 1 ? "/dataloader_idx_" + std::to_string(dataloader_idx) : std::string();
}

// Metrics as plain numbers per dataloader, for validate()/test() results.
std::vector<Metrics> to_numbers(const std::vector<TensorMetrics>& per_loader) {
  std::vector<Metrics> out;
  out.reserve(per_loader.size());
  for (const auto& m : per_loader) out.push_back(lightning::to_numbers(m));
  return out;
}

}  // namespace

// ---- Options ---------------------------------------------------------------

int64_t BatchLimit::resolve(int64_t available) const {
  if (!is_fraction_) return std::min(count_, available);
  if (fraction_ >= 1.0) return available;
  auto n = static_cast<int64_t>(static_cast<double>(available) * fraction_);
  return (n == 0 && fraction_ > 0.0 && available > 0) ? 1 : n;
}

struct Trainer::Loaders {
  DataLoaders train, val, test, predict;
};

Trainer::Trainer(TrainerOptions options) : options_(std::move(options)) {
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
  num_devices_ = strategy_->world_size();

  precision_ = std::make_unique<Precision>(parse_precision(o.precision()));
  precision_->check_device(device_);

  if (o.max_epochs()) {
    LIGHTNING_CHECK(*o.max_epochs() >= -1, "max_epochs must be >= -1 (-1 means no limit), got ",
                    *o.max_epochs(), ".");
  }
  if (o.min_epochs()) {
    LIGHTNING_CHECK(*o.min_epochs() >= 0, "min_epochs must be >= 0, got ", *o.min_epochs(), ".");
  }
  LIGHTNING_CHECK(o.max_steps() >= -1, "max_steps must be >= -1 (-1 means no limit), got ",
                  o.max_steps(), ".");
  if (o.min_steps()) {
    LIGHTNING_CHECK(*o.min_steps() >= 0, "min_steps must be >= 0, got ", *o.min_steps(), ".");
  }
  check_limit(o.limit_train_batches(), "limit_train_batches");
  check_limit(o.limit_val_batches(), "limit_val_batches");
  check_limit(o.limit_test_batches(), "limit_test_batches");
  check_limit(o.limit_predict_batches(), "limit_predict_batches");
  check_limit(o.overfit_batches(), "overfit_batches");
  const auto& vci = o.val_check_interval();
  if (vci.is_fraction()) {
    LIGHTNING_CHECK(
        vci.fraction() > 0.0 && vci.fraction() <= 1.0,
        "val_check_interval as a float is a fraction of the training epoch in (0.0, 1.0], "
        "got ",
        vci.fraction(), ". Pass an int to validate every N training batches.");
  } else {
    LIGHTNING_CHECK(vci.count() >= 1,
                    "val_check_interval as an int is a number of training batches >= 1, got ",
                    vci.count(), ".");
  }
  LIGHTNING_CHECK(o.check_val_every_n_epoch() >= 1, "check_val_every_n_epoch must be >= 1, got ",
                  o.check_val_every_n_epoch(), ".");
  LIGHTNING_CHECK(o.num_sanity_val_steps() >= -1,
                  "num_sanity_val_steps must be >= 0, or -1 to run every validation batch, got ",
                  o.num_sanity_val_steps(), ".");
  LIGHTNING_CHECK(o.accumulate_grad_batches() >= 1, "accumulate_grad_batches must be >= 1, got ",
                  o.accumulate_grad_batches(), ".");
  accumulate_grad_batches_ = o.accumulate_grad_batches();
  if (o.gradient_clip_val()) {
    LIGHTNING_CHECK(std::isfinite(*o.gradient_clip_val()) && *o.gradient_clip_val() >= 0.0,
                    "gradient_clip_val must be a finite number >= 0 (0 disables clipping), got ",
                    *o.gradient_clip_val(), ".");
  }
  if (o.gradient_clip_algorithm()) {
    const std::string& a = *o.gradient_clip_algorithm();
    LIGHTNING_CHECK(a == "norm" || a == "value",
                    "gradient_clip_algorithm must be \"norm\" or \"value\", got \"", a, "\".");
  }
  LIGHTNING_CHECK(o.log_every_n_steps() >= 1, "log_every_n_steps must be >= 1, got ",
                  o.log_every_n_steps(), ".");
  LIGHTNING_CHECK(o.fast_dev_run().batches() >= 0,
                  "fast_dev_run must be true/false or a number of batches >= 0, got ",
                  o.fast_dev_run().batches(), ".");
  if (o.num_threads()) {
    LIGHTNING_CHECK(*o.num_threads() >= 1, "num_threads must be >= 1, got ", *o.num_threads(), ".");
  }
  for (size_t i = 0; i < o.callbacks().size(); ++i) {
    LIGHTNING_CHECK(o.callbacks()[i] != nullptr, "callbacks[", i, "] is a null pointer.");
  }
  for (size_t i = 0; i < o.logger().loggers().size(); ++i) {
    LIGHTNING_CHECK(o.logger().loggers()[i] != nullptr, "logger[", i, "] is a null pointer.");
  }

  // fast_dev_run: N batches of every loop, one epoch, no sanity check, no loggers.
  if (o.fast_dev_run().enabled()) {
    const int64_t n = o.fast_dev_run().batches();
    options_.max_epochs(1).max_steps(n).num_sanity_val_steps(0).val_check_interval(1.0);
    options_.limit_train_batches(n).limit_val_batches(n).limit_test_batches(n);
    options_.limit_predict_batches(n).check_val_every_n_epoch(1).logger(false);
  }
  // Lightning's defaulting: max_epochs=1000 unless max_steps bounds the run.
  max_steps_ = options_.max_steps();
  max_epochs_ = options_.max_epochs() ? *options_.max_epochs() : (max_steps_ == -1 ? 1000 : -1);

  if (options_.num_threads()) at::set_num_threads(static_cast<int>(*options_.num_threads()));
  if (options_.deterministic()) at::globalContext().setDeterministicAlgorithms(true, false);

  base_callbacks_ = options_.callbacks();
  auto has = [this](auto* probe) {
    using T = std::remove_pointer_t<decltype(probe)>;
    return std::any_of(base_callbacks_.begin(), base_callbacks_.end(),
                       [](const auto& c) { return dynamic_cast<T*>(c.get()) != nullptr; });
  };
  if (options_.enable_progress_bar() && !has(static_cast<ProgressBar*>(nullptr))) {
    base_callbacks_.push_back(std::make_shared<ProgressBar>());
  }
  if (options_.enable_model_summary() && !has(static_cast<ModelSummary*>(nullptr))) {
    base_callbacks_.push_back(std::make_shared<ModelSummary>());
  }
  // Lightning: a default ModelCheckpoint unless checkpointing is off or one is given.
  if (options_.enable_checkpointing() && !options_.fast_dev_run().enabled() &&
      !has(static_cast<ModelCheckpoint*>(nullptr))) {
    base_callbacks_.push_back(std::make_shared<ModelCheckpoint>());
  }
  callbacks_ = base_callbacks_;
  loggers_ = options_.logger().loggers();
}

Trainer::~Trainer() {
  if (model_ && model_->trainer_ == this) model_->trainer_ = nullptr;
}

std::string Trainer::default_root_dir() const {
  return options_.default_root_dir().empty() ? std::filesystem::current_path().string()
                                             : options_.default_root_dir();
}

LightningModule& Trainer::lightning_module() const {
  LIGHTNING_CHECK(model_ != nullptr,
                  "trainer.lightning_module() is only available once fit/validate/test/predict "
                  "has been called with a module.");
  return *model_;
}

// ---- Entry points ----------------------------------------------------------

// Tells the other processes (DDP), the callbacks and the loggers that the
// running entry point raised; the caller re-throws.
void Trainer::fail_stage(const std::exception& error) {
  fail_strategy(error);
  HookScope scope(current_hook_, Hook::OnException);
  for (auto& callback : callbacks_) callback->on_exception(*this, *model_, error);
  if (is_global_zero()) {
    for (auto& logger : loggers_) logger->finalize("failed");
  }
  training_ = sanity_checking_ = false;
}

void Trainer::finish_stage() {
  if (is_global_zero()) {
    for (auto& logger : loggers_) logger->finalize("success");
  }
  strategy_->teardown();
}

void Trainer::start_loggers(LightningModule& model, LightningDataModule* datamodule) {
  if (options_.logger().use_default() && loggers_.empty()) {
    // Lightning's default run folder, shared by a TensorBoard and a CSV logger:
    // <default_root_dir>/lightning_logs/version_N/, N resolved once per Trainer
    // (by rank 0 under DDP; the other ranks hold the same loggers unused).
    const std::string root = default_root_dir();
    std::string n = is_global_zero() ? std::to_string(next_version(root + "/lightning_logs")) : "";
    if (world_size() > 1) n = strategy_->broadcast_string(n);
    const LoggerVersion version(static_cast<int64_t>(std::stoll(n)));
    loggers_.push_back(
        std::make_shared<TensorBoardLogger>(TensorBoardLoggerOptions(root).version(version)));
    loggers_.push_back(std::make_shared<CSVLogger>(CSVLoggerOptions(root).version(version)));
  }
  // Every rank uses rank 0's run folder (checkpoint paths, log_dir()).
  if (world_size() > 1 && run_dir_.empty()) {
    run_dir_ = strategy_->broadcast_string(is_global_zero() ? log_dir() : "");
  }
  if (!is_global_zero()) return;
  HParams hparams = model.hparams();
  if (datamodule) hparams.update(datamodule->hparams());
  // File loggers create their run folder here: an unwritable one fails now,
  // before any training.
  for (auto& logger : loggers_) logger->log_hyperparams(hparams);
}

std::string Trainer::log_dir() const {
  if (!run_dir_.empty()) return run_dir_;
  if (!loggers_.empty()) {
    const std::string dir = loggers_[0]->log_dir();
    if (!dir.empty()) return dir;
    if (!loggers_[0]->save_dir().empty()) return loggers_[0]->save_dir();
  }
  return default_root_dir();
}

LightningModule& Trainer::attach(std::shared_ptr<LightningModule> model, Stage stage) {
  LIGHTNING_CHECK(model != nullptr, "Trainer::", to_string(stage), " got a null module.");
  if (model_ && model_ != model && model_->trainer_ == this) model_->trainer_ = nullptr;
  model_ = std::move(model);
  model_->trainer_ = this;
  current_hook_ = static_cast<int>(Hook::None);
  precision_->setup(*model_, device_);
  stage_ = stage;
  should_stop_ = false;
  callback_metrics_.clear();
  logged_metrics_.clear();
  progress_bar_metrics_.clear();
  if (!train_results_) train_results_ = std::make_unique<detail::ResultCollection>();
  if (!eval_results_) eval_results_ = std::make_unique<detail::ResultCollection>();
  active_results_ = nullptr;
  return *model_;
}

void Trainer::fit(std::shared_ptr<LightningModule> model, LightningDataModule& datamodule,
                  const std::optional<std::string>& ckpt_path) {
  run_fit(std::move(model), &datamodule, Loaders{}, ckpt_path);
}

void Trainer::fit(std::shared_ptr<LightningModule> model, DataLoaders train_dataloaders,
                  DataLoaders val_dataloaders, const std::optional<std::string>& ckpt_path) {
  run_fit(std::move(model), nullptr,
          Loaders{std::move(train_dataloaders), std::move(val_dataloaders), {}, {}}, ckpt_path);
}

void Trainer::fit(std::shared_ptr<LightningModule> model) {
  run_fit(std::move(model), nullptr, Loaders{}, std::nullopt);
}

void Trainer::fit(std::shared_ptr<LightningModule> model, const std::string& ckpt_path) {
  run_fit(std::move(model), nullptr, Loaders{}, ckpt_path);
}

// Fetches the loaders of `stage` from (in order of precedence) what the
// caller passed, the datamodule, or the module's own dataloader hooks.
static DataLoaders resolve_loaders(DataLoaders given, LightningDataModule* datamodule,
                                   LightningModule& model, int& current_hook,
                                   DataLoaders (LightningDataModule::*from_dm)(),
                                   DataLoaders (LightningModule::*from_module)()) {
  if (!given.empty()) return given;
  HookScope scope(current_hook, Hook::Dataloader);
  if (datamodule) return (datamodule->*from_dm)();
  return (model.*from_module)();
}

void Trainer::run_fit(std::shared_ptr<LightningModule> module, LightningDataModule* datamodule,
                      Loaders loaders, const std::optional<std::string>& ckpt_path) {
  setup_strategy();  // under DDP: launches or joins the other processes
  LightningModule& model = attach(std::move(module), Stage::Fit);
  try {
    LIGHTNING_CHECK(detail::overrides_training_step(model), model.name(),
                    " does not override training_step(batch, batch_idx), which `fit` needs. ",
                    "Override it and return the loss.");
    loaders_ = std::make_unique<Loaders>(std::move(loaders));
    datamodule_ = datamodule;
    train_data_ready_ = false;
    accumulate_grad_batches_ = options_.accumulate_grad_batches();
    loop_ = LoopState{};
    resume_.reset();
    setup_callbacks(model);
    setup_stage(model, datamodule, Stage::Fit);
    if (ckpt_path) {
      // Lightning's order: weights and callbacks before configure_optimizers,
      // optimizer/scheduler/loop state after it.
      ckpt_path_ = resolve_ckpt_path(*ckpt_path);
      restoring_ = read_checkpoint(ckpt_path_);
      restore_modules_and_callbacks(model, datamodule);
    }
    strategy_->setup_module(model);  // DDP: rank 0's weights everywhere, gradient sync

    configure_optimizers(model);
    if (restoring_) {
      restore_training_state();
      restoring_.reset();
    }
    start_loggers(model, datamodule);

    dispatch(
        current_hook_, Hook::OnFitStart, callbacks_,
        [&](Callback& c) { c.on_fit_start(*this, model); }, [&] { model.on_fit_start(); });

    // Lightning's order: the sanity check asks for the val loaders after
    // on_sanity_check_start; without one they come after the training loader.
    // A resumed fit skips the sanity check (its validation ran before the save).
    std::optional<bool> has_validation;
    if (options_.num_sanity_val_steps() != 0 && !resume_ && validation_defined(model)) {
      has_validation = sanity_check(model);  // loads the val loaders
    }
    setup_train_data(model);  // train_dataloader, unless configure_optimizers needed it already
    if (!has_validation) has_validation = load_validation(model);
    finish_saved_epoch_end();

    training_ = true;
    active_results_ = train_results_.get();
    model.train();
    dispatch(
        current_hook_, Hook::OnTrainStart, callbacks_,
        [&](Callback& c) { c.on_train_start(*this, model); }, [&] { model.on_train_start(); });
    while (!fit_done()) {
      train_epoch(model, *has_validation);
    }
    dispatch(
        current_hook_, Hook::OnTrainEnd, callbacks_,
        [&](Callback& c) { c.on_train_end(*this, model); }, [&] { model.on_train_end(); });
    training_ = false;
    phase_ = FitPhase::kOutside;

    dispatch(
        current_hook_, Hook::OnFitEnd, callbacks_, [&](Callback& c) { c.on_fit_end(*this, model); },
        [&] { model.on_fit_end(); });
    teardown_stage(model, datamodule, Stage::Fit);
  } catch (const std::exception& error) {
    fail_stage(error);
    throw;
  }
  finish_stage();
}

// ---- Fit helpers -----------------------------------------------------------

void Trainer::configure_optimizers(LightningModule& model) {
  OptimizerConfig config = call_module(current_hook_, Hook::ConfigureOptimizers,
                                       [&] { return model.configure_optimizers(); });
  optimizers_ = config.optimizers();
  for (size_t i = 0; i < optimizers_.size(); ++i) {
    LIGHTNING_CHECK(optimizers_[i] != nullptr, "configure_optimizers returned a null optimizer ",
                    "at index ", i, ".");
  }
  const bool automatic = model.automatic_optimization();
  LIGHTNING_CHECK(optimizers_.size() <= 1 || !automatic, "configure_optimizers returned ",
                  optimizers_.size(),
                  " optimizers, but automatic optimization drives exactly one. Call "
                  "set_automatic_optimization(false) in the module's constructor and step them "
                  "yourself in training_step (manual optimization).");
  if (optimizers_.empty()) {
    detail::warn_once(
        "configure_optimizers returned no optimizer: fit runs training_step and backward but "
        "never updates the weights.");
  }
  lr_scheduler_configs_ = config.lr_schedulers();
  for (size_t i = 0; i < lr_scheduler_configs_.size(); ++i) {
    const LRSchedulerConfig& c = lr_scheduler_configs_[i];
    LIGHTNING_CHECK(c.scheduler != nullptr, "configure_optimizers returned a null scheduler at ",
                    "index ", i, ".");
    const std::string what =
        "lr_schedulers[" + std::to_string(i) + "] (" + c.scheduler->name() + ")";
    LIGHTNING_CHECK(c.config.interval() == "epoch" || c.config.interval() == "step",
                    "The interval of ", what, " must be \"epoch\" or \"step\", got \"",
                    c.config.interval(), "\".");
    LIGHTNING_CHECK(c.config.frequency() >= 1, "The frequency of ", what,
                    " must be >= 1 (step every N epochs or optimizer steps), got ",
                    c.config.frequency(), ".");
    LIGHTNING_CHECK(!c.scheduler->reduce_on_plateau() || c.config.monitor(), what,
                    " needs a metric to monitor: return it with "
                    "L::SchedulerConfig().monitor(\"val_loss\") (Lightning's {\"scheduler\": "
                    "scheduler, \"monitor\": \"val_loss\"}).");
    const bool bound = std::find(optimizers_.begin(), optimizers_.end(),
                                 c.scheduler->optimizer_ptr()) != optimizers_.end();
    LIGHTNING_CHECK(bound, what, " is bound to an optimizer (",
                    optimizer_name(c.scheduler->optimizer()),
                    ") that configure_optimizers did not return. Build the scheduler on one of "
                    "the returned optimizers, or return its optimizer too.");
  }
  if (!automatic) {
    LIGHTNING_CHECK(accumulate_grad_batches_ == 1,
                    "accumulate_grad_batches=", accumulate_grad_batches_,
                    " is not supported with manual optimization: accumulate in training_step "
                    "yourself (step the optimizer every N batches), or use automatic "
                    "optimization.");
    LIGHTNING_CHECK(!options_.gradient_clip_val() || *options_.gradient_clip_val() == 0.0,
                    "gradient_clip_val=", options_.gradient_clip_val().value_or(0),
                    " is not supported with manual optimization: call clip_gradients(opt, ...) "
                    "in training_step before opt.step(), or use automatic optimization.");
  }
}

void Trainer::setup_callbacks(LightningModule& model) {
  callbacks_ = base_callbacks_;
  auto extra = call_module(current_hook_, Hook::ConfigureCallbacks,
                           [&] { return model.configure_callbacks(); });
  for (auto& cb : extra) {
    LIGHTNING_CHECK(cb != nullptr, "configure_callbacks returned a null callback.");
    // Lightning: a module's callback replaces Trainer callbacks of the same type.
    callbacks_.erase(std::remove_if(callbacks_.begin(), callbacks_.end(),
                                    [&](const auto& c) { return typeid(*c) == typeid(*cb); }),
                     callbacks_.end());
    callbacks_.push_back(cb);
  }
  // Monitoring callbacks (EarlyStopping, ...) run after the others and
  // ModelCheckpoint last of all, as in Lightning, so a checkpoint holds what
  // every other callback decided at that point.
  std::stable_partition(callbacks_.begin(), callbacks_.end(),
                        [](const auto& c) { return !c->is_monitoring_callback(); });
  std::stable_partition(callbacks_.begin(), callbacks_.end(), [](const auto& c) {
    return dynamic_cast<ModelCheckpoint*>(c.get()) == nullptr;
  });
}

void Trainer::setup_stage(LightningModule& model, LightningDataModule* datamodule, Stage stage) {
  {
    HookScope scope(current_hook_, Hook::PrepareData);
    if (datamodule) datamodule->prepare_data();
    model.prepare_data();
  }
  dispatch(
      current_hook_, Hook::Setup, callbacks_, [&](Callback& c) { c.setup(*this, model, stage); },
      [&] {
        if (datamodule) datamodule->setup(stage);
        model.setup(stage);
      });
  model.to(device_);
}

void Trainer::teardown_stage(LightningModule& model, LightningDataModule* datamodule, Stage stage) {
  dispatch(
      current_hook_, Hook::Teardown, callbacks_,
      [&](Callback& c) { c.teardown(*this, model, stage); },
      [&] {
        if (datamodule) datamodule->teardown(stage);
        model.teardown(stage);
      });
}

bool Trainer::prepare_validation(LightningModule& model) {
  num_val_batches_.clear();
  num_sanity_val_batches_.clear();
  const bool has_step = detail::overrides_validation_step(model);
  if (loaders_->val.empty()) {
    if (has_step) {
      detail::warn(
          "validation_step is overridden but there is no val dataloader: validation is skipped. "
          "Return a loader from val_dataloader() (module or datamodule) or pass one to fit().");
    }
    return false;
  }
  if (!has_step) {
    detail::warn("a val dataloader was given but " + model.name() +
                 " does not override validation_step: validation is skipped.");
    return false;
  }
  BatchLimit limit = options_.limit_val_batches();
  if (options_.overfit_batches().is_fraction() ? options_.overfit_batches().fraction() > 0
                                               : options_.overfit_batches().count() > 0) {
    limit = options_.overfit_batches();
  }
  int64_t total = 0;
  for (auto& loader : loaders_->val) {
    const int64_t n = limit.resolve(loader.size());
    num_val_batches_.push_back(n);
    const int64_t sanity = options_.num_sanity_val_steps();
    num_sanity_val_batches_.push_back(sanity == -1 ? n : std::min(n, sanity));
    total += n;
  }
  return total > 0;
}

bool Trainer::validation_defined(LightningModule& model) const {
  const BatchLimit& limit = options_.limit_val_batches();
  const bool limited_to_zero = limit.is_fraction() ? limit.fraction() <= 0 : limit.count() == 0;
  const bool source =
      !loaders_->val.empty() || (datamodule_ ? detail::overrides_val_dataloader(*datamodule_)
                                             : detail::overrides_val_dataloader(model));
  return source && !limited_to_zero && detail::overrides_validation_step(model);
}

bool Trainer::load_validation(LightningModule& model) {
  loaders_->val = distribute(
      resolve_loaders(std::move(loaders_->val), datamodule_, model, current_hook_,
                      &LightningDataModule::val_dataloader, &LightningModule::val_dataloader),
      /*training=*/false);
  return prepare_validation(model);
}

bool Trainer::sanity_check(LightningModule& model) {
  // Sanity-check metrics are not kept: Lightning resets them afterwards.
  const TensorMetrics callback_before = callback_metrics_;
  const TensorMetrics progress_before = progress_bar_metrics_;
  sanity_checking_ = true;
  {
    HookScope scope(current_hook_, Hook::OnSanityCheckStart);
    for (auto& c : callbacks_) c->on_sanity_check_start(*this, model);
  }
  const bool has_validation = load_validation(model);
  if (has_validation) {
    run_evaluation(model, Stage::Validate, num_sanity_val_batches_, /*log=*/false);
  }
  {
    HookScope scope(current_hook_, Hook::OnSanityCheckEnd);
    for (auto& c : callbacks_) c->on_sanity_check_end(*this, model);
  }
  sanity_checking_ = false;
  callback_metrics_ = callback_before;
  progress_bar_metrics_ = progress_before;
  return has_validation;
}

void Trainer::setup_train_data(LightningModule& model) {
  if (train_data_ready_) return;
  loaders_->train =
      resolve_loaders(std::move(loaders_->train), datamodule_, model, current_hook_,
                      &LightningDataModule::train_dataloader, &LightningModule::train_dataloader);
  LIGHTNING_CHECK(!loaders_->train.empty(),
                  "fit needs a training dataloader: return one from train_dataloader() (module or "
                  "datamodule) or pass it to Trainer::fit(model, train_loader).");
  LIGHTNING_CHECK(loaders_->train.size() == 1, "fit got ", loaders_->train.size(),
                  " training dataloaders; lightning.cpp trains from exactly one.");
  loaders_->train = distribute(std::move(loaders_->train), /*training=*/true);
  const auto& overfit = options_.overfit_batches();
  const bool overfitting = overfit.is_fraction() ? overfit.fraction() > 0 : overfit.count() > 0;
  DataLoader& loader = loaders_->train[0];
  if (overfitting && loader.options().shuffle()) {
    detail::warn_once("overfit_batches turns shuffling of the training dataloader off.");
    loader = loader.with_options(DataLoaderOptions(loader.options()).shuffle(false));
  }
  num_training_batches_ =
      (overfitting ? overfit : options_.limit_train_batches()).resolve(loader.size());

  const auto& vci = options_.val_check_interval();
  if (vci.is_fraction()) {
    val_check_batch_ = std::max<int64_t>(
        1, static_cast<int64_t>(static_cast<double>(num_training_batches_) * vci.fraction()));
  } else {
    LIGHTNING_CHECK(vci.count() <= num_training_batches_, "val_check_interval (", vci.count(),
                    ") must be <= the number of training batches per epoch (",
                    num_training_batches_,
                    "). Use a smaller int, or a float for a fraction of the epoch.");
    val_check_batch_ = vci.count();
  }
  train_data_ready_ = true;
}

int64_t Trainer::estimated_stepping_batches() {
  LIGHTNING_CHECK(model_ != nullptr && stage_ == Stage::Fit && loaders_,
                  "estimated_stepping_batches is known during fit only (e.g. in "
                  "configure_optimizers).");
  setup_train_data(*model_);
  LIGHTNING_CHECK(max_epochs_ != -1 || max_steps_ != -1,
                  "estimated_stepping_batches is infinite: max_epochs and max_steps are both -1. "
                  "Set one of them.");
  if (max_epochs_ == -1) return max_steps_;
  // Follows a GradientAccumulationScheduler's per-epoch factors when there is one.
  const GradientAccumulationScheduler* schedule = nullptr;
  for (const auto& c : callbacks_) {
    if (auto* s = dynamic_cast<const GradientAccumulationScheduler*>(c.get())) schedule = s;
  }
  int64_t total = 0;
  for (int64_t epoch = 0; epoch < std::max<int64_t>(max_epochs_, 1); ++epoch) {
    const int64_t k = schedule ? schedule->factor(epoch) : options_.accumulate_grad_batches();
    total += (num_training_batches_ + k - 1) / k;
  }
  return max_steps_ == -1 ? total : std::min(total, max_steps_);
}

void Trainer::set_accumulate_grad_batches(int64_t value) {
  LIGHTNING_CHECK(value >= 1, "accumulate_grad_batches must be >= 1, got ", value, ".");
  accumulate_grad_batches_ = value;
}

bool Trainer::should_accumulate(int64_t batch_idx) const {
  // Lightning: step at the end of every window and at the last batch of the epoch.
  const int64_t k = accumulate_grad_batches_;
  return k > 1 && (batch_idx + 1) % k != 0 && batch_idx + 1 != num_training_batches_;
}

bool Trainer::fit_done() const {
  if (max_steps_ != -1 && loop_.global_step >= max_steps_) return true;
  if (max_epochs_ != -1 && loop_.epoch >= max_epochs_) return true;
  if (num_training_batches_ == 0) return true;
  return should_stop_ && min_reached();
}

bool Trainer::min_reached() const {
  const bool epochs_ok = !options_.min_epochs() || loop_.epoch >= *options_.min_epochs();
  const bool steps_ok = !options_.min_steps() || loop_.global_step >= *options_.min_steps();
  return epochs_ok && steps_ok;
}

void Trainer::finish_saved_epoch_end() {
  // A checkpoint written in on_train_epoch_end: only the plateau schedulers
  // were left of that epoch. Done before on_train_start, so that the hooks
  // see the next epoch, as Lightning's (whose restored epoch counts the
  // epoch as done).
  if (!resume_ || resume_->phase != FitPhase::kTrainEpochEnd) return;
  const Resume resume = *std::exchange(resume_, std::nullopt);
  restore_rng(resume.rng_states);
  batches_done_ = resume.batches_done;
  if (resume.train_results) {
    // The saved epoch's row came after the save: the loggers get it now.
    *train_results_ = *resume.train_results;
    detail::MetricSinks sinks{&callback_metrics_, &progress_bar_metrics_};
    auto per_loader = train_results_->epoch_metrics(sinks, 1);
    if (!per_loader[0].empty()) {
      send_to_loggers(per_loader[0], loop_.batches_that_stepped - 1, /*epoch_level=*/true);
    }
  }
  if (batches_done_ == num_training_batches_) update_lr_schedulers("epoch", /*plateau=*/true);
  ++loop_.epoch;
}

void Trainer::train_epoch(LightningModule& model, bool has_validation) {
  // A resumed fit re-enters the epoch it was saved in where it stopped
  // (src/trainer_checkpoint.cpp restored the counters and RNG).
  const std::optional<Resume> resume = std::exchange(resume_, std::nullopt);
  train_results_->reset();
  // Mid-epoch: what self.log accumulated before the save.
  if (resume && resume->train_results && resume->phase != FitPhase::kTrainEpochStart) {
    *train_results_ = *resume->train_results;
  }
  // Until the loader starts, a checkpoint resumes at this epoch's start.
  phase_ = FitPhase::kTrainEpochStart;
  batches_done_ = resume ? resume->batches_done : 0;
  dispatch(
      current_hook_, Hook::OnTrainEpochStart, callbacks_,
      [&](Callback& c) { c.on_train_epoch_start(*this, model); },
      [&] { model.on_train_epoch_start(); });

  const bool validate_this_epoch =
      has_validation && (loop_.epoch + 1) % options_.check_val_every_n_epoch() == 0;
  int64_t batch_idx = batches_done_;
  bool keep_going = true;
  if (resume) restore_rng(resume->rng_states);  // as at the save
  if (resume && batch_idx > 0 && resume->phase != FitPhase::kBatch) {
    // Saved at the end of batch batch_idx - 1: finish what came after the save.
    keep_going = finish_training_batch(model, batch_idx - 1, should_accumulate(batch_idx - 1),
                                       validate_this_epoch,
                                       /*after_validation=*/resume->phase == FitPhase::kValidation);
  }
  // The epoch number decides a seeded loader's order; a resumed epoch replays
  // its saved order from the first batch not yet trained.
  DataLoader& loader = loaders_->train[0];
  if (resume && resume->exact && resume->phase != FitPhase::kTrainEpochStart) {
    loader.resume_epoch(loop_.epoch, resume->shuffle_seed, batch_idx);
  } else {
    loader.set_epoch(loop_.epoch);
  }
  auto it = loader.begin();
  const auto end = loader.end();
  phase_ = FitPhase::kBatch;
  while (keep_going && batch_idx < num_training_batches_ && it != end) {
    loop_.batch_idx = batch_idx;
    const bool accumulating = should_accumulate(batch_idx);
    if (!training_batch(model, std::move(*it), batch_idx, accumulating)) break;
    ++batch_idx;
    keep_going = finish_training_batch(model, batch_idx - 1, accumulating, validate_this_epoch,
                                       /*after_validation=*/false);
    if (keep_going && batch_idx < num_training_batches_) ++it;
  }
  finish_train_epoch(model, batch_idx == num_training_batches_);
}

uint64_t Trainer::train_shuffle_seed() const {
  return loaders_ && !loaders_->train.empty() ? loaders_->train[0].current_shuffle_seed() : 0;
}

bool Trainer::finish_training_batch(LightningModule& model, int64_t batch_idx, bool accumulating,
                                    bool validate_this_epoch, bool after_validation) {
  // What follows a training batch: step-metric logging, validation when due,
  // plateau schedulers with interval "step". Returns false when fit must stop.
  const int64_t done = batch_idx + 1;
  phase_ = FitPhase::kTrainBatchEnd;
  batches_done_ = done;
  if (!after_validation) {
    ++loop_.total_batch_idx;
    const bool step_limit = max_steps_ != -1 && loop_.global_step >= max_steps_;
    if (!accumulating) {
      // Step metrics reach the loggers at optimizer steps only (Lightning).
      ++loop_.batches_that_stepped;
      log_step_metrics(step_limit || (should_stop_ && min_reached()));
    }
    if (validate_this_epoch && done % val_check_batch_ == 0) {
      phase_ = FitPhase::kValidation;
      run_evaluation(model, Stage::Validate, num_val_batches_, /*log=*/true);
      agree_on_should_stop();  // e.g. EarlyStopping in on_validation_end
    }
  }
  if (!accumulating) update_lr_schedulers("step", /*plateau=*/true);  // after metrics are logged
  phase_ = FitPhase::kBatch;
  const bool step_limit = max_steps_ != -1 && loop_.global_step >= max_steps_;
  return !(step_limit || (should_stop_ && min_reached()));
}

void Trainer::finish_train_epoch(LightningModule& model, bool completed) {
  phase_ = FitPhase::kTrainEpochEnd;
  // Epoch-level training metrics are visible to the on_train_epoch_end hooks;
  // what those hooks log is added before the loggers see the epoch row.
  // Under DDP every epoch value is reduced over the ranks first, so that
  // callbacks and schedulers decide the same on every rank.
  detail::MetricSinks sinks{&callback_metrics_, &progress_bar_metrics_};
  sync_epoch_results(*train_results_);
  train_results_->epoch_metrics(sinks, 1);
  {
    HookScope scope(current_hook_, Hook::OnTrainEpochEnd);
    for (auto& c : callbacks_) {
      if (!c->is_monitoring_callback()) c->on_train_epoch_end(*this, model);
    }
    model.on_train_epoch_end();
    // Monitoring callbacks see what the module's hook logged, as Lightning.
    sync_epoch_results(*train_results_);
    train_results_->epoch_metrics(sinks, 1);
    for (auto& c : callbacks_) {
      if (c->is_monitoring_callback()) c->on_train_epoch_end(*this, model);
    }
  }
  auto per_loader = train_results_->epoch_metrics(sinks, 1);
  if (!per_loader[0].empty()) {
    send_to_loggers(per_loader[0], loop_.batches_that_stepped - 1, /*epoch_level=*/true);
  }
  // Plateau schedulers step on the epoch's metrics, after a complete epoch.
  if (completed) update_lr_schedulers("epoch", /*plateau=*/true);
  agree_on_should_stop();
  ++loop_.epoch;
  phase_ = FitPhase::kBatch;
  batches_done_ = 0;
}

bool Trainer::training_batch(LightningModule& model, Batch batch, int64_t batch_idx,
                             bool accumulating) {
  phase_ = FitPhase::kBatch;
  batches_done_ = batch_idx;
  batch = transfer_batch(model, std::move(batch), 0);
  current_batch_size_ = batch.batch_size();
  current_dataloader_idx_ = 0;

  int64_t response = 0;
  dispatch(
      current_hook_, Hook::OnTrainBatchStart, callbacks_,
      [&](Callback& c) { c.on_train_batch_start(*this, model, batch, batch_idx); },
      [&] { response = model.on_train_batch_start(batch, batch_idx); });
  if (response == -1) return false;

  StepOutput output;
  {
    HookScope scope(current_hook_, Hook::TrainingStep);
    auto autocast = precision_->forward_context(device_.type());
    output = model.training_step(batch, batch_idx);
  }
  if (model.automatic_optimization()) {
    torch::optim::Optimizer* optimizer = optimizers_.empty() ? nullptr : optimizers_[0].get();
    const bool first_in_window = batch_idx % accumulate_grad_batches_ == 0;
    if (output.empty()) {
      detail::warn_once(
          "training_step returned nothing: the batch is skipped (no backward, no optimizer "
          "step). If this was on purpose, ignore this warning.");
      if (optimizer && first_in_window) zero_grad(model, *optimizer);
    } else {
      backward_and_step(model, optimizer, checked_loss(output), first_in_window, !accumulating);
      if (!accumulating) update_lr_schedulers("step", /*plateau=*/false);
    }
    // Lightning 2.x steps epoch-interval schedulers once the epoch's last batch is done.
    if (batch_idx + 1 == num_training_batches_) update_lr_schedulers("epoch", /*plateau=*/false);
  }

  // A checkpoint written from here on resumes after this batch.
  phase_ = FitPhase::kTrainBatchEnd;
  batches_done_ = batch_idx + 1;
  dispatch(
      current_hook_, Hook::OnTrainBatchEnd, callbacks_,
      [&](Callback& c) { c.on_train_batch_end(*this, model, output, batch, batch_idx); },
      [&] { model.on_train_batch_end(output, batch, batch_idx); });
  return true;
}

const at::Tensor& Trainer::checked_loss(const StepOutput& output) const {
  LIGHTNING_CHECK(output.has_loss(), "training_step returned named outputs without a \"loss\" ",
                  "entry. Return the loss tensor, or {{\"loss\", loss}, ...}.");
  const at::Tensor& loss = output.loss();
  LIGHTNING_CHECK(loss.defined(), "training_step returned an undefined tensor as its loss. ",
                  "Return the scalar loss tensor, or {} to skip the batch.");
  LIGHTNING_CHECK(loss.numel() == 1, "training_step must return a scalar loss, got a tensor of ",
                  "shape ", loss.sizes(), ". Reduce it, e.g. loss.mean().");
  LIGHTNING_CHECK(loss.is_floating_point(), "training_step must return a floating-point loss, ",
                  "got dtype ", loss.scalar_type(), ".");
  LIGHTNING_CHECK(loss.requires_grad(), "training_step returned a loss that does not require grad ",
                  "(value ", loss.item<double>(), "): it was computed without autograd (under ",
                  "NoGradGuard/InferenceMode, from .detach(), or from parameters with "
                  "requires_grad=false). Compute it from the module's outputs.");
  return loss;
}

void Trainer::zero_grad(LightningModule& model, torch::optim::Optimizer& optimizer) {
  dispatch(
      current_hook_, Hook::OnBeforeZeroGrad, callbacks_,
      [&](Callback& c) { c.on_before_zero_grad(*this, model, optimizer); },
      [&] { model.on_before_zero_grad(optimizer); });
  optimizer.zero_grad();
}

void Trainer::backward_and_step(LightningModule& model, torch::optim::Optimizer* optimizer,
                                const at::Tensor& loss, bool first_in_window, bool step) {
  // Lightning's automatic optimization: gradients are zeroed at the first
  // batch of an accumulation window, every batch backpropagates loss / k, the
  // last batch of the window clips and steps.
  if (optimizer && first_in_window) zero_grad(model, *optimizer);
  const int64_t k = accumulate_grad_batches_;
  strategy_->set_gradient_sync(step);  // DDP: no all-reduce while accumulating (no_sync)
  backward(model, k > 1 ? loss / static_cast<double>(k) : loss);
  if (!step) return;
  if (optimizer) {
    optimizer_step(model, *optimizer, /*clip=*/true);
  } else {
    ++loop_.global_step;
  }
}

void Trainer::backward(LightningModule& model, const at::Tensor& loss) {
  // The precision plugin scales the loss under "16-mixed"; the hooks see what
  // backward runs on, as in Lightning.
  const at::Tensor scaled = precision_->pre_backward(loss);
  dispatch(
      current_hook_, Hook::OnBeforeBackward, callbacks_,
      [&](Callback& c) { c.on_before_backward(*this, model, scaled); },
      [&] { model.on_before_backward(scaled); });
  strategy_->backward(scaled);
  dispatch(
      current_hook_, Hook::OnAfterBackward, callbacks_,
      [&](Callback& c) { c.on_after_backward(*this, model); }, [&] { model.on_after_backward(); });
}

void Trainer::optimizer_step(LightningModule& model, torch::optim::Optimizer& optimizer,
                             bool clip) {
  // Gradients are unscaled before the hook and clipping see them; the plugin
  // skips the step on inf/NaN under "16-mixed". global_step counts optimizer
  // steps, skipped ones included (as Lightning's optimizer step progress).
  // Under DDP the averaged gradients are complete first.
  strategy_->before_optimizer_step(optimizer);
  precision_->unscale_gradients(optimizer);
  dispatch(
      current_hook_, Hook::OnBeforeOptimizerStep, callbacks_,
      [&](Callback& c) { c.on_before_optimizer_step(*this, model, optimizer); },
      [&] { model.on_before_optimizer_step(optimizer); });
  if (clip) {
    call_module(current_hook_, Hook::ConfigureGradientClipping, [&] {
      model.configure_gradient_clipping(optimizer, options_.gradient_clip_val(),
                                        options_.gradient_clip_algorithm());
      return 0;
    });
  }
  precision_->optimizer_step(optimizer);
  ++loop_.global_step;
}

void Trainer::update_lr_schedulers(const std::string& interval, bool plateau) {
  // Under manual optimization the module steps its schedulers itself.
  if (!model_ || !model_->automatic_optimization()) return;
  for (auto& c : lr_scheduler_configs_) {
    if (c.scheduler->reduce_on_plateau() != plateau || c.config.interval() != interval) continue;
    // frequency counts optimizer steps ("step") or epochs ("epoch").
    const int64_t done = interval == "step" ? loop_.global_step : loop_.epoch + 1;
    if (done % c.config.frequency() != 0) continue;
    if (!plateau) {
      c.scheduler->step();
      continue;
    }
    const std::string& key = *c.config.monitor();
    auto it = callback_metrics_.find(key);
    if (it == callback_metrics_.end()) {
      std::string available;
      for (const auto& [name, value] : callback_metrics_) {
        available += (available.empty() ? "" : ", ") + name;
      }
      const std::string what = c.scheduler->name() + " conditioned on metric \"" + key +
                               "\", which is not available. Available metrics are: [" + available +
                               "].";
      LIGHTNING_CHECK(!c.config.strict(), what, " Log it with log(\"", key,
                      "\", ...) before the scheduler steps (interval \"", interval,
                      "\"), or set SchedulerConfig().strict(false) to skip the update when it "
                      "is missing.");
      detail::warn(what + " strict is false: the learning-rate update is skipped.");
      continue;
    }
    c.scheduler->step(it->second.item<double>());
  }
}

Batch Trainer::transfer_batch(LightningModule& model, Batch batch, int64_t dataloader_idx) {
  batch = call_module(current_hook_, Hook::OnBeforeBatchTransfer, [&] {
    return model.on_before_batch_transfer(std::move(batch), dataloader_idx);
  });
  batch = call_module(current_hook_, Hook::TransferBatchToDevice, [&] {
    return model.transfer_batch_to_device(std::move(batch), device_, dataloader_idx);
  });
  batch = call_module(current_hook_, Hook::OnAfterBatchTransfer, [&] {
    return model.on_after_batch_transfer(std::move(batch), dataloader_idx);
  });
  return precision_->convert_input(std::move(batch));
}

void Trainer::log_step_metrics(bool force) {
  // Lightning's rule: every log_every_n_steps-th batch, or when training stops.
  if (!force && loop_.batches_that_stepped % options_.log_every_n_steps() != 0) return;
  TensorMetrics metrics = train_results_->take_step_metrics();
  if (!metrics.empty()) {
    send_to_loggers(metrics, loop_.batches_that_stepped - 1, /*epoch_level=*/false);
  }
}

void Trainer::send_to_loggers(const TensorMetrics& metrics, int64_t step, bool epoch_level) {
  for (const auto& [name, value] : metrics) logged_metrics_[name] = value;
  if (loggers_.empty() || !is_global_zero()) return;
  Metrics row = lightning::to_numbers(metrics);
  row["epoch"] = static_cast<double>(loop_.epoch);
  for (auto& logger : loggers_) {
    logger->log_metrics(row, std::max<int64_t>(step, 0));
    if (epoch_level) logger->log_epoch_metrics(row, loop_.epoch);
    logger->save();
  }
}

// ---- Evaluation ------------------------------------------------------------

std::vector<Metrics> Trainer::run_evaluation(LightningModule& model, Stage stage,
                                             const std::vector<int64_t>& limits, bool log) {
  const bool is_test = stage == Stage::Test;
  DataLoaders& loaders = is_test ? loaders_->test : loaders_->val;
  auto* previous_results = active_results_;
  eval_results_->reset();
  active_results_ = eval_results_.get();
  const bool was_training = model.is_training();
  model.eval();
  std::vector<TensorMetrics> per_loader;
  {
    c10::InferenceMode inference;
    auto epoch_hook = [&](Hook val_hook, Hook test_hook, auto cb_val, auto cb_test, auto m_val,
                          auto m_test) {
      dispatch(
          current_hook_, is_test ? test_hook : val_hook, callbacks_,
          [&](Callback& c) { (c.*(is_test ? cb_test : cb_val))(*this, model); },
          [&] { (model.*(is_test ? m_test : m_val))(); });
    };
    epoch_hook(Hook::OnValidationStart, Hook::OnTestStart, &Callback::on_validation_start,
               &Callback::on_test_start, &LightningModule::on_validation_start,
               &LightningModule::on_test_start);
    epoch_hook(Hook::OnValidationEpochStart, Hook::OnTestEpochStart,
               &Callback::on_validation_epoch_start, &Callback::on_test_epoch_start,
               &LightningModule::on_validation_epoch_start, &LightningModule::on_test_epoch_start);

    for (size_t dl = 0; dl < loaders.size(); ++dl) {
      const auto dl_idx = static_cast<int64_t>(dl);
      current_dataloader_suffix_ = loader_suffix(loaders.size(), dl_idx);
      int64_t batch_idx = 0;
      for (auto it = loaders[dl].begin(), end = loaders[dl].end();
           batch_idx < limits[dl] && it != end;) {
        Batch batch = transfer_batch(model, std::move(*it), dl_idx);
        current_batch_size_ = batch.batch_size();
        current_dataloader_idx_ = dl_idx;
        dispatch(
            current_hook_, is_test ? Hook::OnTestBatchStart : Hook::OnValidationBatchStart,
            callbacks_,
            [&](Callback& c) {
              is_test ? c.on_test_batch_start(*this, model, batch, batch_idx, dl_idx)
                      : c.on_validation_batch_start(*this, model, batch, batch_idx, dl_idx);
            },
            [&] {
              is_test ? model.on_test_batch_start(batch, batch_idx, dl_idx)
                      : model.on_validation_batch_start(batch, batch_idx, dl_idx);
            });
        StepOutput output =
            call_module(current_hook_, is_test ? Hook::TestStep : Hook::ValidationStep, [&] {
              auto autocast = precision_->forward_context(device_.type());
              return is_test ? model.test_step(batch, batch_idx, dl_idx)
                             : model.validation_step(batch, batch_idx, dl_idx);
            });
        dispatch(
            current_hook_, is_test ? Hook::OnTestBatchEnd : Hook::OnValidationBatchEnd, callbacks_,
            [&](Callback& c) {
              is_test ? c.on_test_batch_end(*this, model, output, batch, batch_idx, dl_idx)
                      : c.on_validation_batch_end(*this, model, output, batch, batch_idx, dl_idx);
            },
            [&] {
              is_test ? model.on_test_batch_end(output, batch, batch_idx, dl_idx)
                      : model.on_validation_batch_end(output, batch, batch_idx, dl_idx);
            });
        ++batch_idx;
        if (batch_idx < limits[dl]) ++it;
      }
    }
    current_dataloader_suffix_.clear();
    current_dataloader_idx_ = 0;

    epoch_hook(Hook::OnValidationEpochEnd, Hook::OnTestEpochEnd, &Callback::on_validation_epoch_end,
               &Callback::on_test_epoch_end, &LightningModule::on_validation_epoch_end,
               &LightningModule::on_test_epoch_end);
    detail::MetricSinks sinks{&callback_metrics_, &progress_bar_metrics_};
    sync_epoch_results(*eval_results_);
    per_loader = eval_results_->epoch_metrics(sinks, loaders.size());
    if (log) {
      TensorMetrics all;
      for (const auto& m : per_loader) all.insert(m.begin(), m.end());
      if (!all.empty()) {
        send_to_loggers(all, std::max<int64_t>(loop_.batches_that_stepped - 1, 0),
                        /*epoch_level=*/true);
      }
    }
    epoch_hook(Hook::OnValidationEnd, Hook::OnTestEnd, &Callback::on_validation_end,
               &Callback::on_test_end, &LightningModule::on_validation_end,
               &LightningModule::on_test_end);
  }
  model.train(was_training);
  active_results_ = previous_results;
  return to_numbers(per_loader);
}

std::vector<Metrics> Trainer::evaluate_stage(std::shared_ptr<LightningModule> model, Stage stage,
                                             LightningDataModule* datamodule, DataLoaders given) {
  setup_strategy();
  LightningModule& m = attach(std::move(model), stage);
  try {
    const bool is_test = stage == Stage::Test;
    loaders_ = std::make_unique<Loaders>();
    setup_callbacks(m);
    setup_stage(m, datamodule, stage);
    start_loggers(m, datamodule);
    DataLoaders loaders = is_test ? resolve_loaders(std::move(given), datamodule, m, current_hook_,
                                                    &LightningDataModule::test_dataloader,
                                                    &LightningModule::test_dataloader)
                                  : resolve_loaders(std::move(given), datamodule, m, current_hook_,
                                                    &LightningDataModule::val_dataloader,
                                                    &LightningModule::val_dataloader);
    const char* fn = is_test ? "test" : "validate";
    LIGHTNING_CHECK(is_test ? detail::overrides_test_step(m) : detail::overrides_validation_step(m),
                    "No ", is_test ? "test_step()" : "validation_step()", " method is defined on ",
                    m.name(), " to run Trainer::", fn, ". Override it.");
    LIGHTNING_CHECK(!loaders.empty(), "Trainer::", fn, " needs a ", is_test ? "test" : "val",
                    " dataloader: return one from ", is_test ? "test" : "val",
                    "_dataloader() (module or datamodule) or pass it to ", fn, "().");
    loaders = distribute(std::move(loaders), /*training=*/false);
    const BatchLimit& limit =
        is_test ? options_.limit_test_batches() : options_.limit_val_batches();
    std::vector<int64_t>& counts = is_test ? num_test_batches_ : num_val_batches_;
    counts.clear();
    for (auto& loader : loaders) counts.push_back(limit.resolve(loader.size()));
    (is_test ? loaders_->test : loaders_->val) = std::move(loaders);
    auto results = run_evaluation(m, stage, counts, /*log=*/true);
    teardown_stage(m, datamodule, stage);
    finish_stage();
    return results;
  } catch (const std::exception& error) {
    fail_stage(error);
    throw;
  }
}

std::vector<Metrics> Trainer::validate(std::shared_ptr<LightningModule> model,
                                       LightningDataModule& datamodule) {
  return evaluate_stage(std::move(model), Stage::Validate, &datamodule, {});
}
std::vector<Metrics> Trainer::validate(std::shared_ptr<LightningModule> model,
                                       DataLoaders dataloaders) {
  return evaluate_stage(std::move(model), Stage::Validate, nullptr, std::move(dataloaders));
}
std::vector<Metrics> Trainer::validate(std::shared_ptr<LightningModule> model) {
  return evaluate_stage(std::move(model), Stage::Validate, nullptr, {});
}
std::vector<Metrics> Trainer::test(std::shared_ptr<LightningModule> model,
                                   LightningDataModule& datamodule) {
  return evaluate_stage(std::move(model), Stage::Test, &datamodule, {});
}
std::vector<Metrics> Trainer::test(std::shared_ptr<LightningModule> model,
                                   DataLoaders dataloaders) {
  return evaluate_stage(std::move(model), Stage::Test, nullptr, std::move(dataloaders));
}
std::vector<Metrics> Trainer::test(std::shared_ptr<LightningModule> model) {
  return evaluate_stage(std::move(model), Stage::Test, nullptr, {});
}

// ---- Prediction ------------------------------------------------------------

std::vector<c10::IValue> Trainer::predict_stage(std::shared_ptr<LightningModule> model,
                                                LightningDataModule* datamodule,
                                                DataLoaders given) {
  setup_strategy();
  LightningModule& m = attach(std::move(model), Stage::Predict);
  try {
    loaders_ = std::make_unique<Loaders>();
    setup_callbacks(m);
    setup_stage(m, datamodule, Stage::Predict);
    DataLoaders loaders = resolve_loaders(std::move(given), datamodule, m, current_hook_,
                                          &LightningDataModule::predict_dataloader,
                                          &LightningModule::predict_dataloader);
    LIGHTNING_CHECK(detail::overrides_predict_step(m), "No predict_step() method is defined on ",
                    m.name(), " to run Trainer::predict. Override it (return e.g. forward(x)).");
    LIGHTNING_CHECK(!loaders.empty(),
                    "Trainer::predict needs a predict dataloader: return one from "
                    "predict_dataloader() (module or datamodule) or pass it to predict().");
    loaders = distribute(std::move(loaders), /*training=*/false);
    num_predict_batches_.clear();
    for (auto& loader : loaders) {
      num_predict_batches_.push_back(options_.limit_predict_batches().resolve(loader.size()));
    }
    loaders_->predict = std::move(loaders);
    auto outputs = run_predict(m);
    teardown_stage(m, datamodule, Stage::Predict);
    finish_stage();
    return outputs;
  } catch (const std::exception& error) {
    fail_stage(error);
    throw;
  }
}

std::vector<c10::IValue> Trainer::run_predict(LightningModule& model) {
  DataLoaders& loaders = loaders_->predict;
  const bool was_training = model.is_training();
  model.eval();
  std::vector<std::vector<c10::IValue>> per_loader(loaders.size());
  {
    c10::InferenceMode inference;
    dispatch(
        current_hook_, Hook::OnPredictStart, callbacks_,
        [&](Callback& c) { c.on_predict_start(*this, model); }, [&] { model.on_predict_start(); });
    dispatch(
        current_hook_, Hook::OnPredictEpochStart, callbacks_,
        [&](Callback& c) { c.on_predict_epoch_start(*this, model); },
        [&] { model.on_predict_epoch_start(); });
    for (size_t dl = 0; dl < loaders.size(); ++dl) {
      const auto dl_idx = static_cast<int64_t>(dl);
      int64_t batch_idx = 0;
      for (auto it = loaders[dl].begin(), end = loaders[dl].end();
           batch_idx < num_predict_batches_[dl] && it != end;) {
        Batch batch = transfer_batch(model, std::move(*it), dl_idx);
        dispatch(
            current_hook_, Hook::OnPredictBatchStart, callbacks_,
            [&](Callback& c) { c.on_predict_batch_start(*this, model, batch, batch_idx, dl_idx); },
            [&] { model.on_predict_batch_start(batch, batch_idx, dl_idx); });
        c10::IValue output = call_module(current_hook_, Hook::PredictStep, [&] {
          auto autocast = precision_->forward_context(device_.type());
          return model.predict_step(batch, batch_idx, dl_idx);
        });
        dispatch(
            current_hook_, Hook::OnPredictBatchEnd, callbacks_,
            [&](Callback& c) {
              c.on_predict_batch_end(*this, model, output, batch, batch_idx, dl_idx);
            },
            [&] { model.on_predict_batch_end(output, batch, batch_idx, dl_idx); });
        per_loader[dl].push_back(std::move(output));
        ++batch_idx;
        if (batch_idx < num_predict_batches_[dl]) ++it;
      }
    }
    dispatch(
        current_hook_, Hook::OnPredictEpochEnd, callbacks_,
        [&](Callback& c) { c.on_predict_epoch_end(*this, model); },
        [&] { model.on_predict_epoch_end(); });
    dispatch(
        current_hook_, Hook::OnPredictEnd, callbacks_,
        [&](Callback& c) { c.on_predict_end(*this, model); }, [&] { model.on_predict_end(); });
  }
  model.train(was_training);
  if (per_loader.size() == 1) return std::move(per_loader[0]);
  std::vector<c10::IValue> nested;
  for (auto& outputs : per_loader) {
    c10::impl::GenericList list(c10::AnyType::get());
    for (auto& o : outputs) list.push_back(std::move(o));
    nested.emplace_back(std::move(list));
  }
  return nested;
}

std::vector<c10::IValue> Trainer::predict(std::shared_ptr<LightningModule> model,
                                          LightningDataModule& datamodule) {
  return predict_stage(std::move(model), &datamodule, {});
}
std::vector<c10::IValue> Trainer::predict(std::shared_ptr<LightningModule> model,
                                          DataLoaders dataloaders) {
  return predict_stage(std::move(model), nullptr, std::move(dataloaders));
}
std::vector<c10::IValue> Trainer::predict(std::shared_ptr<LightningModule> model) {
  return predict_stage(std::move(model), nullptr, {});
}

// ---- self.log --------------------------------------------------------------

void Trainer::module_log(const std::string& name, const at::Tensor& value,
                         const LogOptions& options) {
  const auto hook = static_cast<Hook>(current_hook_);
  const detail::LogRule rule = detail::log_rule(hook);
  LIGHTNING_CHECK(rule.allowed, "You can't self.log('", name, "') inside `",
                  detail::hook_name(hook),
                  "`: Lightning only logs from the training/validation/test steps and their "
                  "batch- and epoch-level hooks.");
  const bool on_step = options.on_step().value_or(rule.default_on_step);
  const bool on_epoch = options.on_epoch().value_or(rule.default_on_epoch);
  LIGHTNING_CHECK(!on_step || rule.step_allowed, "You can't self.log('", name,
                  "', on_step=true) inside `", detail::hook_name(hook),
                  "`: it runs once per epoch. Use on_step=false.");
  LIGHTNING_CHECK(on_step || on_epoch, "self.log('", name,
                  "') with on_step=false and on_epoch=false logs nothing. Set one of them.");
  LIGHTNING_CHECK(value.defined(), "self.log('", name, "') got an undefined tensor.");
  LIGHTNING_CHECK(value.numel() == 1, "self.log('", name,
                  "') needs a scalar (one-element) tensor, got shape ", value.sizes(),
                  ". Reduce it first (e.g. .mean()) or log each element under its own name.");
  const detail::Reduce reduce = detail::parse_reduce(options.reduce_fx(), name);
  int64_t batch_size = current_batch_size_;
  if (options.batch_size()) {
    LIGHTNING_CHECK(*options.batch_size() >= 1, "self.log('", name,
                    "'): batch_size must be >= 1, got ", *options.batch_size(), ".");
    batch_size = *options.batch_size();
  }
  LIGHTNING_CHECK(active_results_ != nullptr, "self.log('", name,
                  "') was called outside of a running loop.");
  // A 0-dim value (the usual loss) is stored as is: no extra dispatch or allocation per step.
  at::Tensor stored = value.detach();
  if (stored.dim() != 0) stored = stored.reshape({});
  // sync_dist: the step value is reduced over the ranks now (training only:
  // evaluation ranks may run different numbers of batches). Epoch values are
  // reduced at the epoch end anyway (sync_epoch_results).
  if (options.sync_dist() && on_step && active_results_ == train_results_.get()) {
    stored = sync_step_value(stored, options.reduce_fx());
  }
  detail::MetricSinks sinks{&callback_metrics_, &progress_bar_metrics_};
  active_results_->log(name + current_dataloader_suffix_, stored, on_step, on_epoch,
                       options.prog_bar(), options.logger(), reduce,
                       std::max<int64_t>(batch_size, 1), current_dataloader_idx_,
                       active_results_ == train_results_.get(), sinks);
}

}  // namespace lightning
