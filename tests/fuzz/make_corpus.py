"""Seed corpus for checkpoint_reader_fuzz, part 2: small checkpoints written
by Python's torch.save (pickle protocols 0 to 5, memo, many globals).
Part 1 (save_checkpoint_file) is make_corpus.cpp. Run by tests/fuzz/run.sh:

    /usr/bin/python3 tests/fuzz/make_corpus.py <folder>

Needs Debian's python3-torch (torch 1.13).
"""
import collections
import os
import struct
import sys
import zipfile

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "checkpoint"))
import ckpt_tool  # noqa: E402  (tests/checkpoint/ckpt_tool.py: CustomThing, plain_object)


Point = collections.namedtuple("Point", "x y")


def small_training_state():
    """A Lightning-like checkpoint of a tiny model, with objects a real one holds."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.BatchNorm1d(2))
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    model(torch.randn(3, 2)).sum().backward()
    opt.step()
    sched = torch.optim.lr_scheduler.StepLR(opt, 3)
    base = torch.arange(6, dtype=torch.float64)
    dd = collections.defaultdict(list)
    dd["x"].append(1)
    return {
        "epoch": 2,
        "global_step": 2 ** 40,
        "state_dict": model.state_dict(),
        "optimizer_states": [opt.state_dict()],
        "lr_schedulers": [sched.state_dict()],
        "hyper_parameters": {"lr": 0.01, "shape": torch.Size([2, 3]), "act": None, "flag": True},
        "extras": {
            "view": base[1:5:2],
            "same": base,
            "param": torch.nn.Parameter(torch.tensor([1.0, -1.0])),
            "half": torch.ones(2, dtype=torch.float16),
            "bf16": torch.ones(2, dtype=torch.bfloat16),
            "bool": torch.tensor([True, False]),
            "u8": torch.tensor([0, 255], dtype=torch.uint8),
            "bigint": 2 ** 70,
            "negbig": -(2 ** 64),
            "bytes": b"\x00\xff",
            "set": {3, 1},
            "frozenset": frozenset([7]),
            "counter": collections.Counter("aab"),
            "defaultdict": dd,
            "tuple_keys": {(1, 2): "pair"},
            "int_keys": {0: "a", -3: "b"},
            "namedtuple": Point(1, 2),
            "custom": ckpt_tool.CustomThing(5),
            "bound_method": ckpt_tool.CustomThing(3).method,
            "optimizer_class": torch.optim.SGD,
            "device": torch.device("cpu"),
            "dtype": torch.float32,
            "same_list_twice": [[1, 2]] * 2,
            "floats": [0.1, float("inf"), float("nan")],
            "strings": ["", "ünï ✓ 🚀", "\ud800"],
        },
    }


def u(text):
    """BINUNICODE"""
    b = text.encode()
    return b"X" + struct.pack("<I", len(b)) + b


def rare_opcodes_pickle():
    """A hand-written data.pkl with the opcodes Python 3's pickler never (or
    seldom) writes but the reader accepts: text STRING with escapes, BINSTRING,
    SHORT_BINSTRING, BINBYTES8, BYTEARRAY8, LONG4, text LONG/FLOAT/INT/bools,
    INST, OBJ, EXT1, FROZENSET, EMPTY_SET+ADDITEMS, NEWOBJ_EX, text PUT/GET,
    MEMOIZE, DUP, POP, POP_MARK and FRAME. The reader loads it (Python would
    need the module `mymod`)."""
    items = [
        (u("string"), b"S'a\\n\\x41\\'b'\n"),
        (u("binstring"), b"T" + struct.pack("<i", 3) + b"abc"),
        (u("short_binstring"), b"U\x02xy"),
        (u("binbytes8"), b"\x8e" + struct.pack("<Q", 2) + b"hi"),
        (u("bytearray8"), b"\x96" + struct.pack("<Q", 1) + b"z"),
        (u("long4"), b"\x8b" + struct.pack("<i", 9) + bytes([1, 2, 3, 4, 5, 6, 7, 8, 0x80])),
        (u("long_text"), b"L-12345678901234567890123L\n"),
        (u("float_text"), b"F1.5\n"),
        (u("bools"), b"(I01\nI00\nl"),
        (u("inst"), b"(I1\nI2\nimymod\nMyClass\n"),
        (u("obj"), b"(cmymod\nOther\nK\x01o"),
        (u("ext1"), b"\x82\x05"),
        (u("frozenset"), b"(K\x01K\x02\x91"),
        (u("set"), b"\x8f(K\x03K\x04\x90"),
        (u("newobj_ex"), b"cmymod\nKw\n(K\x01t}\x92"),
        (u("memo_text"), b"(K\x07K\x08lp9\n0g9\n"),
        (u("memoize"), b"]\x94"),
        (u("dup_pop"), b"K\x0720(K\x01K\x021\x890"),
    ]
    body = b"}\x94(" + b"".join(k + v for k, v in items) + b"u."
    return b"\x80\x05\x95" + struct.pack("<Q", len(body)) + body


def write_archive(path, records):
    """A torch.save-style zip (records stored under '<name>/') of raw records."""
    prefix = os.path.splitext(os.path.basename(path))[0]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        for name, data in records:
            z.writestr(prefix + "/" + name, data)


def main(argv):
    if len(argv) != 2:
        raise SystemExit("usage: make_corpus.py <folder>")
    out = argv[1]
    for protocol in (2, 3, 4, 5):
        torch.save(small_training_state(), os.path.join(out, f"py_state_p{protocol}.ckpt"),
                   pickle_protocol=protocol)
    # Tensor-free objects: protocols 0 and 1 (text opcodes) cannot hold
    # torch.save's storages.
    for protocol in (0, 1, 2, 4):
        torch.save(ckpt_tool.plain_object(), os.path.join(out, f"py_plain_p{protocol}.ckpt"),
                   pickle_protocol=protocol)
    torch.save({"w": torch.zeros(2)}, os.path.join(out, "py_tiny.ckpt"))
    torch.save(torch.nn.Linear(2, 1).state_dict(), os.path.join(out, "py_ordered.ckpt"))
    write_archive(os.path.join(out, "py_rare_opcodes.ckpt"),
                  [("data.pkl", rare_opcodes_pickle()), ("version", b"3\n")])


if __name__ == "__main__":
    main(sys.argv)
