"""Reference values of the confusion-matrix family and the calibration errors.

Records what torchmetrics' Binary/Multiclass/Multilabel ConfusionMatrix,
JaccardIndex, MatthewsCorrCoef, CohenKappa and Binary/MulticlassCalibrationError
return, for tests/metrics/confusion_matrix_test.cpp to replay. From the
repository root:

    $VENV/bin/python tests/metrics/confusion_matrix_reference.py
"""

import os
import sys
import warnings

import torch
import torchmetrics.classification as C

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference_writer import Writer  # noqa: E402

warnings.filterwarnings("ignore")  # NaN replaced by zeros, no samples, ...

OUT = "tests/metrics/confusion_matrix_reference.txt"
gen = torch.Generator().manual_seed(20240615)


def rand(*shape):
    return torch.rand(*shape, generator=gen)


def randn(*shape):
    return torch.randn(*shape, generator=gen) * 2


def randint(high, *shape, low=0):
    return torch.randint(low, high, shape, generator=gen)


def with_ignored(target, value, share=0.25):
    target = target.clone()
    mask = rand(*target.shape) < share
    target[mask] = value
    return target


# ---- inputs by task: a list of (preds, target) batches ------------------------------------


def binary_batches(kind, n=8, extra=(), ignore=None):
    out = []
    for size in (n, n - 3, 1):
        shape = (size,) + tuple(extra)
        target = randint(2, *shape)
        if kind == "probs":
            preds = rand(*shape)
        elif kind == "logits":
            preds = randn(*shape)
        else:
            preds = randint(2, *shape)
        if ignore is not None:
            target = with_ignored(target, ignore)
        out.append((preds, target))
    return out


def multiclass_batches(kind, num_classes, n=10, extra=(), ignore=None, high=None):
    high = num_classes if high is None else high
    out = []
    for size in (n, n - 4, 1):
        target = randint(high, size, *extra)
        if kind == "probs":
            preds = torch.softmax(randn(size, num_classes, *extra), dim=1)
        elif kind == "logits":
            preds = randn(size, num_classes, *extra)
        else:
            preds = randint(high, size, *extra)
        if ignore is not None:
            target = with_ignored(target, ignore)
        out.append((preds, target))
    return out


def multilabel_batches(kind, num_labels, n=8, extra=(), ignore=None):
    out = []
    for size in (n, n - 3, 1):
        shape = (size, num_labels) + tuple(extra)
        target = randint(2, *shape)
        if kind == "probs":
            preds = rand(*shape)
        elif kind == "logits":
            preds = randn(*shape)
        else:
            preds = randint(2, *shape)
        if ignore is not None:
            target = with_ignored(target, ignore)
        out.append((preds, target))
    return out


def run(w, case_id, cls, batches, **kwargs):
    """forward the first two batches, update with the rest, compute."""
    w.case(case_id, cls, **kwargs)
    for i, (p, t) in enumerate(batches):
        if i < 2:
            w.forward(p, t)
        else:
            w.update(p, t)
    w.compute()


def run_updates(w, case_id, cls, batches, **kwargs):
    """update only, compute (for inputs whose batch value is not of interest)."""
    w.case(case_id, cls, **kwargs)
    for p, t in batches:
        w.update(p, t)
    w.compute()


def t(values, dtype=None):
    return torch.tensor(values, dtype=dtype)


