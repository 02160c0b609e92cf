#!/usr/bin/python3
"""PyTorch 1.13's optimizer.state_dict() for tests/checkpoint/optimizer_state_test.cpp.

Run with Debian's python (it has torch 1.13; the `python3` on PATH may not):

    /usr/bin/python3 tests/checkpoint/optimizer_state_reference.py
        For every case below: build the optimizer on four fixed parameters in
        two groups, run steps 1-3 and then 4-6 on fixed gradients, and print
        the parameters before, the state_dict() and parameters after step 3,
        and the same after step 6.

    /usr/bin/python3 tests/checkpoint/optimizer_state_reference.py continue FILE
        FILE holds, per case, parameters and a state written by lightning.cpp
        after its step 3. Build the case's optimizer on those parameters,
        load_state_dict() the state, print state_dict() right after loading,
        run steps 4-6 and print the state and parameters again.

Parameters and gradients are exact binary fractions computed from their
indices, so the C++ test builds the same ones. Parameter 3 (group 1) never
gets a gradient, so it has no state except with Adagrad, which makes state
for every parameter in its constructor.

Text format: whitespace-separated tokens. A record is a label token (`case
NAME`, `params0`, `state3`, `params3`, `loaded`, `state6`, `params6`, `end`)
followed, except for `case` and `end`, by one value:

    None | bool True|False | int N | float REPR | str WORD
    tensor DTYPE NDIM D1 .. DNDIM V1 .. VN      (values row-major, repr of each)
    tuple N V1 .. VN | list N V1 .. VN | dict N K1 V1 .. KN VN

Floats are Python's repr(), which reads back to the same double.
"""

import sys

import torch

SHAPES = [(2, 3), (3,), (2, 2), (2,)]
GROUPS = [[0, 1], [2, 3]]
NO_GRAD = 3  # the parameter that never gets a gradient


def weight(i, j):
    return ((7 * i + 3 * j) % 11 - 5) / 8.0


def gradient(step, i, j):
    return ((5 * step + 3 * i + 7 * j) % 13 - 6) / 16.0


def numel(shape):
    n = 1
    for d in shape:
        n *= d
    return n


# name -> (class, group 0 options (also the constructor's defaults), group 1 options).
# Every number is a float, as lightning.cpp writes libtorch's double options.
CASES = {
    "sgd_nesterov": (
        torch.optim.SGD,
        dict(lr=0.1, momentum=0.9, dampening=0.0, weight_decay=0.01, nesterov=True),
        dict(lr=0.05, momentum=0.5, dampening=0.0, weight_decay=0.0, nesterov=True),
    ),
    "sgd_plain": (
        torch.optim.SGD,
        dict(lr=0.1, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False),
        dict(lr=0.2, momentum=0.0, dampening=0.0, weight_decay=0.1, nesterov=False),
    ),
    "sgd_dampening": (
        torch.optim.SGD,
        dict(lr=0.1, momentum=0.9, dampening=0.1, weight_decay=0.0, nesterov=False),
        dict(lr=0.3, momentum=0.0, dampening=0.0, weight_decay=0.01, nesterov=False),
    ),
    "adam": (
        torch.optim.Adam,
        dict(lr=0.01, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False),
        dict(lr=0.02, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1, amsgrad=False),
    ),
    "adam_amsgrad": (
        torch.optim.Adam,
        dict(lr=0.01, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01, amsgrad=True),
        dict(lr=0.03, betas=(0.5, 0.9), eps=1e-7, weight_decay=0.0, amsgrad=False),
    ),
    "adamw": (
        torch.optim.AdamW,
        dict(lr=0.01, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01, amsgrad=False),
        dict(lr=0.02, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1, amsgrad=True),
    ),
    "adagrad": (
        torch.optim.Adagrad,
        dict(lr=0.1, lr_decay=0.01, weight_decay=0.0, initial_accumulator_value=0.1, eps=1e-10),
        dict(lr=0.05, lr_decay=0.0, weight_decay=0.1, initial_accumulator_value=0.0, eps=1e-8),
    ),
    "rmsprop_centered": (
        torch.optim.RMSprop,
        dict(lr=0.01, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.9, centered=True),
        dict(lr=0.02, alpha=0.9, eps=1e-6, weight_decay=0.1, momentum=0.0, centered=False),
    ),
    "rmsprop_momentum": (
        torch.optim.RMSprop,
        dict(lr=0.01, alpha=0.95, eps=1e-8, weight_decay=0.01, momentum=0.5, centered=False),
        dict(lr=0.02, alpha=0.9, eps=1e-6, weight_decay=0.0, momentum=0.0, centered=True),
    ),
}


def initial_params():
    return [
        torch.tensor([weight(i, j) for j in range(numel(s))], dtype=torch.float32).reshape(s)
        for i, s in enumerate(SHAPES)
    ]


