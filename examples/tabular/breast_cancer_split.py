#!/usr/bin/python3
"""Writes scikit-learn's breast-cancer table (Debian's python3-sklearn ships it
as breast_cancer.csv, without a header line) as two CSV files with named
columns and a `diagnosis` label column:
  OUT/train.csv  benign rows only (250 of 357, drawn with the seed),
  OUT/test.csv   the other 107 benign rows and all 212 malignant ones;
and the same rows squashed into [0, 1] by the training rows' minimum and
maximum of each feature (held-out values clipped), as train_unit.csv and
test_unit.csv: the data as many users hand it to a VAE (docs/likelihood.md,
"Scales and beta").
Usage: breast_cancer_split.py OUT [--seed S]"""
import argparse
import csv
import os

import numpy as np
from sklearn.datasets import load_breast_cancer

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("out")
parser.add_argument("--seed", type=int, default=0)
parser.add_argument("--train-benign", type=int, default=250)
args = parser.parse_args()

data = load_breast_cancer()
x, y = data.data, data.target  # y: 0 malignant, 1 benign
names = [str(n) for n in data.feature_names]
rng = np.random.default_rng(args.seed)
benign = np.flatnonzero(y == 1)
rng.shuffle(benign)
train = np.sort(benign[: args.train_benign])
test = np.sort(np.setdiff1d(np.arange(len(y)), train))
os.makedirs(args.out, exist_ok=True)


def write(path, rows, values):
    with open(path + ".tmp", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["diagnosis"] + names)
        for i in rows:
            w.writerow([data.target_names[y[i]]] + [repr(float(v)) for v in values[i]])
    os.replace(path + ".tmp", path)


lo, hi = x[train].min(0), x[train].max(0)
unit = np.clip((x - lo) / np.where(hi > lo, hi - lo, 1), 0, 1)
write(os.path.join(args.out, "train.csv"), train, x)
write(os.path.join(args.out, "test.csv"), test, x)
write(os.path.join(args.out, "train_unit.csv"), train, unit)
write(os.path.join(args.out, "test_unit.csv"), test, unit)
print(f"breast_cancer_split: {len(train)} benign training rows, {len(test)} held-out rows "
      f"({int((y[test] == 0).sum())} malignant) in {args.out}")
