"""Writes tests/metrics/stat_scores_reference.txt: torchmetrics' stat-scores
family (StatScores, Accuracy, Precision, Recall, F1Score, FBetaScore,
Specificity, HammingDistance, ExactMatch; Binary, Multiclass, Multilabel and
the task classes) on seeded inputs, replayed by stat_scores_test.cpp.

Run from the repository root with the pip leg's interpreter (torchmetrics as
pinned in scripts/pip-requirements.txt):

    $(bash scripts/setup_pip.sh | tail -n 1)/bin/python tests/metrics/stat_scores_reference.py
"""

import os
import sys

import torch
import torchmetrics
from torchmetrics import classification as tmc

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference_writer import Writer  # noqa: E402

N = 6  # samples per batch
C = 3  # classes / labels
X = 2  # extra positions per sample where a case has them

SCORES = ["StatScores", "Accuracy", "Precision", "Recall", "F1Score", "FBetaScore",
          "Specificity", "HammingDistance"]


def cls(task, score):
    return getattr(tmc, task + score)


def extra_kwargs(score):
    return {"beta": 2.0} if score == "FBetaScore" else {}


# ---- inputs: each returns (preds, target) for one batch ----------------------
# Floating inputs are exact binary fractions (short in the file), and
# multiclass scores distinct within each position (no argmax/top-k ties for
# two libtorch versions to break differently).

def probabilities(shape):
    return torch.floor(torch.rand(shape) * 64) / 64


def logits(shape):
    return torch.round(torch.randn(shape) * 24) / 8


def class_scores(n, classes, extra, kind):
    ranks = torch.rand(n, classes, *extra).argsort(1).argsort(1).float()
    if kind == "logits":
        return (ranks - classes / 2) * 2
    return (ranks + 1) / 2 ** classes.bit_length()


def with_ignored(target, ignore_index, share=0.25):
    target = target.clone()
    target[torch.rand(target.shape) < share] = ignore_index
    return target


def binary_batch(kind, shape=(N,), ignore_index=None):
    """Binary inputs; multilabel ones are binary inputs of shape (N, L, ...)."""
    target = torch.randint(0, 2, shape)
    if kind == "probs":
        preds = probabilities(shape)
    elif kind == "logits":
        preds = logits(shape)
    elif kind == "labels":
        preds = torch.randint(0, 2, shape)
    elif kind == "zeros":  # nothing predicted positive: precision's 0/0
        preds = torch.zeros(shape, dtype=torch.long)
    elif kind == "nan":  # a NaN makes torchmetrics take the whole batch for logits
        preds = probabilities(shape)
        preds[0] = float("nan")
    elif kind == "sparse":  # few positives: labels without any
        preds = (torch.rand(shape) > 0.8).long()
        target = (torch.rand(shape) > 0.8).long()
    else:
        raise ValueError(kind)
    if ignore_index is not None:
        target = with_ignored(target, ignore_index)
    return preds, target


def multiclass_batch(kind, extra=(), ignore_index=None, classes=C):
    target = torch.randint(0, classes, (N, *extra))
    if kind in ("probs", "logits"):
        preds = class_scores(N, classes, extra, kind)
    elif kind == "labels":
        preds = torch.randint(0, classes, (N, *extra))
    elif kind == "narrow":  # the last class never predicted nor a target
        target = torch.randint(0, classes - 1, (N, *extra))
        preds = torch.randint(0, classes - 1, (N, *extra))
        preds[0] = 0
        target[0] = 1
    elif kind == "narrow_probs":  # the last class the lowest score, never a target
        target = torch.randint(0, classes - 1, (N, *extra))
        preds = class_scores(N, classes - 1, extra, "probs")
        preds = torch.cat([preds, torch.zeros(N, 1, *extra)], 1)
    elif kind == "unpredicted":  # the last class a target, never predicted
        preds = torch.randint(0, classes - 1, (N, *extra))
    else:
        raise ValueError(kind)
    if ignore_index is not None:
        target = with_ignored(target, ignore_index)
    return preds, target


