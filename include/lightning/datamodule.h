// lightning/datamodule.h — LightningDataModule: all the data steps in one class.
//
//   class MyData : public L::LightningDataModule {
//    public:
//     void setup(L::Stage stage) override { train_ = ...; val_ = ...; }
//     L::DataLoaders train_dataloader() override {
//       return L::DataLoader(train_, L::DataLoaderOptions().batch_size(64).shuffle(true));
//     }
//     L::DataLoaders val_dataloader() override { return L::DataLoader(val_, {}); }
//   };
//   trainer.fit(model, data);
//
// A dataloader hook that is not overridden returns no loader: the Trainer then
// skips that loop (a missing train loader is an error in `fit`).
#pragma once

#include "lightning/data/dataloader.h"
#include "lightning/export.h"
#include "lightning/hparams.h"
#include "lightning/stage.h"
#include "lightning/state_dict.h"

namespace lightning {

/// Groups prepare_data, setup, the four dataloaders and teardown.
class LIGHTNING_API LightningDataModule {
 public:
  virtual ~LightningDataModule() = default;

  /// Once per node, before `setup`: download or unpack data. Default: nothing.
  virtual void prepare_data() {}
  /// Every process, at the start of each Trainer entry point. Default: nothing.
  virtual void setup(Stage /*stage*/) {}
  /// At the end of each Trainer entry point. Default: nothing.
  virtual void teardown(Stage /*stage*/) {}

  /// The loaders of each stage. Default: none. (Defined in the library, not
  /// inline: the Trainer tells an override from the default by its address.)
  virtual DataLoaders train_dataloader();
  virtual DataLoaders val_dataloader();
  virtual DataLoaders test_dataloader();
  virtual DataLoaders predict_dataloader();

  /// As LightningModule::save_hyperparameters. Checkpoints save them under
  /// "datamodule_hyper_parameters".
  void save_hyperparameters(const HParams& hparams) { hparams_ = hparams; }
  const HParams& hparams() const { return hparams_; }

  /// State saved in checkpoints under `state_key()` (Lightning saves
  /// `datamodule.state_dict()` under the class name). Default: empty.
  virtual StateDict state_dict() const { return make_state_dict(); }
  /// Restores what `state_dict` returned when a fit resumes or
  /// `load_from_checkpoint<MyDataModule>` runs. Default: nothing.
  virtual void load_state_dict(const StateDict& /*state*/) {}
  /// The checkpoint key of its state: the class name.
  std::string state_key() const;

 private:
  HParams hparams_;
};

}  // namespace lightning
