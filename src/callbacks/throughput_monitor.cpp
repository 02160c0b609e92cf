// ThroughputMonitor: Lightning's callback over Throughput, one per stage.
#include "lightning/callbacks/throughput_monitor.h"

#include <torch/cuda.h>

#include <chrono>
#include <map>

#include "lightning/error.h"
#include "lightning/trainer.h"
#include "trainer/trainer_impl.h"

namespace lightning {

// Per running stage ("train", "validate", "test", "predict"): the Throughput,
// the clock reading its times count from, and the running totals.
struct ThroughputMonitor::State {
  std::map<std::string, Throughput> throughputs;
  std::map<std::string, double> t0;
  std::map<std::string, int64_t> lengths, samples, batches;
  // Evaluation batches of the current loop run and of all runs of the loop
  // (Lightning's batch_progress.current.ready / total.ready).
  std::map<std::string, int64_t> current_ready, total_ready;
};

namespace {

// Lightning's LoggerConnector.should_update_logs.
bool should_update_logs(const Trainer& trainer, int64_t step) {
  const int64_t every = trainer.options().log_every_n_steps();
  if (every == 0) return false;
  return step % every == 0 || trainer.should_stop();
}

const char* running_stage(Stage stage) {
  return stage == Stage::Fit        ? "train"
         : stage == Stage::Validate ? "validate"
         : stage == Stage::Test     ? "test"
                                    : "predict";
}

// Evaluation progress is kept per loop: fit's validation loop apart from trainer.validate's.
std::string loop_key(const Trainer& trainer, const std::string& stage) {
  return trainer.state() == Stage::Fit ? "fit/" + stage : stage;
}

}  // namespace

ThroughputMonitor::ThroughputMonitor(ThroughputMonitorOptions options)
    : options_(std::move(options)), state_(std::make_unique<State>()) {
  LIGHTNING_CHECK(options_.batch_size_fn() != nullptr,
                  "ThroughputMonitor needs a batch_size_fn: a function returning the number of "
                  "samples in a batch, e.g. [](const L::Batch& b) { return b[0].size(0); }.");
  Throughput(ThroughputOptions().window_size(options_.window_size()));  // its checks, now
}

ThroughputMonitor::~ThroughputMonitor() = default;

double ThroughputMonitor::now() const {
  if (options_.clock()) return options_.clock()();
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

void ThroughputMonitor::setup(Trainer& trainer, LightningModule&, Stage stage) {
  // Lightning finds the device's peak FLOP/s in a table of CUDA devices; this
  // library has none, so "device/mfu" is not logged.
  const auto o = ThroughputOptions()
                     .world_size(trainer.world_size())
                     .window_size(options_.window_size())
                     .separator(options_.separator());
  auto& t = state_->throughputs;
  if (stage == Stage::Fit) t.insert_or_assign("validate", Throughput(o));
  t.insert_or_assign(running_stage(stage), Throughput(o));
}

void ThroughputMonitor::start(Trainer& trainer, const std::string& stage) {
  State& s = *state_;
  // Inside fit every start begins afresh; other stages keep counting across calls.
  if (trainer.state() == Stage::Fit || s.samples.count(stage) == 0) {
    s.throughputs.at(stage).reset();
    s.lengths[stage] = s.samples[stage] = s.batches[stage] = 0;
  }
  s.t0[stage] = now();
}

void ThroughputMonitor::update(const std::string& stage, const Batch& batch) {
  State& s = *state_;
  const double elapsed = now() - s.t0.at(stage);
  if (options_.length_fn()) s.lengths[stage] += options_.length_fn()(batch);
  s.samples[stage] += options_.batch_size_fn()(batch);
  s.batches[stage] += 1;
  s.throughputs.at(stage).update(
      elapsed, s.batches[stage], s.samples[stage],
      options_.length_fn() ? std::optional<int64_t>(s.lengths[stage]) : std::nullopt);
}

void ThroughputMonitor::log(Trainer& trainer, const std::string& stage,
                            std::optional<int64_t> step) {
  if (trainer.loggers().empty()) return;
  TensorMetrics metrics;
  for (const auto& [key, value] : state_->throughputs.at(stage).compute()) {
    metrics[stage + options_.separator() + key] = at::scalar_tensor(value, at::kDouble);
  }
  if (metrics.empty()) return;
  // Lightning's LoggerConnector.log_metrics: into logged_metrics; a row at
  // `step`, or at the Trainer's step with "epoch" when no step is given.
  auto& impl = detail::TrainerAccess::impl(trainer);
  for (const auto& [key, value] : metrics) impl.logged_metrics_[key] = value;
  Metrics row = to_numbers(metrics);
  if (!step) row["epoch"] = static_cast<double>(trainer.current_epoch());
  const int64_t at = step.value_or(trainer.loop_state().batches_that_stepped);
  for (const auto& logger : trainer.loggers()) logger->log_metrics(row, at);
}

void ThroughputMonitor::on_train_start(Trainer& trainer, LightningModule&) {
  if (trainer.is_global_zero()) start(trainer, "train");
}

void ThroughputMonitor::on_train_batch_end(Trainer& trainer, LightningModule&, const StepOutput&,
                                           Batch& batch, int64_t batch_idx) {
  if (!trainer.is_global_zero()) return;
  if (trainer.root_device().is_cuda()) torch::cuda::synchronize();
  update("train", batch);
  // Only once the optimizer has stepped, so that the step's time is included.
  const auto& impl = detail::TrainerAccess::impl(trainer);
  if (impl.fit_loop_.should_accumulate(batch_idx)) return;
  if (should_update_logs(trainer, trainer.loop_state().batches_that_stepped + 1)) {
    log(trainer, "train", std::nullopt);
  }
}

void ThroughputMonitor::eval_batch_end(Trainer& trainer, const std::string& stage,
                                       const Batch& batch) {
  State& s = *state_;
  const std::string key = loop_key(trainer, stage);
  const int64_t current = ++s.current_ready[key];
  const int64_t total = ++s.total_ready[key];
  if (trainer.root_device().is_cuda()) torch::cuda::synchronize();
  update(stage, batch);
  // The row's step: the loop's batch count (Lightning's batch_progress.total.ready),
  // which fit's validation loop starts afresh at every run, and trainer.validate/
  // test/predict keep counting over their calls.
  if (should_update_logs(trainer, current)) {
    log(trainer, stage, trainer.state() == Stage::Fit ? current : total);
  }
}

void ThroughputMonitor::on_validation_start(Trainer& trainer, LightningModule&) {
  if (trainer.sanity_checking() || !trainer.is_global_zero()) return;
  state_->current_ready[loop_key(trainer, "validate")] = 0;
  start(trainer, "validate");
}

void ThroughputMonitor::on_validation_batch_end(Trainer& trainer, LightningModule&,
                                                const StepOutput&, Batch& batch, int64_t, int64_t) {
  if (trainer.sanity_checking() || !trainer.is_global_zero()) return;
  eval_batch_end(trainer, "validate", batch);
}

void ThroughputMonitor::on_validation_end(Trainer& trainer, LightningModule&) {
  if (trainer.sanity_checking() || trainer.state() != Stage::Fit || !trainer.is_global_zero()) {
    return;
  }
  // Move the training clock's origin past the validation run, so that the
  // time spent validating does not count against the training rates.
  State& s = *state_;
  if (s.t0.count("train") == 0 || s.t0.count("validate") == 0) return;
  const double train_elapsed = s.throughputs.at("train").last_time().value_or(0.0);
  const double val_elapsed = s.throughputs.at("validate").last_time().value_or(0.0);
  const double training_finished = s.t0.at("train") + train_elapsed;
  const double between_train_and_val = s.t0.at("validate") - training_finished;
  s.t0.at("train") += between_train_and_val + val_elapsed;
}

void ThroughputMonitor::on_test_start(Trainer& trainer, LightningModule&) {
  if (!trainer.is_global_zero()) return;
  state_->current_ready[loop_key(trainer, "test")] = 0;
  start(trainer, "test");
}

void ThroughputMonitor::on_test_batch_end(Trainer& trainer, LightningModule&, const StepOutput&,
                                          Batch& batch, int64_t, int64_t) {
  if (trainer.is_global_zero()) eval_batch_end(trainer, "test", batch);
}

void ThroughputMonitor::on_predict_start(Trainer& trainer, LightningModule&) {
  if (!trainer.is_global_zero()) return;
  state_->current_ready[loop_key(trainer, "predict")] = 0;
  start(trainer, "predict");
}

void ThroughputMonitor::on_predict_batch_end(Trainer& trainer, LightningModule&, const c10::IValue&,
                                             Batch& batch, int64_t, int64_t) {
  if (trainer.is_global_zero()) eval_batch_end(trainer, "predict", batch);
}

}  // namespace lightning
