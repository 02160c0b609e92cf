// lightning/checkpoint/optimizer_state.h — a libtorch optimizer's state in
// PyTorch's Python layout, as `optimizer.state_dict()` returns it:
//
//   {"state": {0: {"momentum_buffer": tensor}, 1: {...}},
//    "param_groups": [{"lr": 0.1, "momentum": 0.9, ..., "params": [0, 1]}]}
//
// so that a checkpoint written here loads into Python's optimizer of the same
// type (`torch.optim.SGD(...).load_state_dict(ckpt["optimizer_states"][0])`)
// and one written by Python loads here. Parameters are numbered in order
// across groups, as PyTorch does.
#pragma once

#include <torch/optim/optimizer.h>

#include "lightning/export.h"
#include "lightning/state_dict.h"

namespace lightning {

/// The state of `optimizer` (libtorch's SGD, Adam, AdamW, Adagrad or RMSprop)
/// in PyTorch 1.13's layout and key names:
///
/// - "param_groups": per group, the keys of 1.13's `defaults` dict for that
///   optimizer, in its order, then "initial_lr" when a lightning.cpp
///   scheduler recorded one (Python's schedulers write it there), then
///   "params" (ints). Numbers are Python floats (libtorch's options are
///   doubles); Adam's and AdamW's "betas" is a tuple; keys libtorch has no
///   option for ("maximize", "foreach", "capturable", "differentiable",
///   "fused") hold Python's defaults (False, or None for "foreach").
/// - "state": a dict with int keys (the parameter's number across groups)
///   holding only parameters that have state: SGD "momentum_buffer"; Adam and
///   AdamW "step" (a float32 0-dim tensor, as 1.13), "exp_avg",
///   "exp_avg_sq", "max_exp_avg_sq" (with amsgrad); Adagrad "step" (same
///   tensor), "sum"; RMSprop "step" (an int, as 1.13), "square_avg",
///   "momentum_buffer" (momentum > 0), "grad_avg" (centered). SGD without
///   momentum has no state here, where Python writes {"momentum_buffer":
///   None} for each stepped parameter; both load to the same optimizer.
///
/// The state tensors are the optimizer's own (as Python's state_dict()
/// returns them), not copies: the next step changes them. `lightning::Error`
/// naming the optimizer for any other optimizer type (LBFGS, a custom one;
/// subclasses of the five above count as them).
LIGHTNING_API StateDict optimizer_state_dict(const torch::optim::Optimizer& optimizer);

/// Restores `state` (from `optimizer_state_dict` or Python's
/// `optimizer.state_dict()`) into `optimizer`, as Python's load_state_dict:
/// every group's hyperparameters are replaced by the saved ones, and the
/// per-parameter state is replaced by copies of the saved tensors, converted
/// to the parameter's device (and dtype, for floating-point parameters), in
/// libtorch's typed state (AdamParamState, ...) so that the next `step()`
/// continues exactly as the saving optimizer would have. A parameter without
/// a saved entry starts afresh on its next step. "step" may be a tensor, an
/// int or a float. Keys Python's `__setstate__` fills in ("nesterov",
/// "amsgrad", RMSprop's "momentum" and "centered") may be missing; other
/// keys libtorch cannot represent ("foreach", "initial_lr", ...) are
/// ignored, except that maximize=True is an error (libtorch only minimizes).
///
/// `lightning::Error` naming the group or parameter index and what differs
/// when the number of groups, the number of parameters in a group, or a
/// state tensor's shape does not match, when a key is missing or holds
/// another type, or for an unsupported optimizer type. Everything is checked
/// before anything changes: a failed load leaves `optimizer` as it was.
LIGHTNING_API void load_optimizer_state_dict(torch::optim::Optimizer& optimizer,
                                             const StateDict& state);

}  // namespace lightning
