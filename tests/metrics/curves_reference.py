"""Reference values of the curve metrics (ROC, PrecisionRecallCurve, AUROC,
AveragePrecision; binary, multiclass, multilabel) from torchmetrics, for
tests/metrics/curves_test.cpp. Run from the repository root:

    $VENV/bin/python tests/metrics/curves_reference.py
"""

import os
import sys
import warnings

import torch
import torchmetrics
from torchmetrics.classification import (
    BinaryAUROC,
    BinaryAveragePrecision,
    BinaryPrecisionRecallCurve,
    BinaryROC,
    MulticlassAUROC,
    MulticlassAveragePrecision,
    MulticlassPrecisionRecallCurve,
    MulticlassROC,
    MultilabelAUROC,
    MultilabelAveragePrecision,
    MultilabelPrecisionRecallCurve,
    MultilabelROC,
)
from torchmetrics.functional.classification import multiclass_precision_recall_curve, multiclass_roc

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference_writer import Writer  # noqa: E402

warnings.filterwarnings("ignore")
torch.manual_seed(15)

OUT = "tests/metrics/curves_reference.txt"
w = Writer(OUT, f"Curve metrics, torchmetrics {torchmetrics.__version__}, torch {torch.__version__}")

THRESHOLDS = [None, 5, [0.1, 0.3, 0.5, 0.7, 0.9], [0.8, 0.2, 0.55, 0.0]]
SOME_THRESHOLDS = THRESHOLDS[:3]  # multiclass/multilabel: the file stays small


def _binned_micro(functional, name):
    """torchmetrics 1.9's MulticlassROC/PrecisionRecallCurve classes fail on
    average="micro" with thresholds (their [T, C, 2, 2] state cannot take the
    pooled [T, 2, 2] counts); the functional form computes it. This stand-in
    keeps the class name and replays the functional form on every sample seen
    (the cases feed probabilities, so per-batch normalization is moot)."""

    class Stand:
        def __init__(self, **kwargs):
            self.kwargs = kwargs
            self.preds, self.target = [], []

        def update(self, preds, target):
            self.preds.append(preds)
            self.target.append(target)

        def compute(self):
            return functional(torch.cat(self.preds), torch.cat(self.target), **self.kwargs)

    Stand.__name__ = name
    return Stand


MicroROC = _binned_micro(multiclass_roc, "MulticlassROC")
MicroPR = _binned_micro(multiclass_precision_recall_curve, "MulticlassPrecisionRecallCurve")


# --- inputs -------------------------------------------------------------------

def bin_probs(n, shape=()):
    return torch.rand(n, *shape)


def bin_target(n, shape=()):
    return torch.randint(0, 2, (n, *shape))


def mc_probs(n, c, extra=()):
    return torch.randn(n, c, *extra).softmax(1)


def mc_logits(n, c, extra=()):
    return torch.randn(n, c, *extra) * 2


def ml_probs(n, l):
    return torch.rand(n, l)


def ml_target(n, l):
    return torch.randint(0, 2, (n, l))


def run(case_id, cls, batches, forward=False, **kwargs):
    w.case(case_id, cls, **kwargs)
    for i, (p, t) in enumerate(batches):
        if forward and i % 2 == 0:
            w.forward(p, t)
        else:
            w.update(p, t)
    w.compute()


def thr_id(thr):
    if thr is None:
        return "exact"
    if isinstance(thr, int):
        return f"n{thr}"
    return "list" if thr == sorted(thr) else "unsorted"


# --- binary -------------------------------------------------------------------

BINARY = [BinaryROC, BinaryPrecisionRecallCurve, BinaryAUROC, BinaryAveragePrecision]
SCORE = (BinaryAUROC, BinaryAveragePrecision, MulticlassAUROC, MulticlassAveragePrecision,
         MultilabelAUROC, MultilabelAveragePrecision)

