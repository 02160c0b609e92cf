"""Python side of tests/checkpoint/checkpoint_io_test.cpp (run with Debian's
/usr/bin/python3, which has torch 1.13).

  ckpt_tool.py dump PATH [--weights-only]   torch.load(PATH) in canonical text
  ckpt_tool.py globals PATH                 every global data.pkl references
  ckpt_tool.py check-cpp PATH               asserts on a checkpoint written by C++
  ckpt_tool.py make PATH PROTOCOL           a Lightning-like checkpoint written
                                            by torch.save (+ PATH.dump: its
                                            canonical text)
  ckpt_tool.py make-plain PATH PROTOCOL     a tensor-free one (protocols 0, 1)

The canonical text has one line per value, "<path> <kind> <value>", with
paths like $["state_dict"]["w"][0]; the C++ test prints the same form from
IValues. Floats are printed as the hex of their bits, strings as quoted
UTF-8 bytes, tensors with dtype, shape, stride, storage offset, the index of
their storage (in order of first appearance) and the hex of their bytes.
Values C++ reads as python-object placeholders print as "pyobject <name>".
"""
import collections
import functools
import io
import pickletools
import struct
import sys
import types
import zipfile

import torch


# ------------------------------------------------------------ canonical --

def quote_bytes(b):
    out = '"'
    for c in b:
        if 0x20 <= c <= 0x7E and c not in (0x22, 0x5C):
            out += chr(c)
        else:
            out += "\\x%02x" % c
    return out + '"'


def float_hex(x):
    return struct.pack(">d", x).hex()


DICT_TYPES = (dict, collections.OrderedDict, collections.defaultdict, collections.Counter)


def key_text(k):
    if type(k) is str:
        return quote_bytes(k.encode("utf-8", "surrogatepass"))
    if type(k) is bool:
        return "True" if k else "False"
    if type(k) is int:
        return str(k)
    if type(k) is float:
        return "f:" + float_hex(k)
    raise TypeError(k)


def plain_key(k):
    return type(k) in (str, bool, int, float) or isinstance(k, torch.Tensor)


def qualified(obj):
    return obj.__module__ + "." + obj.__qualname__


def python_name(v):
    """The name C++ gives the placeholder of `v`."""
    if isinstance(v, torch.dtype):
        return str(v)
    if isinstance(v, type) or isinstance(v, (types.FunctionType, types.BuiltinFunctionType)):
        return qualified(v)
    if isinstance(v, types.MethodType):  # pickled as getattr(obj, name)
        owner = v.__self__
        owner_name = qualified(owner) if isinstance(owner, type) else qualified(type(owner))
        return owner_name + "." + v.__func__.__name__
    return qualified(type(v))


class Dumper:
    def __init__(self):
        self.storages = {}
        self.lines = []

    def storage_id(self, t):
        ptr = t.storage().data_ptr()
        if ptr == 0:  # an empty storage: never shared
            n = len(self.storages)
            self.storages[("empty", n)] = n
            return n
        return self.storages.setdefault(ptr, len(self.storages))

    def tensor(self, t):
        sid = self.storage_id(t)
        data = t.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes()
        return "tensor dtype=%s shape=[%s] stride=[%s] offset=%d storage=%d requires_grad=%s data=%s" % (
            str(t.dtype).replace("torch.", ""),
            ",".join(str(s) for s in t.shape),
            ",".join(str(s) for s in t.stride()),
            t.storage_offset(),
            sid,
            t.requires_grad,
            data.hex(),
        )

    def value(self, v, path):
        out = self.lines
        if v is None:
            out.append(path + " None")
        elif type(v) is bool:
            out.append(path + " bool " + ("True" if v else "False"))
        elif type(v) is int:
            if -(2 ** 63) <= v < 2 ** 63:
                out.append(path + " int %d" % v)
            else:
                out.append(path + " bigint %d" % v)
        elif type(v) is float:
            out.append(path + " float " + float_hex(v))
        elif type(v) is str:
            out.append(path + " str " + quote_bytes(v.encode("utf-8", "surrogatepass")))
        elif type(v) in (bytes, bytearray):
            out.append(path + " str " + quote_bytes(bytes(v)))
        elif isinstance(v, torch.Tensor):
            out.append(path + " " + self.tensor(v))
        elif type(v) in DICT_TYPES:
            if not all(plain_key(k) for k in v.keys()):
                out.append(path + " pyobject builtins.dict")
                return
            out.append(path + " dict %d" % len(v))
            for k, item in v.items():
                self.value(item, path + "[" + key_text(k) + "]")
        elif type(v) in (list, set, frozenset):
            items = list(v)
            out.append(path + " list %d" % len(items))
            for i, item in enumerate(items):
                self.value(item, path + "[%d]" % i)
        elif type(v) in (tuple, torch.Size):
            out.append(path + " tuple %d" % len(v))
            for i, item in enumerate(v):
                self.value(item, path + "[%d]" % i)
        else:
            out.append(path + " pyobject " + python_name(v))


