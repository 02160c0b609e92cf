# Writes results_table_reference.txt: what Lightning's validate()/test() print
# (pytorch_lightning.loops.evaluation_loop._EvaluationLoop._print_results, the
# plain-text form without `rich`) for the cases of results_table_test.cpp, at
# two terminal widths. Run with the pip leg's venv:
#   COLUMNS is set per case below; python tests/trainer/results_table_reference.py
import contextlib, io, os, sys
import torch
import pytorch_lightning as pl
import pytorch_lightning.loops.evaluation_loop as el

el._RICH_AVAILABLE = False
CASES = {
    "one_loader": ([{"test_loss": torch.tensor(0.25), "test_acc": torch.tensor(0.85)}], "test"),
    "two_loaders": ([{"val_loss/dataloader_idx_0": torch.tensor(0.5),
                      "val_acc/dataloader_idx_0": torch.tensor(0.125)},
                     {"val_loss/dataloader_idx_1": torch.tensor(0.75)}], "validate"),
    "long_name": ([{"a_rather_long_metric_name_that_goes_on_and_on_and_on": torch.tensor(1.5)}],
                  "test"),
    "nothing_logged": ([{}], "test"),
}
out = [f"# pytorch_lightning {pl.__version__}, torch {torch.__version__}"]
for columns in (80, 60):
    os.environ["COLUMNS"] = str(columns)
    for name, (results, stage) in CASES.items():
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            el._EvaluationLoop._print_results(results, stage)
        out.append(f"=== {name} {columns}")
        out.append(buf.getvalue().rstrip("\n"))
sys.stdout.write("\n".join(out) + "\n")