for cls in BINARY:
    name = cls.__name__
    fwd = cls in SCORE
    for thr in THRESHOLDS:
        tid = thr_id(thr)
        run(f"{name}_probs_{tid}", cls, [(bin_probs(7), bin_target(7)), (bin_probs(5), bin_target(5))],
            forward=fwd, thresholds=thr)
        run(f"{name}_logits_{tid}", cls, [(torch.randn(6) * 3, bin_target(6)), (torch.randn(6) * 3, bin_target(6))],
            thresholds=thr)
        ties = torch.tensor([0.25, 0.5, 0.5, 0.75, 0.25, 0.5, 1.0, 0.0])
        run(f"{name}_ties_{tid}", cls, [(ties, torch.tensor([0, 1, 0, 1, 1, 0, 1, 0])),
                                        (ties.flip(0), torch.tensor([1, 1, 0, 0, 1, 0, 0, 1]))], thresholds=thr)
        run(f"{name}_equal_{tid}", cls, [(torch.full((6,), 0.5), torch.tensor([0, 1, 1, 0, 1, 0]))], thresholds=thr)
        run(f"{name}_ignore_{tid}", cls, [(bin_probs(8), torch.tensor([0, 1, -1, 1, 0, -1, 1, 0])),
                                          (bin_probs(4), torch.tensor([-1, 1, 0, 0]))],
            forward=fwd, thresholds=thr, ignore_index=-1)
        run(f"{name}_multidim_{tid}", cls, [(bin_probs(4, (3,)), bin_target(4, (3,))),
                                            (bin_probs(2, (3,)), bin_target(2, (3,)))], thresholds=thr)
        run(f"{name}_allneg_{tid}", cls, [(bin_probs(5), torch.zeros(5, dtype=torch.long))], thresholds=thr)
        run(f"{name}_allpos_{tid}", cls, [(bin_probs(5), torch.ones(5, dtype=torch.long))], thresholds=thr)
        run(f"{name}_single_{tid}", cls, [(torch.tensor([0.3]), torch.tensor([1])),
                                          (torch.tensor([0.6]), torch.tensor([0]))], thresholds=thr)
    run(f"{name}_f64_i32", cls, [(torch.rand(6, dtype=torch.float64), bin_target(6).int())])
    run(f"{name}_nan", cls, [(torch.tensor([0.2, float("nan"), 0.7, 0.4]), torch.tensor([0, 1, 1, 0]))])
    run(f"{name}_validate_off", cls, [(bin_probs(6), bin_target(6))], validate_args=False)
    run(f"{name}_many", cls, [(bin_probs(10), bin_target(10)) for _ in range(4)], forward=fwd)

for cls in (BinaryROC, BinaryPrecisionRecallCurve, BinaryAveragePrecision):
    name = cls.__name__
    p = torch.tensor([0.2, 0.9, 0.4, 0.6, 0.1])
    run(f"{name}_normalization_none", cls, [(p, torch.tensor([0, 1, 0, 1, 1]))], normalization=None)
    run(f"{name}_normalization_none_logits", cls, [(p * 4 - 2, torch.tensor([0, 1, 0, 1, 1]))],
        normalization=None, thresholds=[0.0, 0.5])

for max_fpr in (0.1, 0.3, 0.5, 0.8, 1.0):
    for thr in (None, 11, [0.0, 0.2, 0.4, 0.6, 0.8]):
        run(f"BinaryAUROC_maxfpr{max_fpr}_{thr_id(thr)}", BinaryAUROC,
            [(bin_probs(9), bin_target(9)), (bin_probs(9), bin_target(9))],
            forward=True, max_fpr=max_fpr, thresholds=thr)
run("BinaryAUROC_maxfpr_allneg", BinaryAUROC, [(bin_probs(5), torch.zeros(5, dtype=torch.long))], max_fpr=0.5)

# --- multiclass -----------------------------------------------------------------