def canonical(v):
    d = Dumper()
    d.value(v, "$")
    return "\n".join(d.lines) + "\n"


# ---------------------------------------------------------- generators --

class CustomThing:
    def __init__(self, n):
        self.n = n
        self.label = "custom"

    def method(self):
        return self.n


class PlainList(list):
    pass


Point = collections.namedtuple("Point", "x y")


def lightning_like(protocol):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4), torch.nn.Linear(4, 2))
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    loss = model(torch.randn(5, 3)).pow(2).sum()
    loss.backward()
    opt.step()
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=10)
    step_sched = torch.optim.lr_scheduler.StepLR(torch.optim.SGD([torch.nn.Parameter(torch.ones(1))], lr=1.0), 3)

    base = torch.arange(24, dtype=torch.float32).reshape(4, 6)
    shared = torch.arange(10, dtype=torch.float64)
    dtypes = collections.OrderedDict()
    for dt in (torch.float32, torch.float64, torch.float16, torch.bfloat16, torch.int64, torch.int32,
               torch.int16, torch.int8, torch.uint8, torch.bool):
        if dt is torch.bool:
            t = torch.tensor([True, False, True])
        elif dt.is_floating_point:
            t = (torch.randn(2, 3) * 100).to(dt)
        else:
            t = torch.tensor([[-3, 0, 7], [100, -128, 127]]).to(dt) if dt is not torch.uint8 else torch.tensor([0, 1, 255], dtype=dt)
        dtypes[str(dt).replace("torch.", "")] = t

    counter = collections.Counter("abracadabra")
    dd = collections.defaultdict(list)
    dd["x"].append(1)
    dd["y"].extend([2, 3])

    ckpt = {
        "epoch": 7,
        "global_step": 1234567,
        "pytorch-lightning_version": "1.8.6",
        "state_dict": model.state_dict(),
        "loops": {
            "fit_loop": {
                "state_dict": {},
                "epoch_loop.state_dict": {"_batches_that_stepped": 80},
                "epoch_progress": {"total": {"ready": 3, "completed": 2}, "current": {"ready": 1}},
                "epoch_loop.batch_progress": {"is_last_batch": False},
            },
            "validate_loop": {"dataloader_progress": {"total": {"ready": 0}}},
        },
        "callbacks": {
            "ModelCheckpoint{'monitor': 'val_loss', 'mode': 'min'}": {
                "best_model_score": torch.tensor(0.25),
                "best_model_path": "/tmp/épochs/best.ckpt",
                "best_k_models": {"/a.ckpt": torch.tensor(0.5)},
                "kth_value": torch.tensor(float("inf")),
                "dirpath": None,
            },
        },
        "optimizer_states": [opt.state_dict()],
        "lr_schedulers": [sched.state_dict(), step_sched.state_dict()],
        "hparams_name": "kwargs",
        "hyper_parameters": {
            "lr": 0.001, "layers": [3, 4, 2], "name": "net", "dropout": None, "flag": True,
            "nested": {"a": {"b": {"c": -1}}}, "shape": torch.Size([2, 3]),
        },
        "extras": {
            "transposed": base.t(),
            "narrowed": base[1:3, 2:5],
            "strided": base[:, ::2],
            "shared_a": shared,
            "shared_b": shared[3:7],
            "shared_again": shared,
            "expanded": torch.tensor([1.0, 2.0]).expand(3, 2),
            "scalar": torch.tensor(3.5),
            "empty": torch.zeros(0, 3),
            "param": torch.nn.Parameter(torch.tensor([1.0, -1.0])),
            "dtypes": dtypes,
            "ints": [0, 1, 255, 256, 65535, 65536, 2 ** 31 - 1, 2 ** 31, -1, -255, -256, -(2 ** 31),
                     -(2 ** 31) - 1, 2 ** 40, -(2 ** 40), 2 ** 63 - 1, -(2 ** 63)],
            "bigints": [2 ** 64, -(2 ** 70), 2 ** 200],
            "floats": [0.0, -0.0, 1.5, 1e-300, 5e-324, 1e300, float("inf"), float("-inf"), float("nan"), 0.1],
            "strings": ["", "plain", "ünïcödé ✓ 日本語 🚀", "with\nnewline", "\ud800"],
            "bytes": b"\x00\xffraw\x80",
            "empty_bytes": b"",
            "tuples": ((), (1,), (1, 2), (1, 2, 3), (1, 2, 3, 4), ((1, (2,)),)),
            "int_keys": {0: "zero", 1: "one", -5: "minus five", 2 ** 40: "big"},
            "one_item": {"only": {"only": {"only": 1}}},
            "counter": counter,
            "defaultdict": dd,
            "set": {3, 1, 2},
            "frozenset": frozenset([7]),
            "tuple_keys": {(1, 2): "pair"},
            "optimizer_class": torch.optim.Adam,
            "bound_method": CustomThing(3).method,
            "partial": functools.partial(max, 1),
            "custom": CustomThing(5),
            "device": torch.device("cpu"),
            "dtype": torch.float16,
            "function": torch.nn.functional.relu,
            "list_subclass": PlainList([1, 2]),
            "namedtuple": Point(1, 2),
            "same_list_twice": [[1, 2]] * 2,
            "bools": [True, False],
            "none": None,
        },
    }
    return ckpt


