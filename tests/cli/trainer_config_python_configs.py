"""Writes the configs Python LightningCLI prints for two command lines, which
tests/cli/trainer_config_test.cpp applies unchanged (their `trainer:` section).

Run with an environment holding pytorch_lightning 2.6 and jsonargparse:
    python tests/cli/trainer_config_python_configs.py
"""

import contextlib
import io
import os
import sys

import torch
from pytorch_lightning import LightningModule
from pytorch_lightning.cli import LightningCLI


class Model(LightningModule):
    def __init__(self, learning_rate: float = 1e-3, hidden: int = 64):
        super().__init__()
        self.layer = torch.nn.Linear(4, hidden)


COMMANDS = {
    "trainer_config_python_fit.yaml": [
        "--trainer.max_epochs", "5", "--trainer.limit_val_batches", "0.25",
        "--trainer.precision", "bf16-mixed", "--trainer.gradient_clip_val", "1.0",
        "--trainer.callbacks+=ModelCheckpoint", "--trainer.callbacks.monitor", "val_loss",
        "--trainer.callbacks.save_top_k", "3",
        "--trainer.callbacks+=EarlyStopping", "--trainer.callbacks.monitor", "val_loss",
        "--trainer.callbacks.patience", "5",
        "--trainer.callbacks+=LearningRateMonitor", "--trainer.callbacks.logging_interval", "step",
        "--trainer.logger", "CSVLogger", "--trainer.logger.save_dir", "logs",
    ],
    "trainer_config_python_ddp.yaml": [
        "--trainer.accelerator", "cpu", "--trainer.devices", "2",
        "--trainer.strategy", "DDPStrategy", "--trainer.strategy.find_unused_parameters", "true",
        "--trainer.strategy.process_group_backend", "gloo",
        "--trainer.max_steps", "100", "--trainer.val_check_interval", "50",
        "--trainer.callbacks+=TQDMProgressBar", "--trainer.callbacks.refresh_rate", "10",
        "--trainer.callbacks+=ModelSummary", "--trainer.callbacks.max_depth", "2",
        "--trainer.callbacks+=GradientAccumulationScheduler",
        "--trainer.callbacks.scheduling", "{0: 1, 4: 2}",
        "--trainer.logger+=TensorBoardLogger", "--trainer.logger.save_dir", "tb",
        "--trainer.logger+=CSVLogger", "--trainer.logger.save_dir", "csv",
    ],
}

if __name__ == "__main__":
    here = os.path.dirname(os.path.abspath(__file__))
    for name, args in COMMANDS.items():
        out = io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
            sys.argv = ["main.py", "fit", "--print_config", *args]
            LightningCLI(Model, save_config_callback=None)
        with open(os.path.join(here, name), "w") as f:
            f.write("# Written by tests/cli/trainer_config_python_configs.py: Python LightningCLI's\n")
            f.write(f"# --print_config for: fit {' '.join(args)}\n")
            f.write(out.getvalue())
