#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, with AddressSanitizer and
# UndefinedBehaviorSanitizer) and runs each for SECONDS seconds from its seed
# corpus, which grows in build-fuzz/corpus/.
# Usage: scripts/fuzz.sh [SECONDS] [TARGET...]   (targets: idx checkpoint)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=(idx checkpoint)

mkdir -p build-fuzz
flags=(-std=c++17 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
       -I include -isystem /usr/include/eigen3 -DVAE_WITH_ZLIB -DEIGEN_DONT_PARALLELIZE)
for t in "${targets[@]}"; do
  clang++ "${flags[@]}" "fuzz/fuzz_${t}.cpp" -o "build-fuzz/fuzz_${t}" -lz
  mkdir -p "build-fuzz/corpus/${t}"
  echo "fuzz: ${t} for ${seconds} s"
  "build-fuzz/fuzz_${t}" -max_total_time="${seconds}" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
    "build-fuzz/corpus/${t}" "fuzz/corpus/${t}" 2>&1 | grep -E "^(#[0-9]+.*DONE|stat::number_of_executed_units|stat::peak_rss|==[0-9]+==ERROR|SUMMARY)" || true
  # libFuzzer exits non-zero on a finding; grep above only shortens the log.
  test "${PIPESTATUS[0]}" -eq 0
done
