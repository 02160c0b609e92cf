"""Reference for tests/tuner/lr_find_reference_test.cpp: Lightning's lr_find on
the main job's model (examples/fashion_mnist: a 784-256-128-10 MLP with
Dropout(0.2), Adam, hparam "learning_rate") with fixed initial weights and a
fixed data order, as the C++ test runs it.

  python lr_find_reference.py OUT.txt [--data-dir DIR]

- data: the first 6400 Fashion-MNIST training images (pixels / 255, as
  ToTensor()), 64 per batch, in file order (no shuffling): one epoch is the
  100 steps of the sweep. The loader has its own generator, so the default
  generator is used by dropout only.
- weights: parameter k (in named_parameters order) with n elements takes
  ((i * 7919 + k * 104729) % 2001 - 1000) / 1000 / sqrt(fan_in) for i in
  0..n-1 (computed in float64, stored as float32), the same in the C++ test.
- torch.manual_seed(0) just before lr_find.

Writes the suggestion index and lr, then one "lr loss" line per step (repr).
Needs torch and pytorch_lightning (the pinned virtual environment).
"""
import argparse
import gzip
import math
import os
import sys
import tempfile

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

import pytorch_lightning as pl
from pytorch_lightning.tuner import Tuner

SAMPLES = 6400
BATCH_SIZE = 64


def read_idx(path, offset):
    with gzip.open(path, "rb") as f:
        data = f.read()
    return np.frombuffer(data, dtype=np.uint8, offset=offset)


def fixed_weights(module):
    with torch.no_grad():
        for k, (name, p) in enumerate(module.named_parameters()):
            fan_in = p.shape[1] if p.dim() == 2 else module_fan_in(module, name)
            i = torch.arange(p.numel(), dtype=torch.int64)
            v = ((i * 7919 + k * 104729) % 2001 - 1000).double() / 1000.0 / math.sqrt(fan_in)
            p.copy_(v.view_as(p).float())


def module_fan_in(module, bias_name):
    weight = dict(module.named_parameters())[bias_name.rsplit(".", 1)[0] + ".weight"]
    return weight.shape[1]


class MyModel(pl.LightningModule):
    def __init__(self, learning_rate=1e-3, hidden=256):
        super().__init__()
        self.save_hyperparameters()
        self.model = nn.Sequential(
            nn.Flatten(), nn.Linear(784, hidden), nn.ReLU(), nn.Dropout(0.2),
            nn.Linear(hidden, hidden // 2), nn.ReLU(), nn.Linear(hidden // 2, 10))

    def forward(self, x):
        return self.model(x)

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = F.cross_entropy(self(x), y)
        self.log("train_loss", loss, prog_bar=True)
        return loss

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.hparams.learning_rate)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--data-dir", default="/usr/share/datasets/fashion-mnist")
    args = parser.parse_args()

    images = read_idx(os.path.join(args.data_dir, "train-images-idx3-ubyte.gz"), 16)
    labels = read_idx(os.path.join(args.data_dir, "train-labels-idx1-ubyte.gz"), 8)
    x = torch.from_numpy(images[: SAMPLES * 784].copy()).view(SAMPLES, 1, 28, 28).float().div(255.0)
    y = torch.from_numpy(labels[:SAMPLES].copy()).long()
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(x, y), batch_size=BATCH_SIZE, shuffle=False,
        generator=torch.Generator().manual_seed(0))

    model = MyModel()
    fixed_weights(model)
    with tempfile.TemporaryDirectory() as root:
        trainer = pl.Trainer(accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
                             enable_progress_bar=False, enable_model_summary=False,
                             default_root_dir=root)
        torch.manual_seed(0)
        finder = Tuner(trainer).lr_find(model, train_dataloaders=loader)
    suggestion = finder.suggestion()
    with open(args.out, "w") as f:
        f.write(f"# made by tests/tuner/lr_find_reference.py with torch {torch.__version__}, "
                f"pytorch_lightning {pl.__version__}\n")
        f.write(f"suggestion_idx {finder._optimal_idx}\n")
        f.write(f"suggestion_lr {suggestion!r}\n")
        f.write(f"learning_rate {model.hparams.learning_rate!r}\n")
        for lr, loss in zip(finder.results["lr"], finder.results["loss"]):
            f.write(f"{lr!r} {loss!r}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