def multilabel_batch(kind, extra=(), ignore_index=None):
    return binary_batch(kind, (N, C, *extra), ignore_index)


def play(w, batch):
    """update, forward, compute: accumulation, and forward's value of its batch alone."""
    w.update(*batch())
    w.forward(*batch())
    w.compute()


# ---- cases --------------------------------------------------------------------

BINARY = [
    ("probs", {}, lambda: binary_batch("probs")),
    ("logits", {}, lambda: binary_batch("logits")),
    ("labels", {}, lambda: binary_batch("labels")),
    ("threshold", {"threshold": 0.3}, lambda: binary_batch("probs")),
    ("extra_dims", {}, lambda: binary_batch("probs", (N, X, 2))),
    ("samplewise", {"multidim_average": "samplewise"}, lambda: binary_batch("logits", (N, 4))),
    ("ignore", {"ignore_index": -1}, lambda: binary_batch("probs", (N, 3), -1)),
    ("ignore_samplewise", {"multidim_average": "samplewise", "ignore_index": -1},
     lambda: binary_batch("labels", (N, 4), -1)),
    ("zero_division", {"zero_division": 1}, lambda: binary_batch("zeros")),
    ("no_positive_pred", {}, lambda: binary_batch("zeros")),
    ("nan", {}, lambda: binary_batch("nan")),
]

MULTICLASS = [
    ("micro", {"average": "micro"}, lambda: multiclass_batch("probs")),
    ("macro", {"average": "macro"}, lambda: multiclass_batch("probs")),
    ("weighted", {"average": "weighted"}, lambda: multiclass_batch("logits")),
    ("none", {"average": "none"}, lambda: multiclass_batch("probs")),
    ("labels_macro", {}, lambda: multiclass_batch("labels")),
    ("labels_micro", {"average": "micro"}, lambda: multiclass_batch("labels")),
    ("narrow_macro", {"num_classes": 4}, lambda: multiclass_batch("narrow", classes=4)),
    ("narrow_weighted", {"num_classes": 4, "average": "weighted"},
     lambda: multiclass_batch("narrow", classes=4)),
    ("unpredicted_zero_division", {"zero_division": 1, "average": "none"},
     lambda: multiclass_batch("unpredicted")),
    ("top_k_macro", {"num_classes": 4, "top_k": 2}, lambda: multiclass_batch("probs", classes=4)),
    ("top_k_micro", {"num_classes": 4, "top_k": 2, "average": "micro"},
     lambda: multiclass_batch("logits", classes=4)),
    ("top_k_none", {"num_classes": 4, "top_k": 3, "average": "none"},
     lambda: multiclass_batch("probs", classes=4)),
    ("top_k_narrow", {"num_classes": 4, "top_k": 2},
     lambda: multiclass_batch("narrow_probs", classes=4)),
    ("extra_dims", {"average": "macro"}, lambda: multiclass_batch("probs", (X, 2))),
    ("samplewise_macro", {"multidim_average": "samplewise"},
     lambda: multiclass_batch("probs", (4,))),
    ("samplewise_micro", {"multidim_average": "samplewise", "average": "micro"},
     lambda: multiclass_batch("labels", (4,))),
    ("samplewise_weighted", {"multidim_average": "samplewise", "average": "weighted"},
     lambda: multiclass_batch("logits", (3, 2))),
    ("samplewise_none", {"multidim_average": "samplewise", "average": "none"},
     lambda: multiclass_batch("labels", (5,))),
    ("samplewise_top_k", {"multidim_average": "samplewise", "top_k": 2},
     lambda: multiclass_batch("probs", (4,))),
    ("ignore_inside", {"ignore_index": 0}, lambda: multiclass_batch("probs", (), 0)),
    ("ignore_outside_micro", {"ignore_index": -1, "average": "micro"},
     lambda: multiclass_batch("labels", (2,), -1)),
    ("ignore_outside_none", {"ignore_index": 255, "average": "none"},
     lambda: multiclass_batch("probs", (2,), 255)),
    ("ignore_samplewise", {"ignore_index": -1, "multidim_average": "samplewise"},
     lambda: multiclass_batch("labels", (4,), -1)),
    ("ignore_top_k", {"ignore_index": -1, "top_k": 2, "average": "none"},
     lambda: multiclass_batch("probs", (), -1)),
    ("no_validation", {"validate_args": False}, lambda: multiclass_batch("probs")),
    ("no_num_classes", {"num_classes": None, "average": "micro"},
     lambda: multiclass_batch("labels")),
]

