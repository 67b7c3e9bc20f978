#!/usr/bin/env bash
# Burda, Grosse and Salakhutdinov's MNIST table, one row: the
# one-stochastic-layer model 784-200-200-50 (tanh, Bernoulli decoder) trained
# with the importance-weighted bound at K samples (K = 1 is the VAE) on
# dynamically binarised MNIST, with the paper's protocol: batch 20, Adam
# (eps 1e-4), 3^i epochs at 1e-3 * 10^(-i/7) for i = 0..7 (3280 epochs).
#
# It trains stage by stage with vae_mnist, resuming from the run's checkpoint,
# and after each stage estimates the test NLL with importance samples
# (STAGE_NLL_SAMPLES of them, 1000 by default; FINAL_NLL_SAMPLES, 5000, after
# the last stage), appending
#   epoch,nll,nll_samples,seconds_so_far
# to OUT/nll.csv. Killed or stopped, it resumes where the checkpoint (saved
# every 10 epochs) left off; a stage already in nll.csv is not run again.
# seconds_so_far counts the wall time of finished stages and, of a stage that
# was killed, the time up to its last checkpoint (the work that was kept).
#
# STAGES lists the epochs at which the stages end (the paper's by default).
#
# Usage: benchmarks/iwae_table.sh K OUT [VAE_MNIST] [MNIST_DIR] [extra vae_mnist flags...]
set -euo pipefail
k=${1:?usage: iwae_table.sh K OUT [VAE_MNIST] [MNIST_DIR] [flags...]}
out=${2:?usage: iwae_table.sh K OUT [VAE_MNIST] [MNIST_DIR] [flags...]}
bin=${3:-build/examples/vae_mnist}
data=${4:-data/mnist}
shift $(($# < 4 ? $# : 4))
stage_nll=${STAGE_NLL_SAMPLES:-1000}
final_nll=${FINAL_NLL_SAMPLES:-5000}
read -r -a stages <<< "${STAGES:-1 4 13 40 121 364 1093 3280}"
mkdir -p "$out"
[[ -f $out/nll.csv ]] || echo "epoch,nll,nll_samples,seconds_so_far" > "$out/nll.csv"
elapsed=$(awk -F, 'NR > 1 { s = $4 } END { print s + 0 }' "$out/nll.csv")
for epochs in "${stages[@]}"; do
  if awk -F, -v e="$epochs" 'NR > 1 && $1 == e { found = 1 } END { exit !found }' "$out/nll.csv"; then continue; fi
  samples=$stage_nll
  [[ $epochs == "${stages[-1]}" ]] && samples=$final_nll
  resume=()
  [[ -f $out/vae.ckpt ]] && resume=(--resume "$out/vae.ckpt")
  carried=0
  [[ -f $out/carried_seconds ]] && carried=$(cat "$out/carried_seconds")
  if [[ -f $out/stage_started && -f $out/vae.ckpt ]]; then
    kept=$(($(stat -c %Y "$out/vae.ckpt") - $(cat "$out/stage_started")))
    ((kept > 0)) && carried=$((carried + kept))
  fi
  echo "$carried" > "$out/carried_seconds"
  start=$(date +%s)
  echo "$start" > "$out/stage_started"
  "$bin" --model vae --data "$data" --out "$out" --hidden 200,200 --activation tanh --latent 50 \
    --loss bce --kl exact --binarize dynamic --objective iwae --k "$k" --batch 20 --adam-eps 1e-4 \
    --lr-schedule iwae --epochs "$epochs" --checkpoint-every 10 --nll-samples "$samples" --no-plots --quiet \
    "${resume[@]}" "$@" > "$out/stage_$epochs.txt"
  cp "$out/metrics.csv" "$out/metrics_$epochs.csv"
  elapsed=$((elapsed + $(date +%s) - start + carried))
  rm -f "$out/stage_started" "$out/carried_seconds"
  nll=$(sed -nE 's/^test NLL ([0-9.eE+-]+) nats.*/\1/p' "$out/stage_$epochs.txt")
  if [[ -z $nll ]]; then
    echo "iwae_table.sh: $out/stage_$epochs.txt has no 'test NLL' line" >&2
    exit 1
  fi
  echo "$epochs,$nll,$samples,$elapsed" >> "$out/nll.csv"
  echo "K=$k: epoch $epochs, test NLL $nll nats (k=$samples), ${elapsed} s so far"
done
