// Writes the legacy checkpoint fixtures into a folder: one fit of
// legacy::Model that saves a checkpoint at each point of legacy::fixtures().
//
//   legacy_fixture_writer tests/checkpoint/legacy
//
// Run once, at the commit named in tests/checkpoint/legacy/README.md; the
// files it wrote are committed and must keep resuming. Do not regenerate
// them to make a failing resume pass: that failure is the break they guard.
#include <iostream>
#include <string>

#include "checkpoint/legacy/legacy_model.h"

namespace L = lightning;
namespace legacy = lightning::testing::legacy;

namespace {

class Saver : public L::Callback {
 public:
  explicit Saver(std::string dir) : dir_(std::move(dir)) {}
  void on_train_epoch_start(L::Trainer& t, L::LightningModule&) override {
    save(t, "on_train_epoch_start", -1);
  }
  void on_train_batch_start(L::Trainer& t, L::LightningModule&, L::Batch&,
                            int64_t batch_idx) override {
    save(t, "on_train_batch_start", batch_idx);
  }
  void on_train_batch_end(L::Trainer& t, L::LightningModule&, const L::StepOutput&, L::Batch&,
                          int64_t batch_idx) override {
    save(t, "on_train_batch_end", batch_idx);
  }
  void on_validation_end(L::Trainer& t, L::LightningModule&) override {
    if (!t.sanity_checking()) save(t, "on_validation_end", t.loop_state().batch_idx);
  }
  void on_train_epoch_end(L::Trainer& t, L::LightningModule&) override {
    save(t, "on_train_epoch_end", -1);
  }

 private:
  void save(L::Trainer& t, const std::string& hook, int64_t batch) {
    if (t.current_epoch() != 1) return;
    for (const auto& f : legacy::fixtures()) {
      if (f.hook == hook && f.batch == batch) {
        t.save_checkpoint(dir_ + "/" + f.file);
        std::cout << "wrote " << f.file << "\n";
      }
    }
  }
  std::string dir_;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: legacy_fixture_writer <folder>\n";
    return 2;
  }
  L::seed_everything(legacy::kSeed);
  auto model = std::make_shared<legacy::Model>();
  L::Trainer trainer(legacy::options().callbacks({std::make_shared<Saver>(argv[1])}));
  trainer.fit(model, legacy::train_loader(), legacy::val_loader());
  return 0;
}
