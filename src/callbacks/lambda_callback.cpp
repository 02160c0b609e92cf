// LambdaCallback: each hook calls its function from the options, when set.
#include "lightning/callbacks/lambda_callback.h"

namespace lightning {

void LambdaCallback::setup(Trainer& trainer, LightningModule& pl_module, Stage stage) {
  if (options_.setup()) options_.setup()(trainer, pl_module, stage);
}
void LambdaCallback::teardown(Trainer& trainer, LightningModule& pl_module, Stage stage) {
  if (options_.teardown()) options_.teardown()(trainer, pl_module, stage);
}
void LambdaCallback::on_fit_start(Trainer& trainer, LightningModule& pl_module) {
  if (options_.on_fit_start()) options_.on_fit_start()(trainer, pl_module);
}
void LambdaCallback::on_fit_end(Trainer& trainer, LightningModule& pl_module) {
  if (options_.on_fit_end()) options_.on_fit_end()(trainer, pl_module);
}
void LambdaCallback::on_sanity_check_start(Trainer& trainer, LightningModule& pl_module) {
  if (options_.on_sanity_check_start()) options_.on_sanity_check_start()(trainer, pl_module);
}
void LambdaCallback::on_sanity_check_end(Trainer& trainer, LightningModule& pl_module) {
  if (options_.on_sanity_check_end()) options_.on_sanity_check_end()(trainer, pl_module);
}
void LambdaCallback::on_train_batch_start(Trainer& trainer, LightningModule& pl_module,
                                          Batch& batch, int64_t batch_idx) {
  if (options_.on_train_batch_start())
    options_.on_train_batch_start()(trainer, pl_module, batch, batch_idx);
}
void LambdaCallback::on_train_batch_end(Trainer& trainer, LightningModule& pl_module,
                                        const StepOutput& outputs, Batch& batch,
                                        int64_t batch_idx) {
  if (options_.on_train_batch_end())
    options_.on_train_batch_end()(trainer, pl_module, outputs, batch, batch_idx);
}
void LambdaCallback::on_train_epoch_start(Trainer& trainer, LightningModule& pl_module) {
  if (options_.on_train_epoch_start()) options_.on_train_epoch_start()(trainer, pl_module);
}
void LambdaCallback::on_train_epoch_end(Trainer& trainer, LightningModule& pl_module) {
  if (options_.on_train_epoch_end()) options_.on_train_epoch_end()(trainer, pl_module);
}
void LambdaCallback::on_validation_epoch_start(Trainer& trainer, LightningModule& pl_module) {
  if (options_.on_validation_epoch_start())
    options_.on_validation_epoch_start()(trainer, pl_module);
}
void LambdaCallback::on_validation_epoch_end(Trainer& trainer, LightningModule& pl_module) {
  if (options_.on_validation_epoch_end()) options_.on_validation_epoch_end()(trainer, pl_module);
}
void LambdaCallback::on_test_epoch_start(Trainer& trainer, LightningModule& pl_module) {
  if (options_.on_test_epoch_start()) options_.on_test_epoch_start()(trainer, pl_module);
}
void LambdaCallback::on_test_epoch_end(Trainer& trainer, LightningModule& pl_module) {
  if (options_.on_test_epoch_end()) options_.on_test_epoch_end()(trainer, pl_module);
}
void LambdaCallback::on_validation_batch_start(Trainer& trainer, LightningModule& pl_module,
                                               Batch& batch, int64_t batch_idx,
                                               int64_t dataloader_idx) {
  if (options_.on_validation_batch_start())
    options_.on_validation_batch_start()(trainer, pl_module, batch, batch_idx, dataloader_idx);
}
void LambdaCallback::on_validation_batch_end(Trainer& trainer, LightningModule& pl_module,
                                             const StepOutput& outputs, Batch& batch,
                                             int64_t batch_idx, int64_t dataloader_idx) {
  if (options_.on_validation_batch_end())
    options_.on_validation_batch_end()(trainer, pl_module, outputs, batch, batch_idx,
                                       dataloader_idx);
}
void LambdaCallback::on_test_batch_start(Trainer& trainer, LightningModule& pl_module, Batch& batch,
                                         int64_t batch_idx, int64_t dataloader_idx) {
  if (options_.on_test_batch_start())
    options_.on_test_batch_start()(trainer, pl_module, batch, batch_idx, dataloader_idx);
}
void LambdaCallback::on_test_batch_end(Trainer& trainer, LightningModule& pl_module,
                                       const StepOutput& outputs, Batch& batch, int64_t batch_idx,
                                       int64_t dataloader_idx) {
  if (options_.on_test_batch_end())
    options_.on_test_batch_end()(trainer, pl_module, outputs, batch, batch_idx, dataloader_idx);
}
void LambdaCallback::on_train_start(Trainer& trainer, LightningModule& pl_module) {
  if (options_.on_train_start()) options_.on_train_start()(trainer, pl_module);
}
void LambdaCallback::on_train_end(Trainer& trainer, LightningModule& pl_module) {
  if (options_.on_train_end()) options_.on_train_end()(trainer, pl_module);
}
void LambdaCallback::on_validation_start(Trainer& trainer, LightningModule& pl_module) {
  if (options_.on_validation_start()) options_.on_validation_start()(trainer, pl_module);
}
void LambdaCallback::on_validation_end(Trainer& trainer, LightningModule& pl_module) {
  if (options_.on_validation_end()) options_.on_validation_end()(trainer, pl_module);
}
void LambdaCallback::on_test_start(Trainer& trainer, LightningModule& pl_module) {
  if (options_.on_test_start()) options_.on_test_start()(trainer, pl_module);
}
void LambdaCallback::on_test_end(Trainer& trainer, LightningModule& pl_module) {
  if (options_.on_test_end()) options_.on_test_end()(trainer, pl_module);
}
void LambdaCallback::on_exception(Trainer& trainer, LightningModule& pl_module,
                                  const std::exception& exception) {
  if (options_.on_exception()) options_.on_exception()(trainer, pl_module, exception);
}
void LambdaCallback::on_save_checkpoint(Trainer& trainer, LightningModule& pl_module,
                                        Checkpoint& checkpoint) {
  if (options_.on_save_checkpoint()) options_.on_save_checkpoint()(trainer, pl_module, checkpoint);
}
void LambdaCallback::on_load_checkpoint(Trainer& trainer, LightningModule& pl_module,
                                        Checkpoint& checkpoint) {
  if (options_.on_load_checkpoint()) options_.on_load_checkpoint()(trainer, pl_module, checkpoint);
}
void LambdaCallback::on_before_backward(Trainer& trainer, LightningModule& pl_module,
                                        const at::Tensor& loss) {
  if (options_.on_before_backward()) options_.on_before_backward()(trainer, pl_module, loss);
}
void LambdaCallback::on_after_backward(Trainer& trainer, LightningModule& pl_module) {
  if (options_.on_after_backward()) options_.on_after_backward()(trainer, pl_module);
}
void LambdaCallback::on_before_optimizer_step(Trainer& trainer, LightningModule& pl_module,
                                              torch::optim::Optimizer& optimizer) {
  if (options_.on_before_optimizer_step())
    options_.on_before_optimizer_step()(trainer, pl_module, optimizer);
}
void LambdaCallback::on_before_zero_grad(Trainer& trainer, LightningModule& pl_module,
                                         torch::optim::Optimizer& optimizer) {
  if (options_.on_before_zero_grad()) options_.on_before_zero_grad()(trainer, pl_module, optimizer);
}
void LambdaCallback::on_predict_start(Trainer& trainer, LightningModule& pl_module) {
  if (options_.on_predict_start()) options_.on_predict_start()(trainer, pl_module);
}
void LambdaCallback::on_predict_end(Trainer& trainer, LightningModule& pl_module) {
  if (options_.on_predict_end()) options_.on_predict_end()(trainer, pl_module);
}
void LambdaCallback::on_predict_batch_start(Trainer& trainer, LightningModule& pl_module,
                                            Batch& batch, int64_t batch_idx,
                                            int64_t dataloader_idx) {
  if (options_.on_predict_batch_start())
    options_.on_predict_batch_start()(trainer, pl_module, batch, batch_idx, dataloader_idx);
}
void LambdaCallback::on_predict_batch_end(Trainer& trainer, LightningModule& pl_module,
                                          const c10::IValue& outputs, Batch& batch,
                                          int64_t batch_idx, int64_t dataloader_idx) {
  if (options_.on_predict_batch_end())
    options_.on_predict_batch_end()(trainer, pl_module, outputs, batch, batch_idx, dataloader_idx);
}
void LambdaCallback::on_predict_epoch_start(Trainer& trainer, LightningModule& pl_module) {
  if (options_.on_predict_epoch_start()) options_.on_predict_epoch_start()(trainer, pl_module);
}
void LambdaCallback::on_predict_epoch_end(Trainer& trainer, LightningModule& pl_module) {
  if (options_.on_predict_epoch_end()) options_.on_predict_epoch_end()(trainer, pl_module);
}

}  // namespace lightning
