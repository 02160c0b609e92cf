"""vs_python_lightning — the same training in Python PyTorch Lightning and in lightning.cpp.

Run with the interpreter of the pip leg's virtual environment (torch and
pytorch-lightning as pinned in scripts/pip-requirements.txt), after building
the C++ child on that leg (so both sides use the same libtorch):

    bash scripts/build.sh --torch=pip --target vs_python_lightning
    $VENV/bin/python benchmarks/vs_python_lightning.py \
        --cpp build-pip/benchmarks/vs_python_lightning [--rounds 3] \
        [--model all|tiny|medium|cnn] [--samples 6400] [--data-dir DIR] \
        [--no-warm-up] [--verbose]

($VENV is the last line that scripts/setup_pip.sh prints.)

Every measurement is one child process that trains one model for one epoch
over the first N (--samples, default 6400) Fashion-MNIST training images and
exits: this file run with --child (Python, PyTorch Lightning) or the C++
child benchmarks/vs_python_lightning.cpp. Both sides:
  - read the whole gzip IDX training split, keep the first N images as
    float32 in [0, 1] (flattened to 784 for the MLPs), in order: a DataLoader
    with shuffle off, num_workers 0 (PyTorch's DataLoader over a TensorDataset
    on the Python side, L::DataLoader over an L::TensorDataset on the C++ side:
    what a user of each writes);
  - set 1 intra-op thread (torch.set_num_threads(1) / at::set_num_threads(1));
  - start from the same weights, set by a formula (init_parameters);
  - train with Adam lr 1e-3 and cross_entropy; training_step calls
    self.log("train_loss", loss) every step;
  - use a Trainer on the CPU with max_epochs=1 and the progress bar, model
    summary, logger, checkpointing, sanity check and validation off.
Models: tiny MLP 784-32-10 (batch 32), medium MLP 784-256-128-10 (batch 64),
cnn conv(1->8, 3x3) relu maxpool2 conv(8->16, 3x3) relu maxpool2 linear(400->10)
(batch 64).

Measured per child process:
  start   start-to-first-step: from the driver's time.time() just before it
          spawns the child to the child's CLOCK_REALTIME when training_step is
          first entered (process start, imports / library loading, reading the
          data, building the model and the Trainer, fit's setup);
  step    per-step time: (end of fit - first training_step entry) / (steps - 1);
  rss     the child's peak resident set size (ru_maxrss from os.wait4).
A third side, "hand", is the C++ child with --loop hand: the same module
trained by a hand-written libtorch loop over slices of the data (no Trainer,
no DataLoader, no logging). The driver prints the Trainer's per-step ratio
over it, and the differences in start-to-first-step and peak RSS.
The variants alternate in each round as a palindrome (py cpp hand hand cpp py), after one
unmeasured warm-up run of each before the first model; a round's ratio is the sum of Python's two
times over the sum of C++'s two, so that a linear drift within a round cancels,
and the figures printed are medians over rounds. Timings on shared machines
drift by tens of percent over minutes, so compare ratios, not absolute times.

The two sides must do the same work: the same number of steps and the same
final training loss (to 1e-4) and sum of the final weights (to 1e-3 relative).
The driver prints that check per model and exits with 1 when it fails.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

MODELS = {
    # name: (description, batch size)
    "tiny": ("MLP 784-32-10, batch 32", 32),
    "medium": ("MLP 784-256-128-10, batch 64", 64),
    "cnn": ("CNN conv8-conv16-linear, batch 64", 64),
}
DEFAULT_DATA_DIR = "/usr/share/datasets/fashion-mnist"
DATA_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz")
LOSS_TOLERANCE = 1e-4
# The two Adams (torch.optim.Adam, torch::optim::Adam) round differently, and
# over 200 steps the tiny MLP's weights drift apart by ~1e-4 of their sum
# (its loss by ~5e-5); the other models agree to ~1e-6.
WEIGHT_SUM_TOLERANCE = 1e-3  # relative to max(1, |sum|)


# ----------------------------------------------------------------- the child


def child(model_name, samples, data_dir):
    main_time = time.time()
    import gzip
    import math

    import numpy as np
    import pytorch_lightning as pl
    import torch
    import torch.nn.functional as F
    from torch import nn
    from torch.utils.data import DataLoader, TensorDataset

    torch.set_num_threads(1)

    def read_idx(name, header):
        with gzip.open(os.path.join(data_dir, name), "rb") as f:
            raw = f.read()
        return np.frombuffer(raw, dtype=np.uint8, offset=header)

    # The whole split, as the C++ child reads it, then the first N.
    images = read_idx(DATA_FILES[0], 16).reshape(-1, 1, 28, 28)
    labels = read_idx(DATA_FILES[1], 8)
    n = min(samples, images.shape[0])
    x = torch.from_numpy(images[:n].copy()).to(torch.float32).div_(255.0)
    if model_name != "cnn":
        x = x.reshape(n, 784)
    y = torch.from_numpy(labels[:n].copy()).to(torch.int64)

    def init_parameters(params):
        # Parameter k of the module, in registration order: bound * sin(0.7071 i + 0.37 k),
        # in float64 rounded to float32; bound = 1/sqrt(fan_in) (a bias: its weight's).
        fan_in = 1.0
        with torch.no_grad():
            for k, p in enumerate(params):
                if p.dim() >= 2:
                    fan_in = float(p.numel() // p.shape[0])
                i = torch.arange(p.numel(), dtype=torch.float64)
                values = (i * 0.7071 + 0.37 * k).sin() * (1.0 / math.sqrt(fan_in))
                p.copy_(values.to(torch.float32).reshape(p.shape))

    class Model(pl.LightningModule):
        def __init__(self):
            super().__init__()
            self.cnn = model_name == "cnn"
            if model_name == "tiny":
                self.fc0 = nn.Linear(784, 32)
                self.fc1 = nn.Linear(32, 10)
                self.linears = [self.fc0, self.fc1]
            elif model_name == "medium":
                self.fc0 = nn.Linear(784, 256)
                self.fc1 = nn.Linear(256, 128)
                self.fc2 = nn.Linear(128, 10)
                self.linears = [self.fc0, self.fc1, self.fc2]
            else:
                self.conv1 = nn.Conv2d(1, 8, 3)
                self.conv2 = nn.Conv2d(8, 16, 3)
                self.fc = nn.Linear(16 * 5 * 5, 10)
            init_parameters(list(self.parameters()))
            self.steps = 0
            self.first_step = 0.0
            self.last_loss = None

        def forward(self, x):
            if self.cnn:
                x = F.max_pool2d(F.relu(self.conv1(x)), 2)
                x = F.max_pool2d(F.relu(self.conv2(x)), 2)
                return self.fc(x.flatten(1))
            for i, layer in enumerate(self.linears):
                x = layer(x)
                if i + 1 < len(self.linears):
                    x = F.relu(x)
            return x

        def training_step(self, batch, batch_idx):
            if self.steps == 0:
                self.first_step = time.time()
            self.steps += 1
            x, y = batch
            loss = F.cross_entropy(self(x), y)
            self.log("train_loss", loss)
            self.last_loss = loss.detach()
            return loss

        def configure_optimizers(self):
            return torch.optim.Adam(self.parameters(), lr=1e-3)

    model = Model()
    loader = DataLoader(
        TensorDataset(x, y), batch_size=MODELS[model_name][1], shuffle=False, num_workers=0
    )
    trainer = pl.Trainer(
        accelerator="cpu",
        devices=1,
        max_epochs=1,
        enable_progress_bar=False,
        enable_model_summary=False,
        logger=False,
        enable_checkpointing=False,
        num_sanity_val_steps=0,
    )
    trainer.fit(model, loader)
    fit_end = time.time()

    weight_sum = sum(p.detach().sum(dtype=torch.float64).item() for p in model.parameters())
    print(
        json.dumps(
            {
                "side": "py",
                "model": model_name,
                "samples": n,
                "main": main_time,
                "first_step": model.first_step,
                "fit_end": fit_end,
                "steps": model.steps,
                "loss": model.last_loss.item(),
                "weight_sum": weight_sum,
                "threads": torch.get_num_threads(),
                "torch": torch.__version__,
                "lightning": pl.__version__,
            }
        ),
        flush=True,
    )


# ---------------------------------------------------------------- the driver


class ChildFailed(Exception):
    pass


def run_child(cmd):
    """Runs one child; returns its JSON plus the driver-side figures."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        spawn = time.time()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
        exited = time.time()
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode(errors="replace")
        stderr = err.read().decode(errors="replace")
    result = None
    for line in stdout.splitlines():
        if line.startswith("{"):
            try:
                result = json.loads(line)
            except ValueError:
                pass
    if proc.returncode != 0 or result is None:
        tail = "\n".join((stdout + stderr).strip().splitlines()[-15:])
        raise ChildFailed(f"{' '.join(cmd)} exited with {proc.returncode}:\n{tail}")
    if result["steps"] < 2:
        raise ChildFailed(f"{' '.join(cmd)}: {result['steps']} steps; need at least 2 (--samples)")
    result["start_s"] = result["first_step"] - spawn
    result["to_main_s"] = result["main"] - spawn
    result["step_s"] = (result["fit_end"] - result["first_step"]) / (result["steps"] - 1)
    result["total_s"] = exited - spawn
    result["rss_mib"] = usage.ru_maxrss / 1024.0  # KiB on Linux
    return result


