"""Records the hook calls of PyTorch Lightning for tests/lightning/hook_order_test.cpp.

Usage: python hook_order.py key=value ...   (the keys of SETTINGS below)

Runs, on one Trainer: fit (with a sanity check and gradient accumulation), then
validate, test and predict, with a BoringModel-like module (Linear(32, 2), MSE,
SGD) whose hooks, and those of one Callback, append their names to one list.
Prints the list on stdout, one call per line: module hooks as "name", callback
hooks as "Callback.name", setup/teardown with their stage, e.g. "setup(fit)".

Only the hooks that lightning.cpp also has are recorded. Left out here because
lightning.cpp's LightningModule has no such hook:
    backward, optimizer_step, optimizer_zero_grad, lr_scheduler_step,
    configure_model, configure_sharded_model, on_validation_model_zero_grad,
    on_validation_model_eval, on_validation_model_train, on_test_model_eval,
    on_test_model_train, on_predict_model_eval, state_dict, load_state_dict
Every Callback hook that both sides have is recorded (Callback.state_dict and
load_state_dict are not hooks of the loops: they run only when a checkpoint is
saved or loaded, and checkpointing is off on both sides).
"""

import logging
import os
import sys
import warnings

SETTINGS = {
    "train_samples": 8,
    "val_samples": 6,
    "test_samples": 4,
    "predict_samples": 4,
    "batch_size": 2,
    "max_epochs": 2,
    "limit_train_batches": 3,
    "limit_val_batches": 2,
    "limit_test_batches": 2,
    "limit_predict_batches": 2,
    "num_sanity_val_steps": 1,
    "accumulate_grad_batches": 2,
}

MODULE_HOOKS = [
    "training_step",
    "validation_step",
    "test_step",
    "predict_step",
    "configure_optimizers",
    "configure_callbacks",
    "configure_gradient_clipping",
    "prepare_data",
    "setup",
    "teardown",
    "train_dataloader",
    "val_dataloader",
    "test_dataloader",
    "predict_dataloader",
    "on_before_batch_transfer",
    "transfer_batch_to_device",
    "on_after_batch_transfer",
    "on_fit_start",
    "on_fit_end",
    "on_train_start",
    "on_train_end",
    "on_validation_start",
    "on_validation_end",
    "on_test_start",
    "on_test_end",
    "on_predict_start",
    "on_predict_end",
    "on_train_epoch_start",
    "on_train_epoch_end",
    "on_validation_epoch_start",
    "on_validation_epoch_end",
    "on_test_epoch_start",
    "on_test_epoch_end",
    "on_predict_epoch_start",
    "on_predict_epoch_end",
    "on_train_batch_start",
    "on_train_batch_end",
    "on_validation_batch_start",
    "on_validation_batch_end",
    "on_test_batch_start",
    "on_test_batch_end",
    "on_predict_batch_start",
    "on_predict_batch_end",
    "on_before_zero_grad",
    "on_before_backward",
    "on_after_backward",
    "on_before_optimizer_step",
    "on_save_checkpoint",
    "on_load_checkpoint",
]

CALLBACK_HOOKS = [
    "setup",
    "teardown",
    "on_fit_start",
    "on_fit_end",
    "on_sanity_check_start",
    "on_sanity_check_end",
    "on_train_start",
    "on_train_end",
    "on_train_epoch_start",
    "on_train_epoch_end",
    "on_train_batch_start",
    "on_train_batch_end",
    "on_validation_start",
    "on_validation_end",
    "on_validation_epoch_start",
    "on_validation_epoch_end",
    "on_validation_batch_start",
    "on_validation_batch_end",
    "on_test_start",
    "on_test_end",
    "on_test_epoch_start",
    "on_test_epoch_end",
    "on_test_batch_start",
    "on_test_batch_end",
    "on_predict_start",
    "on_predict_end",
    "on_predict_epoch_start",
    "on_predict_epoch_end",
    "on_predict_batch_start",
    "on_predict_batch_end",
    "on_before_backward",
    "on_after_backward",
    "on_before_optimizer_step",
    "on_before_zero_grad",
    "on_exception",
    "on_save_checkpoint",
    "on_load_checkpoint",
]


def main():
    for arg in sys.argv[1:]:
        key, _, value = arg.partition("=")
        if key not in SETTINGS:
            sys.exit(f"unknown setting {key!r}")
        SETTINGS[key] = int(value)

    warnings.filterwarnings("ignore")
    logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

    import torch
    import pytorch_lightning as pl
    from torch.utils.data import DataLoader, TensorDataset

    torch.manual_seed(0)
    calls = []
    s = SETTINGS

    def loader(n):
        x = torch.randn(n, 32)
        return DataLoader(TensorDataset(x, x[:, :2].clone()), batch_size=s["batch_size"])

    def stage_of(args, kwargs):
        stage = kwargs["stage"] if "stage" in kwargs else args[-1]
        return getattr(stage, "value", stage)  # a TrainerFn: "fit", "validate", ...

    class Module(pl.LightningModule):
        def __init__(self):
            super().__init__()
            self.layer = torch.nn.Linear(32, 2)

        def forward(self, x):
            return self.layer(x)

        def loss(self, batch):
            x, y = batch
            return torch.nn.functional.mse_loss(self(x), y)

        def training_step(self, batch, batch_idx):
            return self.loss(batch)

        def validation_step(self, batch, batch_idx):
            self.log("val_loss", self.loss(batch))

        def test_step(self, batch, batch_idx):
            self.log("test_loss", self.loss(batch))

        def predict_step(self, batch, batch_idx):
            return self(batch[0])

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.01)

        def train_dataloader(self):
            return loader(s["train_samples"])

        def val_dataloader(self):
            return loader(s["val_samples"])

        def test_dataloader(self):
            return loader(s["test_samples"])

        def predict_dataloader(self):
            return loader(s["predict_samples"])

    class Recorder(pl.Callback):
        pass

    # Each recorded hook appends its name, then runs the class's own (or the base) hook.
    def wrap(cls, name, prefix):
        original = getattr(cls, name)

        def hook(self, *args, **kwargs):
            if name in ("setup", "teardown"):
                calls.append(f"{prefix}{name}({stage_of(args, kwargs)})")
            else:
                calls.append(prefix + name)
            return original(self, *args, **kwargs)

        hook.__name__ = name
        setattr(cls, name, hook)

    for name in MODULE_HOOKS:
        wrap(Module, name, "")
    for name in CALLBACK_HOOKS:
        wrap(Recorder, name, "Callback.")

    model = Module()
    trainer = pl.Trainer(
        accelerator="cpu",
        devices=1,
        max_epochs=s["max_epochs"],
        limit_train_batches=s["limit_train_batches"],
        limit_val_batches=s["limit_val_batches"],
        limit_test_batches=s["limit_test_batches"],
        limit_predict_batches=s["limit_predict_batches"],
        num_sanity_val_steps=s["num_sanity_val_steps"],
        accumulate_grad_batches=s["accumulate_grad_batches"],
        enable_progress_bar=False,
        enable_model_summary=False,
        enable_checkpointing=False,
        logger=False,
        callbacks=[Recorder()],
    )
    trainer.fit(model)
    trainer.validate(model, verbose=False)
    trainer.test(model, verbose=False)
    trainer.predict(model)
    sys.stdout.write("".join(c + "\n" for c in calls))


if __name__ == "__main__":
    main()