def plain_object():
    """Tensor-free: what pickle protocols 0 and 1 can hold through torch.save."""
    return {
        "epoch": 3,
        "ints": [0, 1, -1, 2 ** 31, -(2 ** 40), 2 ** 63 - 1, 2 ** 70],
        "floats": [0.5, -0.0, 1e300, float("inf"), 0.1],
        "strings": ["plain", "ünï ✓ 日本 🚀", "back\\slash", "quote'\""],
        "bytes": b"\x00\xffab",
        "nested": collections.OrderedDict([("a", {"b": (1, 2.5, None)}), ("c", [True, False])]),
        "int_keys": {1: "one", 2: "two"},
        "custom": CustomThing(2),
        "optimizer_class": torch.optim.SGD,
        "set": {5},
        "counter": collections.Counter("aab"),
    }


# -------------------------------------------------------------- checks --

def check_cpp(path):
    ckpt = torch.load(path)
    sd = ckpt["state_dict"]
    assert type(sd) is collections.OrderedDict, type(sd)
    assert type(ckpt["loops"]) is dict, type(ckpt["loops"])
    a, b = sd["shared_a"], sd["shared_b"]
    assert a.storage().data_ptr() == b.storage().data_ptr(), "shared storage lost"
    assert b.storage_offset() == 2, b.storage_offset()
    v = sd["transposed"]
    assert not v.is_contiguous(), "view became contiguous"
    assert v.storage().data_ptr() == sd["base"].storage().data_ptr(), "view lost its base"
    assert type(ckpt["optimizer_states"][0]["state"]) is dict
    assert list(ckpt["optimizer_states"][0]["state"].keys()) == [0, 1]
    print("check-cpp ok")


def referenced_globals(path):
    with zipfile.ZipFile(path) as z:
        name = next(n for n in z.namelist() if n.endswith("/data.pkl") or n == "data.pkl")
        data = z.read(name)
    found = []
    strings = []
    for op, arg, _ in pickletools.genops(io.BytesIO(data)):
        if op.name in ("GLOBAL", "INST"):
            found.append(arg.replace(" ", "."))
        elif op.name == "STACK_GLOBAL":
            found.append(strings[-2] + "." + strings[-1])
        if isinstance(arg, str):
            strings.append(arg)
    return found


def main(argv):
    cmd = argv[1]
    if cmd == "dump":
        weights_only = "--weights-only" in argv
        sys.stdout.write(canonical(torch.load(argv[2], weights_only=weights_only)))
    elif cmd == "globals":
        for g in referenced_globals(argv[2]):
            print(g)
    elif cmd == "check-cpp":
        check_cpp(argv[2])
    elif cmd in ("make", "make-plain"):
        path, protocol = argv[2], int(argv[3])
        obj = lightning_like(protocol) if cmd == "make" else plain_object()
        torch.save(obj, path, pickle_protocol=protocol)
        with open(path + ".dump", "w", encoding="ascii") as f:
            f.write(canonical(obj))
    else:
        raise SystemExit("unknown command " + cmd)


if __name__ == "__main__":
    main(sys.argv)
