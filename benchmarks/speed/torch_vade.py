"""A PyTorch VaDE: the reference `versus_pytorch.py` times vade_tf against.

Written as a PyTorch user would write VaDE for a CPU: an `nn.Module` with
the encoder (input-500-500-2000, then a z_mean and a z_log_var head), the
decoder (10-2000-500-500-input, logits out), the mixture's `theta_p`,
`c_mean` and `c_var` as parameters; the ELBO in closed form, in log space;
two Adam optimizers (the network's and the mixture's, lr 0.002, epsilon
1e-4, as in the original release) and the mixture's constraints after each
step. Training indexes a tensor that holds the data (a fresh permutation per
epoch) rather than going through a `DataLoader`, which is the fast way for
data already in memory. `torch.compile` is optional (`compile=True`): it
compiles the loss and its backward pass.

It computes exactly what `vade_tf.VaDE` computes with its defaults
(`gamma_mode="exact"`, the bernoulli likelihood, `alpha=1`), and
`versus_pytorch.py --check` verifies that on the same weights, batch and
noise before timing anything.

This file needs `torch` (the optional extra `vade-tf[bench]`) and is never
imported by the package or its tests.
"""

import math
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

LOG_2PI = math.log(2.0 * math.pi)
LOG_VAR_LIMIT = 30.0
TINY = 1e-30
# Rows per forward pass of `predict_proba`: the fastest of 1000, 2000 and
# 4096 for this reference on a 2-core AVX-512 CPU (docs/performance.md).
INFERENCE_BATCH_SIZE = 1000


def dense_stack(widths):
    """ReLU Linear layers between consecutive `widths`."""
    layers = []
    for fan_in, fan_out in zip(widths[:-1], widths[1:]):
        layers += [nn.Linear(fan_in, fan_out), nn.ReLU()]
    return nn.Sequential(*layers)


def simplex_with_floor(w, floor):
    """`max(c * w, floor)` on the simplex, c found by sorting (as vade_tf's
    `SimplexConstraint`)."""
    w = w.clamp(min=0.0)
    n = w.shape[-1]
    descending = torch.sort(w, descending=True).values
    kept = torch.arange(1, n + 1, dtype=w.dtype)
    mass = torch.cumsum(descending, 0).clamp(min=1e-30)
    factors = (1.0 - (n - kept) * floor) / mass
    count = int((factors * descending >= floor).sum())
    if w.sum() <= 0:
        return torch.full_like(w, 1.0 / n)
    return torch.clamp(factors[max(count - 1, 0)] * w, min=floor)


class TorchVaDE(nn.Module):
    """VaDE with a Bernoulli decoder, in PyTorch.

    Args:
        input_dim: int.
        n_clusters: int, K.
        latent_dim: int, D.
        hidden_dims: tuple of int, the encoder's widths (the decoder
            mirrors them).
        min_var: float, floor of `c_var`.
        min_weight: float, floor of `theta_p`.
    """

    def __init__(
        self,
        input_dim=784,
        n_clusters=10,
        latent_dim=10,
        hidden_dims=(500, 500, 2000),
        min_var=1e-6,
        min_weight=1e-6,
    ):
        super().__init__()
        self.encoder = dense_stack((input_dim, *hidden_dims))
        self.z_mean = nn.Linear(hidden_dims[-1], latent_dim)
        self.z_log_var = nn.Linear(hidden_dims[-1], latent_dim)
        self.decoder_hidden = dense_stack((latent_dim, *hidden_dims[::-1]))
        self.decoder_out = nn.Linear(hidden_dims[0], input_dim)
        self.theta_p = nn.Parameter(torch.full((n_clusters,), 1 / n_clusters))
        self.c_mean = nn.Parameter(0.05 * torch.randn(n_clusters, latent_dim))
        self.c_var = nn.Parameter(torch.ones(n_clusters, latent_dim))
        self.min_var = min_var
        self.min_weight = min_weight

    # --- The model ---------------------------------------------------------

    def network_parameters(self):
        gmm = {id(p) for p in self.mixture_parameters()}
        return [p for p in self.parameters() if id(p) not in gmm]

    def mixture_parameters(self):
        return [self.theta_p, self.c_mean, self.c_var]

    def encode(self, x):
        """`(z_mean, z_log_var)`, each `(batch, D)`."""
        hidden = self.encoder(x)
        return self.z_mean(hidden), self.z_log_var(hidden)

    def decode_logits(self, z):
        """The decoder's logits, `(batch, input_dim)`."""
        return self.decoder_out(self.decoder_hidden(z))

    def log_p_c_z(self, z):
        """log p(c|z), `(batch, K)`."""
        c_var = self.c_var.clamp(min=TINY)
        diff = z[:, None, :] - self.c_mean[None]
        log_pdf = -0.5 * (LOG_2PI + torch.log(c_var) + diff.square() / c_var)
        log_theta = torch.log(self.theta_p.clamp(min=TINY))
        return torch.log_softmax(log_pdf.sum(-1) + log_theta, dim=-1)

    def elbo_terms(self, x, eps):
        """Per-sample reconstruction `-log p(x|z)` and KL, each `(batch,)`.

        Args:
            x: `(batch, input_dim)` in [0, 1].
            eps: `(batch, D)` standard normal noise, z = mu + sigma * eps.
        """
        z_mean, z_log_var = self.encode(x)
        z_log_var = z_log_var.clamp(-LOG_VAR_LIMIT, LOG_VAR_LIMIT)
        z = z_mean + torch.exp(0.5 * z_log_var) * eps
        logits = self.decode_logits(z)
        reconstruction = (F.softplus(logits) - x * logits).sum(-1)

        log_gamma = self.log_p_c_z(z)
        gamma = log_gamma.exp()
        c_var = self.c_var.clamp(min=TINY)
        z_var = torch.exp(z_log_var)[:, None, :]
        diff = z_mean[:, None, :] - self.c_mean[None]
        prior = 0.5 * (
            LOG_2PI + torch.log(c_var) + (z_var + diff.square()) / c_var
        ).sum(-1)
        entropy = -0.5 * (LOG_2PI + 1.0 + z_log_var).sum(-1)
        log_theta = torch.log(self.theta_p.clamp(min=TINY))
        categorical = (
            gamma * (log_gamma.clamp(min=math.log(TINY)) - log_theta)
        ).sum(-1)
        kl = (gamma * prior).sum(-1) + entropy + categorical
        return reconstruction, kl

    def loss(self, x, eps):
        """The batch mean of `reconstruction + kl`, and both means."""
        reconstruction, kl = self.elbo_terms(x, eps)
        reconstruction, kl = reconstruction.mean(), kl.mean()
        return reconstruction + kl, reconstruction, kl

    def autoencoder_loss(self, x):
        """The pretraining loss: summed BCE of x from its latent mean."""
        z_mean, _ = self.encode(x)
        logits = self.decode_logits(z_mean)
        return (F.softplus(logits) - x * logits).sum(-1).mean()

    @torch.no_grad()
    def constrain(self):
        """The mixture's constraints, after each step."""
        self.c_var.clamp_(min=self.min_var)
        self.theta_p.copy_(simplex_with_floor(self.theta_p, self.min_weight))

    @torch.no_grad()
    def predict_proba(self, x, batch_size=INFERENCE_BATCH_SIZE):
        """q(c|x) at z = z_mean, `(n, K)` numpy."""
        out = []
        for start in range(0, len(x), batch_size):
            z_mean, _ = self.encode(x[start : start + batch_size])
            out.append(self.log_p_c_z(z_mean).exp())
        return torch.cat(out).numpy()

    # --- Weights from vade_tf ----------------------------------------------

    def linear_layers(self):
        """Encoder hidden layers, the z_mean and z_log_var heads, decoder."""
        linear = [m for m in self.encoder if isinstance(m, nn.Linear)]
        linear += [self.z_mean, self.z_log_var]
        linear += [m for m in self.decoder_hidden if isinstance(m, nn.Linear)]
        return linear + [self.decoder_out]

    @torch.no_grad()
    def load_arrays(self, arrays):
        """Copies weights saved by `versus_pytorch.py` (Keras layout:
        kernels `(in, out)`)."""
        for index, layer in enumerate(self.linear_layers()):
            layer.weight.copy_(torch.from_numpy(arrays[f"kernel{index}"]).T)
            layer.bias.copy_(torch.from_numpy(arrays[f"bias{index}"]))
        for name in ("theta_p", "c_mean", "c_var"):
            getattr(self, name).copy_(torch.from_numpy(arrays[name]))


