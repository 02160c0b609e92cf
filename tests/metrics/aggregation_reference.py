"""Writes tests/metrics/aggregation_reference.txt: torchmetrics.aggregation's
results that tests/metrics/aggregation_test.cpp replays against the C++ metrics.

    $VENV/bin/python tests/metrics/aggregation_reference.py
"""

import os
import sys
import warnings

import torch
from torchmetrics import aggregation as agg

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference_writer import Writer  # noqa: E402

warnings.filterwarnings("ignore")
torch.manual_seed(15)


def _cloning(base):
    """torchmetrics writes the nan_strategy's replacement into the caller's
    tensor; the Writer records the inputs after the update, so each class
    here updates with copies (same class name in the file)."""

    def clone(args):
        return [a.clone() if isinstance(a, torch.Tensor) else a for a in args]

    def update(self, *args):
        return base.update(self, *clone(args))

    def forward(self, *args):
        return base.forward(self, *clone(args))

    return type(base.__name__, (base,), {"update": update, "forward": forward})


MeanMetric = _cloning(agg.MeanMetric)
SumMetric = _cloning(agg.SumMetric)
MaxMetric = _cloning(agg.MaxMetric)
MinMetric = _cloning(agg.MinMetric)
CatMetric = _cloning(agg.CatMetric)
RunningMean = _cloning(agg.RunningMean)
RunningSum = _cloning(agg.RunningSum)

NAN = float("nan")


def rand(*shape, dtype=torch.float32):
    return (torch.randn(*shape, dtype=torch.float64) * 100).round().div(100).to(dtype)


def t(values, dtype=torch.float32):
    return torch.tensor(values, dtype=dtype)


def run(w, cls, case_id, batches, forward=(), computes=(), **kwargs):
    w.case(case_id, cls, **kwargs)
    for i, batch in enumerate(batches):
        batch = batch if isinstance(batch, tuple) else (batch,)
        if i in forward:
            w.forward(*batch)
        else:
            w.update(*batch)
        if i in computes:
            w.compute()
    w.compute()


STRATEGIES = ("warn", "ignore", "disable", 0.0, 2.5)


def main():
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "aggregation_reference.txt")
    w = Writer(path, "torchmetrics.aggregation reference cases")

    plain_any = [rand(5), rand(2, 3), t(1.5), rand(1), rand(4, 1, 2)]
    with_nan_any = [t([1.0, NAN, 3.0]), t([[NAN, 2.0], [4.0, -1.0]]), t(NAN), t([0.5, 2.0])]
    all_nan = [t([NAN, NAN])]

    # CatMetric concatenates along dim 0: its values keep the same trailing shape.
    plain_cat = [rand(5), rand(3), t(1.5), rand(1), rand(2)]
    with_nan_cat = [t([1.0, NAN, 3.0]), t([NAN, 2.0, 4.0, -1.0]), t(NAN), t([0.5, 2.0])]
    run(w, CatMetric, "cat_2d", [rand(2, 3), rand(1, 3), rand(4, 3)], forward={1}, computes={0})

    for cls, name in ((SumMetric, "sum"), (MaxMetric, "max"), (MinMetric, "min"),
                      (CatMetric, "cat"), (MeanMetric, "mean")):
        plain = plain_cat if cls is CatMetric else plain_any
        with_nan = with_nan_cat if cls is CatMetric else with_nan_any
        run(w, cls, f"{name}_plain", plain, forward={1, 3}, computes={0, 2})
        run(w, cls, f"{name}_f64_int", [rand(3, dtype=torch.float64),
                                        t([1, 2, 7], torch.int64)], forward={1})
        run(w, cls, f"{name}_single", [t(0.25)], forward={0})
        for s in STRATEGIES:
            run(w, cls, f"{name}_nan_{s}", with_nan, forward={1}, computes={0}, nan_strategy=s)
            if cls is not CatMetric or s not in ("warn", "ignore"):  # [] (aggregation_test.cpp)
                run(w, cls, f"{name}_all_nan_{s}", all_nan, forward={0}, nan_strategy=s)
        run(w, cls, f"{name}_error_clean", plain[:2], forward={1}, nan_strategy="error")
        w.case(f"{name}_error", cls, nan_strategy="error")
        w.update(t([1.0, 2.0]))
        w.reject_update("NaN", t([1.0, NAN]))
        w.update(t([3.0]))
        w.compute()
        w.reject(cls, "nan_strategy", nan_strategy="sometimes")
        if cls is not CatMetric:  # CatMetric returns [] there (aggregation_test.cpp)
            w.case(f"{name}_no_update", cls)
            w.compute()

    # MeanMetric with weights (weights broadcast to the value).
    weighted = [(rand(4), t([1.0, 2.0, 0.5, 3.0])), (rand(2, 3), t(2.0)),
                (rand(2, 3), t([1.0, 0.0, 4.0])), (t(3.0), t(0.5))]
    run(w, MeanMetric, "mean_weighted", weighted, forward={1, 3}, computes={0})
    weighted_nan = [(t([1.0, NAN, 3.0, 4.0]), t([1.0, 2.0, NAN, 0.5])),
                    (t([2.0, 5.0]), t([NAN, 3.0])), (t([1.0, 2.0]), t([0.5, 1.5]))]
    for s in STRATEGIES:
        run(w, MeanMetric, f"mean_weighted_nan_{s}", weighted_nan, forward={1}, computes={0},
            nan_strategy=s)
    w.case("mean_weight_rejects", MeanMetric)
    w.reject_update("broadcast", t([1.0, 2.0]), t([1.0, 2.0, 3.0]))
    w.update(t([1.0, 2.0]), t([1.0, 3.0]))
    w.compute()

    # RunningMean / RunningSum.
    with_nan = with_nan_any
    stream = [rand(3), rand(2), t(1.0), rand(4), rand(1), rand(2, 2), rand(3)]
    for cls, name in ((RunningMean, "running_mean"), (RunningSum, "running_sum")):
        for window in (1, 3, 5, 10):
            run(w, cls, f"{name}_w{window}", stream, forward={0, 4}, computes={1, 2, 3, 4, 5},
                window=window)
        run(w, cls, f"{name}_default", stream, forward={2}, computes={5})
        for s in STRATEGIES:
            run(w, cls, f"{name}_nan_{s}", with_nan + all_nan + [rand(2)], forward={1},
                computes={0, 2, 3}, window=2, nan_strategy=s)
        w.reject(cls, "window", window=0)
        w.reject(cls, "window", window=-3)
        w.reject(cls, "nan_strategy", nan_strategy="drop")
        w.case(f"{name}_no_update", cls, window=3)
        w.compute()
    run(w, RunningMean, "running_mean_weighted",
        [(x, y) for x, y in weighted] + [(t([1.0, 2.0]), t([3.0, 1.0]))], forward={1},
        computes={0, 2, 3}, window=2)

    w.close()
    print(f"{path}: {w.cases} cases")


if __name__ == "__main__":
    main()
