"""Reference run for tests/lightning/parity_test.cpp, with real PyTorch Lightning.

    python parity_lightning.py OUT_DIR

Writes, under OUT_DIR:
  data.pt        {"train_x", "train_y", "val_x", "val_y"} (seeded, torch.save)
  init.pt        the model's initial state_dict
  py/version_0/metrics.csv   Lightning's CSVLogger output
  py_final.pt    the state_dict after training
and prints "ok <global_step> <current_epoch>" on stdout. The C++ test loads
data.pt and init.pt, runs the same fit with lightning.cpp and compares.

The run: MLP 8-16-3 (Tanh), cross-entropy, SGD(momentum, weight decay),
OneCycleLR stepped every optimizer step, accumulate_grad_batches=2,
gradient_clip_val=0.5 ("norm"), validation every epoch, log_every_n_steps=1,
3 epochs, no shuffling. 34 training samples in batches of 4 (9 batches, the
last one of 2 samples: the last window has one batch), 13 validation samples
in batches of 5.
"""

import os
import sys
import warnings

warnings.filterwarnings("ignore")

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402
from torch.utils.data import DataLoader, TensorDataset  # noqa: E402

import pytorch_lightning as pl  # noqa: E402
from pytorch_lightning.loggers import CSVLogger  # noqa: E402

MAX_EPOCHS = 3
TRAIN_BATCH = 4
VAL_BATCH = 5


class ParityModel(pl.LightningModule):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 3))

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = F.cross_entropy(self.net(x), y)
        self.log("train_loss", loss, on_step=True, on_epoch=True)
        self.log("lr", self.lr_schedulers().get_last_lr()[0])
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_loss", F.cross_entropy(self.net(x), y))

    def configure_optimizers(self):
        opt = torch.optim.SGD(self.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-3)
        sched = torch.optim.lr_scheduler.OneCycleLR(
            opt, max_lr=0.2, total_steps=self.trainer.estimated_stepping_batches
        )
        return [opt], [{"scheduler": sched, "interval": "step"}]


def main():
    out = sys.argv[1]
    torch.set_num_threads(1)
    gen = torch.Generator().manual_seed(1234)
    data = {
        "train_x": torch.randn(34, 8, generator=gen),
        "train_y": torch.randint(0, 3, (34,), generator=gen),
        "val_x": torch.randn(13, 8, generator=gen),
        "val_y": torch.randint(0, 3, (13,), generator=gen),
    }
    torch.save(data, os.path.join(out, "data.pt"))
    torch.manual_seed(7)
    model = ParityModel()
    torch.save(model.state_dict(), os.path.join(out, "init.pt"))

    train = DataLoader(TensorDataset(data["train_x"], data["train_y"]), batch_size=TRAIN_BATCH)
    val = DataLoader(TensorDataset(data["val_x"], data["val_y"]), batch_size=VAL_BATCH)
    trainer = pl.Trainer(
        max_epochs=MAX_EPOCHS,
        accelerator="cpu",
        devices=1,
        accumulate_grad_batches=2,
        gradient_clip_val=0.5,
        gradient_clip_algorithm="norm",
        check_val_every_n_epoch=1,
        log_every_n_steps=1,
        logger=CSVLogger(out, name="py", version=0),
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(model, train, val)
    torch.save(model.state_dict(), os.path.join(out, "py_final.pt"))
    print("ok", trainer.global_step, trainer.current_epoch)


if __name__ == "__main__":
    main()
