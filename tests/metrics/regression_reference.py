"""Writes tests/metrics/regression_reference.txt: torchmetrics.regression's
results that tests/metrics/regression_test.cpp replays against the C++ metrics.

    $VENV/bin/python tests/metrics/regression_reference.py
"""

import os
import sys
import warnings

import torch
from torchmetrics.regression import (
    CosineSimilarity,
    ExplainedVariance,
    KLDivergence,
    MeanAbsoluteError,
    MeanAbsolutePercentageError,
    MeanSquaredError,
    PearsonCorrCoef,
    R2Score,
    SpearmanCorrCoef,
    SymmetricMeanAbsolutePercentageError,
)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference_writer import Writer  # noqa: E402

warnings.filterwarnings("ignore")
torch.manual_seed(15)


def rand(*shape, dtype=torch.float32):
    """Small values with few digits (short lines in the file)."""
    return (torch.randn(*shape, dtype=torch.float64) * 100).round().div(100).to(dtype)


def noisy(x, scale=0.5):
    return (x + scale * rand(*x.shape, dtype=x.dtype)).to(x.dtype)


def t(values, dtype=torch.float32):
    return torch.tensor(values, dtype=dtype)


def pairs(shape, n, dtype=torch.float32, scale=0.5):
    out = []
    for _ in range(n):
        target = rand(*shape, dtype=dtype)
        out.append((noisy(target, scale), target))
    return out


def run(w, cls, case_id, batches, forward=(), computes=(), **kwargs):
    """update with each batch (forward for indices in `forward`), compute at the
    end and after the indices in `computes`."""
    w.case(case_id, cls, **kwargs)
    for i, (p, q) in enumerate(batches):
        if i in forward:
            w.forward(p, q)
        else:
            w.update(p, q)
        if i in computes:
            w.compute()
    w.compute()


