#!/usr/bin/python3
"""Reference learning rates for tests/optim/lr_scheduler_test.cpp.

Runs PyTorch 1.13's torch.optim.lr_scheduler on a dummy parameter for every
case below and writes tests/optim/lr_scheduler_reference.txt, which the C++
test replays case by case (the C++ side builds the same optimizer and
scheduler by case name, then performs the recorded actions).

Re-run (Debian's python, which has torch 1.13; the `python3` on PATH may not):

    /usr/bin/python3 tests/optim/lr_scheduler_reference.py > tests/optim/lr_scheduler_reference.txt

File format, one record a line, fields separated by single spaces:

    case NAME NUM_GROUPS
    lr NAME INDEX ACTION LR_GROUP0 [LR_GROUP1 ...]
    state NAME KEY TYPE [VALUE]

ACTION is `init` (the rates right after construction), `step` (step()),
`epoch=E` (the deprecated step(E) with an int) or `frac=F` (step(F) with a
float, CosineAnnealingWarmRestarts only). The lrs are get_last_lr() after the
action, as repr() of the Python floats (round-trip exact). The `state` lines
list scheduler.state_dict() after the last action in insertion order: the key
(nested scheduler states as `_schedulers[I].KEY`), the Python type (`int`,
`float`, `bool`, `none`, `dict`, `list[T]`) and, for numbers, lists of numbers
and dicts, the value (`1,2` for a list, `K:V,K:V` for a dict).
"""

import math
import sys
import warnings

import torch
from torch.optim import SGD, Adagrad, Adam, AdamW, RMSprop
from torch.optim import lr_scheduler as S

warnings.filterwarnings("ignore")


def make_optimizer(kind, lrs):
    """`kind` with one parameter group per entry of `lrs`."""
    groups = [{"params": [torch.zeros(2, requires_grad=True)], "lr": lr} for lr in lrs]
    cls = {"SGD": SGD, "Adam": Adam, "AdamW": AdamW, "Adagrad": Adagrad, "RMSprop": RMSprop}[kind]
    return cls(groups, lr=lrs[0])


def set_initial_lr(opt):
    """What a resumed run has: initial_lr already in the groups."""
    for g in opt.param_groups:
        g["initial_lr"] = g["lr"]


def steps(n):
    return ["step"] * n


