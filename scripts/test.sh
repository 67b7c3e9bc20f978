#!/usr/bin/env bash
# Sets up a Debian machine and runs vae's whole test suite:
# packages, real MNIST (for the data tests), a Release build, ctest.
# Usage: scripts/test.sh   (from anywhere; builds into build/)
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
bash scripts/fetch_mnist.sh data/mnist

jobs=$(nproc)
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j "$jobs"
VAE_MNIST_DIR="$PWD/data/mnist" ctest --test-dir build --output-on-failure -j "$jobs" --timeout 900