def same_work(a, b):
    return (
        a["steps"] == b["steps"]
        and abs(a["loss"] - b["loss"]) <= LOSS_TOLERANCE
        and abs(a["weight_sum"] - b["weight_sum"])
        <= WEIGHT_SUM_TOLERANCE * max(1.0, abs(b["weight_sum"]))
    )


def bench_model(name, args, warm_up):
    commands = {
        "py": [sys.executable, os.path.abspath(__file__), "--child", name,
               "--samples", str(args.samples), "--data-dir", args.data_dir],
        "cpp": [args.cpp, "--model", name, "--samples", str(args.samples),
                "--data-dir", args.data_dir],
        "hand": [args.cpp, "--model", name, "--samples", str(args.samples),
                 "--data-dir", args.data_dir, "--loop", "hand"],
    }
    runs = {"py": [], "cpp": [], "hand": []}
    if warm_up:
        # One unmeasured run each (page cache, byte compilation of first imports).
        for side in ("py", "cpp", "hand"):
            run_child(commands[side])
    ratios = {"step": [], "start": [], "total": [], "hand_step": [], "hand_start": []}
    for r in range(args.rounds):
        this_round = {"py": [], "cpp": [], "hand": []}
        for side in ("py", "cpp", "hand", "hand", "cpp", "py"):
            res = run_child(commands[side])
            this_round[side].append(res)
            runs[side].append(res)
            if args.verbose:
                print(f"  round {r + 1} {side:3}: start {res['start_s'] * 1e3:7.1f} ms (main at "
                      f"{res['to_main_s'] * 1e3:6.1f}), step {res['step_s'] * 1e3:7.3f} ms, "
                      f"total {res['total_s']:6.2f} s, rss {res['rss_mib']:6.1f} MiB, "
                      f"loss {res['loss']:.7f}", flush=True)
        for key, field in (("step", "step_s"), ("start", "start_s"), ("total", "total_s")):
            py = sum(x[field] for x in this_round["py"])
            cpp = sum(x[field] for x in this_round["cpp"])
            ratios[key].append(py / cpp)
        for key, field in (("hand_step", "step_s"), ("hand_start", "start_s")):
            cpp = sum(x[field] for x in this_round["cpp"])
            hand = sum(x[field] for x in this_round["hand"])
            ratios[key].append(cpp - hand if key == "hand_start" else cpp / hand)

    all_runs = runs["py"] + runs["cpp"] + runs["hand"]
    ref, py_ref = runs["cpp"][0], runs["py"][0]
    ok = all(same_work(x, ref) for x in all_runs)
    max_dloss = max(abs(x["loss"] - ref["loss"]) for x in all_runs)
    max_dsum = max(abs(x["weight_sum"] - ref["weight_sum"]) for x in all_runs)

    def med(side, field):
        return statistics.median(x[field] for x in runs[side])

    def line(label, field, scale, unit, width, key=None):
        py, cpp = med("py", field) * scale, med("cpp", field) * scale
        text = f"  {label:14} py {py:{width}} {unit:3} cpp {cpp:{width}} {unit:3} py/cpp "
        if key is None:  # one ratio of the medians
            return text + f"{py / cpp:.2f}"
        v = ratios[key]
        return text + f"median {statistics.median(v):.2f} (min {min(v):.2f}, max {max(v):.2f})"

    desc, _ = MODELS[name]
    print(f"{name} ({desc}; {ref['samples']} samples, {ref['steps']} steps), "
          f"{args.rounds} rounds:")
    print(f"  same work: loss py {py_ref['loss']:.7f} cpp {ref['loss']:.7f}, weight sum py "
          f"{py_ref['weight_sum']:.6f} cpp {ref['weight_sum']:.6f}; over all {len(all_runs)} "
          f"runs max |d loss| {max_dloss:.2e}, max |d weight sum| {max_dsum:.2e}: "
          f"{'OK' if ok else 'FAILED'}")
    print(line("per step:", "step_s", 1e3, "ms", "8.3f", "step"))
    print(line("start->step 1:", "start_s", 1e3, "ms", "8.1f", "start"))
    print(line("whole process:", "total_s", 1e3, "ms", "8.1f", "total"))
    print(line("peak RSS:", "rss_mib", 1, "MiB", "8.1f"), flush=True)
    hs, hst = ratios["hand_step"], ratios["hand_start"]
    print(f"  vs the C++ hand loop: per step cpp/hand median {statistics.median(hs):.3f} "
          f"(min {min(hs):.3f}, max {max(hs):.3f}); start->step 1 cpp - hand median "
          f"{statistics.median(hst) / 2 * 1e3:+.1f} ms; peak RSS cpp - hand "
          f"{med('cpp', 'rss_mib') - med('hand', 'rss_mib'):+.1f} MiB", flush=True)
    return ok, py_ref, ref