def adam(parameters, lr=0.002, eps=1e-4):
    """Fused Adam where torch has it; default the original release's
    settings (lr 0.002, epsilon 1e-4)."""
    try:
        return torch.optim.Adam(parameters, lr=lr, eps=eps, fused=True)
    except (RuntimeError, TypeError):  # fused Adam needs torch >= 2.4 on CPU
        return torch.optim.Adam(parameters, lr=lr, eps=eps)


class Trainer:
    """VaDE's training and pretraining loops.

    Args:
        model: a `TorchVaDE`.
        compile: bool, `torch.compile` the losses (and their backward).
        seed: int, for the batch order and the noise.
    """

    def __init__(self, model, compile=False, seed=0):
        self.model = model
        self.generator = torch.Generator().manual_seed(seed)
        self.optimizer = adam(model.network_parameters())
        self.mixture_optimizer = adam(model.mixture_parameters())
        self.pretrain_optimizer = None
        self.loss = model.loss
        self.autoencoder_loss = model.autoencoder_loss
        if compile:
            self.loss = torch.compile(model.loss)
            self.autoencoder_loss = torch.compile(model.autoencoder_loss)

    def train_epoch(self, x, batch_size):
        """One epoch of VaDE; returns its seconds."""
        started = time.perf_counter()
        order = torch.randperm(len(x), generator=self.generator)
        latent = self.model.c_mean.shape[1]
        for start in range(0, len(x), batch_size):
            batch = x[order[start : start + batch_size]]
            eps = torch.randn(len(batch), latent, generator=self.generator)
            loss, _, _ = self.loss(batch, eps)
            self.optimizer.zero_grad(set_to_none=True)
            self.mixture_optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            self.mixture_optimizer.step()
            self.model.constrain()
        return time.perf_counter() - started

    def pretrain_epoch(self, x, batch_size):
        """One epoch of autoencoder pretraining (Adam 1e-3); its seconds."""
        if self.pretrain_optimizer is None:
            # torch's default epsilon (the "adam" pretraining recipe keeps
            # Keras's, 1e-7; the difference is negligible for timing).
            self.pretrain_optimizer = adam(
                self.model.network_parameters(), lr=1e-3, eps=1e-8
            )
        started = time.perf_counter()
        order = torch.randperm(len(x), generator=self.generator)
        for start in range(0, len(x), batch_size):
            batch = x[order[start : start + batch_size]]
            loss = self.autoencoder_loss(batch)
            self.pretrain_optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.pretrain_optimizer.step()
        return time.perf_counter() - started

    def inference_seconds(self, x, batch_size=INFERENCE_BATCH_SIZE):
        """Seconds to compute q(c|x) for every row of `x`."""
        started = time.perf_counter()
        self.model.predict_proba(x, batch_size)
        return time.perf_counter() - started


def as_tensor(x):
    return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
