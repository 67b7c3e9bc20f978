#!/usr/bin/python3
"""Peers of `vae score` on a table: the same VAE trained in PyTorch, and PCA's
reconstruction error, each scored on the held-out rows; prints the ROC AUC of
every score against a label (and writes it as CSV).

The PyTorch VAE is the tool's: features standardised by the training rows,
encoder hidden layers (ReLU) to mu and log sigma, the decoder the mirror,
identity output under a unit-variance Gaussian, exact KL with weight beta,
Adam at --lr on batches of --batch rows (reshuffled each epoch), the output
bias at the training mean (0 after standardising); the score is the
importance-sampled NLL with k draws in the data's units (the
standardisation's log-determinant added), as `vae score` computes it.

Usage: tabular_vae.py --train train.csv --test test.csv --label-column diagnosis
       --positive malignant [--vae-scores run0/scores.csv ...] [--seeds 0 1 2]"""
import argparse
import csv
import math
import os
import sys
import time

import numpy as np
import torch
from sklearn.metrics import roc_auc_score


def read(path, label_column):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    li = header.index(label_column)
    labels = [r[li] for r in body]
    cols = [j for j in range(len(header)) if j != li]
    x = np.array([[float(r[j]) for j in cols] for r in body])
    return x, labels


class Vae(torch.nn.Module):
    def __init__(self, sizes):
        super().__init__()
        enc, dec = [], []
        for a, b in zip(sizes[:-2], sizes[1:-1]):
            enc += [torch.nn.Linear(a, b), torch.nn.ReLU()]
        self.encoder = torch.nn.Sequential(*enc)
        self.heads = torch.nn.Linear(sizes[-2], 2 * sizes[-1])
        back = sizes[::-1]
        for a, b in zip(back[:-2], back[1:-1]):
            dec += [torch.nn.Linear(a, b), torch.nn.ReLU()]
        dec.append(torch.nn.Linear(back[-2], back[-1]))
        self.decoder = torch.nn.Sequential(*dec)
        self.latent = sizes[-1]

    def q(self, x):
        h = self.heads(self.encoder(x))
        return h[:, : self.latent], h[:, self.latent :]  # mu, log sigma


LOG_2PI = math.log(2 * math.pi)


def gaussian_nll(x, mean):  # -log N(x; mean, I), per row
    return 0.5 * ((x - mean) ** 2).sum(1) + 0.5 * x.shape[1] * LOG_2PI


def train_torch(x, sizes, seed, epochs, batch, lr, beta):
    torch.manual_seed(seed)
    model = Vae(sizes)
    with torch.no_grad():
        model.decoder[-1].bias.zero_()  # the training mean, standardised
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    xt = torch.tensor(x, dtype=torch.float32)
    g = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        for idx in torch.randperm(len(xt), generator=g).split(batch):
            xb = xt[idx]
            mu, log_sigma = model.q(xb)
            z = mu + torch.exp(log_sigma) * torch.randn_like(mu)
            rec = gaussian_nll(xb, model.decoder(z))
            kl = 0.5 * (mu**2 + torch.exp(2 * log_sigma) - 1 - 2 * log_sigma).sum(1)
            loss = (rec + beta * kl).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
    return model


