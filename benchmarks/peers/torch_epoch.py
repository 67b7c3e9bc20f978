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

--arch conv trains the Keras example's convolutional VAE (vae_epoch --arch conv,
docs/convolution.md): Bernoulli decoder on logits and the exact KL, batch 128.

--arch iwae trains Burda et al.'s IWAE model instead (vae_epoch --arch iwae does
the same work): 784-200-200 tanh -> (mu, log sigma) 50 each, k = --k draws
z = mu + sigma * eps per input, decoder 50-200-200 tanh -> 784 logits,
log w = -BCE-with-logits (summed over pixels) + log N(z; 0, I) - log N(z; mu, sigma),
loss = -sum over the batch of (logsumexp_k log w - log k), Adam with eps 1e-4, batch 20
unless --batch is given, on the training images binarised once (Bernoulli, seed
--seed) before timing.  --steps N times N steps instead of one epoch (wrapping
around the permuted data if N is larger).  --flush-denormals 1 calls
torch.set_flush_denormal(True) (flush-to-zero / denormals-are-zero on the main thread,
the one that computes with --threads 1): a diagnostic, like vae_epoch's flag.
"""
import argparse
import copy
import ctypes
import gzip
import json
import math
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


class IWAE(nn.Module):
    """Burda et al.'s one-stochastic-layer MNIST model with the k-sample bound."""

    def __init__(self, k=1, latent=50, hidden=200):
        super().__init__()
        self.k = k
        self.enc = nn.Sequential(nn.Linear(784, hidden), nn.Tanh(), nn.Linear(hidden, hidden), nn.Tanh())
        self.mu = nn.Linear(hidden, latent)
        self.log_sigma = nn.Linear(hidden, latent)
        self.dec = nn.Sequential(nn.Linear(latent, hidden), nn.Tanh(), nn.Linear(hidden, hidden), nn.Tanh(),
                                 nn.Linear(hidden, 784))

    def encode_mean(self, x):
        return self.mu(self.enc(x))

    def loss(self, x):
        h = self.enc(x)
        mu, log_sigma = self.mu(h), self.log_sigma(h)
        eps = torch.randn((self.k,) + mu.shape)
        z = mu + torch.exp(log_sigma) * eps  # k x B x latent
        logits = self.dec(z)                # k x B x 784
        log_px_z = -F.binary_cross_entropy_with_logits(logits, x.expand_as(logits), reduction="none").sum(-1)
        # log N(z; 0, I) - log N(z; mu, sigma): the 2 pi terms cancel.
        log_pz_minus_log_qz = 0.5 * (eps ** 2 - z ** 2).sum(-1) + log_sigma.sum(-1)
        log_w = log_px_z + log_pz_minus_log_qz
        return -(torch.logsumexp(log_w, 0) - math.log(self.k)).sum()


class ConvVAE(nn.Module):
    """The Keras example's convolutional VAE (vae::make_conv_vae, latent 2):
    Bernoulli decoder on logits (summed binary cross-entropy) and the exact KL."""

    def __init__(self, latent=2):
        super().__init__()
        self.enc = nn.Sequential(nn.Conv2d(1, 32, 3, 2, 1), nn.ReLU(), nn.Conv2d(32, 64, 3, 2, 1), nn.ReLU(),
                                 nn.Flatten(), nn.Linear(3136, 16), nn.ReLU())
        self.mu = nn.Linear(16, latent)
        self.log_sigma = nn.Linear(16, latent)
        self.dec = nn.Sequential(nn.Linear(latent, 3136), nn.ReLU(), nn.Unflatten(1, (64, 7, 7)),
                                 nn.ConvTranspose2d(64, 64, 3, 2, 1, 1), nn.ReLU(),
                                 nn.ConvTranspose2d(64, 32, 3, 2, 1, 1), nn.ReLU(),
                                 nn.ConvTranspose2d(32, 1, 3, 1, 1), nn.Flatten())

    def encode_mean(self, x):
        return self.mu(self.enc(x.reshape(-1, 1, 28, 28)))

    def loss(self, x):
        h = self.enc(x.reshape(-1, 1, 28, 28))
        mu, log_sigma = self.mu(h), self.log_sigma(h)
        z = mu + torch.exp(log_sigma) * torch.randn_like(mu)
        logits = self.dec(z)
        rec = F.binary_cross_entropy_with_logits(logits, x, reduction="sum")
        kl = 0.5 * (mu ** 2 + torch.exp(2 * log_sigma) - 2 * log_sigma - 1).sum()
        return rec + kl