C = 3
for cls in (MulticlassROC, MulticlassPrecisionRecallCurve):
    name = cls.__name__
    for average in (None, "micro", "macro"):
        aid = average or "none"
        for thr in SOME_THRESHOLDS:
            tid = thr_id(thr)
            use = cls
            if average == "micro" and thr is not None:
                use = MicroROC if cls is MulticlassROC else MicroPR
                run(f"{name}_{aid}_probs_{tid}", use, [(mc_probs(6, C), torch.randint(0, C, (6,))),
                                                       (mc_probs(4, C), torch.randint(0, C, (4,)))],
                    num_classes=C, thresholds=thr, average=average)
                run(f"{name}_{aid}_ignore_{tid}", use, [(mc_probs(6, C), torch.tensor([0, -1, 2, 1, -1, 2]))],
                    num_classes=C, thresholds=thr, average=average, ignore_index=-1)
                continue
            run(f"{name}_{aid}_probs_{tid}", use, [(mc_probs(6, C), torch.randint(0, C, (6,))),
                                                   (mc_probs(4, C), torch.randint(0, C, (4,)))],
                num_classes=C, thresholds=thr, average=average)
            run(f"{name}_{aid}_logits_{tid}", use, [(mc_logits(5, C), torch.randint(0, C, (5,))),
                                                    (mc_logits(5, C), torch.randint(0, C, (5,)))],
                num_classes=C, thresholds=thr, average=average)
            run(f"{name}_{aid}_ignore_{tid}", use, [(mc_probs(6, C), torch.tensor([0, -1, 2, 1, -1, 2]))],
                num_classes=C, thresholds=thr, average=average, ignore_index=-1)
            run(f"{name}_{aid}_absent2_{tid}", use, [(mc_probs(6, C), torch.tensor([0, 1, 1, 0, 1, 0]))],
                num_classes=C, thresholds=thr, average=average)
            run(f"{name}_{aid}_absent0_{tid}", use, [(mc_probs(5, C), torch.tensor([1, 2, 2, 1, 1]))],
                num_classes=C, thresholds=thr, average=average)
            if average is not None:
                continue  # shapes and edge cases: the per-class curves suffice
            run(f"{name}_{aid}_extradim_{tid}", use, [(mc_probs(3, C, (2,)), torch.randint(0, C, (3, 2)))],
                num_classes=C, thresholds=thr, average=average)
            run(f"{name}_{aid}_equal_{tid}", use, [(torch.full((4, C), 1.0 / C), torch.tensor([0, 1, 2, 1]))],
                num_classes=C, thresholds=thr, average=average)
            run(f"{name}_{aid}_single_{tid}", use, [(mc_probs(1, C), torch.tensor([2]))],
                num_classes=C, thresholds=thr, average=average)

for cls in (MulticlassAUROC, MulticlassAveragePrecision):
    name = cls.__name__
    for average in ("macro", "weighted", "none"):
        for thr in SOME_THRESHOLDS:
            tid = thr_id(thr)
            kw = dict(num_classes=C, average=average, thresholds=thr)
            run(f"{name}_{average}_probs_{tid}", cls, [(mc_probs(6, C), torch.randint(0, C, (6,))),
                                                       (mc_probs(6, C), torch.randint(0, C, (6,)))],
                forward=True, **kw)
            run(f"{name}_{average}_logits_{tid}", cls, [(mc_logits(8, C), torch.randint(0, C, (8,)))], **kw)
            run(f"{name}_{average}_ignore_{tid}", cls, [(mc_probs(6, C), torch.tensor([0, -1, 2, 1, -1, 2])),
                                                        (mc_probs(3, C), torch.tensor([2, 1, -1]))],
                forward=True, ignore_index=-1, **kw)
            run(f"{name}_{average}_absent2_{tid}", cls, [(mc_probs(6, C), torch.tensor([0, 1, 1, 0, 1, 0]))], **kw)
            run(f"{name}_{average}_absent0_{tid}", cls, [(mc_probs(5, C), torch.tensor([1, 2, 2, 1, 1]))], **kw)
            run(f"{name}_{average}_ties_{tid}", cls,
                [(torch.tensor([[0.5, 0.25, 0.25], [0.25, 0.5, 0.25], [0.5, 0.25, 0.25], [0.25, 0.25, 0.5]]),
                  torch.tensor([0, 0, 1, 2]))], **kw)
    run(f"{name}_many", cls, [(mc_probs(8, C), torch.randint(0, C, (8,))) for _ in range(4)], forward=True,
        num_classes=C)
    run(f"{name}_c5", cls, [(mc_probs(12, 5), torch.randint(0, 5, (12,)))], num_classes=5, average="weighted")

