#!/usr/bin/env bash
# Runs the DDP example (examples/ddp) with 2 self-launched ranks on a few
# training batches and checks what it reports and writes:
#
#   bash tests/ddp_example/run.sh <path to the built ddp executable>
#
# Twice: once with the flags it had before LightningCLI (--devices 2 --epochs 1
# ...), once through LightningCLI (fit --config examples/ddp/config.yaml plus
# dotted overrides). Each time:
# - exit status 0 (the launcher exits 1 when a rank fails);
# - both ranks report: "rank 0/2: ..." and "[rank 1] rank 1/2: ...", each
#   with 20 training batches (limit_train_batches is per rank), 79 test
#   batches (the 10,000 test images split exactly once: 5,000 per rank, no
#   padding) and global_step 20;
# - the global test metrics are printed once, by rank 0, with a finite
#   test_loss and a test_acc well above chance (0.1) and at most 1;
# - rank 1 received the same test_acc (epoch metrics are reduced over ranks);
# - one run folder (only rank 0 writes), with metrics.csv, the checkpoint and
#   the resolved config.yaml (max_epochs 1, devices 2).
# Also:
# - `ddp fit --print_config` prints examples/ddp/config.yaml (but for
#   num_threads, the usable CPUs / devices of the machine);
# - usage errors exit 2 with a message naming the option and the value, before
#   any rank starts: `--trainer.max_epochs x`, `--epochs x` and `fitt`.
# The temporary directory is removed on exit.
set -euo pipefail

