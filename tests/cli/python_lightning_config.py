# The Python side of tests/cli/python_lightning_config.yaml: the test's TinyModel
# and TinyData with the same arguments, under Python's LightningCLI in subclass
# mode (needs pytorch_lightning and jsonargparse[signatures]); the command that
# printed the config is in that file's header.
import torch
import pytorch_lightning as L
from pytorch_lightning.cli import LightningCLI

class TinyModel(L.LightningModule):
    def __init__(self, learning_rate: float = 0.05, hidden: int = 4, name: str = "tiny",
                 use_bias: bool = True, widths: list = [1, 2], extra: dict = {}):
        super().__init__()
        self.save_hyperparameters()
        self.l1 = torch.nn.Linear(4, hidden)
    def training_step(self, batch, i):
        return self.l1(batch[0]).sum()
    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.hparams.learning_rate)

class TinyData(L.LightningDataModule):
    def __init__(self, batch_size: int = 8, num_samples: int = 32):
        super().__init__()

if __name__ == "__main__":
    LightningCLI(TinyModel, TinyData, subclass_mode_model=True, subclass_mode_data=True)
