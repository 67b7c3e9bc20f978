#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/CMakeLists.txt: clang, with
# AddressSanitizer and UndefinedBehaviorSanitizer, -O1 -g) and runs each for
# SECONDS seconds from its seed corpus, which grows in $VAE_FUZZ_DIR/corpus/
# (default build-fuzz/, which also holds the build).
# Usage: scripts/fuzz.sh [SECONDS] [TARGET...]
#   targets: idx, checkpoint (raw bytes), safetensors, table (CSV and .npy), checkpoint_fields (field-aware
#   mutations of valid checkpoints with the CRC recomputed); default: all.
# With VAE_FUZZ_PREBUILT=1 the targets are taken as already built in
# $VAE_FUZZ_DIR (ctest's fuzz_smoke, in the test command's sanitizer build).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=(idx checkpoint checkpoint_fields safetensors table)
out=${VAE_FUZZ_DIR:-build-fuzz}

mkdir -p "$out"
if [[ ${VAE_FUZZ_PREBUILT:-0} != 1 ]]; then
  cmake -S . -B "$out/build" -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g" -DVAE_SANITIZE=ON -DVAE_BUILD_FUZZERS=ON -DVAE_WITH_CUDA=OFF \
        -DVAE_WITH_MPI=OFF -DVAE_BUILD_TESTS=OFF -DVAE_BUILD_EXAMPLES=OFF -DVAE_BUILD_BENCHMARKS=OFF \
        -DVAE_BUILD_DOCS=OFF > "$out/configure.log"
  cmake --build "$out/build" -j "$(nproc)" --target "${targets[@]/#/fuzz_}"
  bin=$out/build/fuzz
else
  bin=$out
fi
for t in "${targets[@]}"; do
  corpus=fuzz/corpus/${t}
  [[ $t == checkpoint_fields ]] && corpus=fuzz/corpus/checkpoint  # the same valid checkpoints seed it
  mkdir -p "$out/corpus/${t}"
  echo "fuzz: ${t} for ${seconds} s"
  log=$out/fuzz_${t}.log
  status=0
  "$bin/fuzz_${t}" -max_total_time="${seconds}" -rss_limit_mb=2048 -timeout=60 -print_final_stats=1 \
    -artifact_prefix="$out/" "$out/corpus/${t}" "$corpus" > "$log" 2>&1 || status=$?
  grep -E "^(#[0-9]+.*DONE|stat::number_of_executed_units|stat::peak_rss|==[0-9]+==ERROR|SUMMARY)" "$log" || true
  # libFuzzer exits non-zero on a finding (the input is saved as $out/crash-*).
  if [[ $status -ne 0 ]]; then
    echo "fuzz: ${t} exited with status ${status}; the log is ${log}"
    exit 1
  fi
done
echo "fuzz: ${#targets[@]} targets ran for ${seconds} s each, no finding"