if [ $# -ne 1 ] || [ ! -x "$1" ]; then
  echo "usage: $0 <ddp executable>" >&2
  exit 2
fi
ddp=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
config=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../examples/ddp" && pwd)/config.yaml

tmp=$(mktemp -d "${TMPDIR:-/tmp}/lightning-ddp.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

fail() {
  echo "ddp_example: FAIL: $*" >&2
  exit 1
}

# The example must start the job itself, whatever the caller's environment.
unset MASTER_ADDR MASTER_PORT WORLD_SIZE RANK LOCAL_RANK NODE_RANK GROUP_RANK SLURM_NTASKS

is_finite() {  # a decimal or scientific number; rejects nan, inf and empty
  [[ "$1" =~ ^[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$ ]]
}

# run_and_check NAME ARGS...: runs the example in $tmp/NAME (the Trainer's run
# folder, lightning_logs/, goes under the working directory) and checks it.
run_and_check() {
  local name=$1
  shift
  local dir=$tmp/$name
  mkdir -p "$dir"
  if ! (cd "$dir" && "$ddp" "$@" >"$dir/stdout" 2>"$dir/stderr"); then
    cat "$dir/stdout" "$dir/stderr" >&2
    fail "$name: the ddp example exited with an error: ddp $*"
  fi
  cat "$dir/stdout"

  count() {  # lines of stdout matching an extended regex
    grep -cE "$1" "$dir/stdout" || true
  }
  value() {  # the value printed after "<name>: " on unprefixed (rank 0) lines
    sed -n "s/^$1: //p" "$dir/stdout"
  }

  local rank prefix line
  for rank in 0 1; do
    prefix=""
    [ "$rank" = 0 ] || prefix="\[rank $rank\] "
    line="^${prefix}rank $rank/2: 20 training batches per epoch, 79 test batches, global_step 20,"
    [ "$(count "$line")" = 1 ] ||
      fail "$name: expected one line matching '$line' (rank $rank's shard sizes and step count)"
  done

  [ "$(count 'test_acc \(all ranks\)')" = 1 ] ||
    fail "$name: the global test metrics should be printed once (by rank 0)"
  local acc loss acc1
  acc=$(value 'test_acc (all ranks)')
  loss=$(value 'test_loss (all ranks)')
  is_finite "$loss" || fail "$name: test_loss is not a finite number: '$loss'"
  is_finite "$acc" || fail "$name: test_acc is not a finite number: '$acc'"
  awk -v a="$acc" 'BEGIN { exit !(a > 0.4 && a <= 1) }' ||
    fail "$name: test_acc $acc is not in (0.4, 1] after 20 steps of 2 x 64 samples"

  acc1=$(sed -n 's/^\[rank 1\] rank 1\/2: .*test_acc //p' "$dir/stdout")
  [ "$acc1" = "$(sed -n 's/^rank 0\/2: .*test_acc //p' "$dir/stdout")" ] ||
    fail "$name: rank 1's test_acc ($acc1) differs from rank 0's: test metrics should be global"

  local versions ckpt
  versions=$(ls "$dir/lightning_logs")
  [ "$versions" = "version_0" ] ||
    fail "$name: expected one run folder (rank 0 only), got: $versions"
  [ -s "$dir/lightning_logs/version_0/metrics.csv" ] ||
    fail "$name: lightning_logs/version_0/metrics.csv is missing"
  ckpt=$(value checkpoint)
  (cd "$dir" && [ -s "$ckpt" ]) || fail "$name: the checkpoint '$ckpt' does not exist"
  # LightningCLI's SaveConfigCallback: the resolved config of the run.
  local saved=$dir/lightning_logs/version_0/config.yaml
  [ -s "$saved" ] || fail "$name: $saved (the run's resolved config) is missing"
  grep -qE '^  max_epochs: 1$' "$saved" || fail "$name: $saved does not say max_epochs: 1"
  grep -qE '^  devices: 2$' "$saved" || fail "$name: $saved does not say devices: 2"
  echo "ddp_example: $name: OK (test_acc $acc on both ranks)"
  last_acc=$acc
}

# The flags from before LightningCLI (README.md, docs/distributed.md, scripts/gpu_check.sh).
run_and_check flags --devices 2 --epochs 1 --limit-train-batches 20 --limit-val-batches 4
# LightningCLI: the example's config file plus dotted overrides.
run_and_check cli fit --config "$config" --trainer.max_epochs 1 \
  --trainer.limit_train_batches 20 --trainer.limit_val_batches=4

# examples/ddp/config.yaml is what --print_config prints for the defaults
# (num_threads aside: it is the usable CPUs / devices of the machine).
"$ddp" fit --print_config >"$tmp/printed.yaml" 2>"$tmp/printed.err" ||
  { cat "$tmp/printed.err" >&2; fail "ddp fit --print_config exited with an error"; }
diff <(grep -v '^ *num_threads:' "$tmp/printed.yaml") \
  <(grep -v '^ *num_threads:' "$config" | grep -v '^#') >&2 ||
  fail "examples/ddp/config.yaml differs from 'ddp fit --print_config' (above); regenerate it"
grep -qE '^  num_threads: [1-9][0-9]*$' "$tmp/printed.yaml" ||
  fail "ddp fit --print_config has no trainer.num_threads default"

# Usage errors: exit status 2 and one error line naming the key and the value.
# expect_usage_error PATTERN ARGS...
expect_usage_error() {
  local pattern=$1
  shift
  local status=0
  (cd "$tmp" && "$ddp" "$@" >"$tmp/bad.out" 2>"$tmp/bad.err") || status=$?
  [ "$status" = 2 ] || {
    cat "$tmp/bad.out" "$tmp/bad.err" >&2
    fail "ddp $* exited with status $status, expected 2 (a usage error)"
  }
  grep -qE "$pattern" "$tmp/bad.err" || {
    cat "$tmp/bad.err" >&2
    fail "ddp $*: no error line matching '$pattern'"
  }
  ! grep -q '\[rank 1\]' "$tmp/bad.out" "$tmp/bad.err" || fail "ddp $*: a rank was started"
}
expect_usage_error "^error: .*trainer\.max_epochs.*'x'" --trainer.max_epochs x
expect_usage_error "^error: .*trainer\.max_epochs.*'x'" --epochs x
grep -q -- '--epochs is --trainer.max_epochs' "$tmp/bad.err" ||
  fail "ddp --epochs x: no note that --epochs stands for --trainer.max_epochs"
expect_usage_error "^error: unknown subcommand 'fitt', did you mean 'fit'\?" fitt
expect_usage_error "^error: .*data\.batch_size.*'many'" fit --data.batch_size many

echo "ddp_example: OK (2 ranks, 20 steps, 79 test batches each, test_acc $last_acc on both ranks; flags and LightningCLI forms; usage errors exit 2)"