def main():
    w = Writer(OUT, "torchmetrics confusion-matrix family and calibration errors")

    # ================================================================ ConfusionMatrix
    for kind in ("probs", "logits", "labels"):
        for normalize in (None, "true", "pred", "all", "none"):
            run(w, f"bcm-{kind}-{normalize}", C.BinaryConfusionMatrix, binary_batches(kind),
                normalize=normalize)
    run(w, "bcm-threshold", C.BinaryConfusionMatrix, binary_batches("probs"), threshold=0.3)
    run(w, "bcm-threshold-logits", C.BinaryConfusionMatrix, binary_batches("logits"),
        threshold=0.8, normalize="true")
    run(w, "bcm-multidim", C.BinaryConfusionMatrix, binary_batches("probs", extra=(3,)))
    # ignore_index -1 marks samples; 0 or 1 leaves a whole class out.
    for ignore in (-1, 0, 1):
        batches = binary_batches("probs", ignore=ignore if ignore < 0 else None)
        run(w, f"bcm-ignore{ignore}", C.BinaryConfusionMatrix, batches, ignore_index=ignore)
    run(w, "bcm-ignore-normalize", C.BinaryConfusionMatrix,
        binary_batches("logits", ignore=-100), ignore_index=-100, normalize="pred")
    run(w, "bcm-novalidate", C.BinaryConfusionMatrix, binary_batches("probs"),
        validate_args=False)
    # A tie at the threshold is negative; float targets 0./1. are accepted.
    run(w, "bcm-tie", C.BinaryConfusionMatrix,
        [(t([0.5, 0.5, 0.50001, 0.0, 1.0]), t([0.0, 1.0, 1.0, 0.0, 1.0]))])
    # Every sample negative: normalize's 0/0 become 0.
    for normalize in ("true", "pred", "all"):
        run(w, f"bcm-allneg-{normalize}", C.BinaryConfusionMatrix,
            [(t([0.1, 0.2, 0.3]), t([0, 0, 0]))], normalize=normalize)
    # A NaN makes the whole batch logits (sigmoid), and NaN > threshold is false.
    run(w, "bcm-nan", C.BinaryConfusionMatrix,
        [(t([float("nan"), 0.9, 0.2, 0.7]), t([1, 1, 0, 0]))])
    run(w, "bcm-bool", C.BinaryConfusionMatrix,
        [(t([True, False, True]), t([True, True, False]))])
    # Everything ignored: all zeros, normalized to zeros.
    run(w, "bcm-all-ignored", C.BinaryConfusionMatrix,
        [(t([0.2, 0.8]), t([-1, -1]))], ignore_index=-1, normalize="true")

    for kind in ("probs", "logits", "labels"):
        for normalize in (None, "true", "pred", "all"):
            run(w, f"mccm-{kind}-{normalize}", C.MulticlassConfusionMatrix,
                multiclass_batches(kind, 3), num_classes=3, normalize=normalize)
    run(w, "mccm-multidim", C.MulticlassConfusionMatrix,
        multiclass_batches("logits", 4, extra=(2,)), num_classes=4)
    run(w, "mccm-multidim-labels", C.MulticlassConfusionMatrix,
        multiclass_batches("labels", 4, extra=(3,)), num_classes=4, normalize="true")
    for ignore in (-1, 0, 2, 255):
        if 0 <= ignore < 3:
            batches = multiclass_batches("probs", 3)
        else:
            batches = multiclass_batches("probs", 3, ignore=ignore)
        for normalize in (None, "true"):
            run(w, f"mccm-ignore{ignore}-{normalize}", C.MulticlassConfusionMatrix, batches,
                num_classes=3, ignore_index=ignore, normalize=normalize)
    # Class 3 absent from targets and predictions: its row and column are zero.
    for normalize in ("none", "true", "pred", "all"):
        run(w, f"mccm-absent-{normalize}", C.MulticlassConfusionMatrix,
            multiclass_batches("labels", 4, high=3), num_classes=4, normalize=normalize)
    run(w, "mccm-single", C.MulticlassConfusionMatrix,
        [(t([[0.1, 0.7, 0.2]]), t([2]))], num_classes=3, normalize="true")
    run(w, "mccm-ties", C.MulticlassConfusionMatrix,
        [(t([[0.4, 0.4, 0.2], [0.3, 0.3, 0.3], [0.0, 0.5, 0.5]]), t([1, 2, 2]))], num_classes=3)
    run(w, "mccm-float-labels", C.MulticlassConfusionMatrix,
        [(t([0.0, 2.0, 1.0, 1.0]), t([0, 2, 2, 1]))], num_classes=3)
    run(w, "mccm-novalidate", C.MulticlassConfusionMatrix,
        multiclass_batches("logits", 3), num_classes=3, validate_args=False)

    for kind in ("probs", "logits", "labels"):
        for normalize in (None, "true", "pred", "all"):
            run(w, f"mlcm-{kind}-{normalize}", C.MultilabelConfusionMatrix,
                multilabel_batches(kind, 3), num_labels=3, normalize=normalize)
    run(w, "mlcm-threshold", C.MultilabelConfusionMatrix, multilabel_batches("probs", 4),
        num_labels=4, threshold=0.7)
    run(w, "mlcm-multidim", C.MultilabelConfusionMatrix,
        multilabel_batches("logits", 3, extra=(2,)), num_labels=3)
    for ignore in (-1, 1):
        batches = multilabel_batches("probs", 3, ignore=ignore if ignore < 0 else None)
        run(w, f"mlcm-ignore{ignore}", C.MultilabelConfusionMatrix, batches, num_labels=3,
            ignore_index=ignore, normalize="true")
    run(w, "mlcm-nan", C.MultilabelConfusionMatrix,
        [(t([[0.2, float("nan")], [0.9, 0.6]]), t([[0, 1], [1, 1]]))], num_labels=2)

    # ================================================================ JaccardIndex
    for kind in ("probs", "logits", "labels"):
        run(w, f"bji-{kind}", C.BinaryJaccardIndex, binary_batches(kind))
    run(w, "bji-threshold-ignore", C.BinaryJaccardIndex, binary_batches("probs", ignore=-1),
        threshold=0.25, ignore_index=-1)
    for zd in (0.0, 1.0):
        run(w, f"bji-zero-division-{zd}", C.BinaryJaccardIndex,
            [(t([0.1, 0.2]), t([0, 0])), (t([0]), t([0]))], zero_division=zd)
    run(w, "bji-multidim", C.BinaryJaccardIndex, binary_batches("logits", extra=(2, 2)),
        validate_args=False)

    for average in ("micro", "macro", "weighted", "none", None):
        for kind in ("probs", "labels"):
            run(w, f"mcji-{kind}-{average}", C.MulticlassJaccardIndex,
                multiclass_batches(kind, 4), num_classes=4, average=average)
        for ignore in (-1, 1):
            batches = multiclass_batches("logits", 4, ignore=ignore if ignore < 0 else None)
            run(w, f"mcji-ignore{ignore}-{average}", C.MulticlassJaccardIndex, batches,
                num_classes=4, average=average, ignore_index=ignore)
        for zd in (0.0, 0.5):
            run(w, f"mcji-absent-{average}-{zd}", C.MulticlassJaccardIndex,
                multiclass_batches("labels", 5, high=3), num_classes=5, average=average,
                zero_division=zd)
        run(w, f"mcji-multidim-{average}", C.MulticlassJaccardIndex,
            multiclass_batches("probs", 3, extra=(2,)), num_classes=3, average=average)
    # Nothing at all (every target ignored): macro's weights sum to zero -> NaN.
    for average in ("micro", "macro", "weighted", "none"):
        run(w, f"mcji-empty-{average}", C.MulticlassJaccardIndex,
            [(t([0, 1, 2]), t([-1, -1, -1]))], num_classes=3, average=average, ignore_index=-1)

    for average in ("micro", "macro", "weighted", "none"):
        for kind in ("probs", "logits", "labels"):
            run(w, f"mlji-{kind}-{average}", C.MultilabelJaccardIndex,
                multilabel_batches(kind, 3), num_labels=3, average=average)
        run(w, f"mlji-ignore-{average}", C.MultilabelJaccardIndex,
            multilabel_batches("probs", 3, ignore=-1), num_labels=3, average=average,
            ignore_index=-1, threshold=0.4)
        # Label 2 never positive (target nor prediction).
        run(w, f"mlji-absent-{average}", C.MultilabelJaccardIndex,
            [(t([[0.9, 0.1, 0.0], [0.2, 0.8, 0.3]]), t([[1, 0, 0], [1, 1, 0]]))], num_labels=3,
            average=average, zero_division=1.0)

    # ================================================================ MatthewsCorrCoef
    for kind in ("probs", "logits", "labels"):
        run(w, f"bmcc-{kind}", C.BinaryMatthewsCorrCoef, binary_batches(kind))
    run(w, "bmcc-ignore", C.BinaryMatthewsCorrCoef, binary_batches("logits", ignore=-1),
        ignore_index=-1, threshold=0.6)
    # The 2x2 special cases: perfect, perfectly wrong, a constant prediction
    # or target (the eps branches), nothing counted.
    special = {
        "perfect": ([1, 0, 1, 1], [1, 0, 1, 1]),
        "perfect-neg": ([0, 0, 0], [0, 0, 0]),
        "wrong": ([1, 0, 1], [0, 1, 0]),
        "const-pred1": ([1, 1, 1, 1], [1, 0, 0, 1]),
        "const-pred0": ([0, 0, 0, 0], [1, 0, 1, 1]),
        "const-target1": ([1, 0, 1, 0, 0], [1, 1, 1, 1, 1]),
        "const-target0": ([1, 0, 0], [0, 0, 0]),
        "mixed": ([1, 0, 1, 0, 1], [1, 0, 0, 1, 1]),
    }
    for name, (p, tg) in special.items():
        run(w, f"bmcc-{name}", C.BinaryMatthewsCorrCoef, [(t(p), t(tg))])
    run(w, "bmcc-empty", C.BinaryMatthewsCorrCoef, [(t([0.3, 0.9]), t([-1, -1]))],
        ignore_index=-1)
    run(w, "bmcc-single", C.BinaryMatthewsCorrCoef, [(t([0.7]), t([0]))])

    for kind in ("probs", "logits", "labels"):
        run(w, f"mcmcc-{kind}", C.MulticlassMatthewsCorrCoef, multiclass_batches(kind, 4),
            num_classes=4)
    run(w, "mcmcc-ignore", C.MulticlassMatthewsCorrCoef,
        multiclass_batches("probs", 3, ignore=-1), num_classes=3, ignore_index=-1)
    run(w, "mcmcc-ignore-inrange", C.MulticlassMatthewsCorrCoef,
        multiclass_batches("probs", 3), num_classes=3, ignore_index=0)
    run(w, "mcmcc-const-pred", C.MulticlassMatthewsCorrCoef,
        [(t([1, 1, 1, 1]), t([0, 1, 2, 2]))], num_classes=3)
    run(w, "mcmcc-absent", C.MulticlassMatthewsCorrCoef,
        multiclass_batches("labels", 5, high=3), num_classes=5)
    run(w, "mcmcc-two-classes", C.MulticlassMatthewsCorrCoef,
        [(t([1, 1, 1]), t([0, 1, 1]))], num_classes=2)
    run(w, "mcmcc-two-classes-perfect", C.MulticlassMatthewsCorrCoef,
        [(t([1, 0, 1]), t([1, 0, 1]))], num_classes=2)
    run(w, "mcmcc-multidim", C.MulticlassMatthewsCorrCoef,
        multiclass_batches("logits", 3, extra=(2,)), num_classes=3)

    for kind in ("probs", "logits", "labels"):
        run(w, f"mlmcc-{kind}", C.MultilabelMatthewsCorrCoef, multilabel_batches(kind, 3),
            num_labels=3)
    run(w, "mlmcc-ignore", C.MultilabelMatthewsCorrCoef,
        multilabel_batches("probs", 3, ignore=-1), num_labels=3, ignore_index=-1, threshold=0.3)
    run(w, "mlmcc-perfect", C.MultilabelMatthewsCorrCoef,
        [(t([[1, 0], [0, 1]]), t([[1, 0], [0, 1]]))], num_labels=2)
    run(w, "mlmcc-const", C.MultilabelMatthewsCorrCoef,
        [(t([[1, 1], [1, 1]]), t([[1, 0], [0, 1]]))], num_labels=2)

    # ================================================================ CohenKappa
    for weights in (None, "none", "linear", "quadratic"):
        for kind in ("probs", "logits", "labels"):
            run(w, f"bck-{kind}-{weights}", C.BinaryCohenKappa, binary_batches(kind),
                weights=weights)
        run(w, f"bck-ignore-{weights}", C.BinaryCohenKappa,
            binary_batches("probs", ignore=-1), weights=weights, ignore_index=-1, threshold=0.35)
        # Perfect agreement on one class: 0/0 -> NaN.
        run(w, f"bck-one-class-{weights}", C.BinaryCohenKappa, [(t([0, 0]), t([0, 0]))],
            weights=weights)
        for kind in ("probs", "logits", "labels"):
            run(w, f"mcck-{kind}-{weights}", C.MulticlassCohenKappa,
                multiclass_batches(kind, 4), num_classes=4, weights=weights)
        run(w, f"mcck-ignore-{weights}", C.MulticlassCohenKappa,
            multiclass_batches("logits", 3, ignore=-1), num_classes=3, weights=weights,
            ignore_index=-1)
        run(w, f"mcck-absent-{weights}", C.MulticlassCohenKappa,
            multiclass_batches("labels", 5, high=3), num_classes=5, weights=weights)
        run(w, f"mcck-single-{weights}", C.MulticlassCohenKappa, [(t([2]), t([1]))],
            num_classes=3, weights=weights)

    # ================================================================ CalibrationError
    for norm in ("l1", "l2", "max"):
        for n_bins in (15, 5, 1):
            for kind in ("probs", "logits"):
                run(w, f"bce-{kind}-{norm}-{n_bins}", C.BinaryCalibrationError,
                    binary_batches(kind), n_bins=n_bins, norm=norm)
                run(w, f"mce-{kind}-{norm}-{n_bins}", C.MulticlassCalibrationError,
                    multiclass_batches(kind, 4), num_classes=4, n_bins=n_bins, norm=norm)
        run(w, f"bce-ignore-{norm}", C.BinaryCalibrationError,
            binary_batches("probs", ignore=-1), norm=norm, ignore_index=-1)
        run(w, f"mce-ignore-{norm}", C.MulticlassCalibrationError,
            multiclass_batches("logits", 3, ignore=-1), num_classes=3, norm=norm, ignore_index=-1)
        run(w, f"mce-ignore-inrange-{norm}", C.MulticlassCalibrationError,
            multiclass_batches("probs", 3), num_classes=3, norm=norm, ignore_index=1)
        # Confidences exactly on bin edges, 0 and 1.
        run(w, f"bce-edges-{norm}", C.BinaryCalibrationError,
            [(t([0.0, 0.2, 0.4, 1.0, 0.6, 0.8]), t([0, 1, 0, 1, 1, 0]))], n_bins=5, norm=norm)
        # Perfectly calibrated: zero error (l2 gives an integer 0).
        run(w, f"bce-perfect-{norm}", C.BinaryCalibrationError,
            [(t([0.0, 1.0, 1.0]), t([0, 1, 1]))], n_bins=4, norm=norm)
        run(w, f"bce-f64-{norm}", C.BinaryCalibrationError,
            [(torch.rand(7, generator=gen, dtype=torch.float64), randint(2, 7))], norm=norm)
        run(w, f"bce-multidim-{norm}", C.BinaryCalibrationError,
            binary_batches("logits", extra=(3,)), norm=norm, n_bins=4)
        run(w, f"mce-multidim-{norm}", C.MulticlassCalibrationError,
            multiclass_batches("probs", 3, extra=(2,)), num_classes=3, norm=norm, n_bins=6)
        run(w, f"bce-single-{norm}", C.BinaryCalibrationError, [(t([0.3]), t([1]))], norm=norm)
        run(w, f"mce-single-{norm}", C.MulticlassCalibrationError,
            [(t([[0.2, 0.5, 0.3]]), t([1]))], num_classes=3, norm=norm)
        run(w, f"bce-all-ignored-{norm}", C.BinaryCalibrationError,
            [(t([0.3, 0.6]), t([-1, -1]))], norm=norm, ignore_index=-1)
        run(w, f"mce-ties-{norm}", C.MulticlassCalibrationError,
            [(t([[0.5, 0.5, 0.0], [0.25, 0.25, 0.5], [1 / 3, 1 / 3, 1 / 3]]), t([1, 2, 0]))],
            num_classes=3, norm=norm, n_bins=3)
    run(w, "bce-novalidate", C.BinaryCalibrationError, binary_batches("probs"),
        validate_args=False)
    run(w, "mce-novalidate", C.MulticlassCalibrationError, multiclass_batches("probs", 3),
        num_classes=3, validate_args=False)

    # ================================================================ invalid arguments
    R = w.reject
    R(C.BinaryConfusionMatrix, "threshold must be a float in [0, 1], got 1.5", threshold=1.5)
    R(C.BinaryConfusionMatrix, "threshold must be a float in [0, 1], got -0.1", threshold=-0.1)
    R(C.BinaryConfusionMatrix, 'normalize must be "true", "pred", "all" or "none", got "rows"',
      normalize="rows")
    R(C.MulticlassConfusionMatrix, "num_classes must be an integer larger than 1, got 1",
      num_classes=1)
    R(C.MulticlassConfusionMatrix, "num_classes must be an integer larger than 1, got 0",
      num_classes=0)
    R(C.MulticlassConfusionMatrix, 'normalize must be', num_classes=3, normalize="cols")
    R(C.MultilabelConfusionMatrix, "num_labels must be an integer larger than 1, got 1",
      num_labels=1)
    R(C.MultilabelConfusionMatrix, "threshold must be a float in [0, 1], got 2", num_labels=2,
      threshold=2.0)
    R(C.MultilabelConfusionMatrix, 'normalize must be', num_labels=2, normalize="x")
    R(C.BinaryJaccardIndex, "threshold", threshold=1.01)
    R(C.MulticlassJaccardIndex, 'average must be "micro", "macro", "weighted" or "none", got '
      '"samples"', num_classes=3, average="samples")
    R(C.MulticlassJaccardIndex, "num_classes", num_classes=1)
    R(C.MultilabelJaccardIndex, 'average must be', num_labels=3, average="binary")
    R(C.MultilabelJaccardIndex, "num_labels", num_labels=-2)
    R(C.BinaryMatthewsCorrCoef, "threshold", threshold=-1.0)
    R(C.MulticlassMatthewsCorrCoef, "num_classes", num_classes=1)
    R(C.MultilabelMatthewsCorrCoef, "threshold", num_labels=3, threshold=3.0)
    R(C.BinaryCohenKappa, 'weights must be "linear", "quadratic" or "none", got "cubic"',
      weights="cubic")
    R(C.MulticlassCohenKappa, "weights must be", num_classes=3, weights="exp")
    R(C.MulticlassCohenKappa, "num_classes", num_classes=1)
    R(C.BinaryCalibrationError, "n_bins must be an integer larger than 0, got 0", n_bins=0)
    R(C.BinaryCalibrationError, 'norm must be "l1", "l2" or "max", got "l3"', norm="l3")
    R(C.MulticlassCalibrationError, "num_classes must be an integer larger than 1, got 1",
      num_classes=1)
    R(C.MulticlassCalibrationError, "n_bins must be an integer larger than 0, got -3",
      num_classes=3, n_bins=-3)
    R(C.MulticlassCalibrationError, 'norm must be', num_classes=3, norm="L1")

    # ================================================================ invalid inputs
    w.case("bcm-bad-inputs", C.BinaryConfusionMatrix)
    w.update(t([0.2, 0.8, 0.6]), t([0, 1, 1]))
    w.reject_update("preds and target must have the same shape, got preds [3] and target [2]",
                    t([0.2, 0.8, 0.6]), t([0, 1]))
    w.reject_update("target must contain only 0 and 1, found 2", t([0.2, 0.8]), t([0, 2]))
    w.reject_update("integer preds are labels and must contain only 0 and 1", t([0, 3]),
                    t([0, 1]))
    w.reject_update("found -1", t([0.1, 0.2]), t([-1, 1]))
    w.compute()
    w.case("bcm-bad-inputs-ignore", C.BinaryConfusionMatrix, ignore_index=-1)
    w.reject_update("target must contain only 0 and 1 (or ignore_index -1), found 5",
                    t([0.2, 0.8, 0.1]), t([-1, 5, 1]))
    w.update(t([0.2, 0.8, 0.1]), t([-1, 0, 1]))
    w.compute()

    w.case("mccm-bad-inputs", C.MulticlassConfusionMatrix, num_classes=3)
    w.update(t([0, 1, 2]), t([0, 2, 2]))
    w.reject_update("target must contain class indices in [0, 3), found 3", t([0, 1, 2, 0]),
                    t([0, 1, 2, 3]))
    w.reject_update("preds must contain class indices in [0, 3), found 4", t([0, 1, 2, 4]),
                    t([0, 1, 2, 2]))
    w.reject_update("preds with one dimension more than target must be floating scores",
                    t([[0, 1, 0]]), t([1]))
    w.reject_update("C = num_classes = 3", rand(2, 4), t([0, 1]))
    w.reject_update("must agree in their other dimensions", rand(2, 3, 2), t([[0, 1, 2],
                                                                              [0, 1, 2]]))
    w.reject_update("preds and target must have the same shape", t([0, 1]), t([0, 1, 2]))
    w.reject_update("or preds (N, C, ...) and target (N, ...)", rand(2, 3, 2, 2), t([0, 1]))
    w.compute()
    w.case("mccm-bad-inputs-logits", C.MulticlassJaccardIndex, num_classes=3)
    # Float scores: torchmetrics checks no values, but the counts run out of [C, C].
    w.reject_update("target must contain class indices in [0, 3), found 4", rand(2, 3),
                    t([0, 4]))
    w.reject_update("found -2", rand(2, 3), t([-2, 1]))
    w.update(rand(3, 3), t([0, 1, 2]))
    w.compute()

    w.case("mlcm-bad-inputs", C.MultilabelConfusionMatrix, num_labels=3)
    w.update(rand(2, 3), randint(2, 2, 3))
    w.reject_update("(N, L, ...) with L = num_labels = 3", rand(2, 4), randint(2, 2, 4))
    w.reject_update("preds and target must have the same shape", rand(2, 3), randint(2, 3, 3))
    w.reject_update("target must contain only 0 and 1, found 2", rand(1, 3), t([[0, 2, 1]]))
    w.reject_update("integer preds are labels", t([[0, 2, 1]]), t([[0, 1, 1]]))
    w.compute()

    w.case("bce-bad-inputs", C.BinaryCalibrationError)
    w.reject_update("preds must be a floating tensor of probabilities or logits", t([0, 1]),
                    t([0, 1]))
    w.reject_update("target must contain only 0 and 1, found 3", t([0.3, 0.1]), t([0, 3]))
    w.update(t([0.3, 0.1]), t([0, 1]))
    w.compute()
    w.case("mce-bad-inputs", C.MulticlassCalibrationError, num_classes=3)
    w.reject_update("preds must be a floating tensor", t([0, 1]), t([0, 1]))
    w.reject_update("C = num_classes = 3", rand(2, 2), t([0, 1]))
    w.update(rand(2, 3), t([0, 1]))
    w.compute()

    w.close()
    print(f"{w.cases} cases written to {OUT}")


if __name__ == "__main__":
    main()
