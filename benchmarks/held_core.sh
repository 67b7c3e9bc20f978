#!/usr/bin/env bash
# Training speed alone and beside a process that holds one core, for one or
# more vae_epoch binaries (say, two releases), interleaved over ROUNDS rounds
# so that each round compares them under the same conditions. Prints one line
# per run: LABEL hog0|hog1 rROUND {vae_epoch's JSON}.
# Usage: [FIT=0|1] benchmarks/held_core.sh ROUNDS DATA_DIR LABEL=VAE_EPOCH_BINARY...
#   e.g. benchmarks/held_core.sh 5 data/mnist before=/tmp/vae_epoch after=build/benchmarks/vae_epoch
# FIT=1 (the default) trains through vae::fit, FIT=0 through a plain loop of
# train_step calls, as a user who writes their own loop would.
set -euo pipefail
rounds=$1 data=$2
shift 2
hog=""
trap '[[ -n $hog ]] && kill "$hog" 2> /dev/null || true' EXIT
for r in $(seq 1 "$rounds"); do
  for held in 0 1; do
    if ((held)); then
      sh -c 'while :; do :; done' &
      hog=$!
    fi
    for entry in "$@"; do
      label=${entry%%=*} bin=${entry#*=}
      echo "$label hog$held r$r $("$bin" --data "$data" --threads 2 --fit "${FIT:-1}")"
    done
    if ((held)); then
      kill "$hog"
      wait "$hog" 2> /dev/null || true
      hog=""
    fi
  done
done
