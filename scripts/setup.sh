#!/usr/bin/env bash
# Installs everything lightning.cpp needs on Debian 12, from Debian packages only.
#
#   bash scripts/setup.sh
#
# Idempotent: when every package is already installed it touches nothing and
# takes well under a second. Runs as root, or through sudo when not root.
# Afterwards libblas.so.3 / liblapack.so.3 point at OpenBLAS: libtorch-dev
# alone leaves them on the reference BLAS, and Linear layers then run ~10x
# slower.
set -euo pipefail

packages=(
  build-essential
  cmake
  ccache
  ninja-build
  libtorch-dev
  # OpenMP flavour, to match the OpenMP runtime libtorch itself uses.
  libopenblas0-openmp
  dataset-fashion-mnist
  zlib1g-dev
  libgtest-dev
  libgmock-dev
  googletest
  libfmt-dev
  libyaml-cpp-dev
  # c10d's ProcessGroupGloo header includes gloo's headers (DDP on CPU).
  libgloo-dev
  # The GAN example writes PNG grids of its samples.
  libpng-dev
  # The tests cross-check numbers against PyTorch, hparams.yaml against
  # PyYAML and TensorBoard event files against the protobuf runtime.
  python3-torch
  python3-yaml
  python3-protobuf
  clang-format
  # The fuzz tests (tests/fuzz: the checkpoint, hparams.yaml and metrics.csv
  # readers): clang++ and its libFuzzer, ASan and UBSan runtimes
  # (libclang_rt.fuzzer-x86_64.a & co., clang 14).
  clang
  libclang-rt-dev
  # llvm-symbolizer, so that sanitizer reports name functions and lines.
  llvm
)

as_root=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    as_root=(sudo)
  else
    echo "setup.sh: must run as root (or with sudo installed) to install packages." >&2
    exit 1
  fi
fi

is_installed() {
  [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" = "installed" ]
}

missing=()
for p in "${packages[@]}"; do
  is_installed "$p" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "setup.sh: installing ${missing[*]}"
  # Wait for a concurrent apt/dpkg (unattended upgrades) instead of failing at once.
  apt_opts=(-o DPkg::Lock::Timeout=600)
  "${as_root[@]}" apt-get "${apt_opts[@]}" update
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get "${apt_opts[@]}" install -y --no-install-recommends "${missing[@]}"
else
  echo "setup.sh: all ${#packages[@]} packages already installed"
fi

# Point the BLAS and LAPACK alternatives at OpenBLAS (openmp flavour).
for lib in libblas.so.3 liblapack.so.3; do
  # The alternative's name carries the multiarch triplet: libblas.so.3-x86_64-linux-gnu.
  name=$(update-alternatives --get-selections | awk -v l="$lib" '!found && index($1, l "-") == 1 {print $1; found = 1}')
  [ -n "$name" ] || continue
  want=$(update-alternatives --list "$name" | grep '/openblas-openmp/' | head -n 1 || true)
  if [ -z "$want" ]; then
    echo "setup.sh: warning: no OpenBLAS candidate for $name; is libopenblas0-openmp installed?" >&2
    continue
  fi
  current=$(update-alternatives --query "$name" | awk '/^Value:/ {print $2}')
  if [ "$current" != "$want" ]; then
    "${as_root[@]}" update-alternatives --set "$name" "$want"
  fi
done

blas_name=$(update-alternatives --get-selections | awk '!found && index($1, "libblas.so.3-") == 1 {print $1; found = 1}')
blas_path=$(update-alternatives --query "$blas_name" 2>/dev/null | awk '/^Value:/ {print $2}')
case "$blas_path" in
  */openblas-openmp/*) blas_kind="OpenBLAS (OpenMP)" ;;
  */openblas-pthread/*) blas_kind="OpenBLAS (pthreads)" ;;
  */openblas*) blas_kind="OpenBLAS" ;;
  */blas/*) blas_kind="reference BLAS (slow)" ;;
  "") blas_kind="unknown" ;;
  *) blas_kind="other" ;;
esac
echo "setup.sh: active BLAS: $blas_kind -> ${blas_path:-none}"
