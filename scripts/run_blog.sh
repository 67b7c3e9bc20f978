#!/usr/bin/env bash
# The main job on a Debian machine: install what is needed, fetch MNIST, build,
# then train the blog's autoencoder and VAE (latent 2, 20 epochs, batch 128,
# summed squared error + the blog's KL) and write every picture and
# metrics.csv into out/ (or the folder given as the first argument).
# Further arguments go to vae_mnist (see build/examples/vae_mnist --help).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-out}
shift || true

bash scripts/setup.sh
bash scripts/fetch_mnist.sh data/mnist

cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j "$(nproc)" --target vae_mnist
time build/examples/vae_mnist --data data/mnist --out "$out" "$@"
