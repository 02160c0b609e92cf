#!/usr/bin/python3
"""Cross-checks lightning.cpp's hparams.yaml against PyYAML (tests/hparams_yaml_test.cpp).

  yaml_roundtrip.py load FILE          yaml.safe_load(FILE), printed in the canonical form below
  yaml_roundtrip.py redump FILE OUTDIR safe_load FILE, then yaml.safe_dump it to OUTDIR in
                                       several styles (one file per style, names printed)

Canonical form: one line per value, `<path> <type> <payload>`, so the C++ test
can build the same text from an HParams and compare strings exactly:
  path     $ for the document, then ["key"] per mapping key and [i] per list index
  None     `None`;  bool `True`/`False`;  int decimal
  float    the IEEE-754 bits as 16 hex digits (exact, -0.0 included), `nan` for NaN
  str      double-quoted; bytes of the UTF-8 text outside printable ASCII, and " and \\,
           written as \\xNN
  list     number of items;  dict number of entries
Other types (dates, tuples, ...) print their Python type name and repr, which
never matches what the C++ side expects, so the test fails and shows them.

Run with /usr/bin/python3 (Debian's python3-yaml, installed by scripts/setup.sh).
"""
import math
import os
import struct
import sys

import yaml


def quote(text):
    out = []
    for b in text.encode("utf-8"):
        if 0x20 <= b <= 0x7E and b not in (0x22, 0x5C):
            out.append(chr(b))
        else:
            out.append("\\x%02x" % b)
    return '"' + "".join(out) + '"'


def scalar(value):
    # bool first: it is a subclass of int.
    if value is None:
        return "None", "None"
    if isinstance(value, bool):
        return "bool", repr(value)
    if isinstance(value, int):
        return "int", str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "float", "nan"
        return "float", struct.pack(">d", value).hex()
    if isinstance(value, str):
        return "str", quote(value)
    return type(value).__name__, repr(value)


def canonical(value, path, lines):
    if isinstance(value, dict):
        lines.append("%s dict %d" % (path, len(value)))
        for key, item in value.items():
            if isinstance(key, str):
                part = "[" + quote(key) + "]"
            else:
                part = "[%s:%s]" % scalar(key)
            canonical(item, path + part, lines)
    elif isinstance(value, list):
        lines.append("%s list %d" % (path, len(value)))
        for i, item in enumerate(value):
            canonical(item, "%s[%d]" % (path, i), lines)
    else:
        lines.append("%s %s %s" % ((path,) + scalar(value)))


def load(path):
    with open(path, encoding="utf-8") as f:
        return yaml.safe_load(f)


# PyYAML's output styles that lightning.cpp must read back.
STYLES = {
    "block": dict(default_flow_style=False, allow_unicode=True),
    "default": dict(),  # flow style for leaf collections, non-ASCII escaped
    "flow": dict(default_flow_style=True, allow_unicode=True),
    "narrow": dict(default_flow_style=False, width=20),  # folds long strings over lines
    "canonical": dict(canonical=True),  # explicit !!tags on every node
    "indented": dict(default_flow_style=False, indent=4, explicit_start=True, explicit_end=True),
}


def main(argv):
    if len(argv) == 3 and argv[1] == "load":
        lines = []
        canonical(load(argv[2]), "$", lines)
        sys.stdout.write("".join(line + "\n" for line in lines))
        return 0
    if len(argv) == 4 and argv[1] == "redump":
        data = load(argv[2])
        for name, options in STYLES.items():
            out = os.path.join(argv[3], name + ".yaml")
            with open(out, "w", encoding="utf-8") as f:
                yaml.safe_dump(data, f, sort_keys=False, **options)
            print(name)
        return 0
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
