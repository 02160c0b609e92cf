#!/usr/bin/env bash
# Runs the GAN example (examples/gan) for one short epoch and checks what it
# reports and writes:
#
#   bash tests/gan/run.sh <path to the built gan executable>
#
# - global_step: 40 (manual optimization counts both optimizers' steps:
#   2 per batch x 20 batches) and batches: 20;
# - finite g_loss and d_loss;
# - samples_epoch_0.png exists, starts with the PNG signature, and its IHDR
#   says 242x242 (an 8x8 grid of 28x28 images with 2-pixel padding).
# The temporary directory is removed on exit.
set -euo pipefail

if [ $# -ne 1 ] || [ ! -x "$1" ]; then
  echo "usage: $0 <gan executable>" >&2
  exit 2
fi
gan=$1

tmp=$(mktemp -d "${TMPDIR:-/tmp}/lightning-gan.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

fail() {
  echo "gan_example: FAIL: $*" >&2
  exit 1
}

# The Trainer's run folder (lightning_logs/) goes under the working directory.
cd "$tmp"
if ! "$gan" --epochs 1 --limit-train-batches 20 --batch-size 32 --out "$tmp/out" \
    >"$tmp/stdout" 2>"$tmp/stderr"; then
  cat "$tmp/stdout" "$tmp/stderr" >&2
  fail "the gan example exited with an error"
fi
cat "$tmp/stdout"

value() {  # the value printed after "<name>: ", or nothing
  sed -n "s/^$1: //p" "$tmp/stdout" | tail -n 1
}

[ "$(value global_step)" = "40" ] ||
  fail "expected 'global_step: 40' (2 optimizer steps x 20 batches), got '$(value global_step)'"
[ "$(value batches)" = "20" ] || fail "expected 'batches: 20', got '$(value batches)'"

is_finite() {  # a decimal or scientific number; rejects nan, inf and empty
  [[ "$1" =~ ^[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$ ]]
}
for loss in g_loss d_loss; do
  is_finite "$(value $loss)" || fail "$loss is not a finite number: '$(value $loss)'"
done

png=$(value samples)
[ "$png" = "$tmp/out/samples_epoch_0.png" ] ||
  fail "expected 'samples: $tmp/out/samples_epoch_0.png', got '$png'"
[ -s "$png" ] || fail "$png does not exist or is empty"

signature=$(head -c 8 "$png" | od -An -tx1 | tr -d ' \n')
[ "$signature" = "89504e470d0a1a0a" ] || fail "$png does not start with the PNG signature ($signature)"

# IHDR follows the signature: length (4), "IHDR" (4), width (4), height (4), big-endian.
chunk=$(head -c 16 "$png" | tail -c 4)
[ "$chunk" = "IHDR" ] || fail "$png has no IHDR chunk first (found '$chunk')"
read -r w0 w1 w2 w3 h0 h1 h2 h3 < <(od -An -tu1 -j16 -N8 "$png")
width=$(( (w0 << 24) | (w1 << 16) | (w2 << 8) | w3 ))
height=$(( (h0 << 24) | (h1 << 16) | (h2 << 8) | h3 ))
[ "$width" = 242 ] && [ "$height" = 242 ] ||
  fail "$png is ${width}x${height}, expected 242x242 (8 x (28 + 2) + 2)"

echo "gan_example: OK (global_step 40, batches 20, finite losses, ${width}x${height} PNG)"
