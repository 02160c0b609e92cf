# Writes model_summary_reference.txt: Python Lightning's ModelSummary of a
# nested model (an inner block in eval mode, a frozen bias, a parameter on the
# root) at max_depth 0, 1, 2 and -1. model_summary_reference_test.cpp builds
# the same model in C++ and compares ModelSummary::summarize's text with it.
#
#   <venv>/bin/python tests/model_summary_reference.py > tests/model_summary_reference.txt
# (produced with pytorch_lightning 2.6.6, torch 2.15)
import torch
import pytorch_lightning as pl
from pytorch_lightning.utilities.model_summary import ModelSummary


class Nested(pl.LightningModule):
    def __init__(self):
        super().__init__()
        self.encoder = torch.nn.Sequential(
            torch.nn.Linear(32, 64),
            torch.nn.ReLU(),
            torch.nn.Sequential(torch.nn.Linear(64, 64), torch.nn.Tanh()),
        )
        self.head = torch.nn.Linear(64, 10)
        self.scale = torch.nn.Parameter(torch.ones(5))
        self.encoder[2].eval()
        self.head.bias.requires_grad_(False)


for depth in (0, 1, 2, -1):
    print(f"=== max_depth={depth}")
    print(ModelSummary(Nested(), max_depth=depth))