class ConvCVAE(ConvVAE):
    """The conditional VAE of the same networks (vae::make_conv_cvae): the
    one-hot label as constant planes beside the image (the first convolution
    takes 1 + classes channels) and as rows beside the code (the decoder's
    first layer takes latent + classes). x is the pixels then the label's
    one-hot columns, as vae's conditional batches hold them."""

    def __init__(self, latent=2, classes=10):
        super().__init__(latent)
        self.classes = classes
        self.enc[0] = nn.Conv2d(1 + classes, 32, 3, 2, 1)
        self.dec[0] = nn.Linear(latent + classes, 3136)

    def split(self, x):
        pixels, y = x[:, :784], x[:, 784:]
        planes = y.reshape(-1, self.classes, 1, 1).expand(-1, -1, 28, 28)
        return pixels, y, torch.cat([pixels.reshape(-1, 1, 28, 28), planes], 1)

    def encode_mean(self, x):
        return self.mu(self.enc(self.split(x)[2]))

    def loss(self, x):
        pixels, y, image = self.split(x)
        h = self.enc(image)
        mu, log_sigma = self.mu(h), self.log_sigma(h)
        z = mu + torch.exp(log_sigma) * torch.randn_like(mu)
        logits = self.dec(torch.cat([z, y], 1))
        rec = F.binary_cross_entropy_with_logits(logits, pixels, reduction="sum")
        kl = 0.5 * (mu ** 2 + torch.exp(2 * log_sigma) - 2 * log_sigma - 1).sum()
        return rec + kl


def train_steps(model, opt, data, batch, steps=None, wrap=False):
    total = torch.zeros(())
    starts = range(0, len(data), batch)
    if wrap:  # exactly `steps` steps, cycling through the data
        starts = [(n * batch) % len(data) for n in range(steps)]
    for n, i in enumerate(starts):
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
    p.add_argument("--batch", type=int, default=None, help="default 128 (blog) or 20 (iwae)")
    p.add_argument("--arch", choices=["blog", "iwae", "conv"], default="blog")
    p.add_argument("--k", type=int, default=1, help="IWAE samples per input (--arch iwae)")
    p.add_argument("--steps", type=int, default=0, help="time this many steps instead of one epoch")
    p.add_argument("--flush-denormals", type=int, default=0, help="1: torch.set_flush_denormal(True)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--latency-calls", type=int, default=2000)
    args = p.parse_args()
    if args.k < 1 or (args.arch == "blog" and args.k != 1):
        p.error("--k must be >= 1 (and 1 for --arch blog)")
    if args.batch is None:
        args.batch = 20 if args.arch == "iwae" else 128

    torch.set_num_threads(args.threads)
    if args.flush_denormals and not torch.set_flush_denormal(True):
        sys.exit("torch_epoch.py: --flush-denormals is not supported on this CPU")
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
    if args.arch == "iwae":
        data = torch.bernoulli(data, generator=torch.Generator().manual_seed(args.seed))

    torch.manual_seed(args.seed)
    model = IWAE(args.k) if args.arch == "iwae" else ConvVAE() if args.arch == "conv" else VAE()
    adam = dict(eps=1e-4) if args.arch == "iwae" else {}
    opt = torch.optim.Adam(model.parameters(), **adam)

    scratch = copy.deepcopy(model)  # warm-up on a copy: the timed epoch starts from the fresh init
    train_steps(scratch, torch.optim.Adam(scratch.parameters(), **adam), data, args.batch, steps=args.warmup)
    del scratch

    samples = len(data)
    if args.steps:
        samples = sum(len(data[(n * args.batch) % len(data):][:args.batch]) for n in range(args.steps))
    t0 = time.perf_counter()
    total = train_steps(model, opt, data, args.batch, steps=args.steps or None, wrap=bool(args.steps))
    epoch_s = time.perf_counter() - t0

    times = []
    with torch.no_grad():
        for n in range(200 + args.latency_calls):
            t = time.perf_counter_ns()
            model.encode_mean(x0)
            if n >= 200:
                times.append(time.perf_counter_ns() - t)

    record = {
        "name": "pytorch",
        "threads": args.threads,
        "samples_per_s": round(samples / epoch_s, 1),
        "epoch_s": round(epoch_s, 4),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1),
        "encode_latency_us": round(statistics.median(times) / 1000.0, 2),
        "final_loss": round(total / samples, 4),
    }
    if args.flush_denormals:
        record.update(flush_denormals=1)
    if args.arch != "blog":
        record.update(arch=args.arch, k=args.k, batch=args.batch, samples=samples)
    print(json.dumps(record), flush=True)


if __name__ == "__main__":
    main()
