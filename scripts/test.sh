#!/usr/bin/env bash
# Sets up a Debian machine and runs vae's whole test suite:
#   1. packages and real MNIST (for the data tests);
#   2. a Release build of the library, tests, examples and benchmarks, and
#      every ctest test (unit tests, compile-failure tests, consumer
#      projects, the README example, benchmark smoke runs);
#   3. the unit tests again under AddressSanitizer + UndefinedBehaviorSanitizer,
#      compiled by clang (a second compiler: its warnings and its UBSan checks,
#      such as pointer overflow, that g++'s lacks), the README example, and
#      the fuzzers briefly;
#   4. the inference tests (many threads, one const model) under
#      ThreadSanitizer, without BLAS and with OpenMP at one thread.
# Usage: scripts/test.sh   (from anywhere; builds into build/, build-asan/, build-tsan/)
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
bash scripts/fetch_mnist.sh data/mnist
export VAE_MNIST_DIR="$PWD/data/mnist"
jobs=$(nproc)
# Each phase's wall time, printed as it ends and again at the close.
phase_start=$SECONDS
phases=()
phase() {
  phases+=("$(printf '%5d s  %s' $((SECONDS - phase_start)) "$1")")
  echo "test.sh: ${phases[-1]}"
  phase_start=$SECONDS
}
phase "set-up and MNIST"

# VAE_MNIST_CUDA: vae_mnist --backend cuda compiles and links wherever the CUDA
# backend does, GPU or not. VAE_TEST_FLAGS: the doctest programs compile at
# -O1, in about half of -O3's time, with the same results; the examples and
# benchmarks keep Release's -O3, and the command-line tests run them
# (tests/CMakeLists.txt).
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DVAE_MNIST_CUDA=ON -DVAE_TEST_FLAGS=-O1
cmake --build build -j "$jobs"
phase "Release build"
ctest --test-dir build --output-on-failure -j "$jobs" --timeout 900
phase "Release tests"

# (MPI off there: Open MPI's own allocations are not ASan-clean; the MPI tests
# run in the Release build above.) The sanitizer builds compile with clang
# (LLVM's OpenMP runtime, which also serves OpenBLAS's OpenMP calls) with line
# tables (-g1), which is what their reports need: clang compiles them in about
# half of g++'s time (docs/reliability.md). The ASan+UBSan build compiles at
# -O0, in a third of -O1's time; the test programs that spend their time
# computing take -O1 on top (VAE_TEST_COMPUTE_FLAGS, tests/CMakeLists.txt).
# This build also compiles the libFuzzer targets, and ctest runs each briefly.
sanitizer_flags=(-DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DVAE_WITH_CUDA=OFF
                 -DCMAKE_BUILD_TYPE=RelWithDebInfo)
cmake -S . -B build-asan "${sanitizer_flags[@]}" "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O0 -g1 -DNDEBUG" \
      -DVAE_TEST_COMPUTE_FLAGS=-O1 -DVAE_SANITIZE=ON -DVAE_WITH_MPI=OFF \
      -DVAE_BUILD_EXAMPLES=OFF -DVAE_BUILD_BENCHMARKS=OFF
cmake --build build-asan -j "$jobs"
phase "ASan+UBSan build"
ctest --test-dir build-asan --output-on-failure -j "$jobs" --timeout 900 -E "consumer|compile_fail"
phase "ASan+UBSan tests"

# TSan cannot see libgomp's (or OpenBLAS's) synchronisation, so this build
# uses Eigen's products and OpenMP at one thread: every access the library
# makes is instrumented, and the threads are test_inference's own callers.
cmake -S . -B build-tsan "${sanitizer_flags[@]}" "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1 -DNDEBUG" -DVAE_SANITIZE_THREAD=ON -DVAE_WITH_BLAS=OFF \
      -DVAE_WITH_MPI=OFF -DVAE_WITH_VIZ=OFF -DVAE_BUILD_EXAMPLES=OFF -DVAE_BUILD_BENCHMARKS=OFF
cmake --build build-tsan -j "$jobs" --target test_inference
OMP_NUM_THREADS=1 TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" build-tsan/tests/test_inference
phase "TSan build and test"
echo "test.sh: every phase passed; wall time per phase:"
printf '  %s\n' "${phases[@]}"
echo "test.sh: $SECONDS s in all"
