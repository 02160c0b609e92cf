#!/usr/bin/env bash
# Runs the DDP example (examples/ddp) with 2 self-launched ranks on a few
# training batches and checks what it reports and writes:
#
#   bash tests/ddp_example/run.sh <path to the built ddp executable>
#
# - exit status 0 (the launcher exits 1 when a rank fails);
# - both ranks report: "rank 0/2: ..." and "[rank 1] rank 1/2: ...", each
#   with 20 training batches (limit_train_batches is per rank), 79 test
#   batches (the 10,000 test images split exactly once: 5,000 per rank, no
#   padding) and global_step 20;
# - the global test metrics are printed once, by rank 0, with a finite
#   test_loss and a test_acc well above chance (0.1) and at most 1;
# - rank 1 received the same test_acc (epoch metrics are reduced over ranks);
# - one run folder (only rank 0 writes), with metrics.csv and the checkpoint.
# The temporary directory is removed on exit.
set -euo pipefail

if [ $# -ne 1 ] || [ ! -x "$1" ]; then
  echo "usage: $0 <ddp executable>" >&2
  exit 2
fi
ddp=$1

tmp=$(mktemp -d "${TMPDIR:-/tmp}/lightning-ddp.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

fail() {
  echo "ddp_example: FAIL: $*" >&2
  exit 1
}

# The example must start the job itself, whatever the caller's environment.
unset MASTER_ADDR MASTER_PORT WORLD_SIZE RANK LOCAL_RANK NODE_RANK GROUP_RANK SLURM_NTASKS

# The Trainer's run folder (lightning_logs/) goes under the working directory.
cd "$tmp"
if ! "$ddp" --devices 2 --epochs 1 --limit-train-batches 20 --limit-val-batches 4 \
    >"$tmp/stdout" 2>"$tmp/stderr"; then
  cat "$tmp/stdout" "$tmp/stderr" >&2
  fail "the ddp example exited with an error"
fi
cat "$tmp/stdout"

count() {  # lines of stdout matching an extended regex
  grep -cE "$1" "$tmp/stdout" || true
}
value() {  # the value printed after "<name>: " on unprefixed (rank 0) lines
  sed -n "s/^$1: //p" "$tmp/stdout"
}

for rank in 0 1; do
  prefix=""
  [ "$rank" = 0 ] || prefix="\[rank $rank\] "
  line="^${prefix}rank $rank/2: 20 training batches per epoch, 79 test batches, global_step 20,"
  [ "$(count "$line")" = 1 ] ||
    fail "expected one line matching '$line' (rank $rank's shard sizes and step count)"
done

[ "$(count 'test_acc \(all ranks\)')" = 1 ] ||
  fail "the global test metrics should be printed once (by rank 0)"
acc=$(value 'test_acc (all ranks)')
loss=$(value 'test_loss (all ranks)')
is_finite() {  # a decimal or scientific number; rejects nan, inf and empty
  [[ "$1" =~ ^[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$ ]]
}
is_finite "$loss" || fail "test_loss is not a finite number: '$loss'"
is_finite "$acc" || fail "test_acc is not a finite number: '$acc'"
awk -v a="$acc" 'BEGIN { exit !(a > 0.4 && a <= 1) }' ||
  fail "test_acc $acc is not in (0.4, 1] after 20 steps of 2 x 64 samples"

acc1=$(sed -n 's/^\[rank 1\] rank 1\/2: .*test_acc //p' "$tmp/stdout")
[ "$acc1" = "$(sed -n 's/^rank 0\/2: .*test_acc //p' "$tmp/stdout")" ] ||
  fail "rank 1's test_acc ($acc1) differs from rank 0's: test metrics should be global"

versions=$(ls lightning_logs)
[ "$versions" = "version_0" ] || fail "expected one run folder (rank 0 only), got: $versions"
[ -s lightning_logs/version_0/metrics.csv ] || fail "lightning_logs/version_0/metrics.csv is missing"
ckpt=$(value checkpoint)
[ -s "$ckpt" ] || fail "the checkpoint '$ckpt' does not exist"

echo "ddp_example: OK (2 ranks, 20 steps, 79 test batches each, test_acc $acc on both ranks)"
