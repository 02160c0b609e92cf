#!/usr/bin/python3
"""Reference tables for tests/optim/cyclic_scheduler_test.cpp.

Runs PyTorch 1.13's CyclicLR, OneCycleLR and ReduceLROnPlateau on dummy
parameters and prints, for every case, the learning rate (and momentum or
beta1) of each parameter group after construction and after every step.

Re-run with Debian's interpreter, which has torch 1.13.1 (the `python3` on
PATH may be another one without torch):

    /usr/bin/python3 tests/optim/cyclic_scheduler_reference.py \
        > tests/optim/cyclic_scheduler_reference.txt

Format (one record a line, tokens separated by single spaces, floats as
Python's repr, which round-trips exactly through strtod):

    case NAME
    step K [metric M] lr LR0 [LR1] [mom M0 [M1]] [best B bad N cooldown C]
    error MESSAGE                      (the message of the step after the last)
    end

`step K` is the state after construction or after a step, K the scheduler's
last_epoch then (0 after construction but for the cases built with last_epoch).
`mom` is the group's `momentum` (SGD, RMSprop) or `betas[0]` (Adam, AdamW),
written whether or not the scheduler cycles it. `metric` is the value passed
to ReduceLROnPlateau.step for that step; `best`, `bad` and `cooldown` are its
best, num_bad_epochs and cooldown_counter afterwards.

The C++ test builds each case by name with the same arguments; keep the two in
step when adding a case.
"""

import math
import sys
import warnings

import torch
from torch.optim import lr_scheduler as S

warnings.simplefilter("ignore")  # "lr_scheduler.step() before optimizer.step()"

assert torch.__version__.startswith("1.13"), torch.__version__


def params(n=1):
    return [torch.nn.Parameter(torch.zeros(2)) for _ in range(n)]


def groups(lrs):
    """One parameter group per learning rate."""
    return [{"params": params(), "lr": lr} for lr in lrs]


def momentum_of(group):
    if "betas" in group:
        return group["betas"][0]
    if "momentum" in group:
        return group["momentum"]
    return None


def row(k, opt, metric=None, plateau=None):
    out = ["step", str(k)]
    if metric is not None:
        out += ["metric", repr(float(metric))]
    out.append("lr")
    out += [repr(float(g["lr"])) for g in opt.param_groups]
    moms = [momentum_of(g) for g in opt.param_groups]
    if all(m is not None for m in moms):
        out.append("mom")
        out += [repr(float(m)) for m in moms]
    if plateau is not None:
        out += ["best", repr(float(plateau.best)), "bad", str(plateau.num_bad_epochs),
                "cooldown", str(plateau.cooldown_counter)]
    return " ".join(out)


def run_stepped(name, opt, sched, steps, expect_error=False):
    print("case", name)
    print(row(sched.last_epoch, opt))
    for _ in range(steps):
        sched.step()
        print(row(sched.last_epoch, opt))
    if expect_error:
        try:
            sched.step()
        except ValueError as e:
            print("error", str(e))
        else:
            raise AssertionError(name + ": expected an error after the last step")
    print("end")


def run_plateau(name, opt, sched, metrics):
    print("case", name)
    print(row(0, opt, plateau=sched))
    for k, m in enumerate(metrics, start=1):
        sched.step(m)
        print(row(k, opt, metric=m, plateau=sched))
    print("end")


# ----------------------------------------------------------------- CyclicLR

