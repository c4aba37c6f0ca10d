"""Multilayer perceptrons for vector data (2D points, tabular rows)."""

from __future__ import annotations

import math
from typing import Optional

import torch
from torch import Tensor, nn

from ..config import ModelConfig
from .base import register_model
from .layers import MinibatchStd, maybe_spectral


def _stack(d_in: int, width: int, depth: int, d_out: int, act, batch_norm: bool = False) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(depth):
        layers.append(nn.Linear(d_in if i == 0 else width, width))
        if batch_norm:  # (B, width) normalised over the batch, as in DCGAN's G (Radford et al. 2016)
            layers.append(nn.BatchNorm1d(width))
        layers.append(act())
    layers.append(nn.Linear(width if depth else d_in, d_out))
    return nn.Sequential(*layers)


class MLPGenerator(nn.Module):
    """z (B, z_dim) [, y (B,)] -> x (B, *shape), ReLU hidden layers, linear output.

    Conditional (``n_classes > 0``): a learned class embedding of size z_dim is concatenated
    to z (Mirza and Osindero 2014). ``spectral``: spectral norm on every linear layer.
    ``norm``: ``none`` or ``batch`` (BatchNorm1d after each hidden linear layer).
    """

    def __init__(self, z_dim: int, shape: tuple, width: int, depth: int, n_classes: int = 0,
                 spectral: bool = False, norm: str = "none"):
        super().__init__()
        self.shape = tuple(shape)
        self.embed = nn.Embedding(n_classes, z_dim) if n_classes else None
        self.net = _stack(z_dim * (2 if n_classes else 1), width, depth, math.prod(self.shape), nn.ReLU,
                          norm == "batch")
        sn = maybe_spectral(spectral)
        for i, layer in enumerate(self.net):
            if isinstance(layer, nn.Linear):
                self.net[i] = sn(layer)

    def forward(self, z: Tensor, y: Optional[Tensor] = None) -> Tensor:
        if self.embed is not None:
            z = torch.cat([z, self.embed(y)], dim=1)  # (B, 2 * z_dim)
        return self.net(z).view(-1, *self.shape)


class MLPDiscriminator(nn.Module):
    """x (B, *shape) [, y (B,)] -> logits (B // pac,), LeakyReLU(0.2) hidden layers.

    With ``pac > 1`` (PacGAN, Lin et al. 2018) each group of ``pac`` consecutive samples is
    judged jointly, which lets D see a lack of diversity; B must be a multiple of ``pac``.
    Conditional (``n_classes > 0``): a projection head (Miyato and Koyama 2018) adds
    <embed(y), h> to the logit, h being the last hidden features.
    ``norm``: ``none``, ``spectral`` (spectral norm on every linear layer, Miyato et al. 2018),
    ``layer`` (LayerNorm after each hidden linear layer) or ``batch`` (BatchNorm1d there, which
    mixes the samples of a batch: reals and fakes are judged in separate batches). ``mbstd > 0``: a minibatch
    standard deviation feature (Karras et al. 2018) over groups of ``mbstd`` packed samples is
    appended before the head.
    """

    def __init__(self, shape: tuple, width: int, depth: int, pac: int = 1, n_classes: int = 0,
                 norm: str = "none", mbstd: int = 0):
        super().__init__()
        self.pac = pac
        sn = maybe_spectral(norm == "spectral")
        d_in = pac * math.prod(shape)
        layers: list[nn.Module] = []  # as _stack, the same layers in the same order, normalised
        for i in range(depth):
            layers.append(sn(nn.Linear(d_in if i == 0 else width, width)))
            if norm in ("layer", "batch"):
                layers.append(nn.LayerNorm(width) if norm == "layer" else nn.BatchNorm1d(width))
            layers.append(nn.LeakyReLU(0.2))
        d_hidden = width if depth else d_in
        self.features = nn.Sequential(*layers)  # (B // pac, d_hidden)
        self.mbstd = MinibatchStd(mbstd) if mbstd else None  # (B // pac, d_hidden + 1)
        self.head = sn(nn.Linear(d_hidden + (1 if mbstd else 0), 1))
        self.embed = nn.Embedding(n_classes, d_hidden) if n_classes else None

    def forward(self, x: Tensor, y: Optional[Tensor] = None) -> Tensor:
        h = self.features(x.reshape(x.shape[0] // self.pac, -1))  # (B // pac, width)
        logits = self.head(self.mbstd(h) if self.mbstd is not None else h).squeeze(1)  # (B // pac,)
        if self.embed is not None:
            y = y[:: self.pac]  # a pack is judged under its first sample's label
            logits = logits + (self.embed(y) * h).sum(1)
        return logits


# instance norm is for image features; "default" G norm is none here
@register_model(kinds=("points",), d_norms=("none", "spectral", "layer", "batch"), g_norms=("default", "none", "batch"))
def mlp(cfg: ModelConfig, shape: tuple, n_classes: int = 0) -> tuple[nn.Module, nn.Module]:
    g_norm = "none" if cfg.g_norm == "default" else cfg.g_norm
    G = MLPGenerator(cfg.z_dim, shape, cfg.g_width, cfg.g_depth, n_classes, cfg.g_spectral, g_norm)
    D = MLPDiscriminator(shape, cfg.d_width, cfg.d_depth, cfg.pac, n_classes, cfg.d_norm, cfg.mbstd)
    return G, D