def main():
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "regression_reference.txt")
    w = Writer(path, "torchmetrics.regression reference cases")

    # ---- MeanSquaredError / MeanAbsoluteError ---------------------------------
    for cls, name in ((MeanSquaredError, "mse"), (MeanAbsoluteError, "mae")):
        extra = [dict(squared=True), dict(squared=False)] if cls is MeanSquaredError else [{}]
        for k, kw in enumerate(extra):
            run(w, cls, f"{name}_1d_{k}", pairs((6,), 3), forward={1}, computes={0}, **kw)
            run(w, cls, f"{name}_2d_flat_{k}", pairs((4, 3), 2), forward={0}, **kw)
            run(w, cls, f"{name}_2d_outputs_{k}", pairs((5, 3), 3), forward={0, 2},
                num_outputs=3, **kw)
            run(w, cls, f"{name}_single_{k}", pairs((1,), 1), forward={0}, **kw)
            run(w, cls, f"{name}_f64_{k}", pairs((7,), 2, dtype=torch.float64), **kw)
            run(w, cls, f"{name}_1d_broadcast_{k}", pairs((4,), 2), num_outputs=2, **kw)
        w.case(f"{name}_rejects", cls, num_outputs=2)
        w.reject_update("same shape", rand(4, 2), rand(4, 3))
        w.reject_update("num_outputs", rand(4, 3), rand(4, 3))
        w.update(rand(3, 2), rand(3, 2))
        w.compute()
        w.reject(cls, "num_outputs", num_outputs=0)
        w.reject(cls, "num_outputs", num_outputs=-2)
    w.case("mse_empty_compute", MeanSquaredError)
    w.compute()

    # ---- MeanAbsolutePercentageError / SymmetricMeanAbsolutePercentageError ---
    for cls, name in ((MeanAbsolutePercentageError, "mape"),
                      (SymmetricMeanAbsolutePercentageError, "smape")):
        run(w, cls, f"{name}_1d", pairs((6,), 3), forward={1}, computes={0})
        run(w, cls, f"{name}_2d", pairs((3, 4), 2), forward={0})
        run(w, cls, f"{name}_zero_target", [(t([1.0, 0.5, -2.0, 0.0]), t([0.0, 0.5, -1.0, 0.0])),
                                             (t([3.0]), t([2.0]))], forward={1})
        run(w, cls, f"{name}_f64", pairs((5,), 2, dtype=torch.float64))
        w.case(f"{name}_rejects", cls)
        w.reject_update("same shape", rand(4), rand(5))
        w.update(rand(3), rand(3))
        w.compute()

    # ---- R2Score ---------------------------------------------------------------
    for mo in ("uniform_average", "raw_values", "variance_weighted"):
        run(w, R2Score, f"r2_2d_{mo}", pairs((6, 3), 3, scale=0.8), forward={1}, computes={0},
            multioutput=mo)
        run(w, R2Score, f"r2_1d_{mo}", pairs((5,), 2), forward={0}, multioutput=mo)
        run(w, R2Score, f"r2_const_{mo}", [
            (t([[1.0, 2.0], [1.5, 2.0], [2.0, 2.0]]), t([[1.0, 2.0], [1.5, 2.0], [2.0, 2.0]])),
            (t([[0.5, 2.0], [1.0, 2.0]]), t([[1.0, 2.0], [1.0, 2.0]])),
        ], forward={0}, computes={0}, multioutput=mo)
        run(w, R2Score, f"r2_const_wrong_{mo}", [
            (t([[1.0, 2.5], [1.5, 1.0]]), t([[1.0, 2.0], [3.0, 2.0]])),
        ], multioutput=mo)
    for adjusted in (1, 2, 5, 9, 12):
        run(w, R2Score, f"r2_adjusted_{adjusted}", pairs((5,), 2, scale=0.8), adjusted=adjusted)
    run(w, R2Score, "r2_adjusted_2d", pairs((8, 2), 2, scale=0.8), adjusted=3,
        multioutput="variance_weighted")
    run(w, R2Score, "r2_single_updates", pairs((1,), 4), computes={1, 2})
    run(w, R2Score, "r2_f64", pairs((6,), 2, dtype=torch.float64))
    w.case("r2_rejects", R2Score)
    w.reject_update("same shape", rand(4), rand(4, 1))
    w.reject_update("1-D or 2-D", rand(2, 2, 2), rand(2, 2, 2))
    w.update(rand(3), rand(3))
    w.compute()
    w.reject(R2Score, "multioutput", multioutput="mean")
    w.reject(R2Score, "adjusted", adjusted=-1)

    # ---- PearsonCorrCoef -------------------------------------------------------
    run(w, PearsonCorrCoef, "pearson_1d", pairs((6,), 3, scale=1.0), forward={1}, computes={0})
    run(w, PearsonCorrCoef, "pearson_single_sample_batches", pairs((1,), 5, scale=1.0),
        forward={3}, computes={0, 1, 2})
    run(w, PearsonCorrCoef, "pearson_mixed_batches",
        pairs((4,), 1, scale=1.0) + pairs((1,), 1, scale=1.0) + pairs((7,), 2, scale=1.0),
        forward={1, 3})
    run(w, PearsonCorrCoef, "pearson_2d", pairs((5, 3), 3, scale=1.0), forward={0, 2},
        computes={1}, num_outputs=3)
    run(w, PearsonCorrCoef, "pearson_2d_one_column", pairs((5, 1), 2, scale=1.0), forward={0})
    run(w, PearsonCorrCoef, "pearson_const_target", [
        (t([1.0, 2.0, 3.0]), t([2.0, 2.0, 2.0])), (t([0.5, 4.0]), t([2.0, 2.0]))], forward={0})
    run(w, PearsonCorrCoef, "pearson_const_column", [
        (t([[1.0, 2.0], [3.0, 1.0], [2.0, 5.0]]), t([[1.5, 1.0], [2.5, 1.0], [2.0, 1.0]]))],
        num_outputs=2)
    run(w, PearsonCorrCoef, "pearson_perfect", [
        (t([1.0, 2.0, 3.0, 4.0]), t([2.0, 4.0, 6.0, 8.0])),
        (t([5.0, 6.0]), t([10.0, 12.0]))], computes={0})
    run(w, PearsonCorrCoef, "pearson_anti", [(t([1.0, 2.0, 3.0]), t([3.0, 2.0, 1.0]))])
    run(w, PearsonCorrCoef, "pearson_f64", pairs((6,), 2, dtype=torch.float64, scale=1.0),
        forward={1})
    run(w, PearsonCorrCoef, "pearson_offset", [(noisy(x + 100.0), x + 100.0)
                                              for x in (rand(8), rand(8))])
    w.case("pearson_empty", PearsonCorrCoef)
    w.compute()
    w.case("pearson_rejects", PearsonCorrCoef, num_outputs=2)
    w.reject_update("same shape", rand(4, 2), rand(4, 1))
    w.reject_update("num_outputs", rand(4, 3), rand(4, 3))
    w.reject_update("1-D or 2-D", rand(2, 2, 2), rand(2, 2, 2))
    w.reject_update("floating point", t([[1, 2], [3, 4]], torch.int64),
                    t([[1, 2], [3, 5]], torch.int64))
    w.update(rand(4, 2), rand(4, 2))
    w.compute()
    w.case("pearson_rejects_1", PearsonCorrCoef)
    w.reject_update("num_outputs", rand(4, 2), rand(4, 2))

    # ---- SpearmanCorrCoef ------------------------------------------------------
    run(w, SpearmanCorrCoef, "spearman_1d", pairs((6,), 3, scale=1.0), forward={1},
        computes={0})
    run(w, SpearmanCorrCoef, "spearman_ties", [
        (t([1.0, 2.0, 2.0, 3.0, 1.0]), t([0.5, 0.5, 0.5, 2.0, 1.0])),
        (t([2.0, 2.0, 4.0]), t([1.0, 3.0, 3.0]))], forward={0})
    run(w, SpearmanCorrCoef, "spearman_2d", pairs((5, 2), 2, scale=1.0), forward={0},
        num_outputs=2)
    run(w, SpearmanCorrCoef, "spearman_2d_one_column", pairs((5, 1), 2, scale=1.0))
    run(w, SpearmanCorrCoef, "spearman_const", [(t([1.0, 2.0, 3.0]), t([2.0, 2.0, 2.0]))])
    run(w, SpearmanCorrCoef, "spearman_single", [(t([1.0]), t([2.0]))])
    run(w, SpearmanCorrCoef, "spearman_f64", pairs((6,), 2, dtype=torch.float64, scale=1.0))
    w.case("spearman_rejects", SpearmanCorrCoef)
    w.reject_update("floating point", t([1, 2, 3], torch.int64), t([1, 2, 3], torch.int64))
    w.reject_update("same shape", rand(3), rand(4))
    w.reject_update("num_outputs", rand(3, 2), rand(3, 2))
    w.reject_update("1-D or 2-D", rand(2, 2, 1), rand(2, 2, 1))
    w.update(rand(4), rand(4))
    w.compute()

    # ---- ExplainedVariance -----------------------------------------------------
    for mo in ("uniform_average", "raw_values", "variance_weighted"):
        run(w, ExplainedVariance, f"ev_2d_{mo}", pairs((6, 3), 3, scale=0.8), forward={1},
            computes={0}, multioutput=mo)
        run(w, ExplainedVariance, f"ev_1d_{mo}", pairs((5,), 2), forward={0}, multioutput=mo)
        run(w, ExplainedVariance, f"ev_const_{mo}", [
            (t([[1.0, 2.0, 0.5], [1.5, 2.0, 0.5], [2.0, 2.0, 0.5]]),
             t([[1.5, 2.0, 1.0], [2.0, 2.0, 1.0], [2.5, 2.0, 2.0]]))], multioutput=mo)
    run(w, ExplainedVariance, "ev_single", [(t([1.0]), t([3.0]))], forward={0})
    run(w, ExplainedVariance, "ev_f64", pairs((6,), 2, dtype=torch.float64))
    w.case("ev_rejects", ExplainedVariance)
    w.reject_update("same shape", rand(3), rand(3, 1))
    w.update(rand(4), rand(4))
    w.compute()
    w.reject(ExplainedVariance, "multioutput", multioutput="sum")

    # ---- CosineSimilarity ------------------------------------------------------
    for red in ("sum", "mean", "none", None):
        run(w, CosineSimilarity, f"cosine_{red}", pairs((3, 4), 3, scale=1.0), forward={1},
            computes={0}, reduction=red)
    run(w, CosineSimilarity, "cosine_opposite", [(t([[1.0, 0.0], [1.0, 1.0]]),
                                                  t([[-2.0, 0.0], [3.0, 3.0]]))],
        reduction="none")
    run(w, CosineSimilarity, "cosine_f64", pairs((2, 3), 2, dtype=torch.float64, scale=1.0),
        reduction="mean")
    w.case("cosine_rejects", CosineSimilarity)
    w.reject_update("2-D", rand(4), rand(4))
    w.reject_update("same shape", rand(2, 3), rand(2, 4))
    w.update(rand(2, 3), rand(2, 3))
    w.compute()
    w.reject(CosineSimilarity, "reduction", reduction="max")

    # ---- KLDivergence ----------------------------------------------------------
    def dists(n, d, log_prob):
        out = []
        for _ in range(n):
            p = torch.rand(3, d).add(0.05).mul(100).round().div(100)
            q = torch.rand(3, d).add(0.05).mul(100).round().div(100)
            if log_prob:
                p = p.div(p.sum(-1, keepdim=True)).log()
                q = q.div(q.sum(-1, keepdim=True)).log()
            out.append((p, q))
        return out

    for log_prob in (False, True):
        for red in ("mean", "sum", "none", None):
            run(w, KLDivergence, f"kl_{log_prob}_{red}", dists(3, 4, log_prob), forward={1},
                computes={0}, log_prob=log_prob, reduction=red)
    run(w, KLDivergence, "kl_zeros_in_p", [(t([[0.0, 0.5, 0.5], [0.2, 0.0, 0.8]]),
                                            t([[0.3, 0.3, 0.4], [0.1, 0.6, 0.3]]))],
        reduction="none")
    run(w, KLDivergence, "kl_unnormalized", [(t([[1.0, 2.0, 3.0]]), t([[2.0, 2.0, 2.0]]))],
        reduction="sum")
    w.case("kl_rejects", KLDivergence)
    w.reject_update("2-D", rand(4), rand(4))
    w.reject_update("same shape", rand(2, 3), rand(2, 4))
    w.update(*dists(1, 3, False)[0])
    w.compute()
    w.reject(KLDivergence, "reduction", reduction="max")

    w.close()
    print(f"{path}: {w.cases} cases")


if __name__ == "__main__":
    main()