def cyclic_cases():
    opt = torch.optim.SGD(params(), lr=0.5, momentum=0.9)
    s = S.CyclicLR(opt, base_lr=0.01, max_lr=0.1, step_size_up=4)
    run_stepped("cyclic_triangular_sgd", opt, s, 30)

    opt = torch.optim.RMSprop(params(), lr=0.5, momentum=0.5)
    s = S.CyclicLR(opt, base_lr=0.001, max_lr=0.01, step_size_up=3, step_size_down=5,
                   mode="triangular2", base_momentum=0.85, max_momentum=0.95)
    run_stepped("cyclic_triangular2_rmsprop", opt, s, 40)

    opt = torch.optim.SGD(params(), lr=0.5, momentum=0.9)
    s = S.CyclicLR(opt, base_lr=0.02, max_lr=0.2, step_size_up=5, step_size_down=2,
                   mode="exp_range", gamma=0.97)
    run_stepped("cyclic_exp_range_sgd", opt, s, 40)

    # A custom scale_fn on the cycle number: triangular2's formula.
    opt = torch.optim.SGD(params(), lr=0.5, momentum=0.9)
    s = S.CyclicLR(opt, base_lr=0.01, max_lr=0.05, step_size_up=2, step_size_down=3,
                   scale_fn=lambda x: 1 / (2. ** (x - 1)), scale_mode="cycle")
    run_stepped("cyclic_custom_cycle_sgd", opt, s, 25)

    # A custom scale_fn on the iteration count, two groups with their own bounds.
    opt = torch.optim.SGD(groups([0.3, 0.6]), lr=0.5, momentum=0.9)
    s = S.CyclicLR(opt, base_lr=[0.01, 0.02], max_lr=[0.1, 0.3], step_size_up=3,
                   step_size_down=4, scale_fn=lambda x: 1 / (1. + 0.1 * x),
                   scale_mode="iterations", base_momentum=[0.8, 0.7],
                   max_momentum=[0.9, 0.95])
    run_stepped("cyclic_custom_iterations_sgd_2groups", opt, s, 30)

    # exp_range with a scale_fn given: mode is ignored.
    opt = torch.optim.SGD(params(), lr=0.5, momentum=0.9)
    s = S.CyclicLR(opt, base_lr=0.01, max_lr=0.05, step_size_up=2, mode="exp_range",
                   gamma=0.5, scale_fn=lambda x: 1 / (2. ** (x - 1)), scale_mode="cycle")
    run_stepped("cyclic_scale_fn_overrides_mode_sgd", opt, s, 12)

    # A sawtooth: no decreasing half.
    opt = torch.optim.SGD(params(), lr=0.5, momentum=0.9)
    s = S.CyclicLR(opt, base_lr=0.01, max_lr=0.05, step_size_up=4, step_size_down=0)
    run_stepped("cyclic_sawtooth_sgd", opt, s, 13)

    # Adam without momentum cycling (1.13 refuses to cycle beta1): beta1 untouched.
    opt = torch.optim.Adam(params(), lr=0.5, betas=(0.85, 0.99))
    s = S.CyclicLR(opt, base_lr=0.001, max_lr=0.004, step_size_up=3, mode="triangular2",
                   cycle_momentum=False)
    run_stepped("cyclic_no_momentum_adam", opt, s, 20)

    # Resuming with last_epoch: a second scheduler on the same optimizer reads
    # initial_lr, and (1.13) takes the groups' momentums as base momentums.
    opt = torch.optim.SGD(params(), lr=0.5, momentum=0.9)
    first = S.CyclicLR(opt, base_lr=0.01, max_lr=0.1, step_size_up=4)
    for _ in range(5):
        first.step()
    s = S.CyclicLR(opt, base_lr=0.01, max_lr=0.1, step_size_up=4, last_epoch=5)
    run_stepped("cyclic_resume_last_epoch_sgd", opt, s, 12)


# --------------------------------------------------------------- OneCycleLR

def one_cycle_cases():
    opt = torch.optim.SGD(params(), lr=0.5, momentum=0.9)
    s = S.OneCycleLR(opt, max_lr=0.1, total_steps=20)
    run_stepped("onecycle_cos_sgd", opt, s, 20, expect_error=True)

    opt = torch.optim.Adam(params(), lr=0.5)
    s = S.OneCycleLR(opt, max_lr=0.01, epochs=4, steps_per_epoch=6, pct_start=0.25,
                     anneal_strategy="linear", base_momentum=0.8, max_momentum=0.9,
                     div_factor=10., final_div_factor=100.)
    run_stepped("onecycle_linear_epochs_adam", opt, s, 24, expect_error=True)

    opt = torch.optim.AdamW(params(), lr=0.5, betas=(0.9, 0.98))
    s = S.OneCycleLR(opt, max_lr=0.003, total_steps=30, pct_start=0.2, three_phase=True)
    run_stepped("onecycle_three_phase_adamw", opt, s, 30, expect_error=True)

    opt = torch.optim.SGD(groups([0.1, 0.2]), lr=0.5, momentum=0.9)
    s = S.OneCycleLR(opt, max_lr=[0.05, 0.2], total_steps=25, pct_start=0.4,
                     anneal_strategy="linear", three_phase=True,
                     base_momentum=[0.8, 0.85], max_momentum=[0.9, 0.99])
    run_stepped("onecycle_three_phase_linear_sgd_2groups", opt, s, 25, expect_error=True)

    opt = torch.optim.RMSprop(groups([0.1, 0.2]), lr=0.5, momentum=0.3)
    s = S.OneCycleLR(opt, max_lr=[0.05, 0.2], total_steps=15, cycle_momentum=False)
    run_stepped("onecycle_no_momentum_rmsprop_2groups", opt, s, 15, expect_error=True)

    # pct_start * total_steps not an integer: fractional phase ends.
    opt = torch.optim.SGD(params(), lr=0.5, momentum=0.9)
    s = S.OneCycleLR(opt, max_lr=1.0, total_steps=17, pct_start=0.33, div_factor=5.,
                     final_div_factor=50.)
    run_stepped("onecycle_fractional_sgd", opt, s, 17, expect_error=True)

    # Resuming with last_epoch: initial_lr (and the group values) from the first.
    opt = torch.optim.SGD(params(), lr=0.5, momentum=0.9)
    first = S.OneCycleLR(opt, max_lr=0.1, total_steps=20)
    for _ in range(7):
        first.step()
    s = S.OneCycleLR(opt, max_lr=0.1, total_steps=20, last_epoch=7)
    run_stepped("onecycle_resume_last_epoch_sgd", opt, s, 12, expect_error=True)


