"""Recurrent networks for sequences (B, T, F), and the RCGAN baseline (Esteban et al. 2017).

Shared by ``rcgan`` and ``timegan`` (``timegan.py``):

- the noise convention: G takes z (B, z_dim) like every ganforge generator (sampling, export
  and the apps draw it from the prior), and reads it as *per-step* noise (B, T, z_dim / T), as
  RCGAN and TimeGAN feed fresh noise at every step; so ``model.z_dim`` must be a multiple of T
  (TimeGAN: z_dim / T = F, e.g. 120 on sines);
- :class:`GRUStack`: a GRU of ``depth`` layers, then a linear map at every step, with an
  optional sigmoid (model space is [0, 1] per feature);
- conditioning: a learned class embedding concatenated to every step's input (Mirza and
  Osindero 2014, as RCGAN conditions on labels).

RCGAN: G is a GRU over the per-step noise ending in a sigmoid, (B, T, F) in [0, 1]; D a GRU
over the sequence whose last state gives one logit per sequence, (B,), so the noise -> data
game, its losses and its penalties apply unchanged. (RCGAN's D scores every step; one logit per
sequence keeps the game's (B,) contract.)
"""

from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor, nn

from ..config import ModelConfig
from ..errors import GanforgeError
from .base import register_model


def step_noise_width(cfg: ModelConfig, shape: tuple, name: str) -> int:
    """Per-step noise width k = z_dim / T for sequences of ``shape`` (T, F) (the spec's kind
    check has refused other data already); a one-line error when z_dim is not a multiple of T."""
    T, F = shape
    if cfg.z_dim % T:
        raise GanforgeError(f"model.z_dim={cfg.z_dim}: model.name={name} reads z as per-step noise, so z_dim must be "
                            f"a multiple of the sequence length {T}; e.g. model.z_dim={T * F} ({F} per step)")
    return cfg.z_dim // T


def with_label(x: Tensor, embed: Optional[nn.Embedding], y: Optional[Tensor]) -> Tensor:
    """x (B, T, d) with the class embedding of y (B,) appended at every step: (B, T, d + e)."""
    if embed is None:
        return x
    e = embed(y).unsqueeze(1).expand(-1, x.shape[1], -1)  # (B, T, e)
    return torch.cat([x, e], dim=2)


class GRUStack(nn.Module):
    """(B, T, d_in) -> GRU (``depth`` layers of ``width``) -> linear (B, T, d_out) [-> sigmoid]."""

    def __init__(self, d_in: int, width: int, depth: int, d_out: int, sigmoid: bool):
        super().__init__()
        self.rnn = nn.GRU(d_in, width, num_layers=max(1, depth), batch_first=True)
        self.out = nn.Linear(width, d_out)
        self.sigmoid = sigmoid

    def forward(self, x: Tensor) -> Tensor:
        h, _ = self.rnn(x)  # (B, T, width)
        o = self.out(h)  # (B, T, d_out)
        return torch.sigmoid(o) if self.sigmoid else o


class RecurrentGenerator(nn.Module):
    """z (B, z_dim) [, y (B,)] -> x (B, T, F) in [0, 1]: per-step noise (B, T, z_dim / T) into a GRU."""

    def __init__(self, shape: tuple, k: int, width: int, depth: int, n_classes: int = 0):
        super().__init__()
        self.shape, self.k = tuple(shape), k
        self.embed = nn.Embedding(n_classes, k) if n_classes else None
        self.net = GRUStack(k * (2 if n_classes else 1), width, depth, shape[1], sigmoid=True)

    def forward(self, z: Tensor, y: Optional[Tensor] = None) -> Tensor:
        z = z.reshape(z.shape[0], self.shape[0], self.k)  # (B, T, k)
        return self.net(with_label(z, self.embed, y))


class RecurrentDiscriminator(nn.Module):
    """x (B, T, F) [, y (B,)] -> logits (B,): a GRU's last state through a linear layer.
    Conditional: the class embedding appended at every step and a projection term
    <embed(y), h_T> (Miyato and Koyama 2018)."""

    def __init__(self, shape: tuple, width: int, depth: int, n_classes: int = 0):
        super().__init__()
        F = shape[1]
        self.embed_in = nn.Embedding(n_classes, F) if n_classes else None
        self.rnn = nn.GRU(F * (2 if n_classes else 1), width, num_layers=max(1, depth), batch_first=True)
        self.head = nn.Linear(width, 1)
        self.proj = nn.Embedding(n_classes, width) if n_classes else None

    def forward(self, x: Tensor, y: Optional[Tensor] = None) -> Tensor:
        _, h_n = self.rnn(with_label(x, self.embed_in, y))  # h_n (depth, B, width)
        h = h_n[-1]  # (B, width)
        logits = self.head(h).squeeze(1)  # (B,)
        if self.proj is not None:
            logits = logits + (self.proj(y) * h).sum(1)
        return logits


@register_model(kinds=("sequence",))
def rcgan(cfg: ModelConfig, shape: tuple, n_classes: int = 0) -> tuple[nn.Module, nn.Module]:
    """RCGAN-style recurrent GAN: GRU G (g_width units, g_depth layers), GRU D (d_width, d_depth)."""
    k = step_noise_width(cfg, shape, "rcgan")
    G = RecurrentGenerator(shape, k, cfg.g_width, cfg.g_depth, n_classes)
    D = RecurrentDiscriminator(shape, cfg.d_width, cfg.d_depth, n_classes)
    return G, D
