"""Reference values for tests/weight_averaging/swa_test.cpp, from PyTorch's
torch.optim.swa_utils (the Python of the build leg: Debian's torch 1.13 or the
pinned torch 2.x).

  swa_reference.py swalr                    prints SWALR's learning rates: one line
                                            per setting, "<strategy> <anneal_epochs>"
                                            then each step's two rates (repr)
  swa_reference.py swa <input.pt> <out.pt>  trains the test's MLP with SGD +
                                            SWALR + AveragedModel as Lightning's
                                            StochasticWeightAveraging schedules
                                            them, and saves the final weights

The input (written by the C++ test with L::save_checkpoint_file) holds the
data x [N, 784], y [N], the initial weights and the run's settings; batches
are taken in order (no shuffling), so both sides see the same data.
"""
import sys

import torch
import torch.nn.functional as F
from torch import nn
from torch.optim.swa_utils import SWALR, AveragedModel


def swalr_table():
    for strategy in ("cos", "linear"):
        for anneal_epochs in (3, 0):
            w = [nn.Parameter(torch.zeros(1)), nn.Parameter(torch.zeros(1))]
            opt = torch.optim.SGD([{"params": [w[0]], "lr": 0.1}, {"params": [w[1]], "lr": 0.2}], lr=0.1)
            sched = SWALR(opt, swa_lr=[0.05, 0.01], anneal_epochs=anneal_epochs, anneal_strategy=strategy)
            lrs = [sched.get_last_lr()]
            for _ in range(5):
                opt.step()
                sched.step()
                lrs.append(sched.get_last_lr())
            print(strategy, anneal_epochs, " ".join(repr(float(v)) for step in lrs for v in step))


class Net(nn.Module):
    def __init__(self, hidden):
        super().__init__()
        self.model = nn.Sequential(
            nn.Linear(784, hidden), nn.ReLU(), nn.Linear(hidden, hidden // 2), nn.ReLU(),
            nn.Linear(hidden // 2, 10))

    def forward(self, x):
        return self.model(x)


def swa_run(inp, out):
    torch.set_num_threads(1)
    d = torch.load(inp)
    c = d["config"]
    x, y = d["x"], d["y"]
    net = Net(c["hidden"])
    net.load_state_dict(d["init"])
    opt = torch.optim.SGD(net.parameters(), lr=c["lr"], momentum=c["momentum"])
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=c["gamma"])
    # Lightning's StochasticWeightAveraging.avg_fn.
    swa_model = AveragedModel(net, avg_fn=lambda a, m, n: a + (m - a) / (n + 1))
    max_epochs = c["max_epochs"]
    swa_start = max(c["swa_epoch_start"] - 1, 0)
    swa_end = max_epochs - 1
    swa_sched = None
    lrs = []
    for epoch in range(max_epochs):
        # on_train_epoch_start: SWALR replaces the scheduler at swa_start, and
        # the weights are averaged in at the start of each epoch from then on.
        if epoch == swa_start:
            for group in opt.param_groups:
                group["initial_lr"] = c["swa_lr"]
            cos = c["annealing_strategy"] == "cos"
            swa_sched = SWALR(opt, swa_lr=c["swa_lr"], anneal_epochs=c["annealing_epochs"],
                              anneal_strategy=c["annealing_strategy"],
                              last_epoch=max_epochs if cos else -1)
        if swa_start <= epoch <= swa_end:
            swa_model.update_parameters(net)
        lrs.append(opt.param_groups[0]["lr"])
        for i in range(0, x.shape[0], c["batch_size"]):
            opt.zero_grad()
            loss = F.cross_entropy(net(x[i:i + c["batch_size"]]), y[i:i + c["batch_size"]])
            loss.backward()
            opt.step()
        (swa_sched if swa_sched is not None else sched).step()
    # on_train_end: the averaged weights into the module.
    with torch.no_grad():
        for p_swa, p in zip(swa_model.module.parameters(), net.parameters()):
            p.copy_(p_swa)
    torch.save({"state_dict": dict(net.state_dict()), "lrs": lrs,
                "n_averaged": int(swa_model.n_averaged)}, out)


if __name__ == "__main__":
    if sys.argv[1] == "swalr":
        swalr_table()
    else:
        swa_run(sys.argv[2], sys.argv[3])