# --- multilabel -----------------------------------------------------------------

L = 3
ML_IGN = torch.tensor([[0, 1, -1], [1, -1, 0], [1, 1, 0], [-1, 0, 1], [0, 0, 1]])
for cls in (MultilabelROC, MultilabelPrecisionRecallCurve):
    name = cls.__name__
    for thr in SOME_THRESHOLDS:
        tid = thr_id(thr)
        kw = dict(num_labels=L, thresholds=thr)
        run(f"{name}_probs_{tid}", cls, [(ml_probs(6, L), ml_target(6, L)), (ml_probs(4, L), ml_target(4, L))], **kw)
        run(f"{name}_logits_{tid}", cls, [(torch.randn(6, L) * 3, ml_target(6, L))], **kw)
        run(f"{name}_ignore_{tid}", cls, [(ml_probs(5, L), ML_IGN)], ignore_index=-1, **kw)
        run(f"{name}_absent_{tid}", cls, [(ml_probs(5, L), torch.tensor([[0, 1, 0], [1, 0, 0]] * 2 + [[1, 1, 0]]))],
            **kw)
        run(f"{name}_extradim_{tid}", cls, [(ml_probs(3, L).unsqueeze(-1).repeat(1, 1, 2), ml_target(3, L * 2).view(3, L, 2))],
            **kw)
        run(f"{name}_single_{tid}", cls, [(ml_probs(1, L), torch.tensor([[1, 0, 1]]))], **kw)

for cls in (MultilabelAUROC, MultilabelAveragePrecision):
    name = cls.__name__
    for average in ("micro", "macro", "weighted", "none"):
        for thr in SOME_THRESHOLDS:
            tid = thr_id(thr)
            kw = dict(num_labels=L, average=average, thresholds=thr)
            run(f"{name}_{average}_probs_{tid}", cls, [(ml_probs(6, L), ml_target(6, L)),
                                                       (ml_probs(6, L), ml_target(6, L))], forward=True, **kw)
            run(f"{name}_{average}_logits_{tid}", cls, [(torch.randn(7, L) * 3, ml_target(7, L))], **kw)
            run(f"{name}_{average}_ignore_{tid}", cls, [(ml_probs(5, L), ML_IGN), (ml_probs(5, L), ML_IGN.flip(0))],
                forward=True, ignore_index=-1, **kw)
            run(f"{name}_{average}_absent_{tid}", cls,
                [(ml_probs(5, L), torch.tensor([[0, 1, 0], [1, 0, 0]] * 2 + [[1, 1, 0]]))], **kw)
            run(f"{name}_{average}_ties_{tid}", cls,
                [(torch.tensor([[0.5, 0.5, 0.25], [0.5, 0.25, 0.25], [0.75, 0.5, 0.25], [0.25, 0.5, 0.25]]),
                  torch.tensor([[1, 0, 1], [0, 1, 0], [1, 1, 0], [0, 1, 1]]))], **kw)
    run(f"{name}_many", cls, [(ml_probs(8, L), ml_target(8, L)) for _ in range(4)], forward=True, num_labels=L)

# --- invalid arguments and inputs -----------------------------------------------------

for cls in BINARY:
    w.reject(cls, "thresholds must be", thresholds=1)
    w.reject(cls, "thresholds must be", thresholds=[0.5, 1.5])
    w.reject(cls, "thresholds must be", thresholds=[-0.1, 0.5])
for cls in (MulticlassROC, MulticlassPrecisionRecallCurve, MulticlassAUROC, MulticlassAveragePrecision):
    w.reject(cls, "num_classes must be an integer larger than 1", num_classes=1)
    w.reject(cls, "thresholds must be", num_classes=3, thresholds=1)
