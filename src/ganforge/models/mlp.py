"""Multilayer perceptrons for vector data (2D points, tabular rows)."""

from __future__ import annotations

import math

from torch import Tensor, nn

from ..config import ModelConfig
from ..registry import Registry

MODELS: Registry = Registry("model.name")


def _stack(d_in: int, width: int, depth: int, d_out: int, act) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(depth):
        layers += [nn.Linear(d_in if i == 0 else width, width), act()]
    layers.append(nn.Linear(width if depth else d_in, d_out))
    return nn.Sequential(*layers)


class MLPGenerator(nn.Module):
    """z (B, z_dim) -> x (B, *shape), ReLU hidden layers, linear output."""

    def __init__(self, z_dim: int, shape: tuple, width: int, depth: int):
        super().__init__()
        self.shape = tuple(shape)
        self.net = _stack(z_dim, width, depth, math.prod(self.shape), nn.ReLU)

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z).view(-1, *self.shape)


class MLPDiscriminator(nn.Module):
    """x (B, *shape) -> logits (B // pac,), LeakyReLU(0.2) hidden layers.

    With ``pac > 1`` (PacGAN, Lin et al. 2018) each group of ``pac`` consecutive samples is
    judged jointly, which lets D see a lack of diversity; B must be a multiple of ``pac``.
    """

    def __init__(self, shape: tuple, width: int, depth: int, pac: int = 1):
        super().__init__()
        self.pac = pac
        self.net = _stack(pac * math.prod(shape), width, depth, 1, lambda: nn.LeakyReLU(0.2))

    def forward(self, x: Tensor) -> Tensor:
        packed = x.reshape(x.shape[0] // self.pac, -1)  # (B // pac, pac * d)
        return self.net(packed).squeeze(1)


@MODELS.register
def mlp(cfg: ModelConfig, shape: tuple) -> tuple[nn.Module, nn.Module]:
    G = MLPGenerator(cfg.z_dim, shape, cfg.g_width, cfg.g_depth)
    D = MLPDiscriminator(shape, cfg.d_width, cfg.d_depth, cfg.pac)
    return G, D