# Each case: name -> (builder returning the scheduler, actions). The C++ test
# has a builder of the same name with the same optimizer and arguments.
def cases():
    c = {}

    def add(name, build, actions):
        c[name] = (build, actions)

    # StepLR
    add("step_default_sgd", lambda: S.StepLR(make_optimizer("SGD", [0.1]), step_size=3), steps(30))
    add("step_gamma_adam",
        lambda: S.StepLR(make_optimizer("Adam", [0.01]), step_size=7, gamma=0.5), steps(40))
    add("step_two_groups_rmsprop",
        lambda: S.StepLR(make_optimizer("RMSprop", [0.1, 0.03]), step_size=4, gamma=0.7), steps(30))

    def step_resumed():
        opt = make_optimizer("SGD", [0.2])
        set_initial_lr(opt)
        return S.StepLR(opt, step_size=3, gamma=0.5, last_epoch=5)

    add("step_resumed", step_resumed, steps(20))
    add("step_closed_form",
        lambda: S.StepLR(make_optimizer("SGD", [0.1]), step_size=3, gamma=0.5),
        steps(4) + ["epoch=10", "step", "step", "epoch=2", "step", "epoch=0", "epoch=13"] + steps(5))

    # MultiStepLR
    add("multistep_repeated_sgd",
        lambda: S.MultiStepLR(make_optimizer("SGD", [0.05]), milestones=[10, 5, 25, 10], gamma=0.5),
        steps(40))
    add("multistep_default_adamw",
        lambda: S.MultiStepLR(make_optimizer("AdamW", [1e-3]), milestones=[3, 8]), steps(20))
    add("multistep_two_groups_adagrad",
        lambda: S.MultiStepLR(make_optimizer("Adagrad", [0.1, 0.5]), milestones=[2, 6, 6, 9],
                              gamma=0.3), steps(20))
    add("multistep_closed_form",
        lambda: S.MultiStepLR(make_optimizer("SGD", [0.05]), milestones=[10, 5, 25, 10], gamma=0.5),
        steps(3) + ["epoch=11", "step", "epoch=26", "step", "epoch=5", "epoch=4"] + steps(3))

    # ExponentialLR
    add("exponential_rmsprop",
        lambda: S.ExponentialLR(make_optimizer("RMSprop", [0.01]), gamma=0.9), steps(50))
    add("exponential_two_groups_sgd",
        lambda: S.ExponentialLR(make_optimizer("SGD", [0.1, 0.02]), gamma=0.95), steps(40))
    add("exponential_closed_form",
        lambda: S.ExponentialLR(make_optimizer("Adam", [0.1]), gamma=0.8),
        steps(3) + ["epoch=17", "step", "epoch=1"] + steps(4))

    # ConstantLR
    add("constant_default_adagrad", lambda: S.ConstantLR(make_optimizer("Adagrad", [0.1])),
        steps(12))
    add("constant_factor_sgd",
        lambda: S.ConstantLR(make_optimizer("SGD", [0.5]), factor=0.5, total_iters=4), steps(10))
    add("constant_two_groups_adam",
        lambda: S.ConstantLR(make_optimizer("Adam", [0.3, 0.07]), factor=0.25, total_iters=6),
        steps(15))
    add("constant_closed_form",
        lambda: S.ConstantLR(make_optimizer("SGD", [0.5]), factor=0.5, total_iters=4),
        steps(2) + ["epoch=7", "step", "epoch=3", "step", "step"])

    # LinearLR
    add("linear_default_sgd", lambda: S.LinearLR(make_optimizer("SGD", [0.05])), steps(12))
    add("linear_decay_adam",
        lambda: S.LinearLR(make_optimizer("Adam", [0.01]), start_factor=1.0, end_factor=0.1,
                           total_iters=10), steps(20))
    add("linear_two_groups_adamw",
        lambda: S.LinearLR(make_optimizer("AdamW", [0.1, 0.004]), start_factor=0.25,
                           end_factor=0.75, total_iters=8), steps(16))
    add("linear_closed_form",
        lambda: S.LinearLR(make_optimizer("SGD", [0.05]), start_factor=0.2, total_iters=6),
        steps(2) + ["epoch=4", "step", "epoch=9", "step", "epoch=0", "step"])

    # PolynomialLR
    add("polynomial_default_sgd", lambda: S.PolynomialLR(make_optimizer("SGD", [0.001])), steps(10))
    add("polynomial_power2_adamw",
        lambda: S.PolynomialLR(make_optimizer("AdamW", [0.01]), total_iters=20, power=2.0),
        steps(30))
    add("polynomial_half_two_groups_rmsprop",
        lambda: S.PolynomialLR(make_optimizer("RMSprop", [0.1, 0.05]), total_iters=12, power=0.5),
        steps(20))
    add("polynomial_closed_form",
        lambda: S.PolynomialLR(make_optimizer("SGD", [0.01]), total_iters=10, power=2.0),
        steps(2) + ["epoch=5", "step", "epoch=12", "step", "epoch=9", "step"])

    # LambdaLR
    add("lambda_single_sgd",
        lambda: S.LambdaLR(make_optimizer("SGD", [0.1]), lr_lambda=lambda e: 0.95 ** e), steps(30))
    add("lambda_per_group_adam",
        lambda: S.LambdaLR(make_optimizer("Adam", [0.1, 0.01]),
                           lr_lambda=[lambda e: e // 3, lambda e: min(1.0, (e + 1) / 10)]),
        steps(25))
    add("lambda_epoch_jumps",
        lambda: S.LambdaLR(make_optimizer("SGD", [0.1]), lr_lambda=lambda e: 0.95 ** e),
        steps(2) + ["epoch=10", "step", "epoch=3", "step"])

    # MultiplicativeLR
    add("multiplicative_adagrad",
        lambda: S.MultiplicativeLR(make_optimizer("Adagrad", [0.1]), lr_lambda=lambda e: 0.95),
        steps(30))
    add("multiplicative_per_group_sgd",
        lambda: S.MultiplicativeLR(make_optimizer("SGD", [0.2, 0.05]),
                                   lr_lambda=[lambda e: 0.9, lambda e: 1.0 - 0.01 * e]),
        steps(30))

    # CosineAnnealingLR
    add("cosine_default_sgd",
        lambda: S.CosineAnnealingLR(make_optimizer("SGD", [0.1]), T_max=10), steps(45))
    add("cosine_eta_min_two_groups_adam",
        lambda: S.CosineAnnealingLR(make_optimizer("Adam", [0.01, 0.05]), T_max=7, eta_min=1e-4),
        steps(40))

    def cosine_resumed():
        opt = make_optimizer("SGD", [0.1])
        set_initial_lr(opt)
        return S.CosineAnnealingLR(opt, T_max=10, eta_min=0.01, last_epoch=3)

    add("cosine_resumed", cosine_resumed, steps(30))
    add("cosine_closed_form",
        lambda: S.CosineAnnealingLR(make_optimizer("RMSprop", [0.1]), T_max=8, eta_min=0.001),
        steps(3) + ["epoch=6", "step", "epoch=13", "step", "step", "epoch=2", "step"])

    # CosineAnnealingWarmRestarts
    add("warm_restarts_default_sgd",
        lambda: S.CosineAnnealingWarmRestarts(make_optimizer("SGD", [0.1]), T_0=5), steps(30))
    add("warm_restarts_tmult2_rmsprop",
        lambda: S.CosineAnnealingWarmRestarts(make_optimizer("RMSprop", [0.01, 0.1]), T_0=3,
                                              T_mult=2, eta_min=0.001), steps(60))
    add("warm_restarts_epochs",
        lambda: S.CosineAnnealingWarmRestarts(make_optimizer("Adam", [0.1]), T_0=4, T_mult=2,
                                              eta_min=0.002),
        steps(3) + ["epoch=26", "step", "step", "epoch=2", "step", "frac=7.5", "frac=0.25",
                    "step", "frac=31.75", "step"])
    add("warm_restarts_epochs_tmult1",
        lambda: S.CosineAnnealingWarmRestarts(make_optimizer("SGD", [0.1]), T_0=6),
        steps(2) + ["epoch=20", "step", "frac=13.5", "step", "epoch=3", "step"])

    # SequentialLR
    def sequential_linear_exp():
        opt = make_optimizer("SGD", [0.1])
        warmup = S.LinearLR(opt, start_factor=0.1, total_iters=5)
        decay = S.ExponentialLR(opt, gamma=0.9)
        return S.SequentialLR(opt, schedulers=[warmup, decay], milestones=[5])

    add("sequential_linear_exp_sgd", sequential_linear_exp, steps(30))

    def sequential_three():
        opt = make_optimizer("AdamW", [0.01, 0.002])
        s1 = S.ConstantLR(opt, factor=0.5, total_iters=3)
        s2 = S.CosineAnnealingLR(opt, T_max=10)
        s3 = S.StepLR(opt, step_size=4, gamma=0.5)
        return S.SequentialLR(opt, schedulers=[s1, s2, s3], milestones=[4, 15])

    add("sequential_three_adamw", sequential_three, steps(40))

    def sequential_lambda_warm():
        opt = make_optimizer("Adam", [0.1, 0.3])
        s1 = S.LinearLR(opt, start_factor=0.5, total_iters=4)
        s2 = S.MultiplicativeLR(opt, lr_lambda=lambda e: 0.9)
        s3 = S.LambdaLR(opt, lr_lambda=lambda e: 0.95 ** e)
        s4 = S.CosineAnnealingWarmRestarts(opt, T_0=4, T_mult=2)
        return S.SequentialLR(opt, schedulers=[s1, s2, s3, s4], milestones=[6, 12, 20])

    add("sequential_four_adam", sequential_lambda_warm, steps(45))

    # ChainedScheduler
    def chained_constant_exp():
        opt = make_optimizer("SGD", [1.0])
        s1 = S.ConstantLR(opt, factor=0.1, total_iters=2)
        s2 = S.ExponentialLR(opt, gamma=0.9)
        return S.ChainedScheduler([s1, s2])

    add("chained_constant_exp_sgd", chained_constant_exp, steps(20))

    def chained_three():
        opt = make_optimizer("Adagrad", [0.1, 0.02])
        s1 = S.LinearLR(opt, start_factor=0.2, total_iters=5)
        s2 = S.MultiStepLR(opt, milestones=[3, 9], gamma=0.5)
        s3 = S.CosineAnnealingLR(opt, T_max=12, eta_min=0.0)
        return S.ChainedScheduler([s1, s2, s3])

    add("chained_three_adagrad", chained_three, steps(30))
    return c


def type_tag(v):
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float"
    if v is None:
        return "none"
    if isinstance(v, dict):
        return "dict"
    if isinstance(v, (list, tuple)):
        tags = sorted({type_tag(e) for e in v})
        return "list[" + ",".join(tags) + "]"
    raise TypeError(f"unexpected state value {v!r}")


def state_lines(name, state, prefix=""):
    out = []
    for key, value in state.items():
        tag = type_tag(value)
        line = f"state {name} {prefix}{key} {tag}"
        if tag in ("int", "float"):
            line += f" {value!r}"
        elif tag in ("list[int]", "list[float]"):
            line += " " + ",".join(repr(e) for e in value)
        elif tag == "dict":
            line += " " + ",".join(f"{k!r}:{v!r}" for k, v in value.items())
        out.append(line)
        if tag == "list[dict]":
            for i, child in enumerate(value):
                out.extend(state_lines(name, child, f"{prefix}{key}[{i}]."))
    return out


def main():
    out = []
    for name, (build, actions) in cases().items():
        sched = build()
        out.append(f"case {name} {len(sched.optimizer.param_groups)}")

        def record(index, action):
            lrs = " ".join(repr(float(v)) for v in sched.get_last_lr())
            out.append(f"lr {name} {index} {action} {lrs}")

        record(0, "init")
        for i, action in enumerate(actions, start=1):
            if action == "step":
                sched.step()
            elif action.startswith("epoch="):
                sched.step(int(action[len("epoch="):]))
            elif action.startswith("frac="):
                sched.step(float(action[len("frac="):]))
            else:
                raise ValueError(action)
            record(i, action)
        out.extend(state_lines(name, sched.state_dict()))
    sys.stdout.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
