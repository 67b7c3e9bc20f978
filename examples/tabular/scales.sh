#!/usr/bin/env bash
# How the likelihood's scale meets beta (docs/likelihood.md, "Scales and
# beta"), measured on the breast-cancer split of breast_cancer.sh: the same
# 30-64-32-2 VAE trained on the benign rows
#   - standardised, unit-variance Gaussian, beta 1, and with the Gaussian's
#     standard deviation (--sigma) 0.5 and 0.3 in standardised units, and
#     with a scale learned per feature (gaussian-learned) and the decoder's
#     own scale per feature and row (gaussian-decoder);
#   - squashed into [0, 1], unit-variance Gaussian, beta 1 (the latent collapses);
#   - squashed into [0, 1], unit-variance Gaussian, beta 0.01;
#   - squashed into [0, 1], continuous Bernoulli, beta 1;
# each with its final KL per row, its active latent dimensions (the codes
# of the held-out rows vary by more than 0.01), the mean NLL of the
# held-out benign rows in the data's units (how well it models unseen rows
# of the kind it was trained on) and the ROC AUC of its NLL on the mix.
# Usage: examples/tabular/scales.sh VAE_BINARY SPLIT_DIR [SEEDS...]
set -euo pipefail
vae=$1 dir=$2
shift 2
seeds=("${@:-0}")
run() {  # name train test args...
  local name=$1 train=$2 test=$3; shift 3
  for seed in "${seeds[@]}"; do
    local r="$dir/scales/$name/$seed"
    "$vae" train --data "$dir/$train" --label-column diagnosis --out "$r" --hidden 64,32 --latent 2 --epochs 200 \
      --batch 64 --validation-fraction 0 --seed "$seed" --quiet "$@"
    "$vae" score --model "$r/model.ckpt" --data "$dir/$test" --label-column diagnosis --out "$r/scores.csv" --k 100 \
      --seed "$seed" --quiet
    "$vae" encode --model "$r/model.ckpt" --data "$dir/$test" --label-column diagnosis --out "$r/codes.csv"
  done
  /usr/bin/python3 - "$name" "$dir/scales/$name" "$dir" "${seeds[@]}" <<'PY'
import csv, sys
import numpy as np
from sklearn.metrics import roc_auc_score
name, root, split, seeds = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
# Rows squashed into [0, 1] by hand: their NLL in the data's units adds the
# squashing's log-determinant, sum log(max - min) over the training rows.
log_det = 0.0
if "[0, 1]" in name:
    t = np.array([[float(v) for k, v in x.items() if k != "diagnosis"] for x in csv.DictReader(open(f"{split}/train.csv"))])
    log_det = np.log(t.max(0) - t.min(0)).sum()
kl, auc, active, benign = [], [], [], []
for s in seeds:
    m = list(csv.DictReader(open(f"{root}/{s}/metrics.csv")))
    kl.append(float(m[-1]["train_kl"]))
    r = list(csv.DictReader(open(f"{root}/{s}/scores.csv")))
    auc.append(roc_auc_score([x["diagnosis"] == "malignant" for x in r], [float(x["nll"]) for x in r]))
    benign.append(np.mean([float(x["nll"]) + log_det for x in r if x["diagnosis"] == "benign"]))
    c = np.array([[float(v) for k, v in x.items() if k != "diagnosis"] for x in csv.DictReader(open(f"{root}/{s}/codes.csv"))])
    active.append(int((c.var(0) > 0.01).sum()))
print(f"| {name} | {np.mean(kl):.3f} | {np.mean(active):.1f} | {np.mean(benign):.2f} | "
      f"{np.mean(auc):.4f} (min {min(auc):.4f}, max {max(auc):.4f}) |")
PY
}
echo "| data, likelihood, beta | KL per row (nats) | active latent dims (of 2) | NLL of held-out benign rows (data units) | ROC AUC by NLL |"
echo "| --- | --- | --- | --- | --- |"
run "standardised, gaussian, beta 1" train.csv test.csv --standardize --likelihood gaussian
run "standardised, gaussian, sigma 0.5, beta 1" train.csv test.csv --standardize --likelihood gaussian --sigma 0.5
run "standardised, gaussian, sigma 0.3, beta 1" train.csv test.csv --standardize --likelihood gaussian --sigma 0.3
run "standardised, gaussian-learned, beta 1" train.csv test.csv --standardize --likelihood gaussian-learned
run "standardised, gaussian-decoder, beta 1" train.csv test.csv --standardize --likelihood gaussian-decoder
run "in [0, 1], gaussian, beta 1" train_unit.csv test_unit.csv --likelihood gaussian
run "in [0, 1], gaussian, beta 0.01" train_unit.csv test_unit.csv --likelihood gaussian --beta 0.01
run "in [0, 1], continuous Bernoulli, beta 1" train_unit.csv test_unit.csv --likelihood continuous-bernoulli
