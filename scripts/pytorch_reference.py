#!/usr/bin/python3
"""PyTorch reference run of the blog post "Variational AutoEncoders (VAE) with PyTorch".

Trains the blog's autoencoder and/or variational autoencoder on MNIST exactly as
the blog does (784-512-Z encoder, Z-512-784 decoder with a sigmoid, nn.Linear's
default init, Adam with default settings, batch 128, reshuffled every epoch,
summed squared error, plus the blog's KL term for the VAE) and prints the train
and test loss per sample after every epoch, so the C++ library can be checked
against it.

    /usr/bin/python3 scripts/pytorch_reference.py                 # both models, latent 2, 20 epochs
    /usr/bin/python3 scripts/pytorch_reference.py --model vae --latent 20 --json /tmp/vae20.json

Differences from the blog, none of which changes the arithmetic:
  * MNIST is read straight from the IDX files (no torchvision); pixels / 255 is
    what transforms.ToTensor() does.  Images are kept flat (784), the blog's
    flatten/reshape to 1x28x28 are no-ops for the loss.
  * The seed is reset before each model, so `--model vae` trains the same VAE as
    `--model both` (the blog seeds once, then trains the AE and then the VAE).
  * The test loss uses its own random stream (one noise sample per image), so
    evaluating does not change the training run.
"""
import argparse
import gzip
import json
import os
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


# ----------------------------------------------------------------------------- data
def read_idx(path):
    """Read an IDX file (or its .gz twin) into a numpy array."""
    if not os.path.exists(path) and os.path.exists(path + ".gz"):
        path += ".gz"
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]  # magic: 0 0 <type=0x08 ubyte> <ndim>
    shape = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def load_images(data_dir, split):
    """MNIST images of `split` ('train' or 't10k') as a float32 tensor (N, 784) in [0, 1]."""
    images = read_idx(os.path.join(data_dir, f"{split}-images-idx3-ubyte"))
    return torch.from_numpy(images.reshape(len(images), 784).astype(np.float32) / 255.0)


# ----------------------------------------------------------------------------- models (the blog's)
class Encoder(nn.Module):
    def __init__(self, latent_dims):
        super().__init__()
        self.linear1 = nn.Linear(784, 512)
        self.linear2 = nn.Linear(512, latent_dims)

    def forward(self, x):
        x = F.relu(self.linear1(x))
        return self.linear2(x)


class VariationalEncoder(nn.Module):
    def __init__(self, latent_dims, kl="blog"):
        super().__init__()
        self.linear1 = nn.Linear(784, 512)
        self.linear2 = nn.Linear(512, latent_dims)  # mu
        self.linear3 = nn.Linear(512, latent_dims)  # log sigma
        self.kl_kind = kl
        self.kl = 0

    def forward(self, x):
        x = F.relu(self.linear1(x))
        mu = self.linear2(x)
        sigma = torch.exp(self.linear3(x))
        z = mu + sigma * torch.randn_like(mu)  # the blog's self.N.sample(mu.shape)
        if self.kl_kind == "blog":
            self.kl = (sigma**2 + mu**2 - torch.log(sigma) - 1 / 2).sum()
        else:  # exact KL(N(mu, sigma) || N(0, 1))
            self.kl = (0.5 * (sigma**2 + mu**2 - 1) - torch.log(sigma)).sum()
        return z


class Decoder(nn.Module):
    def __init__(self, latent_dims):
        super().__init__()
        self.linear1 = nn.Linear(latent_dims, 512)
        self.linear2 = nn.Linear(512, 784)

    def forward(self, z):
        z = F.relu(self.linear1(z))
        return torch.sigmoid(self.linear2(z))


class Autoencoder(nn.Module):
    def __init__(self, latent_dims, variational=False, kl="blog"):
        super().__init__()
        self.variational = variational
        self.encoder = VariationalEncoder(latent_dims, kl) if variational else Encoder(latent_dims)
        self.decoder = Decoder(latent_dims)

    def forward(self, x):
        return self.decoder(self.encoder(x))

    def losses(self, x):
        """(reconstruction, kl) summed over the batch, as in the blog's train()."""
        recon = ((x - self(x)) ** 2).sum()
        kl = self.encoder.kl if self.variational else torch.zeros(())
        return recon, kl


# ----------------------------------------------------------------------------- train / evaluate
def train_epoch(model, opt, train_x, batch):
    perm = torch.randperm(len(train_x))  # DataLoader(shuffle=True); last batch is partial
    total = 0.0
    for i in range(0, len(train_x), batch):
        x = train_x[perm[i:i + batch]]
        opt.zero_grad()
        recon, kl = model.losses(x)
        loss = recon + kl
        loss.backward()
        opt.step()
        total += loss.item()
    return total / len(train_x)


@torch.no_grad()
def evaluate(model, test_x, seed):
    """Test reconstruction and KL per sample, one noise draw per image, on a separate RNG stream."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        recon = kl = 0.0
        for i in range(0, len(test_x), 1000):
            r, k = model.losses(test_x[i:i + 1000])
            recon += r.item()
            kl += k.item()
    return recon / len(test_x), kl / len(test_x)


def run(kind, args, train_x, test_x):
    torch.manual_seed(args.seed)
    model = Autoencoder(args.latent, variational=(kind == "vae"), kl=args.kl)
    opt = torch.optim.Adam(model.parameters())
    history = []
    for epoch in range(1, args.epochs + 1):
        t0 = time.perf_counter()
        train_loss = train_epoch(model, opt, train_x, args.batch)
        seconds = time.perf_counter() - t0
        recon, kl = evaluate(model, test_x, seed=args.seed + 1)
        row = dict(epoch=epoch, train_loss=train_loss, test_loss=recon + kl, test_recon=recon,
                   test_kl=kl, samples_per_s=len(train_x) / seconds)
        history.append(row)
        print(f"{kind} epoch {epoch:2d}  train {train_loss:8.3f}  test {recon + kl:8.3f}"
              f"  (recon {recon:8.3f}  kl {kl:6.3f})  {row['samples_per_s']:8.0f} samples/s", flush=True)
    last = history[-1]
    print(f"FINAL model={kind} latent={args.latent} test_loss={last['test_loss']:.4f} "
          f"recon={last['test_recon']:.4f} kl={last['test_kl']:.4f} "
          f"train_loss={last['train_loss']:.4f}", flush=True)
    return dict(model=kind, latent=args.latent, kl=args.kl, epochs=args.epochs, batch=args.batch,
                seed=args.seed, history=history, final=last)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", choices=["ae", "vae", "both"], default="both")
    p.add_argument("--latent", type=int, default=2)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    p.add_argument("--kl", choices=["blog", "exact"], default="blog",
                   help="blog: sum(sigma^2 + mu^2 - log sigma - 1/2); exact: sum(0.5(sigma^2 + mu^2 - 1) - log sigma)")
    p.add_argument("--data", default="data/mnist")
    p.add_argument("--json", default=None, help="also write the per-epoch numbers to this file")
    args = p.parse_args()

    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} intra-op threads, "
          f"latent {args.latent}, {args.epochs} epochs, batch {args.batch}, seed {args.seed}, kl {args.kl}",
          flush=True)
    train_x, test_x = load_images(args.data, "train"), load_images(args.data, "t10k")

    kinds = ["ae", "vae"] if args.model == "both" else [args.model]
    results = [run(kind, args, train_x, test_x) for kind in kinds]
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
