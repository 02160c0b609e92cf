"""Reads a Chrome trace written by PyTorchProfiler with json.load, as Perfetto
and chrome://tracing do, and prints the names of its complete ("X") events,
one per line, sorted and without repeats."""
import json
import sys

with open(sys.argv[1]) as f:
    trace = json.load(f)
events = trace["traceEvents"] if isinstance(trace, dict) else trace
names = sorted({e["name"] for e in events if e.get("ph") == "X"})
sys.stdout.write("\n".join(names) + "\n")
