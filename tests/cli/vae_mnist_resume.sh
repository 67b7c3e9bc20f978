#!/usr/bin/env bash
# vae_mnist resumed from a checkpoint ends bit for bit like an uninterrupted
# run: 2 epochs straight against 1 epoch, then --resume for the second. The
# final checkpoints (parameters, Adam state, position) must be identical.
# Usage: vae_mnist_resume.sh VAE_MNIST_BINARY MNIST_DIR
set -euo pipefail
bin=$1
data=$2
if [[ ! -f "$data/train-images-idx3-ubyte" && ! -f "$data/train-images-idx3-ubyte.gz" ]]; then
  echo "SKIP: no MNIST in $data (run scripts/fetch_mnist.sh); 0 passed, 0 failed"
  exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
common=(--model vae --data "$data" --threads 2 --no-plots --quiet --checkpoint-every 1)
"$bin" "${common[@]}" --epochs 2 --out "$work/straight"
"$bin" "${common[@]}" --epochs 1 --out "$work/first"
"$bin" "${common[@]}" --epochs 2 --out "$work/resumed" --resume "$work/first/vae.ckpt"
if cmp "$work/straight/vae.ckpt" "$work/resumed/vae.ckpt"; then
  echo "resumed run identical to the uninterrupted one ($(stat -c %s "$work/resumed/vae.ckpt") bytes of checkpoint)"
  echo "1 passed, 0 failed"
else
  echo "1 passed... no: checkpoints differ"; echo "0 passed, 1 failed"; exit 1
fi
