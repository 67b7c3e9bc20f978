#!/usr/bin/python3
"""Round trips of weights between vae and PyTorch through safetensors files.

  --direction to_pytorch    the C++ side (tests/safetensors_pytorch.cpp) trains
                            vae models and exports them; each file is loaded
                            with load_state_dict(strict=True) into the blog's
                            PyTorch classes (or the nn.Sequential ones of
                            docs/weights.md) and PyTorch's reconstructions,
                            encoder means and sigmas must match vae's to 1e-5.
  --direction from_pytorch  PyTorch trains the blog's models a few Adam steps
                            and writes F32, F16, BF16 and F64 files; the C++
                            side loads them and compares its outputs with
                            PyTorch's to 1e-5.

Only torch, numpy and json: a few lines below stand in for the safetensors
package. Exits 77 (ctest: skipped) when this Python cannot import torch.
"""
import argparse
import gzip
import json
import os
import subprocess
import sys

try:
    import numpy as np
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError as e:
    print(f"SKIP: {sys.executable} cannot import torch and numpy ({e}); "
          "install python3-torch python3-numpy (scripts/setup.sh does)")
    sys.exit(77)

TOLERANCE = 1e-5
BATCH = 256

# --- safetensors in a few lines -------------------------------------------

NUMPY = {"F64": "<f8", "F32": "<f4", "F16": "<f2"}


def read_safetensors(path):
    """{name: numpy array} and the metadata of a safetensors file."""
    with open(path, "rb") as f:
        blob = f.read()
    n = int.from_bytes(blob[:8], "little")
    header = json.loads(blob[8:8 + n])
    metadata = header.pop("__metadata__", {})
    data = memoryview(blob)[8 + n:]
    tensors = {}
    for name, t in header.items():
        begin, end = t["data_offsets"]
        raw = data[begin:end]
        if t["dtype"] == "BF16":
            array = (np.frombuffer(raw, "<u2").astype("<u4") << 16).view("<f4")
        else:
            array = np.frombuffer(raw, NUMPY[t["dtype"]])
        tensors[name] = array.reshape(t["shape"]).copy()
    return tensors, metadata