for cls in (MultilabelROC, MultilabelPrecisionRecallCurve, MultilabelAUROC, MultilabelAveragePrecision):
    w.reject(cls, "num_labels must be an integer larger than 1", num_labels=1)
    w.reject(cls, "thresholds must be", num_labels=3, thresholds=[2.0])
for cls in (MulticlassROC, MulticlassPrecisionRecallCurve):
    w.reject(cls, 'average must be "none", "micro" or "macro", got "weighted"', num_classes=3, average="weighted")
for cls in (MulticlassAUROC, MulticlassAveragePrecision):
    w.reject(cls, 'average must be "macro", "weighted" or "none", got "micro"', num_classes=3, average="micro")
    w.reject(cls, 'average must be "macro", "weighted" or "none", got "mean"', num_classes=3, average="mean")
for cls in (MultilabelAUROC, MultilabelAveragePrecision):
    w.reject(cls, 'average must be "micro", "macro", "weighted" or "none", got "samples"', num_labels=3,
             average="samples")

# BinaryAUROC is left out: torchmetrics 1.9 builds it with validate_args=False
# and never checks its inputs (the C++ class does; see curves_test.cpp).
for cls in (BinaryROC, BinaryPrecisionRecallCurve, BinaryAveragePrecision):
    name = cls.__name__
    w.case(f"{name}_reject_update", cls)
    w.reject_update("preds and target must have the same shape", torch.rand(4), torch.randint(0, 2, (5,)))
    w.reject_update("target must be an integer tensor", torch.rand(4), torch.rand(4))
    w.reject_update("preds must be a floating tensor", torch.randint(0, 2, (4,)), torch.randint(0, 2, (4,)))
    w.reject_update("target must hold only 0 and 1, found 2", torch.rand(4), torch.tensor([0, 1, 2, 1]))
    w.update(torch.rand(4), torch.tensor([0, 1, 1, 0]))
    w.compute()
    w.case(f"{name}_reject_update_ignore", cls, ignore_index=-1)
    w.reject_update("target must hold only 0 and 1 (or ignore_index -1), found -2", torch.rand(3),
                    torch.tensor([0, -2, -1]))

for cls in (MulticlassROC, MulticlassAUROC):
    name = cls.__name__
    w.case(f"{name}_reject_update", cls, num_classes=3)
    w.reject_update("preds must have one more dimension than target", torch.rand(4, 3), torch.randint(0, 3, (4, 3)))
    w.reject_update("preds.shape[1] must equal num_classes (3), got 4", mc_probs(4, 4), torch.randint(0, 3, (4,)))
    w.reject_update("preds must have shape (N, C, ...) and target (N, ...)", mc_probs(4, 3), torch.randint(0, 3, (5,)))
    w.reject_update("target must be an integer tensor", mc_probs(4, 3), torch.rand(4))
    w.reject_update("preds must be a floating tensor", torch.randint(0, 3, (4, 3)), torch.randint(0, 3, (4,)))
    w.reject_update("target must hold class indices in [0, 3)", mc_probs(4, 3), torch.tensor([0, 1, 2, 3]))
    w.update(mc_probs(4, 3), torch.tensor([0, 1, 2, 1]))
    w.compute()

for cls in (MultilabelROC, MultilabelAUROC):
    name = cls.__name__
    w.case(f"{name}_reject_update", cls, num_labels=3)
    w.reject_update("preds and target must have the same shape", ml_probs(4, 3), ml_target(4, 2))
    w.reject_update("target must hold only 0 and 1, found 2", ml_probs(2, 3), torch.tensor([[0, 1, 2], [1, 1, 0]]))
    w.reject_update("preds and target must have shape (N, num_labels, ...) with num_labels=3", ml_probs(4, 2),
                    ml_target(4, 2))
    w.update(ml_probs(4, 3), torch.tensor([[0, 1, 1], [1, 0, 1], [1, 1, 0], [0, 0, 1]]))
    w.compute()

w.close()
print(f"{w.cases} cases -> {OUT} ({os.path.getsize(OUT)} bytes)")
