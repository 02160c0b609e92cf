#!/usr/bin/env bash
# The checks that need a GPU, for someone who has one: run once, read the
# summary at the end (one screen), paste it into an issue.
#
#   bash scripts/gpu_check.sh            # about 5-10 minutes on a warm machine
#
# 1. builds against the CUDA libtorch of the pinned PyTorch wheel
#    (scripts/build.sh --torch=pip; the first run installs the wheel);
# 2. runs every test whose name ends in _CUDA (ctest -R _CUDA): device
#    selection, pinned memory with non-blocking transfer, the CUDA RNG state
#    across a resume, 16-mixed / bf16-mixed autocast and the loss scaler;
# 3. runs the main job (examples/fashion_mnist, 2 epochs) with
#    --accelerator cuda, in 32-true and in 16-mixed;
# 4. with two or more GPUs, a 2-process DDP run over NCCL (examples/ddp
#    --accelerator cuda --devices 2).
# Exits non-zero when any step failed. Nothing here runs without a GPU: on a
# machine without one it stops after saying so.
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
logs=$(mktemp -d)
summary=()
failed=0

step() {  # <name> <log> <command...>: runs it, records PASS/FAIL with the time
  local name=$1 log=$2 start=$SECONDS rc
  shift 2
  echo "--- $name: $*"
  "$@" >"$log" 2>&1
  rc=$?
  tail -n 5 "$log"
  if [ $rc -eq 0 ]; then
    summary+=("PASS  $name ($((SECONDS - start)) s)")
  else
    summary+=("FAIL  $name (exit $rc, $((SECONDS - start)) s; log: $log)")
    failed=1
  fi
  return $rc
}

gpus=0
if command -v nvidia-smi >/dev/null 2>&1; then
  gpus=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | wc -l)
  nvidia-smi --query-gpu=index,name,driver_version,memory.total --format=csv,noheader
fi
if [ "$gpus" -eq 0 ]; then
  echo "gpu_check.sh: no NVIDIA GPU found (nvidia-smi lists none); nothing to check here." >&2
  exit 1
fi

step "build (libtorch from the pinned wheel)" "$logs/build.log" \
  bash scripts/build.sh --torch=pip || { printf '%s\n' "${summary[@]}"; exit 1; }
venv=$(bash scripts/setup_pip.sh 2>/dev/null | tail -n 1)
torch_line=$("$venv/bin/python" -c \
  'import torch; print(f"torch {torch.__version__}, CUDA {torch.version.cuda}, {torch.cuda.device_count()} GPU(s) visible to torch")' 2>&1)

# The _CUDA tests: none may skip for want of a GPU except those needing two.
step "*_CUDA tests" "$logs/cuda_tests.log" \
  ctest --test-dir build-pip -R '_CUDA' --output-on-failure --no-tests=error
cuda_counts=$(grep -E 'tests passed|tests failed' "$logs/cuda_tests.log" | tail -n 1)
cuda_skips=$(grep -cE '\(Skipped\)$' "$logs/cuda_tests.log" || true)

mnist=./build-pip/examples/fashion_mnist/fashion_mnist
if step "main job, cuda, 32-true, 2 epochs" "$logs/main32.log" \
  "$mnist" --accelerator cuda --epochs 2; then
  summary+=("      $(grep -E '^fit:|^test_acc' "$logs/main32.log" | tr '\n' ' ')")
fi
if step "main job, cuda, 16-mixed, 2 epochs" "$logs/main16.log" \
  "$mnist" --accelerator cuda --precision 16-mixed --epochs 2; then
  summary+=("      $(grep -E '^fit:|^test_acc' "$logs/main16.log" | tr '\n' ' ')")
fi

if [ "$gpus" -ge 2 ]; then
  step "DDP, 2 GPUs, NCCL, 1 epoch" "$logs/ddp.log" \
    ./build-pip/examples/ddp/ddp --accelerator cuda --devices 2 --epochs 1
else
  summary+=("SKIP  DDP on 2 GPUs (this machine has $gpus GPU)")
fi

echo
echo "=== gpu_check summary ($(date -u '+%Y-%m-%d %H:%M UTC'))"
echo "$torch_line"
echo "_CUDA tests: $cuda_counts; skipped: $cuda_skips"
printf '%s\n' "${summary[@]}"
echo "logs: $logs"
exit $failed
