"""Python Lightning's SimpleProfiler actions and call counts for a small fit,
validate, test and predict (the run tests/profilers/profiler_fit_test.cpp
repeats in C++). Prints one "stage<TAB>action<TAB>calls" line per action,
sorted. Needs torch and pytorch_lightning (the pip leg's environment).

    python tests/profilers/lightning_actions.py > tests/profilers/lightning_actions.txt
"""
import sys
import warnings

import torch
import pytorch_lightning as pl
from pytorch_lightning.profilers import SimpleProfiler
from torch.utils.data import DataLoader, TensorDataset

warnings.filterwarnings("ignore")


class Net(pl.LightningModule):
    def __init__(self):
        super().__init__()
        self.layer = torch.nn.Linear(4, 2)

    def training_step(self, batch, batch_idx):
        x, y = batch
        return torch.nn.functional.cross_entropy(self.layer(x), y)

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_loss", torch.nn.functional.cross_entropy(self.layer(x), y))

    def test_step(self, batch, batch_idx):
        x, y = batch
        self.log("test_loss", torch.nn.functional.cross_entropy(self.layer(x), y))

    def predict_step(self, batch, batch_idx):
        return self.layer(batch[0])

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def loader():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(12, 4, generator=g)
    y = torch.randint(0, 2, (12,), generator=g)
    return DataLoader(TensorDataset(x, y), batch_size=4)


def main():
    out = []
    for stage in ("fit", "validate", "test", "predict"):
        profiler = SimpleProfiler()
        trainer = pl.Trainer(max_epochs=2, profiler=profiler, logger=False,
                             enable_checkpointing=stage == "fit", enable_progress_bar=False,
                             enable_model_summary=False, accelerator="cpu", devices=1)
        model = Net()
        if stage == "fit":
            trainer.fit(model, loader(), loader())
        elif stage == "validate":
            trainer.validate(model, loader(), verbose=False)
        elif stage == "test":
            trainer.test(model, loader(), verbose=False)
        else:
            trainer.predict(model, loader())
        for action, durations in profiler.recorded_durations.items():
            out.append(f"{stage}\t{action}\t{len(durations)}")
    sys.stdout.write("\n".join(sorted(out)) + "\n")


if __name__ == "__main__":
    main()