MULTILABEL = [
    ("micro", {"average": "micro"}, lambda: multilabel_batch("probs")),
    ("macro", {"average": "macro"}, lambda: multilabel_batch("probs")),
    ("weighted", {"average": "weighted"}, lambda: multilabel_batch("logits")),
    ("none", {"average": "none"}, lambda: multilabel_batch("labels")),
    ("threshold", {"threshold": 0.7}, lambda: multilabel_batch("probs")),
    ("sparse_macro", {}, lambda: multilabel_batch("sparse")),
    ("sparse_zero_division", {"zero_division": 1, "average": "none"},
     lambda: multilabel_batch("sparse")),
    ("extra_dims", {"average": "micro"}, lambda: multilabel_batch("probs", (X, 2))),
    ("samplewise_macro", {"multidim_average": "samplewise"},
     lambda: multilabel_batch("probs", (4,))),
    ("samplewise_micro", {"multidim_average": "samplewise", "average": "micro"},
     lambda: multilabel_batch("logits", (4,))),
    ("samplewise_none", {"multidim_average": "samplewise", "average": "none"},
     lambda: multilabel_batch("labels", (3,))),
    ("ignore", {"ignore_index": -1}, lambda: multilabel_batch("probs", (), -1)),
    ("ignore_samplewise", {"ignore_index": -1, "multidim_average": "samplewise",
                           "average": "micro"},
     lambda: multilabel_batch("probs", (4,), -1)),
]


def write_family(w):
    for task, configs, base in (("Binary", BINARY, {}),
                                ("Multiclass", MULTICLASS, {"num_classes": C}),
                                ("Multilabel", MULTILABEL, {"num_labels": C})):
        for name, kwargs, batch in configs:
            for score in SCORES:
                # torchmetrics' samplewise weighted StatScores for multilabel
                # divides by every sample's support: left out (see stat_scores.h).
                if (task == "Multilabel" and score == "StatScores"
                        and kwargs.get("multidim_average") == "samplewise"
                        and kwargs.get("average") == "weighted"):
                    continue
                args = {**extra_kwargs(score), **base, **kwargs}
                w.case(f"{task}{score}.{name}", cls(task, score), **args)
                play(w, batch)


def write_exact_match(w):
    configs = [
        (tmc.MulticlassExactMatch, "probs", {"num_classes": C},
         lambda: multiclass_batch("probs", (2,))),
        (tmc.MulticlassExactMatch, "labels", {"num_classes": C},
         lambda: multiclass_batch("labels", (2,))),
        (tmc.MulticlassExactMatch, "one_position", {"num_classes": C},
         lambda: multiclass_batch("logits")),
        (tmc.MulticlassExactMatch, "samplewise", {"num_classes": C, "multidim_average": "samplewise"},
         lambda: multiclass_batch("labels", (2,))),
        (tmc.MulticlassExactMatch, "ignore", {"num_classes": C, "ignore_index": -1},
         lambda: multiclass_batch("labels", (2,), -1)),
        (tmc.MulticlassExactMatch, "ignore_samplewise",
         {"num_classes": C, "ignore_index": 255, "multidim_average": "samplewise"},
         lambda: multiclass_batch("probs", (3,), 255)),
        (tmc.MultilabelExactMatch, "probs", {"num_labels": C}, lambda: multilabel_batch("probs")),
        (tmc.MultilabelExactMatch, "labels", {"num_labels": C}, lambda: multilabel_batch("labels")),
        (tmc.MultilabelExactMatch, "threshold", {"num_labels": C, "threshold": 0.2},
         lambda: multilabel_batch("logits")),
        (tmc.MultilabelExactMatch, "extra_dims", {"num_labels": C},
         lambda: multilabel_batch("sparse", (X,))),
        (tmc.MultilabelExactMatch, "samplewise", {"num_labels": C, "multidim_average": "samplewise"},
         lambda: multilabel_batch("sparse", (4,))),
        (tmc.MultilabelExactMatch, "ignore", {"num_labels": C, "ignore_index": -1},
         lambda: multilabel_batch("labels", (), -1)),
        (tmc.MultilabelExactMatch, "ignore_samplewise",
         {"num_labels": C, "ignore_index": -1, "multidim_average": "samplewise"},
         lambda: multilabel_batch("sparse", (3,), -1)),
    ]
    for metric, name, kwargs, batch in configs:
        w.case(f"{metric.__name__}.{name}", metric, **kwargs)
        play(w, batch)