def main(argv):
    parser = argparse.ArgumentParser(
        description="Python PyTorch Lightning vs lightning.cpp, the same training "
                    "(see this file's docstring).")
    parser.add_argument("--cpp", default=None,
                        help="the C++ child (default: build-pip/benchmarks/vs_python_lightning "
                             "of this checkout)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="rounds of py cpp hand hand cpp py (default 3)")
    parser.add_argument("--model", default="all", choices=["all", *MODELS],
                        help="which model (default all)")
    parser.add_argument("--samples", type=int, default=6400,
                        help="first N training images, one epoch (default 6400)")
    parser.add_argument("--data-dir", default=DEFAULT_DATA_DIR,
                        help=f"Fashion-MNIST gzip IDX files (default {DEFAULT_DATA_DIR})")
    parser.add_argument("--no-warm-up", action="store_true",
                        help="skip the unmeasured first run of each side")
    parser.add_argument("--verbose", action="store_true", help="print every run")
    parser.add_argument("--child", choices=list(MODELS), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        child(args.child, args.samples, args.data_dir)
        return 0

    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    if args.samples < 2:
        parser.error("--samples must be at least 2 (per-step time needs two steps)")
    if args.cpp is None:
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        args.cpp = os.path.join(root, "build-pip", "benchmarks", "vs_python_lightning")
    if not (os.path.isfile(args.cpp) and os.access(args.cpp, os.X_OK)):
        parser.exit(2, f"{parser.prog}: error: the C++ child {args.cpp} is missing or not "
                       "executable; build it with: bash scripts/build.sh --torch=pip "
                       "--target vs_python_lightning\n")
    args.cpp = os.path.abspath(args.cpp)
    missing = [f for f in DATA_FILES if not os.path.isfile(os.path.join(args.data_dir, f))]
    if missing:
        parser.exit(2, f"{parser.prog}: error: {', '.join(missing)} not found in "
                       f"{args.data_dir} (Debian: apt-get install dataset-fashion-mnist, "
                       "or pass --data-dir)\n")

    models = list(MODELS) if args.model == "all" else [args.model]
    print(f"vs_python_lightning: Python PyTorch Lightning ({sys.executable}) vs lightning.cpp "
          f"({args.cpp}); Fashion-MNIST train[0:{args.samples}] from {args.data_dir}, 1 epoch, "
          "Adam lr 1e-3, 1 intra-op thread, shuffle off, no validation/logger/checkpoint")
    print(f"{args.rounds} rounds of py cpp hand hand cpp py per model (hand: the C++ child's "
          "hand-written loop), after one warm-up run each; "
          "ratios are py/cpp per round (sum of two runs each), median (min, max) over "
          "rounds; per step = (fit end - first training_step) / (steps - 1); start = spawn "
          "-> first training_step; peak RSS: median ru_maxrss", flush=True)
    all_ok = True
    try:
        for i, name in enumerate(models):
            ok, py, cpp = bench_model(name, args, warm_up=i == 0 and not args.no_warm_up)
            if i == 0:
                print(f"  (torch {py['torch']}, pytorch-lightning {py['lightning']}; the C++ "
                      f"child's libtorch {cpp['torch']}; threads py {py['threads']} cpp "
                      f"{cpp['threads']})", flush=True)
            all_ok = all_ok and ok
    except ChildFailed as e:
        print(f"{parser.prog}: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    print(f"same work on both sides: {'OK' if all_ok else 'FAILED'}")
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
