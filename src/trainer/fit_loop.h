// Internal: the training loop of `fit` (Lightning's _FitLoop with its
// training-epoch loop): epochs, batches, when to validate and stop, and the
// position a checkpoint resumes from. Its counters and position are saved
// and restored through state_dict() / load_state_dict() (fit_loop_state.cpp),
// the one place that maps the loop's phases to their saved names.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "lightning/checkpoint/checkpoint.h"
#include "lightning/data/batch.h"
#include "lightning/loop_state.h"
#include "lightning/state_dict.h"

namespace lightning {
class LightningModule;
}

namespace lightning::detail {

class TrainerImpl;
class ResultCollection;

/// The default generators' states (CPU, then each CUDA device), as saved in
/// checkpoints, and their restore (fit_loop_state.cpp).
std::vector<at::Tensor> rng_states();
void restore_rng(const std::vector<at::Tensor>& states);

class FitLoop {
 public:
  explicit FitLoop(TrainerImpl& trainer) : t_(trainer) {}

  /// Before a new fit: counters at zero, nothing to resume.
  void reset();
  /// The epochs, from on_train_start to on_train_end.
  void run(LightningModule& model, bool has_validation);
  /// A checkpoint written in on_train_epoch_end: finishes what was left of
  /// that epoch (before on_train_start, as Lightning's restored epoch counts it).
  void finish_saved_epoch_end();

  bool done() const;
  bool min_reached() const;
  bool max_steps_reached() const;
  /// Whether batch `batch_idx` only accumulates gradients (no optimizer step).
  bool should_accumulate(int64_t batch_idx) const;
  bool resuming() const { return resume_.has_value(); }

  LoopState& counters() { return counters_; }
  const LoopState& counters() const { return counters_; }

  /// The effective limits (Lightning's defaulting of max_epochs applied).
  int64_t max_epochs = 1000;
  int64_t max_steps = -1;
  /// Training batches per epoch after limits, and the validation interval in batches.
  int64_t num_training_batches = 0;
  int64_t val_check_batch = 1;
  /// Lightning's `fit_loop._skip_backward`: training batches run the forward
  /// pass (training_step) only: no zero_grad, backward or optimizer step.
  /// StochasticWeightAveraging sets it for its batch-norm epoch.
  bool skip_backward = false;

  // ---- Checkpoint entry (fit_loop_state.cpp) ---------------------------------
  /// Lightning's loops/fit_loop progress, with this library's exact position
  /// under "lightning_cpp". Collective under DDP (every rank saves).
  StateDict state_dict(LightningModule& model);
  /// Restores the counters and the position to resume from; `path` names
  /// the checkpoint in errors and warnings. A checkpoint without this
  /// library's position (Python Lightning's) resumes at an epoch boundary or
  /// after its last processed batch, as Lightning does.
  void load_state_dict(const Checkpoint& checkpoint, const std::string& path);

 private:
  // Where in the loop we are: the phase a checkpoint written now resumes from.
  enum class Phase {
    kOutside,
    kBatch,
    kTrainBatchEnd,
    kValidation,
    kTrainEpochEnd,
    kTrainEpochStart
  };
  struct PhaseName {
    Phase phase;
    const char* name;
  };
  static const PhaseName kPhaseNames[6];  // fit_loop_state.cpp
  static const char* phase_name(Phase phase);
  static Phase phase_from_name(const std::string& name, const std::string& where);

  struct Resume {
    Phase phase = Phase::kBatch;
    int64_t batches_done = 0;
    // Exact resume (checkpoints written here): the epoch's shuffle seed and
    // the RNG states at the save. A Python Lightning checkpoint resumes at
    // the start of its epoch instead.
    bool exact = false;
    uint64_t shuffle_seed = 0;
    std::vector<at::Tensor> rng_states;  // CPU, then each CUDA device
    // What self.log had accumulated in the epoch at the save; null for
    // checkpoints without it (older ones, Python Lightning's).
    std::shared_ptr<ResultCollection> train_results;
  };

  void run_epoch(LightningModule& model, bool has_validation);
  bool training_batch(LightningModule& model, Batch batch, int64_t batch_idx, bool accumulating);
  bool finish_training_batch(LightningModule& model, int64_t batch_idx, bool accumulating,
                             bool validate_this_epoch, bool after_validation);
  void finish_epoch(LightningModule& model, bool completed);
  uint64_t train_shuffle_seed() const;
  StateDict lightning_progress(LightningModule& model) const;
  StateDict exact_position(LightningModule& model);
  void load_exact_position(const StateDict& exact, const std::string& path, Resume& resume);
  void load_lightning_position(const std::optional<StateDict>& fit_loop, const std::string& path,
                               Resume& resume);

  TrainerImpl& t_;
  LoopState counters_;
  Phase phase_ = Phase::kOutside;
  int64_t batches_done_ = 0;      // training batches finished in this epoch
  bool step_started_ = false;     // this batch's training_step (and backward) has begun
  bool keep_results_ = false;     // the first epoch keeps what on_train_start logged
  std::optional<Resume> resume_;  // consumed by the first resumed epoch
};

}  // namespace lightning::detail
