// self.log (Lightning's rules for each hook, from the hook table) and what
// reaches the loggers: the run folder, hyperparameters, step and epoch rows.
#include "lightning/error.h"
#include "lightning/loggers/csv_logger.h"
#include "lightning/loggers/tensorboard_logger.h"
#include "trainer/trainer_impl.h"

namespace lightning::detail {

void TrainerImpl::start_loggers(LightningModule& model, LightningDataModule* datamodule) {
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

void TrainerImpl::log_step_metrics(bool force) {
  // Lightning's rule: every log_every_n_steps-th batch, or when training stops.
  if (!force && fit_loop_.counters().batches_that_stepped % options_.log_every_n_steps() != 0)
    return;
  TensorMetrics metrics = train_results_->take_step_metrics();
  if (!metrics.empty()) {
    send_to_loggers(metrics, fit_loop_.counters().batches_that_stepped - 1, /*epoch_level=*/false);
  }
}

void TrainerImpl::send_to_loggers(const TensorMetrics& metrics, int64_t step, bool epoch_level) {
  for (const auto& [name, value] : metrics) logged_metrics_[name] = value;
  if (loggers_.empty() || !is_global_zero()) return;
  Metrics row = lightning::to_numbers(metrics);
  row["epoch"] = static_cast<double>(fit_loop_.counters().epoch);
  for (auto& logger : loggers_) {
    logger->log_metrics(row, std::max<int64_t>(step, 0));
    if (epoch_level) logger->log_epoch_metrics(row, fit_loop_.counters().epoch);
    logger->save();
  }
}

TrainerImpl::LogPlace TrainerImpl::log_place(const std::string& name,
                                             const LogOptions& options) const {
  const Hook hook = current_hook_;
  const LogRule& rule = log_rule(hook);
  LIGHTNING_CHECK(rule.allowed, "You can't self.log('", name, "') inside `", hook_name(hook),
                  "`: Lightning only logs from the training/validation/test steps and their "
                  "batch- and epoch-level hooks.");
  const bool on_step = options.on_step().value_or(rule.default_on_step);
  const bool on_epoch = options.on_epoch().value_or(rule.default_on_epoch);
  LIGHTNING_CHECK(!on_step || rule.step_allowed, "You can't self.log('", name,
                  "', on_step=true) inside `", hook_name(hook),
                  "`: it runs once per epoch. Use on_step=false.");
  LIGHTNING_CHECK(on_step || on_epoch, "self.log('", name,
                  "') with on_step=false and on_epoch=false logs nothing. Set one of them.");
  LIGHTNING_CHECK(active_results_ != nullptr, "self.log('", name,
                  "') was called outside of a running loop.");
  return {on_step, on_epoch, hook_name(hook)};
}

bool TrainerImpl::logging_off_for_barebones() {
  if (!options_.barebones()) return false;
  warn_once(
      "self.log() is called but TrainerOptions().barebones(true) is set: logging can impact raw "
      "speed, so nothing is logged in barebones mode.");
  return true;
}

void TrainerImpl::module_log(const std::string& name, const at::Tensor& value,
                             const LogOptions& options) {
  if (logging_off_for_barebones()) return;
  const LogPlace place = log_place(name, options);
  LIGHTNING_CHECK(value.defined(), "self.log('", name, "') got an undefined tensor.");
  LIGHTNING_CHECK(value.numel() == 1, "self.log('", name,
                  "') needs a scalar (one-element) tensor, got shape ", value.sizes(),
                  ". Reduce it first (e.g. .mean()) or log each element under its own name.");
  const Reduce reduce = parse_reduce(options.reduce_fx(), name);
  int64_t batch_size = current_batch_size_;
  if (options.batch_size()) {
    LIGHTNING_CHECK(*options.batch_size() >= 1, "self.log('", name,
                    "'): batch_size must be >= 1, got ", *options.batch_size(), ".");
    batch_size = *options.batch_size();
  }
  // A 0-dim value (the usual loss) is stored as is: no extra dispatch or allocation per step.
  at::Tensor stored = value.detach();
  if (stored.dim() != 0) stored = stored.reshape({});
  // sync_dist: the step value is reduced over the ranks now (training only:
  // evaluation ranks may run different numbers of batches). Epoch values are
  // reduced at the epoch end anyway (sync_epoch_results).
  if (options.sync_dist() && place.on_step && active_results_ == train_results_.get()) {
    stored = sync_step_value(stored, options.reduce_fx());
  }
  active_results_->log(name + current_dataloader_suffix_, stored, place.on_step, place.on_epoch,
                       options.prog_bar(), options.logger(), reduce,
                       std::max<int64_t>(batch_size, 1), current_dataloader_idx_,
                       active_results_ == train_results_.get(), sinks(), place.hook);
}

void TrainerImpl::module_log_metric(const std::string& name, metrics::Metric& metric,
                                    const LogOptions& options) {
  // A Metric reduces itself (over batches and ranks): reduce_fx, sync_dist
  // and batch_size do not apply, as in Lightning.
  if (logging_off_for_barebones()) return;
  const LogPlace place = log_place(name, options);
  active_results_->log_metric(name + current_dataloader_suffix_, metric, place.on_step,
                              place.on_epoch, options.prog_bar(), options.logger(),
                              current_dataloader_idx_, active_results_ == train_results_.get(),
                              sinks(), place.hook);
}

}  // namespace lightning::detail
