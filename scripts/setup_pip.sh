#!/usr/bin/env bash
# Installs the second build leg: the PyTorch wheel from PyPI (libtorch 2.x, a
# CUDA build) with PyTorch Lightning, TensorBoard and torchmetrics, pinned in
# scripts/pip-requirements.txt, into a virtual environment outside the source
# tree.
#
#   bash scripts/setup_pip.sh            # installs when needed, prints the venv's path last
#
# Idempotent: the environment's folder is named after the hash of the pins
# file, and a finished install leaves a marker in it; a run that finds the
# marker downloads nothing and takes well under a second. An interrupted
# install (no marker yet) is redone from scratch. pip's own download cache
# makes a rebuild after a change of pins fetch only what changed.
#
# Where: $LIGHTNING_PIP_VENV when set, else
# ${XDG_CACHE_HOME:-$HOME/.cache}/lightning-cpp/venv-<hash>. The last line
# printed is that path; scripts/build.sh --torch=pip reads it from here.
#
# Needs a Python 3.10-3.13 with the venv module: `python3` on PATH, else
# Debian's /usr/bin/python3 (python3-venv is installed when missing).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
pins="$root/scripts/pip-requirements.txt"
hash=$(sha256sum "$pins" | cut -c1-16)

if [ -n "${LIGHTNING_PIP_VENV:-}" ]; then
  venv="$LIGHTNING_PIP_VENV"
else
  venv="${XDG_CACHE_HOME:-$HOME/.cache}/lightning-cpp/venv-$hash"
fi
marker="$venv/.lightning-pins-$hash"

if [ -f "$marker" ]; then
  echo "setup_pip.sh: pinned packages already installed in $venv" >&2
  echo "$venv"
  exit 0
fi

# A Python whose version the pinned wheels exist for.
python_ok() {
  "$1" - <<'EOF' 2>/dev/null
import sys, venv, ensurepip
sys.exit(0 if (3, 10) <= sys.version_info[:2] <= (3, 13) else 1)
EOF
}
python=""
for candidate in "${LIGHTNING_VENV_PYTHON:-}" "$(command -v python3 || true)" /usr/bin/python3; do
  if [ -n "$candidate" ] && python_ok "$candidate"; then
    python="$candidate"
    break
  fi
done
if [ -z "$python" ] && [ -x /usr/bin/python3 ]; then
  echo "setup_pip.sh: installing python3-venv (no Python with the venv module found)" >&2
  as_root=()
  [ "$(id -u)" -eq 0 ] || as_root=(sudo)
  "${as_root[@]}" apt-get -o DPkg::Lock::Timeout=600 update >&2
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 \
    install -y --no-install-recommends python3-venv >&2
  python_ok /usr/bin/python3 && python=/usr/bin/python3
fi
if [ -z "$python" ]; then
  echo "setup_pip.sh: no Python 3.10-3.13 with the venv module; set LIGHTNING_VENV_PYTHON" \
    "to one (the pinned torch wheel needs it)." >&2
  exit 1
fi

echo "setup_pip.sh: installing $(grep -cv '^#' "$pins") pinned packages into $venv" \
  "(torch wheel with its CUDA libraries: about 5.5 GB on disk)" >&2
mkdir -p "$(dirname "$venv")"
rm -rf "$venv"
if [ -z "${LIGHTNING_PIP_VENV:-}" ]; then
  # Environments of earlier pins (5 GB each) are not used again.
  find "$(dirname "$venv")" -maxdepth 1 -name 'venv-*' -type d ! -name "venv-$hash" \
    -exec rm -rf {} + 2>/dev/null || true
fi
"$python" -m venv "$venv"
# --no-deps: the pins file lists every package already; nothing floats.
"$venv/bin/python" -m pip install --disable-pip-version-check --no-input --no-deps \
  -r "$pins" >&2
"$venv/bin/python" -m pip check >&2
touch "$marker"
echo "setup_pip.sh: done" >&2
echo "$venv"
