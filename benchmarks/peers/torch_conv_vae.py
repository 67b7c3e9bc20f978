#!/usr/bin/python3
"""Quality peer of `vae_mnist --network conv`: the Keras example's convolutional
VAE (torch_epoch.py's ConvVAE, the layers of vae::keras_conv_networks) trained
in PyTorch with vae_mnist's recipe, printing the test loss per sample after
every epoch.

Recipe (vae_mnist --network conv --model vae --loss bce --kl exact): MNIST
pixels / 255 in [0, 1], latent 2, PyTorch's default initialisation, Adam
(lr 1e-3), batch 128, the training set reshuffled every epoch, loss = summed
binary cross-entropy on the decoder's logits + the exact KL, one noise draw
per image; the test loss is the mean over the 10,000 test images of the same
loss with one noise draw each (its own random stream).

    /usr/bin/python3 benchmarks/peers/torch_conv_vae.py --data data/mnist --epochs 10 --seed 0

With --conditional, the conditional VAE of the same networks (vae_mnist
--network conv --model cvae; torch_epoch.py's ConvCVAE): the one-hot digit
as ten constant planes beside the image and as ten rows beside the code.

Prints one JSON line per epoch, then {"final_test_loss": ...}.
"""
import argparse
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_epoch import ConvCVAE, ConvVAE, read_idx  # noqa: E402


def images(data, split, conditional=False):
    """The pixels / 255 ({n, 784}), with the one-hot labels after them ({n, 794}) when `conditional`."""
    raw = read_idx(os.path.join(data, f"{split}-images-idx3-ubyte")).reshape(-1, 784)
    x = torch.from_numpy(raw.copy()).float().div_(255.0)
    if not conditional:
        return x
    labels = torch.from_numpy(read_idx(os.path.join(data, f"{split}-labels-idx1-ubyte")).astype("int64"))
    return torch.cat([x, torch.nn.functional.one_hot(labels, 10).float()], 1)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default="data/mnist")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--conditional", action="store_true", help="the conditional VAE (the label as planes and rows)")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    train, test = images(args.data, "train", args.conditional), images(args.data, "t10k", args.conditional)
    torch.manual_seed(args.seed)
    model = ConvCVAE() if args.conditional else ConvVAE()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    order = torch.Generator().manual_seed(args.seed + 1)
    loss = None
    for epoch in range(args.epochs):
        t0 = time.perf_counter()
        perm = torch.randperm(len(train), generator=order)
        total = 0.0
        for i in range(0, len(train), args.batch):
            x = train[perm[i:i + args.batch]]
            opt.zero_grad()
            batch_loss = model.loss(x)
            batch_loss.backward()
            opt.step()
            total += batch_loss.item()
        seconds = time.perf_counter() - t0
        state = torch.random.get_rng_state()
        torch.manual_seed(10_000 + epoch)  # the test loss's own stream
        with torch.no_grad():
            loss = sum(model.loss(test[i:i + 1000]).item() for i in range(0, len(test), 1000)) / len(test)
        torch.random.set_rng_state(state)
        print(json.dumps({"epoch": epoch + 1, "train_loss": round(total / len(train), 4), "test_loss": round(loss, 4),
                          "epoch_s": round(seconds, 2)}), flush=True)
    print(json.dumps({"final_test_loss": round(loss, 4), "seed": args.seed, "epochs": args.epochs,
                      "model": "cvae" if args.conditional else "vae",
                      "torch": torch.__version__}), flush=True)


if __name__ == "__main__":
    main()