@torch.no_grad()
def nll(model, x, k, seed):
    torch.manual_seed(seed)
    xt = torch.tensor(x, dtype=torch.float32)
    mu, log_sigma = model.q(xt)
    sigma = torch.exp(log_sigma)
    z = mu + sigma * torch.randn(k, *mu.shape)  # k x N x Z
    log_q = (-0.5 * ((z - mu) / sigma) ** 2 - log_sigma - 0.5 * LOG_2PI).sum(-1)
    log_p_z = (-0.5 * z**2 - 0.5 * LOG_2PI).sum(-1)
    mean = model.decoder(z.reshape(-1, z.shape[-1])).reshape(k, *xt.shape)
    log_p_x = -(0.5 * ((xt - mean) ** 2).sum(-1) + 0.5 * xt.shape[1] * LOG_2PI)
    log_w = (log_p_x + log_p_z - log_q).double()
    return -(torch.logsumexp(log_w, 0) - math.log(k)).numpy()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--train", required=True)
    p.add_argument("--test", required=True)
    p.add_argument("--label-column", required=True)
    p.add_argument("--positive", required=True, help="the label of the rows the scores should rank high")
    p.add_argument("--vae-scores", nargs="*", default=[], help="`vae score` outputs (one per seed)")
    p.add_argument("--hidden", default="64,32")
    p.add_argument("--latent", type=int, default=2)
    p.add_argument("--epochs", type=int, default=200)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--beta", type=float, default=1.0)
    p.add_argument("--k", type=int, default=100)
    p.add_argument("--seeds", type=int, nargs="*", default=[0, 1, 2, 3, 4])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", help="write the table as CSV here")
    a = p.parse_args()
    torch.set_num_threads(a.threads)

    x_train, _ = read(a.train, a.label_column)
    x_test, labels = read(a.test, a.label_column)
    y = np.array([lab == a.positive for lab in labels], dtype=int)
    if y.min() == y.max():
        sys.exit(f"tabular_vae: every test row is {'' if y[0] else 'not '}'{a.positive}': no AUC")
    mean, std = x_train.mean(0), x_train.std(0)
    std[std <= 1e-12 * np.maximum(1, np.abs(mean))] = 1
    s_train, s_test = (x_train - mean) / std, (x_test - mean) / std
    log_det = np.log(std).sum()

    rows = []  # (method, score, AUCs per seed)

    def add(method, score, aucs):
        rows.append((method, score, aucs))
        print(f"{method:<34} {score:<22} AUC {np.mean(aucs):.4f}" +
              (f" (min {min(aucs):.4f}, max {max(aucs):.4f}, {len(aucs)} seeds)" if len(aucs) > 1 else ""))

    if a.vae_scores:
        nll_auc, rec_auc, nll_mean = [], [], []
        for path in a.vae_scores:
            with open(path, newline="") as f:
                r = list(csv.DictReader(f))
            if [row[a.label_column] for row in r] != labels:
                sys.exit(f"tabular_vae: {path}: its labels are not the test rows' in order")
            nll_auc.append(roc_auc_score(y, [float(row["nll"]) for row in r]))
            nll_mean.append(np.mean([float(row["nll"]) for row in r]))
            rec_auc.append(roc_auc_score(y, [float(row["reconstruction_error"]) for row in r]))
        add("vae (this library)", f"NLL, k = {a.k}", nll_auc)
        add("vae (this library)", "reconstruction error", rec_auc)
        print(f"  (vae: mean test NLL {np.mean(nll_mean):.3f})")

    sizes = [x_train.shape[1]] + [int(h) for h in a.hidden.split(",")] + [a.latent]
    t_auc, t_rec, t_nll, seconds = [], [], [], []
    for seed in a.seeds:
        start = time.perf_counter()
        model = train_torch(s_train, sizes, seed, a.epochs, a.batch, a.lr, a.beta)
        seconds.append(time.perf_counter() - start)
        score = nll(model, s_test, a.k, seed) + log_det
        t_nll.append(score.mean())
        t_auc.append(roc_auc_score(y, score))
        with torch.no_grad():
            xt = torch.tensor(s_test, dtype=torch.float32)
            rec = ((model.decoder(model.q(xt)[0]) - xt) ** 2).sum(1).numpy()
        t_rec.append(roc_auc_score(y, rec))
    add(f"PyTorch {torch.__version__.split('+')[0]}, same VAE", f"NLL, k = {a.k}", t_auc)
    add(f"PyTorch {torch.__version__.split('+')[0]}, same VAE", "reconstruction error", t_rec)
    print(f"  (PyTorch: mean test NLL {np.mean(t_nll):.3f}; training {np.median(seconds):.2f} s median)")

    # PCA on the standardised training rows: the reconstruction error of the
    # held-out rows from the first c components.
    _, _, vt = np.linalg.svd(s_train, full_matrices=False)
    for c in sorted({a.latent, 5, 10}):
        basis = vt[:c]
        residual = s_test - (s_test @ basis.T) @ basis
        add(f"PCA, {c} components", "reconstruction error", [roc_auc_score(y, (residual**2).sum(1))])

    if a.out:
        tmp = a.out + ".tmp"
        with open(tmp, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["method", "score", "auc_mean", "auc_min", "auc_max", "runs"])
            for method, score, aucs in rows:
                w.writerow([method, score, f"{np.mean(aucs):.4f}", f"{min(aucs):.4f}", f"{max(aucs):.4f}", len(aucs)])
        os.replace(tmp, a.out)


if __name__ == "__main__":
    main()
