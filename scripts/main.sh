#!/usr/bin/env bash
# The main job: installs the dependencies, builds, trains a classifier on
# Fashion-MNIST and prints the test metrics.
#
#   bash scripts/main.sh [arguments of the fashion_mnist example]
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

bash scripts/setup.sh
bash scripts/build.sh --target fashion_mnist
exec ./build/examples/fashion_mnist/fashion_mnist "$@"