# -------------------------------------------------------- ReduceLROnPlateau

def plateau_cases():
    improving = [1.0 - 0.05 * i for i in range(8)]
    flat = [0.65, 0.6499, 0.6502, 0.65, 0.6498, 0.651, 0.6497, 0.65]
    noisy = [0.62, 0.7, 0.6, 0.61, 0.59, 0.64, 0.588, 0.6, 0.6, 0.6, 0.3, 0.31, 0.32, 0.33,
             0.34, 0.35, 0.36]

    opt = torch.optim.SGD(params(), lr=1.0, momentum=0.9)
    s = S.ReduceLROnPlateau(opt, mode="min", factor=0.5, patience=2, threshold=0.01)
    run_plateau("plateau_min_rel_sgd", opt, s, improving + flat + noisy)

    # mode max, absolute threshold, cooldown, a floor that is reached.
    rising = [0.1, 0.2, 0.3, 0.33, 0.36, 0.37, 0.38, 0.5, 0.52, 0.54, 0.56, 0.6, 0.58, 0.61,
              0.62, 0.63, 0.64, 0.65, 0.66, 0.2, 0.7, 0.71, 0.72, 0.73, 0.74, 0.75]
    opt = torch.optim.Adam(params(), lr=0.1)
    s = S.ReduceLROnPlateau(opt, mode="max", factor=0.3, patience=1, threshold=0.05,
                            threshold_mode="abs", cooldown=2, min_lr=0.005)
    run_plateau("plateau_max_abs_cooldown_adam", opt, s, rising)

    # Two groups with their own floors; eps stops group 0 from creeping down.
    opt = torch.optim.SGD(groups([0.01, 1.0]), lr=0.5, momentum=0.9)
    s = S.ReduceLROnPlateau(opt, mode="min", factor=0.5, patience=0, threshold=1e-3,
                            cooldown=1, min_lr=[1e-4, 0.05], eps=1e-3)
    run_plateau("plateau_2groups_min_lr_sgd", opt, s, [5.0] * 3 + [4.0] + [4.5] * 20)

    # mode max, relative threshold, negative values and a NaN.
    wobble = [-1.0, -0.9, -0.95, -0.5, -0.49, -0.2, float("nan"), -0.1, 0.0, 0.0, 0.5, 0.51,
              0.505, 0.9, float("nan"), 0.95, 1.2, 1.1, 1.0, 1.19, 1.3, 1.25, 1.2, 1.1, 1.0,
              0.9, 0.8, 0.7]
    opt = torch.optim.RMSprop(params(), lr=0.02, momentum=0.5)
    s = S.ReduceLROnPlateau(opt, mode="max", factor=0.25, patience=1, threshold=0.05,
                            threshold_mode="rel", cooldown=1, min_lr=1e-3)
    run_plateau("plateau_max_rel_nan_rmsprop", opt, s, wobble)

    # mode min, absolute threshold, defaults otherwise (patience 10).
    slow = [3.0 - 0.01 * i for i in range(15)] + [2.86] * 25 + [1.0, 0.99995] + [0.9] * 14
    opt = torch.optim.AdamW(params(), lr=0.01)
    s = S.ReduceLROnPlateau(opt, mode="min", threshold=0.02, threshold_mode="abs")
    run_plateau("plateau_min_abs_defaults_adamw", opt, s, slow)


def main():
    print("# Generated by tests/optim/cyclic_scheduler_reference.py with torch",
          torch.__version__, "on Python", sys.version.split()[0])
    cyclic_cases()
    one_cycle_cases()
    plateau_cases()


if __name__ == "__main__":
    main()
