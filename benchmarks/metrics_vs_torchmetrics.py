"""metrics_vs_torchmetrics — update + compute per batch, torchmetrics against lightning.cpp.

Run with the interpreter of the pip leg's virtual environment (torch and
torchmetrics as pinned in scripts/pip-requirements.txt), after building the C++
child on that leg, so that both sides use the same libtorch:

    bash scripts/build.sh --torch=pip --target metrics_vs_torchmetrics
    $VENV/bin/python benchmarks/metrics_vs_torchmetrics.py \\
        --cpp build-pip/benchmarks/metrics_vs_torchmetrics [--rounds 5] [--batches 200]

Each measurement is one child process (this file with --child for
torchmetrics, the C++ program for lightning.cpp) that builds the same inputs
by formula, then times a loop of update(logits, target) followed by
compute() for every batch, on one intra-op thread. Each round runs the two
sides as a palindrome (py cpp cpp py) so that a drift within the round
cancels; the ratio printed is the median over rounds of torchmetrics' time
over lightning.cpp's (above 1: lightning.cpp is faster). The last computed
values must agree, or the driver exits with status 1.

Metrics: MulticlassAccuracy(10) (macro), MulticlassF1Score(10) (macro),
MulticlassAUROC(10) exact (thresholds=None: the states grow with every
batch, compute sorts all samples so far), and binned with thresholds=100.
"""

import argparse
import math
import statistics
import subprocess
import sys
import time

CLASSES = 10
METRICS = ["accuracy", "f1_macro", "auroc", "auroc_binned"]


def inputs(b, size):
    import torch

    n = torch.arange(b * size, (b + 1) * size, dtype=torch.long)
    c = torch.arange(CLASSES, dtype=torch.float64)
    logits = (3.0 * torch.sin(0.37 * n.to(torch.float64).unsqueeze(1) + 1.3 * c.unsqueeze(0))).to(
        torch.float32)
    target = (7 * n + 3 + torch.div(n, 5, rounding_mode="floor")).remainder(CLASSES)
    return logits, target


def child(name, batches, size):
    import torch
    from torchmetrics.classification import MulticlassAUROC, MulticlassAccuracy, MulticlassF1Score

    torch.set_num_threads(1)
    data = [inputs(b, size) for b in range(batches)]
    metric = {
        "accuracy": lambda: MulticlassAccuracy(num_classes=CLASSES),
        "f1_macro": lambda: MulticlassF1Score(num_classes=CLASSES),
        "auroc": lambda: MulticlassAUROC(num_classes=CLASSES),
        "auroc_binned": lambda: MulticlassAUROC(num_classes=CLASSES, thresholds=100),
    }[name]()
    value = None
    start = time.perf_counter()
    for logits, target in data:
        metric.update(logits, target)
        value = metric.compute()
    seconds = time.perf_counter() - start
    print(f"seconds {seconds:.9f}\nvalue {float(value):.9g}")


def run(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    fields = dict(line.split(" ", 1) for line in out.strip().splitlines())
    return float(fields["seconds"]), float(fields["value"])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--cpp", help="the C++ child (build-pip/benchmarks/metrics_vs_torchmetrics)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batches", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--metric", choices=METRICS + ["all"], default="all")
    parser.add_argument("--child", choices=METRICS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.batches, args.batch_size)
        return 0
    if not args.cpp:
        parser.error("--cpp is required")
    shape = [str(args.batches), str(args.batch_size)]
    py = lambda m: run([sys.executable, __file__, "--child", m, "--batches", shape[0],
                        "--batch-size", shape[1]])
    cpp = lambda m: run([args.cpp, m] + shape)
    print(f"{args.batches} batches of {args.batch_size} samples, {CLASSES} classes, "
          f"{args.rounds} rounds, 1 thread; update + compute per batch")
    print(f"{'metric':<14}{'torchmetrics us/batch':>24}{'lightning.cpp us/batch':>25}"
          f"{'torchmetrics / cpp':>20}")
    ok = True
    for m in (METRICS if args.metric == "all" else [args.metric]):
        ratios, py_times, cpp_times = [], [], []
        for _ in range(args.rounds):
            p1, pv = py(m)
            c1, cv = cpp(m)
            c2, _ = cpp(m)
            p2, _ = py(m)
            ratios.append((p1 + p2) / (c1 + c2))
            py_times += [p1, p2]
            cpp_times += [c1, c2]
            if not math.isclose(pv, cv, rel_tol=1e-5, abs_tol=1e-6):
                print(f"{m}: values differ: torchmetrics {pv!r}, lightning.cpp {cv!r}")
                ok = False
        per = lambda ts: statistics.median(ts) / args.batches * 1e6
        print(f"{m:<14}{per(py_times):>24.1f}{per(cpp_times):>25.1f}"
              f"{statistics.median(ratios):>20.2f}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
