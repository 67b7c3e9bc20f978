#!/usr/bin/env bash
# vae_mnist resumed from a checkpoint ends bit for bit like an uninterrupted
# run, whatever the thread count of each part: 2 epochs straight on 1 thread
# against 1 epoch on 3 threads, then --resume for the second on 2 threads
# (thread counts reach the BLAS kernels' blocks, so this also checks that no
# result depends on them). The final checkpoints (parameters, Adam state,
# position) must be identical. On the first 6,000 training and 1,000 test
# images, so that ctest can run it under every kernel set.
# Usage: vae_mnist_resume.sh VAE_MNIST_BINARY MNIST_DIR
set -euo pipefail
bin=$1
data=$2
if [[ ! -f "$data/train-images-idx3-ubyte" ]]; then
  echo "SKIP: no raw MNIST in $data (run scripts/fetch_mnist.sh); 0 passed, 0 failed"
  exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# shellcheck source=mnist_subset.sh
source "$(dirname "$0")/mnist_subset.sh"
mnist_subset "$data" "$work/mnist" 6000 1000
common=(--model vae --data "$work/mnist" --no-plots --quiet --checkpoint-every 1)
"$bin" "${common[@]}" --threads 1 --epochs 2 --out "$work/straight"
"$bin" "${common[@]}" --threads 3 --epochs 1 --out "$work/first"
"$bin" "${common[@]}" --threads 2 --epochs 2 --out "$work/resumed" --resume "$work/first/vae.ckpt"
if cmp "$work/straight/vae.ckpt" "$work/resumed/vae.ckpt"; then
  echo "resumed run (3 then 2 threads) identical to the uninterrupted one (1 thread; $(stat -c %s "$work/resumed/vae.ckpt") bytes of checkpoint)"
  echo "1 passed, 0 failed"
else
  echo "checkpoints differ"
  echo "0 passed, 1 failed"
  exit 1
fi
