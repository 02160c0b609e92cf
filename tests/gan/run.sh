#!/usr/bin/env bash
# Runs the GAN example (examples/gan) for one short epoch and checks what it
# reports and writes:
#
#   bash tests/gan/run.sh <path to the built gan executable>
#
# Twice: once with the flags it had before LightningCLI (--epochs 1 ...),
# once through LightningCLI (fit --config examples/gan/config.yaml plus dotted
# overrides). Each time:
# - global_step: 40 (manual optimization counts both optimizers' steps:
#   2 per batch x 20 batches) and batches: 20;
# - finite g_loss and d_loss;
# - samples_epoch_0.png exists, starts with the PNG signature, and its IHDR
#   says 242x242 (an 8x8 grid of 28x28 images with 2-pixel padding);
# - the run folder holds the resolved config.yaml (LightningCLI's
#   SaveConfigCallback) with the run's batch size.
# Also:
# - `gan fit --print_config` prints examples/gan/config.yaml;
# - usage errors exit 2 with a message naming the option and the value:
#   `--epochs x`, `--trainer.max_epochs x`, `fitt`.
# The temporary directory is removed on exit.
set -euo pipefail

if [ $# -ne 1 ] || [ ! -x "$1" ]; then
  echo "usage: $0 <gan executable>" >&2
  exit 2
fi
gan=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
config=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../examples/gan" && pwd)/config.yaml

tmp=$(mktemp -d "${TMPDIR:-/tmp}/lightning-gan.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

fail() {
  echo "gan_example: FAIL: $*" >&2
  exit 1
}

is_finite() {  # a decimal or scientific number; rejects nan, inf and empty
  [[ "$1" =~ ^[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$ ]]
}

# run_and_check NAME ARGS...: runs the example in $tmp/NAME (the Trainer's run
# folder, lightning_logs/, goes under the working directory), with the sample
# grids in $tmp/NAME/out, and checks it.
run_and_check() {
  local name=$1
  shift
  local dir=$tmp/$name
  mkdir -p "$dir"
  if ! (cd "$dir" && "$gan" "$@" >"$dir/stdout" 2>"$dir/stderr"); then
    cat "$dir/stdout" "$dir/stderr" >&2
    fail "$name: the gan example exited with an error: gan $*"
  fi
  cat "$dir/stdout"

  value() {  # the value printed after "<name>: ", or nothing
    sed -n "s/^$1: //p" "$dir/stdout" | tail -n 1
  }

  [ "$(value global_step)" = "40" ] ||
    fail "$name: expected 'global_step: 40' (2 optimizer steps x 20 batches), got '$(value global_step)'"
  [ "$(value batches)" = "20" ] || fail "$name: expected 'batches: 20', got '$(value batches)'"

  local loss
  for loss in g_loss d_loss; do
    is_finite "$(value $loss)" || fail "$name: $loss is not a finite number: '$(value $loss)'"
  done

  local png
  png=$(value samples)
  [ "$png" = "$dir/out/samples_epoch_0.png" ] ||
    fail "$name: expected 'samples: $dir/out/samples_epoch_0.png', got '$png'"
  [ -s "$png" ] || fail "$name: $png does not exist or is empty"

  local signature
  signature=$(head -c 8 "$png" | od -An -tx1 | tr -d ' \n')
  [ "$signature" = "89504e470d0a1a0a" ] ||
    fail "$name: $png does not start with the PNG signature ($signature)"

  # IHDR follows the signature: length (4), "IHDR" (4), width (4), height (4), big-endian.
  local chunk
  chunk=$(head -c 16 "$png" | tail -c 4)
  [ "$chunk" = "IHDR" ] || fail "$name: $png has no IHDR chunk first (found '$chunk')"
  local w0 w1 w2 w3 h0 h1 h2 h3
  read -r w0 w1 w2 w3 h0 h1 h2 h3 < <(od -An -tu1 -j16 -N8 "$png")
  width=$(( (w0 << 24) | (w1 << 16) | (w2 << 8) | w3 ))
  height=$(( (h0 << 24) | (h1 << 16) | (h2 << 8) | h3 ))
  [[ $width == 242 && $height == 242 ]] ||
    fail "$name: $png is ${width}x${height}, expected 242x242 (8 x (28 + 2) + 2)"

  # LightningCLI's SaveConfigCallback: the resolved config of the run.
  local saved=$dir/lightning_logs/version_0/config.yaml
  [ -s "$saved" ] || fail "$name: $saved (the run's resolved config) is missing"
  grep -qE '^  batch_size: 32$' "$saved" || fail "$name: $saved does not say batch_size: 32"
  echo "gan_example: $name: OK"
}

# The flags from before LightningCLI (examples/gan/README.md).
run_and_check flags --epochs 1 --limit-train-batches 20 --batch-size 32 --out "$tmp/flags/out"
# LightningCLI: the example's config file plus dotted overrides.
run_and_check cli fit --config "$config" --trainer.max_epochs=1 \
  --trainer.limit_train_batches 20 --data.batch_size 32 --model.out_dir "$tmp/cli/out"

# examples/gan/config.yaml is what --print_config prints for the defaults.
"$gan" fit --print_config >"$tmp/printed.yaml" 2>"$tmp/printed.err" ||
  { cat "$tmp/printed.err" >&2; fail "gan fit --print_config exited with an error"; }
diff "$tmp/printed.yaml" <(grep -v '^#' "$config") >&2 ||
  fail "examples/gan/config.yaml differs from 'gan fit --print_config' (above); regenerate it"

# Usage errors: exit status 2 and one error line naming the key and the value.
# expect_usage_error PATTERN ARGS...
expect_usage_error() {
  local pattern=$1
  shift
  local status=0
  (cd "$tmp" && "$gan" "$@" >"$tmp/bad.out" 2>"$tmp/bad.err") || status=$?
  [ "$status" = 2 ] || {
    cat "$tmp/bad.out" "$tmp/bad.err" >&2
    fail "gan $* exited with status $status, expected 2 (a usage error)"
  }
  grep -qE "$pattern" "$tmp/bad.err" || {
    cat "$tmp/bad.err" >&2
    fail "gan $*: no error line matching '$pattern'"
  }
}
expect_usage_error "^error: .*trainer\.max_epochs.*'x'" --epochs x
expect_usage_error "^error: .*trainer\.max_epochs.*'x'" --trainer.max_epochs x
expect_usage_error "^error: unknown subcommand 'fitt', did you mean 'fit'\?" fitt

echo "gan_example: OK (global_step 40, batches 20, finite losses, ${width}x${height} PNG; flags and LightningCLI forms; usage errors exit 2)"
