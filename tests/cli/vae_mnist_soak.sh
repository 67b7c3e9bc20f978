#!/usr/bin/env bash
# Soak test of checkpointing: vae_mnist --checkpoint-every 1, killed with
# SIGKILL at random moments and resumed from its checkpoint each time, until
# a run gets to the end. After every kill the checkpoint (when one has been
# written yet) must load; the final checkpoint must be byte-identical to that
# of a run that was never interrupted.
# Usage: vae_mnist_soak.sh VAE_MNIST_BINARY MNIST_DIR [EPOCHS] [KILLS] [TRAIN_IMAGES] [MAX_DELAY_MS]
#   EPOCHS (default 3), KILLS: kills before a run may finish (default 4),
#   TRAIN_IMAGES: the first N training images (default 6000; 60000 = all),
#   MAX_DELAY_MS: a run is killed after half its start-up time to this
#   (default: start-up plus 1.5 epochs, as long as the uninterrupted run's
#   took, so that most runs die mid-epoch, some while saving).
# The check after a kill is vae_mnist --resume CKPT --epochs 0, which reads
# and checks every field of the checkpoint and trains nothing.
set -euo pipefail
bin=$1
data=$2
epochs=${3:-3}
kills=${4:-4}
train_images=${5:-6000}
max_delay_ms=${6:-auto}
if [[ ! -f "$data/train-images-idx3-ubyte" ]]; then
  echo "SKIP: no raw MNIST in $data (run scripts/fetch_mnist.sh); 0 passed, 0 failed"
  exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# shellcheck source=mnist_subset.sh
source "$(dirname "$0")/mnist_subset.sh"
mnist=$work/mnist
mnist_subset "$data" "$mnist" "$train_images" 1000

common=(--model vae --data "$mnist" --threads 2 --no-plots --quiet --checkpoint-every 1)
now_ms() { echo $(($(date +%s%N) / 1000000)); }
started=$(now_ms)
"$bin" "${common[@]}" --epochs 0 --out "$work/startup" > /dev/null 2>&1
startup_ms=$(($(now_ms) - started))
started=$(now_ms)
"$bin" "${common[@]}" --epochs "$epochs" --out "$work/straight" > /dev/null 2>&1
straight_ms=$(($(now_ms) - started))
epoch_ms=$(((straight_ms - startup_ms) / epochs))
min_delay_ms=$((startup_ms / 2))
[[ $max_delay_ms == auto ]] && max_delay_ms=$((startup_ms + epoch_ms * 3 / 2))
((max_delay_ms > min_delay_ms)) || max_delay_ms=$((min_delay_ms + 1))

out=$work/soak
ckpt=$out/vae.ckpt
mkdir -p "$out"
killed=0 loads=0 no_checkpoint_yet=0 mid_write=0 runs=0
declare -A epochs_seen=()
while :; do
  runs=$((runs + 1))
  resume=()
  [[ -f $ckpt ]] && resume=(--resume "$ckpt")
  "$bin" "${common[@]}" --epochs "$epochs" --out "$out" "${resume[@]}" > /dev/null 2>&1 &
  pid=$!
  if ((killed >= kills)); then
    wait "$pid"  # enough kills: this run must finish
    break
  fi
  delay_ms=$((min_delay_ms + (RANDOM * 32768 + RANDOM) % (max_delay_ms - min_delay_ms)))
  sleep "$(printf '%d.%03d' $((delay_ms / 1000)) $((delay_ms % 1000)))"
  if ! kill -KILL "$pid" 2> /dev/null; then
    wait "$pid"  # it finished before the kill: the run is complete
    break
  fi
  wait "$pid" 2> /dev/null || true
  killed=$((killed + 1))
  # A write in progress leaves its temporary file beside the checkpoint.
  for tmp in "$out"/vae.ckpt.tmp-*; do
    [[ -e $tmp ]] || continue
    mid_write=$((mid_write + 1))
    rm -f "$tmp"
  done
  if [[ ! -f $ckpt ]]; then
    no_checkpoint_yet=$((no_checkpoint_yet + 1))
    continue
  fi
  if ! check=$("$bin" --model vae --data "$mnist" --threads 1 --no-plots --epochs 0 --resume "$ckpt" --out "$work/check" 2>&1); then
    echo "kill $killed (after $delay_ms ms) left a checkpoint that does not load: $check"
    echo "0 passed, 1 failed"
    exit 1
  fi
  loads=$((loads + 1))
  at=$(sed -nE 's/.*at epoch ([0-9]+).*/\1/p' <<< "$check")
  epochs_seen[$at]=1
done
summary="$killed kills ($min_delay_ms-$max_delay_ms ms into a run; start-up $startup_ms ms, an epoch $epoch_ms ms) over $runs runs ($loads checkpoints loaded after a kill, resuming at epochs $(echo "${!epochs_seen[@]}" | tr ' ' '\n' | sort -n | tr '\n' ' ' | sed 's/ $//'); $no_checkpoint_yet kills before the first checkpoint; $mid_write mid-write)"
if cmp -s "$work/straight/vae.ckpt" "$ckpt"; then
  echo "$summary; the final checkpoint ($(stat -c %s "$ckpt") bytes, $epochs epochs of $train_images images) is byte-identical to the uninterrupted run's"
  echo "1 passed, 0 failed"
else
  echo "$summary; the final checkpoint differs from the uninterrupted run's"
  echo "0 passed, 1 failed"
  exit 1
fi