def write_task_classes(w):
    tasks = [
        ("binary", {}, lambda: binary_batch("logits")),
        ("binary_threshold", {"threshold": 0.2}, lambda: binary_batch("probs", (N, 2))),
        ("multiclass", {"num_classes": C}, lambda: multiclass_batch("probs")),
        ("multiclass_macro_top_k", {"num_classes": 4, "average": "macro", "top_k": 2},
         lambda: multiclass_batch("logits", classes=4)),
        ("multiclass_samplewise", {"num_classes": C, "multidim_average": "samplewise",
                                   "ignore_index": -1},
         lambda: multiclass_batch("labels", (3,), -1)),
        ("multilabel", {"num_labels": C}, lambda: multilabel_batch("probs")),
        ("multilabel_none", {"num_labels": C, "average": "none", "threshold": 0.6},
         lambda: multilabel_batch("probs")),
    ]
    metrics = [torchmetrics.StatScores, torchmetrics.Accuracy, torchmetrics.Precision,
               torchmetrics.Recall, torchmetrics.F1Score, torchmetrics.FBetaScore,
               torchmetrics.Specificity, torchmetrics.HammingDistance]
    for metric in metrics:
        for name, kwargs, batch in tasks:
            args = {"task": name.split("_")[0], **kwargs}
            if metric is torchmetrics.FBetaScore:
                args["beta"] = 0.5
            if metric in (torchmetrics.F1Score, torchmetrics.FBetaScore) and "top_k" in kwargs:
                args["zero_division"] = 1
            w.case(f"{metric.__name__}.{name}", metric, **args)
            play(w, batch)
    for name, kwargs, batch in tasks:
        if name.startswith("binary"):
            continue
        kwargs = {k: v for k, v in kwargs.items() if k not in ("average", "top_k")}
        w.case(f"ExactMatch.{name}", torchmetrics.ExactMatch, task=name.split("_")[0], **kwargs)
        play(w, batch)


