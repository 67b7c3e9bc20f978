#!/usr/bin/python3
"""Timing peer: one training epoch of the blog's VAE (784-512-2, batch 128, Adam) in PyTorch.

The 60,000 MNIST training images are loaded as float32 (pixels / 255) and
permuted once with a fixed seed before timing; batch i is the slice
[128 i, 128 i + 128) of that permuted tensor (the last batch has 96 rows), so
every run sees the same batches.  Five warm-up steps on a throw-away copy of
the model run before the clock starts.  After the epoch, the single-sample
encode latency (mean head only, under no_grad) is the median over --latency-calls
calls.  Prints exactly one JSON line on stdout; diagnostics go to stderr.

    /usr/bin/python3 benchmarks/peers/torch_epoch.py --threads 1

--threads N sets torch's intra-op threads and, by default, OpenBLAS's own thread
pool too (Debian's torch does its sgemm in OpenBLAS, whose pthread pool ignores
torch.set_num_threads); --blas-threads overrides the latter.
"""
import argparse
import copy
import ctypes
import gzip
import json
import os
import resource
import statistics
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def read_idx(path):
    if not os.path.exists(path) and os.path.exists(path + ".gz"):
        path += ".gz"
    with (gzip.open if path.endswith(".gz") else open)(path, "rb") as f:
        raw = bytearray(f.read())  # writable, so torch.from_numpy does not warn
    ndim = raw[3]
    shape = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def openblas():
    """The OpenBLAS library this process has loaded (via torch), or None."""
    with open("/proc/self/maps") as f:
        paths = {line.split()[-1] for line in f if "libopenblas" in line}
    return ctypes.CDLL(sorted(paths)[0]) if paths else None


class VAE(nn.Module):
    """The blog's VariationalEncoder + Decoder with the blog's KL."""

    def __init__(self, latent=2):
        super().__init__()
        self.linear1 = nn.Linear(784, 512)
        self.linear2 = nn.Linear(512, latent)  # mu
        self.linear3 = nn.Linear(512, latent)  # log sigma
        self.dec1 = nn.Linear(latent, 512)
        self.dec2 = nn.Linear(512, 784)

    def encode_mean(self, x):
        return self.linear2(F.relu(self.linear1(x)))

    def loss(self, x):
        h = F.relu(self.linear1(x))
        mu = self.linear2(h)
        sigma = torch.exp(self.linear3(h))
        z = mu + sigma * torch.randn_like(mu)
        kl = (sigma**2 + mu**2 - torch.log(sigma) - 1 / 2).sum()
        x_hat = torch.sigmoid(self.dec2(F.relu(self.dec1(z))))
        return ((x - x_hat) ** 2).sum() + kl


def train_steps(model, opt, data, batch, steps=None):
    total = torch.zeros(())
    for n, i in enumerate(range(0, len(data), batch)):
        if steps is not None and n == steps:
            break
        opt.zero_grad()
        loss = model.loss(data[i:i + batch])
        loss.backward()
        opt.step()
        total += loss.detach()
    return total.item()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--blas-threads", type=int, default=None, help="OpenBLAS threads (default: --threads)")
    p.add_argument("--data", default="data/mnist")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--latency-calls", type=int, default=2000)
    args = p.parse_args()

    torch.set_num_threads(args.threads)
    blas = openblas()
    blas_threads = args.blas_threads or args.threads
    if blas is not None:
        blas.openblas_set_num_threads(blas_threads)
        blas.openblas_get_corename.restype = ctypes.c_char_p
        blas_info = f"OpenBLAS {blas.openblas_get_corename().decode()} x{blas.openblas_get_num_threads()}"
    else:
        blas_info = "no OpenBLAS loaded"
    print(f"torch {torch.__version__}: {torch.get_num_threads()} intra-op threads, {blas_info}, "
          f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', '')}", file=sys.stderr)

    # Permute the bytes, then convert once: a single float32 copy of the data set is held.
    images = torch.from_numpy(read_idx(os.path.join(args.data, "train-images-idx3-ubyte")).reshape(-1, 784))
    perm = torch.randperm(len(images), generator=torch.Generator().manual_seed(args.seed))
    data = images.index_select(0, perm).float().div_(255.0)
    x0 = images[0:1].float().div_(255.0)  # the latency probe: the first training image
    del images, perm

    torch.manual_seed(args.seed)
    model = VAE()
    opt = torch.optim.Adam(model.parameters())

    scratch = copy.deepcopy(model)  # warm-up on a copy: the timed epoch starts from the fresh init
    train_steps(scratch, torch.optim.Adam(scratch.parameters()), data, args.batch, steps=args.warmup)
    del scratch

    t0 = time.perf_counter()
    total = train_steps(model, opt, data, args.batch)
    epoch_s = time.perf_counter() - t0

    times = []
    with torch.no_grad():
        for n in range(200 + args.latency_calls):
            t = time.perf_counter_ns()
            model.encode_mean(x0)
            if n >= 200:
                times.append(time.perf_counter_ns() - t)

    print(json.dumps({
        "name": "pytorch",
        "threads": args.threads,
        "samples_per_s": round(len(data) / epoch_s, 1),
        "epoch_s": round(epoch_s, 4),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1),
        "encode_latency_us": round(statistics.median(times) / 1000.0, 2),
        "final_loss": round(total / len(data), 4),
    }), flush=True)


if __name__ == "__main__":
    main()
