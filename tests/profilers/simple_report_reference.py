"""Python Lightning's SimpleProfiler report for fixed durations: the text
tests/profilers/profiler_test.cpp expects from lightning.cpp's SimpleProfiler
for the same durations. Needs pytorch_lightning (the pip leg's environment).

    python tests/profilers/simple_report_reference.py > tests/profilers/simple_report_reference.txt
"""
import sys
from unittest import mock

from pytorch_lightning.profilers import SimpleProfiler

DURATIONS = {
    "run_training_epoch": [1.25, 1.5],
    "[Strategy]SingleDeviceStrategy.training_step": [0.001, 0.002, 0.0015, 0.00125],
    "[_TrainingEpochLoop].train_dataloader_next": [0.000012345, 0.0000987654],
    "save_checkpoint": [0.3333333],
    "x": [12345.678],
}
ELAPSED = 20000.0


def report(extended, stage):
    with mock.patch("time.perf_counter", return_value=0.0):
        profiler = SimpleProfiler(extended=extended)
    for action, durations in DURATIONS.items():
        profiler.recorded_durations[action] = list(durations)
    profiler._stage = stage
    with mock.patch("time.perf_counter", return_value=ELAPSED):
        return profiler.summary()


def main():
    parts = []
    for extended in (True, False):
        for stage in ("fit", None):
            parts.append(f"=== extended={extended} stage={stage}\n" + report(extended, stage))
    sys.stdout.write("".join(parts))


if __name__ == "__main__":
    main()
