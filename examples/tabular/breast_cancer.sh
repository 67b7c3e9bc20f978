#!/usr/bin/env bash
# The breast-cancer walk-through of docs/tabular.md, end to end on Debian:
# installs what it needs, builds the vae tool, splits scikit-learn's table
# (benign rows to train on, a held-out mix to score), trains and scores one
# VAE per seed with the tool, and sets the ROC AUC of its scores beside the
# same VAE trained in PyTorch and PCA (benchmarks/peers/tabular_vae.py).
# Usage: examples/tabular/breast_cancer.sh [OUT] (default out/breast_cancer)
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-out/breast_cancer}
seeds=(0 1 2 3 4)
epochs=200

bash scripts/setup.sh
missing=()
for p in python3-sklearn python3-torch; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  sudo=""
  [[ $(id -u) -eq 0 ]] || sudo="sudo"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$(nproc)" --target vae_tool
vae=build/examples/vae

/usr/bin/python3 examples/tabular/breast_cancer_split.py "$out"
scores=()
for seed in "${seeds[@]}"; do
  run="$out/run$seed"
  "$vae" train --data "$out/train.csv" --label-column diagnosis --out "$run" --standardize \
    --hidden 64,32 --latent 2 --likelihood gaussian --epochs $epochs --batch 64 --lr 1e-3 \
    --validation-fraction 0 --seed "$seed" --quiet
  "$vae" score --model "$run/model.ckpt" --data "$out/test.csv" --label-column diagnosis \
    --out "$run/scores.csv" --k 100 --seed "$seed" --quiet
  scores+=("$run/scores.csv")
done
"$vae" encode --model "$out/run0/model.ckpt" --data "$out/test.csv" --label-column diagnosis \
  --out "$out/run0/codes.csv" --picture "$out/run0/test_codes.png"
"$vae" info --model "$out/run0/model.ckpt" | head -5
/usr/bin/python3 benchmarks/peers/tabular_vae.py --train "$out/train.csv" --test "$out/test.csv" \
  --label-column diagnosis --positive malignant --vae-scores "${scores[@]}" --seeds "${seeds[@]}" \
  --epochs $epochs --out "$out/auc.csv"
echo "breast_cancer: the table is in $out/auc.csv, the held-out codes in $out/run0/test_codes.png"
