"""A 1-D convolutional GAN for sequences (B, T, F): the simple baseline next to TimeGAN.

Time series GANs need not be recurrent: a stack of 1-D convolutions over the time axis sees a
window of steps at once, trains in parallel over T (no step-by-step unrolling, so several times
faster on a CPU than a GRU of the same width), and with the WGAN-GP game (Gulrajani et al. 2017)
it is the usual convolutional baseline of the time series GAN literature (e.g. the "1-D conv
WGAN-GP" of issue 32).

- G reads z (B, z_dim) as one global code (no per-step noise, so any ``model.z_dim``): a linear
  map to ``g_width`` channels at every step (B, g_width, T), then ``g_depth`` blocks of
  conv(kernel 5) -> batch norm -> ReLU, then a conv to F channels and a sigmoid: (B, T, F) in
  [0, 1] per feature, the sequence kind's model space.
- D: conv(F -> d_width, kernel 5) -> LeakyReLU, then ``d_depth - 1`` blocks of conv(kernel 5,
  stride 2 while T allows) -> LeakyReLU, flattened to one linear logit (B,). No batch norm in D,
  which would break the gradient penalty's per-sample gradients; ``model.d_norm=spectral`` puts
  spectral norm on its layers instead.
- Conditional: G appends a class embedding to z; D adds a projection term <embed(y), h>
  (Miyato and Koyama 2018) to its logit.
"""

from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm

from ..config import ModelConfig
from .base import register_model

KERNEL = 5  # steps each convolution sees: a quarter of TimeGAN's 24-step windows


class ConvSequenceGenerator(nn.Module):
    """z (B, z_dim) [, y (B,)] -> x (B, T, F) in [0, 1]."""

    def __init__(self, shape: tuple, z_dim: int, width: int, depth: int, n_classes: int = 0):
        super().__init__()
        self.T, self.F = shape
        self.width = width
        self.embed = nn.Embedding(n_classes, z_dim) if n_classes else None
        self.fc = nn.Linear(z_dim * (2 if n_classes else 1), width * self.T)
        blocks = []
        for _ in range(max(1, depth)):
            blocks += [nn.Conv1d(width, width, KERNEL, padding=KERNEL // 2), nn.BatchNorm1d(width), nn.ReLU()]
        self.body = nn.Sequential(nn.BatchNorm1d(width), nn.ReLU(), *blocks)
        self.out = nn.Conv1d(width, self.F, KERNEL, padding=KERNEL // 2)

    def forward(self, z: Tensor, y: Optional[Tensor] = None) -> Tensor:
        if self.embed is not None:
            z = torch.cat([z, self.embed(y)], dim=1)  # (B, 2 z_dim)
        h = self.fc(z).view(z.shape[0], self.width, self.T)  # (B, width, T)
        x = torch.sigmoid(self.out(self.body(h)))  # (B, F, T)
        return x.transpose(1, 2)  # (B, T, F)


class ConvSequenceDiscriminator(nn.Module):
    """x (B, T, F) [, y (B,)] -> logits (B,)."""

    def __init__(self, shape: tuple, width: int, depth: int, n_classes: int = 0, spectral: bool = False):
        super().__init__()
        T, F = shape
        wrap = spectral_norm if spectral else (lambda m: m)
        layers, t = [wrap(nn.Conv1d(F, width, KERNEL, padding=KERNEL // 2)), nn.LeakyReLU(0.2)], T
        for _ in range(max(1, depth) - 1):
            stride = 2 if t >= 8 else 1  # halve the time axis while at least 4 steps remain
            layers += [wrap(nn.Conv1d(width, width, KERNEL, stride=stride, padding=KERNEL // 2)), nn.LeakyReLU(0.2)]
            t = (t - 1) // stride + 1
        self.body = nn.Sequential(*layers)
        self.head = wrap(nn.Linear(width * t, 1))
        self.proj = nn.Embedding(n_classes, width * t) if n_classes else None

    def forward(self, x: Tensor, y: Optional[Tensor] = None) -> Tensor:
        h = self.body(x.transpose(1, 2)).flatten(1)  # (B, width * t)
        logits = self.head(h).squeeze(1)  # (B,)
        if self.proj is not None:
            logits = logits + (self.proj(y) * h).sum(1)
        return logits


@register_model(kinds=("sequence",), d_norms=("none", "spectral"))
def conv1d(cfg: ModelConfig, shape: tuple, n_classes: int = 0) -> tuple[nn.Module, nn.Module]:
    """1-D convolutional G (g_width channels, g_depth blocks) and D (d_width, d_depth layers)."""
    G = ConvSequenceGenerator(shape, cfg.z_dim, cfg.g_width, cfg.g_depth, n_classes)
    D = ConvSequenceDiscriminator(shape, cfg.d_width, cfg.d_depth, n_classes, spectral=cfg.d_norm == "spectral")
    return G, D
