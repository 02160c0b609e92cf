#!/usr/bin/env bash
# The main job's command line (examples/fashion_mnist) as a user meets it:
#
#   bash tests/fashion_mnist_cli/run.sh <path to the built fashion_mnist executable> <config.yaml>
#
# - a mistyped subcommand and a malformed value exit 2 with a message naming them;
# - `fit --config examples/fashion_mnist/config.yaml` with a few batches, an
#   optimizer and a scheduler from the command line: exit 0, a run folder with
#   config.yaml (holding the optimizer) and a checkpoint;
# - `test --config <that config.yaml> --ckpt_path <that checkpoint>`: exit 0 and
#   the test metrics in its run folder;
# - `--print_config` printed, read back and printed again is identical.
# The temporary directory is removed on exit.
set -euo pipefail

if [ $# -ne 2 ] || [ ! -x "$1" ] || [ ! -f "$2" ]; then
  echo "usage: $0 <fashion_mnist executable> <config.yaml>" >&2
  exit 2
fi
bin=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
config=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")

tmp=$(mktemp -d "${TMPDIR:-/tmp}/lightning-fmcli.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"

fail() {
  echo "fashion_mnist_cli: FAIL: $*" >&2
  exit 1
}

# expect_error CODE TEXT -- ARGS...: exit status CODE and TEXT on stderr.
expect_error() {
  local code=$1 text=$2
  shift 3
  local rc=0
  "$bin" "$@" >"$tmp/out" 2>"$tmp/err" || rc=$?
  [ "$rc" -eq "$code" ] || { cat "$tmp/out" "$tmp/err" >&2; fail "'$*' exited $rc, not $code"; }
  grep -qF -- "$text" "$tmp/err" || { cat "$tmp/err" >&2; fail "'$*': no \"$text\" on stderr"; }
}

expect_error 2 "error: unknown subcommand 'fitt', did you mean 'fit'?" -- fitt
expect_error 2 "trainer.max_epochs: expected int or None, got str 'x'." -- --epochs x
expect_error 2 "unknown optimizer 'Adamw', did you mean 'Adam' or 'AdamW'?" -- fit --optimizer Adamw

quick=(--trainer.max_epochs 2 --trainer.limit_train_batches 8 --trainer.limit_val_batches 2
       --trainer.limit_test_batches 4 --trainer.enable_progress_bar false)
if ! "$bin" fit --config "$config" "${quick[@]}" --optimizer AdamW --optimizer.lr 0.002 \
    --lr_scheduler StepLR --lr_scheduler.step_size 1 >"$tmp/fit.out" 2>"$tmp/fit.err"; then
  cat "$tmp/fit.out" "$tmp/fit.err" >&2
  fail "fit --config exited non-zero"
fi
run=lightning_logs/version_0
[ -f "$run/config.yaml" ] || fail "no $run/config.yaml"
grep -q 'class_path: "torch.optim.AdamW"' "$run/config.yaml" || fail "config.yaml lacks the optimizer"
grep -q 'step_size: 1' "$run/config.yaml" || fail "config.yaml lacks the scheduler"
# LearningRateMonitor (from the config's callbacks) logged StepLR's halving.
grep -q '^lr-AdamW' "$run/metrics.csv" || grep -q ',lr-AdamW' "$run/metrics.csv" ||
  fail "metrics.csv has no lr-AdamW column"
ckpt=$(ls "$run"/checkpoints/*.ckpt | head -n 1)
[ -n "$ckpt" ] || fail "no checkpoint in $run/checkpoints"

if ! "$bin" test --config "$run/config.yaml" --ckpt_path "$ckpt" \
    --trainer.limit_test_batches 4 >"$tmp/test.out" 2>"$tmp/test.err"; then
  cat "$tmp/test.out" "$tmp/test.err" >&2
  fail "test --config <saved config> --ckpt_path exited non-zero"
fi
# The test run logs into its own run folder.
grep -q 'test_acc' lightning_logs/version_1/metrics.csv || fail "the test run logged no test_acc"

"$bin" fit --config "$config" --print_config >"$tmp/printed.yaml"
"$bin" fit --config "$tmp/printed.yaml" --print_config >"$tmp/printed2.yaml"
cmp -s "$tmp/printed.yaml" "$tmp/printed2.yaml" || {
  diff "$tmp/printed.yaml" "$tmp/printed2.yaml" >&2
  fail "--print_config does not round-trip"
}
echo "fashion_mnist_cli: OK"