def write_rejects(w):
    w.reject(tmc.BinaryAccuracy, "threshold must be in [0, 1], got 1.5", threshold=1.5)
    w.reject(tmc.BinaryAccuracy, 'multidim_average must be "global" or "samplewise", got "sample"',
             multidim_average="sample")
    w.reject(tmc.BinaryPrecision, "zero_division must be 0 or 1, got 0.5", zero_division=0.5)
    w.reject(tmc.BinaryFBetaScore, "beta must be larger than 0, got 0", beta=0.0)
    w.reject(tmc.MulticlassAccuracy, "num_classes must be an integer larger than 1, got 1",
             num_classes=1)
    w.reject(tmc.MulticlassAccuracy,
             'average must be "micro", "macro", "weighted" or "none", got "mean"',
             num_classes=3, average="mean")
    w.reject(tmc.MulticlassAccuracy, "top_k must be at most num_classes (3), got 4",
             num_classes=3, top_k=4)
    w.reject(tmc.MulticlassRecall, 'num_classes is required unless average is "micro"',
             num_classes=None, average="macro")
    w.reject(tmc.MulticlassFBetaScore, "beta must be larger than 0, got -1", beta=-1.0,
             num_classes=3)
    w.reject(tmc.MultilabelAccuracy, "num_labels must be an integer larger than 1, got 1",
             num_labels=1)
    w.reject(tmc.MultilabelF1Score, "threshold must be in [0, 1], got -0.1", num_labels=3,
             threshold=-0.1)
    w.reject(tmc.MulticlassExactMatch, "num_classes must be an integer larger than 1, got 1",
             num_classes=1)
    w.reject(torchmetrics.Accuracy, 'Accuracy(task="multiclass") needs num_classes',
             task="multiclass")
    w.reject(torchmetrics.F1Score, 'F1Score(task="multilabel") needs num_labels',
             task="multilabel")
    w.reject(torchmetrics.Precision,
             'Precision: task must be "binary", "multiclass" or "multilabel", got "regression"',
             task="regression")
    w.reject(torchmetrics.ExactMatch,
             'ExactMatch: task must be "multiclass" or "multilabel", got "binary"', task="binary")

    w.case("BinaryAccuracy.bad_inputs", tmc.BinaryAccuracy)
    w.reject_update("preds and target must have the same shape, got preds [4] and target [5]",
                    probabilities(4), torch.randint(0, 2, (5,)))
    w.reject_update("target must hold only 0 and 1, found [2]",
                    probabilities(4), torch.tensor([0, 1, 2, 1]))
    w.reject_update("integer preds are labels and must hold only 0 and 1, found [3]",
                    torch.tensor([0, 3, 1, 1]), torch.tensor([0, 1, 0, 1]))
    w.update(probabilities(4), torch.tensor([0, 1, 0, 1]))  # still usable
    w.compute()
    w.case("BinaryRecall.bad_ignore", tmc.BinaryRecall, ignore_index=-1)
    w.reject_update("target must hold only 0 and 1 (or ignore_index -1), found [-2]",
                    probabilities(4), torch.tensor([0, -1, -2, 1]))
    w.case("BinaryF1Score.bad_samplewise", tmc.BinaryF1Score, multidim_average="samplewise")
    w.reject_update('multidim_average "samplewise" needs preds and target of at least 2',
                    probabilities(4), torch.tensor([0, 1, 0, 1]))
    w.case("MulticlassAccuracy.bad_inputs", tmc.MulticlassAccuracy, num_classes=4)
    w.reject_update("must have C = num_classes = 4 scores, got preds [4, 3]",
                    probabilities((4, 3)), torch.tensor([0, 1, 2, 1]))
    w.reject_update("must be floating scores",
                    torch.randint(0, 4, (4, 4)), torch.tensor([0, 1, 2, 1]))
    w.reject_update("preds must be (N, ...) class labels of target's shape or (N, C, ...) scores",
                    torch.tensor([0, 1, 2, 1]), torch.randint(0, 4, (4, 2, 2)))
    w.reject_update("target must hold class indices in [0, 4), found [4, 5, 6]",
                    torch.tensor([0, 1, 2, 3, 0, 1, 2, 3]), torch.tensor([0, 1, 2, 3, 4, 5, 6, 0]))
    w.update(torch.tensor([0, 1, 2, 3]), torch.tensor([0, 1, 1, 3]))
    w.compute()
    w.case("MultilabelPrecision.bad_inputs", tmc.MultilabelPrecision, num_labels=3)
    w.reject_update("must be (N, num_labels, ...) with num_labels = 3, got shape [4, 2]",
                    probabilities((4, 2)), torch.randint(0, 2, (4, 2)))
    w.case("MultilabelRecall.bad_samplewise", tmc.MultilabelRecall, num_labels=3,
           multidim_average="samplewise")
    w.reject_update("needs preds and target of at least 3 dimensions",
                    probabilities((4, 3)), torch.randint(0, 2, (4, 3)))


def main():
    torch.manual_seed(20261205)
    path = os.path.relpath(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                        "stat_scores_reference.txt"))
    w = Writer(path, f"torchmetrics {torchmetrics.__version__}, torch {torch.__version__}: "
                     "the stat-scores family")
    write_family(w)
    write_exact_match(w)
    write_task_classes(w)
    write_rejects(w)
    w.close()
    print(f"{path}: {w.cases} cases")


if __name__ == "__main__":
    main()