def make_optimizer(name, params):
    cls, g0, g1 = CASES[name]
    params = [p.detach().clone().requires_grad_() for p in params]
    groups = [dict(params=[params[i] for i in GROUPS[0]], **g0),
              dict(params=[params[i] for i in GROUPS[1]], **g1)]
    return cls(groups, **g0), params


def run_steps(optimizer, params, first, last):
    for step in range(first, last + 1):
        for i, p in enumerate(params):
            if i == NO_GRAD:
                p.grad = None
                continue
            values = [gradient(step, i, j) for j in range(p.numel())]
            p.grad = torch.tensor(values, dtype=torch.float32).reshape(p.shape)
        optimizer.step()


# ----------------------------------------------------------------- writing --


def write_value(v, out, indent=0):
    pad = "  " * indent
    if v is None:
        out.append(pad + "None")
    elif isinstance(v, bool):
        out.append(pad + "bool " + ("True" if v else "False"))
    elif isinstance(v, int):
        out.append(pad + "int " + str(v))
    elif isinstance(v, float):
        out.append(pad + "float " + repr(v))
    elif isinstance(v, str):
        assert v and not any(c.isspace() for c in v), v
        out.append(pad + "str " + v)
    elif isinstance(v, torch.Tensor):
        t = v.detach().cpu().contiguous()
        dtype = str(t.dtype).replace("torch.", "")
        values = t.reshape(-1).tolist()
        text = [repr(x) if isinstance(x, float) else str(x) for x in values]
        dims = [str(d) for d in t.shape]
        out.append(pad + " ".join(["tensor", dtype, str(t.dim())] + dims + text))
    elif isinstance(v, tuple):
        out.append(pad + "tuple " + str(len(v)))
        for e in v:
            write_value(e, out, indent + 1)
    elif isinstance(v, list):
        out.append(pad + "list " + str(len(v)))
        for e in v:
            write_value(e, out, indent + 1)
    elif isinstance(v, dict):
        out.append(pad + "dict " + str(len(v)))
        for k, e in v.items():
            write_value(k, out, indent + 1)
            write_value(e, out, indent + 2)
    else:
        raise TypeError("cannot write a " + type(v).__name__)


def record(label, value, out):
    out.append(label)
    write_value(value, out, 1)


# ----------------------------------------------------------------- reading --


class Tokens:
    def __init__(self, text):
        self.items = text.split()
        self.pos = 0

    def next(self):
        tok = self.items[self.pos]
        self.pos += 1
        return tok

    def done(self):
        return self.pos >= len(self.items)


def read_value(tokens):
    kind = tokens.next()
    if kind == "None":
        return None
    if kind == "bool":
        return tokens.next() == "True"
    if kind == "int":
        return int(tokens.next())
    if kind == "float":
        return float(tokens.next())
    if kind == "str":
        return tokens.next()
    if kind == "tensor":
        dtype = getattr(torch, tokens.next())
        ndim = int(tokens.next())
        dims = [int(tokens.next()) for _ in range(ndim)]
        n = numel(dims)
        parse = int if dtype in (torch.int64, torch.int32) else float
        values = [parse(tokens.next()) for _ in range(n)]
        return torch.tensor(values, dtype=dtype).reshape(dims)
    if kind in ("tuple", "list"):
        n = int(tokens.next())
        items = [read_value(tokens) for _ in range(n)]
        return tuple(items) if kind == "tuple" else items
    if kind == "dict":
        n = int(tokens.next())
        d = {}
        for _ in range(n):
            k = read_value(tokens)
            d[k] = read_value(tokens)
        return d
    raise ValueError("unknown value kind " + kind)


# -------------------------------------------------------------------- main --


def reference():
    out = []
    for name in CASES:
        out.append("case " + name)
        optimizer, params = make_optimizer(name, initial_params())
        record("params0", [p.detach() for p in params], out)
        run_steps(optimizer, params, 1, 3)
        record("state3", optimizer.state_dict(), out)
        record("params3", [p.detach() for p in params], out)
        run_steps(optimizer, params, 4, 6)
        record("state6", optimizer.state_dict(), out)
        record("params6", [p.detach() for p in params], out)
        out.append("end")
    return out


def continue_from(path):
    with open(path) as f:
        tokens = Tokens(f.read())
    out = []
    while not tokens.done():
        assert tokens.next() == "case"
        name = tokens.next()
        fields = {}
        while True:
            label = tokens.next()
            if label == "end":
                break
            fields[label] = read_value(tokens)
        optimizer, params = make_optimizer(name, fields["params3"])
        optimizer.load_state_dict(fields["state3"])
        out.append("case " + name)
        record("loaded", optimizer.state_dict(), out)
        run_steps(optimizer, params, 4, 6)
        record("state6", optimizer.state_dict(), out)
        record("params6", [p.detach() for p in params], out)
        out.append("end")
    return out


def main(argv):
    if len(argv) == 1:
        lines = reference()
    elif len(argv) == 3 and argv[1] == "continue":
        lines = continue_from(argv[2])
    else:
        sys.exit("usage: optimizer_state_reference.py [continue FILE]")
    sys.stdout.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main(sys.argv)