def write_safetensors(path, tensors, metadata=None):
    """tensors: {name: torch tensor} of float64, float32, float16 or bfloat16."""
    dtypes = {torch.float64: "F64", torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16"}
    header, blobs, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = metadata
    for name, t in tensors.items():
        t = t.detach().contiguous().cpu()
        raw = (t.view(torch.int16) if t.dtype == torch.bfloat16 else t).numpy().tobytes()
        header[name] = {"dtype": dtypes[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(len(text).to_bytes(8, "little") + text + b"".join(blobs))


# --- the blog's classes (CPU; the blog's .cuda() sampling hack left out) ----

class Encoder(nn.Module):
    def __init__(self, latent_dims):
        super(Encoder, self).__init__()
        self.linear1 = nn.Linear(784, 512)
        self.linear2 = nn.Linear(512, latent_dims)

    def forward(self, x):
        x = torch.flatten(x, start_dim=1)
        x = F.relu(self.linear1(x))
        return self.linear2(x)


class Decoder(nn.Module):
    def __init__(self, latent_dims):
        super(Decoder, self).__init__()
        self.linear1 = nn.Linear(latent_dims, 512)
        self.linear2 = nn.Linear(512, 784)

    def forward(self, z):
        z = F.relu(self.linear1(z))
        z = torch.sigmoid(self.linear2(z))
        return z.reshape((-1, 1, 28, 28))


class Autoencoder(nn.Module):
    def __init__(self, latent_dims):
        super(Autoencoder, self).__init__()
        self.encoder = Encoder(latent_dims)
        self.decoder = Decoder(latent_dims)

    def forward(self, x):
        z = self.encoder(x)
        return self.decoder(z)


class VariationalEncoder(nn.Module):
    def __init__(self, latent_dims):
        super(VariationalEncoder, self).__init__()
        self.linear1 = nn.Linear(784, 512)
        self.linear2 = nn.Linear(512, latent_dims)
        self.linear3 = nn.Linear(512, latent_dims)
        self.N = torch.distributions.Normal(0, 1)
        self.kl = 0

    def forward(self, x):
        x = torch.flatten(x, start_dim=1)
        x = F.relu(self.linear1(x))
        mu = self.linear2(x)
        sigma = torch.exp(self.linear3(x))
        z = mu + sigma * self.N.sample(mu.shape)
        self.kl = (sigma**2 + mu**2 - torch.log(sigma) - 1 / 2).sum()
        return z

    def distribution(self, x):
        """mu and sigma of q(z|x): what vae's encode_distribution returns."""
        h = F.relu(self.linear1(torch.flatten(x, start_dim=1)))
        return self.linear2(h), torch.exp(self.linear3(h))


class VariationalAutoencoder(nn.Module):
    def __init__(self, latent_dims):
        super(VariationalAutoencoder, self).__init__()
        self.encoder = VariationalEncoder(latent_dims)
        self.decoder = Decoder(latent_dims)

    def forward(self, x):
        z = self.encoder(x)
        return self.decoder(z)


# --- deeper models under nn.Sequential names (docs/weights.md) --------------

def sequential(sizes, act, last_activation):
    modules = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        modules += [nn.Linear(a, b), act()]
    return nn.Sequential(*(modules if last_activation else modules[:-1]))


class SequentialVariationalEncoder(nn.Module):
    def __init__(self, sizes, act):
        super().__init__()
        self.layers = sequential(sizes[:-1], act, last_activation=True)
        self.mu = nn.Linear(sizes[-2], sizes[-1])
        self.log_sigma = nn.Linear(sizes[-2], sizes[-1])

    def distribution(self, x):
        h = self.layers(x)
        return self.mu(h), torch.exp(self.log_sigma(h))


class SequentialDecoder(nn.Module):
    def __init__(self, sizes, act):
        super().__init__()
        self.layers = sequential(sizes, act, last_activation=False)

    def forward(self, z):
        return torch.sigmoid(self.layers(z))


class SequentialVae(nn.Module):
    def __init__(self, sizes, act):
        super().__init__()
        self.encoder = SequentialVariationalEncoder(sizes, act)
        self.decoder = SequentialDecoder(sizes[::-1], act)

    def forward(self, x):
        mu, sigma = self.encoder.distribution(x)
        z = mu + sigma * torch.randn_like(mu)
        self.kl = (sigma**2 + mu**2 - torch.log(sigma) - 1 / 2).sum()
        return self.decoder(z)


# --- the Keras example's convolutional VAE (vae::make_conv_vae) ------------

class ConvVariationalEncoder(nn.Module):
    def __init__(self, latent, channels=1):
        super().__init__()
        self.layers = nn.Sequential(nn.Conv2d(channels, 32, 3, 2, 1), nn.ReLU(), nn.Conv2d(32, 64, 3, 2, 1), nn.ReLU(),
                                    nn.Flatten(), nn.Linear(3136, 16), nn.ReLU())
        self.mu = nn.Linear(16, latent)
        self.log_sigma = nn.Linear(16, latent)

    def distribution(self, x):
        h = self.layers(x.reshape(-1, 1, 28, 28))
        return self.mu(h), torch.exp(self.log_sigma(h))


class ConvDecoder(nn.Module):
    def __init__(self, latent):
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(latent, 3136), nn.ReLU(), nn.Unflatten(1, (64, 7, 7)),
                                    nn.ConvTranspose2d(64, 64, 3, 2, 1, 1), nn.ReLU(),
                                    nn.ConvTranspose2d(64, 32, 3, 2, 1, 1), nn.ReLU(),
                                    nn.ConvTranspose2d(32, 1, 3, 1, 1))

    def forward(self, z):
        return torch.sigmoid(self.layers(z))


class ConvVae(SequentialVae):
    def __init__(self, latent):
        nn.Module.__init__(self)
        self.encoder = ConvVariationalEncoder(latent)
        self.decoder = ConvDecoder(latent)


# --- its conditional VAE (vae::make_conv_cvae<10>) ----------------------------
# A batch is the pixels then the one-hot label. The label's planes join the
# image before encoder.layers (vae's label_planes layer has no module), and
# its rows join the code before the decoder.

CLASSES = 10


class ConvConditionalEncoder(ConvVariationalEncoder):
    def __init__(self, latent):
        super().__init__(latent, channels=1 + CLASSES)

    def distribution(self, x):
        planes = x[:, 784:].reshape(-1, CLASSES, 1, 1).expand(-1, -1, 28, 28)
        h = self.layers(torch.cat([x[:, :784].reshape(-1, 1, 28, 28), planes], 1))
        return self.mu(h), torch.exp(self.log_sigma(h))


class ConvCvae(nn.Module):
    def __init__(self, latent):
        super().__init__()
        self.encoder = ConvConditionalEncoder(latent)
        self.decoder = ConvDecoder(latent + CLASSES)

    def forward(self, x):
        mu, sigma = self.encoder.distribution(x)
        z = mu + sigma * torch.randn_like(mu)
        self.kl = (sigma**2 + mu**2 - torch.log(sigma) - 1 / 2).sum()
        return self.decoder(torch.cat([z, x[:, 784:]], 1))


# --- what both sides compare ------------------------------------------------

def outputs(model, x):
    """x, the reconstruction of x (from the encoder's mean) and the encoder's
    means (and sigmas), each {batch, features}."""
    with torch.no_grad():
        if isinstance(model, Autoencoder):
            mean = model.encoder(x)
            return {"x": x, "reconstruction": model.decoder(mean).reshape(x.shape[0], -1), "mean": mean}
        mean, sigma = model.encoder.distribution(x)
        code = torch.cat([mean, x[:, 784:]], 1) if isinstance(model, ConvCvae) else mean
        return {"x": x, "reconstruction": model.decoder(code).reshape(x.shape[0], -1), "mean": mean,
                "sigma": sigma}


def mnist_images(folder, dtype):
    """The first 256 MNIST test images in [0, 1] ({256, 784}), or uniform noise."""
    for name, opener in (("t10k-images-idx3-ubyte", open), ("t10k-images-idx3-ubyte.gz", gzip.open)):
        path = os.path.join(folder or "", name)
        if folder and os.path.exists(path):
            with opener(path, "rb") as f:
                pixels = np.frombuffer(f.read(), np.uint8)[16:16 + BATCH * 784]
            return torch.from_numpy(pixels.reshape(BATCH, 784).astype(np.float64) / 255).to(dtype)
    return torch.rand(BATCH, 784, generator=torch.Generator().manual_seed(99), dtype=dtype)


def with_labels(x, folder):
    """x ({256, 784}) with the one-hot labels of the first 256 MNIST test
    images after the pixels (label j mod 10 for noise): {256, 794}."""
    labels = torch.arange(BATCH) % CLASSES
    for name, opener in (("t10k-labels-idx1-ubyte", open), ("t10k-labels-idx1-ubyte.gz", gzip.open)):
        path = os.path.join(folder or "", name)
        if folder and os.path.exists(path):
            with opener(path, "rb") as f:
                labels = torch.from_numpy(np.frombuffer(f.read(), np.uint8)[8:8 + BATCH].astype(np.int64))
            break
    return torch.cat([x, F.one_hot(labels, CLASSES).to(x.dtype)], 1)


def train(model, x, steps):
    """The blog's loop: Adam, summed squared error (+ the blog's KL)."""
    opt = torch.optim.Adam(model.parameters())
    for s in range(steps):
        batch = x[(s % 4) * 64:(s % 4 + 1) * 64]
        opt.zero_grad()
        x_hat = model(batch).reshape(batch.shape[0], -1)
        kl = model.encoder.kl if isinstance(model, VariationalAutoencoder) else getattr(model, "kl", 0)
        loss = ((batch[:, :x_hat.shape[1]] - x_hat)**2).sum() + kl  # a conditional batch's label is no target
        loss.backward()
        opt.step()
    return model


def compare(name, ours, theirs):
    """Prints and returns the largest |difference| of each output."""
    worst = {}
    for key, value in theirs.items():
        if key == "x":
            continue
        mine = torch.as_tensor(ours[key]).double()
        worst[key] = (mine - torch.as_tensor(value).double().reshape(mine.shape)).abs().max().item()
    ok = all(d <= TOLERANCE for d in worst.values())
    print(f"{name}: " + " ".join(f"{k} max|diff| {d:.3g}" for k, d in worst.items()) +
          ("  ok" if ok else f"  FAIL (tolerance {TOLERANCE:g})"))
    return ok


def to_pytorch(binary, work, mnist):
    subprocess.run([binary, "export", work] + ([mnist] if mnist else []), check=True)
    models = {
        "vae_ae": (lambda: Autoencoder(2), torch.float32, "blog"),
        "vae_vae": (lambda: VariationalAutoencoder(2), torch.float32, "blog"),
        "vae_deep_vae": (lambda: SequentialVae([784, 128, 32, 4], nn.Tanh), torch.float32, "sequential"),
        "vae_conv_vae": (lambda: ConvVae(2), torch.float32, "sequential"),
        "vae_conv_cvae": (lambda: ConvCvae(2), torch.float32, "sequential"),
        "vae_vae_f64": (lambda: VariationalAutoencoder(2).double(), torch.float64, "blog"),
    }
    ok = True
    for name, (make, dtype, names) in models.items():
        weights, metadata = read_safetensors(os.path.join(work, name + ".safetensors"))
        assert metadata.get("format") == "pt" and metadata.get("vae.names") == names, metadata
        model = make()
        # strict: every name of the PyTorch class present, none left over.
        model.load_state_dict({k: torch.from_numpy(v) for k, v in weights.items()}, strict=True)
        expected, _ = read_safetensors(os.path.join(work, name + "_outputs.safetensors"))
        x = torch.from_numpy(expected["x"]).to(dtype)
        ok = compare(f"{name} -> PyTorch ({metadata['vae.architecture']})", outputs(model, x), expected) and ok
    return ok


def from_pytorch(binary, work, mnist):
    torch.manual_seed(0)
    x = mnist_images(mnist, torch.float32)
    ae = train(Autoencoder(2), x, 30)
    vae = train(VariationalAutoencoder(2), x, 30)
    deep = train(SequentialVae([784, 128, 32, 4], nn.Tanh), x, 30)
    conv = train(ConvVae(2), x, 5)  # its steps are PyTorch's slowest: 5 move every weight as well
    labelled = with_labels(x, mnist)
    conv_cvae = train(ConvCvae(2), labelled, 5)
    vae64 = train(VariationalAutoencoder(2).double(), x.double(), 10)

    def save(name, model, dtype, x_in):
        state = {k: v.to(dtype) for k, v in model.state_dict().items()}
        write_safetensors(os.path.join(work, name + ".safetensors"), state, {"format": "pt"})
        # PyTorch's outputs with the weights as stored (F16 and BF16 rounded).
        copy = make_like(model)
        copy.load_state_dict({k: v.to(x_in.dtype) for k, v in state.items()}, strict=True)
        write_safetensors(os.path.join(work, name + "_outputs.safetensors"), outputs(copy, x_in))

    def make_like(model):
        if isinstance(model, ConvCvae):
            return ConvCvae(2)
        if isinstance(model, ConvVae):
            return ConvVae(2)
        if isinstance(model, SequentialVae):
            return SequentialVae([784, 128, 32, 4], nn.Tanh)
        made = type(model)(2)
        return made.double() if next(model.parameters()).dtype == torch.float64 else made

    save("torch_ae", ae, torch.float32, x)
    save("torch_vae", vae, torch.float32, x)
    save("torch_vae_f16", vae, torch.float16, x)
    save("torch_vae_bf16", vae, torch.bfloat16, x)
    save("torch_vae_f64", vae64, torch.float64, x.double())
    save("torch_deep_vae", deep, torch.float32, x)
    save("torch_conv_vae", conv, torch.float32, x)
    save("torch_conv_cvae", conv_cvae, torch.float32, labelled)
    result = subprocess.run([binary, "check", work], stdout=subprocess.PIPE, universal_newlines=True)
    print(result.stdout, end="")
    return result.returncode == 0


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", required=True, help="the safetensors_pytorch program")
    parser.add_argument("--work", required=True, help="a folder for the files exchanged")
    parser.add_argument("--direction", required=True, choices=["to_pytorch", "from_pytorch"])
    parser.add_argument("--mnist", default="", help="MNIST folder (uniform noise without it)")
    args = parser.parse_args()
    os.makedirs(args.work, exist_ok=True)
    torch.set_num_threads(2)
    ok = (to_pytorch if args.direction == "to_pytorch" else from_pytorch)(args.binary, args.work, args.mnist)
    print("round trip " + ("passed" if ok else "FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
