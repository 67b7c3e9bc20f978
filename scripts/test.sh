#!/usr/bin/env bash
# Sets up a Debian machine and runs vae's whole test suite:
#   1. packages and real MNIST (for the data tests);
#   2. a Release build of the library, tests, examples and benchmarks, and
#      every ctest test (unit tests, compile-failure tests, consumer
#      projects, the README example, benchmark and fuzzer smoke runs);
#   3. the unit tests again under AddressSanitizer + UndefinedBehaviorSanitizer.
# Usage: scripts/test.sh   (from anywhere; builds into build/ and build-asan/)
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
bash scripts/fetch_mnist.sh data/mnist
export VAE_MNIST_DIR="$PWD/data/mnist"
jobs=$(nproc)

cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j "$jobs"
ctest --test-dir build --output-on-failure -j "$jobs" --timeout 900

# (MPI off there: Open MPI's own allocations are not ASan-clean; the MPI tests
# run in the Release build above.)
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVAE_SANITIZE=ON -DVAE_WITH_MPI=OFF \
      -DVAE_BUILD_EXAMPLES=OFF -DVAE_BUILD_BENCHMARKS=OFF
cmake --build build-asan -j "$jobs"
ctest --test-dir build-asan --output-on-failure -j "$jobs" --timeout 900 -E "consumer|compile_fail|readme"
