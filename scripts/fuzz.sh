#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, with AddressSanitizer and
# UndefinedBehaviorSanitizer) and runs each for SECONDS seconds from its seed
# corpus, which grows in $VAE_FUZZ_DIR/corpus/ (default build-fuzz/).
# Usage: scripts/fuzz.sh [SECONDS] [TARGET...]
#   targets: idx, checkpoint (raw bytes), safetensors, table (CSV and .npy), checkpoint_fields (field-aware
#   mutations of valid checkpoints with the CRC recomputed); default: all.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=(idx checkpoint checkpoint_fields safetensors table)
out=${VAE_FUZZ_DIR:-build-fuzz}

mkdir -p "$out"
flags=(-std=c++17 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
       -I include -I tests -isystem /usr/include/eigen3 -DVAE_WITH_ZLIB -DEIGEN_DONT_PARALLELIZE)
for t in "${targets[@]}"; do
  clang++ "${flags[@]}" "fuzz/fuzz_${t}.cpp" -o "$out/fuzz_${t}" -lz
  corpus=fuzz/corpus/${t}
  [[ $t == checkpoint_fields ]] && corpus=fuzz/corpus/checkpoint  # the same valid checkpoints seed it
  mkdir -p "$out/corpus/${t}"
  echo "fuzz: ${t} for ${seconds} s"
  log=$out/fuzz_${t}.log
  status=0
  "$out/fuzz_${t}" -max_total_time="${seconds}" -rss_limit_mb=2048 -timeout=60 -print_final_stats=1 \
    -artifact_prefix="$out/" "$out/corpus/${t}" "$corpus" > "$log" 2>&1 || status=$?
  grep -E "^(#[0-9]+.*DONE|stat::number_of_executed_units|stat::peak_rss|==[0-9]+==ERROR|SUMMARY)" "$log" || true
  # libFuzzer exits non-zero on a finding (the input is saved as $out/crash-*).
  if [[ $status -ne 0 ]]; then
    echo "fuzz: ${t} exited with status ${status}; the log is ${log}"
    exit 1
  fi
done
