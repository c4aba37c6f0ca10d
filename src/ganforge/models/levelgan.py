"""``level_dcgan``: ganforge's DCGAN (``dcgan.py``) on one-hot tile channels, as MarioGAN (Volz et
al. 2018) trains it on Super Mario Bros windows.

A tile map (C, H, W) need not be square or a power of two (MarioGAN's windows are 14 x 28), and
DCGAN builds square power-of-two images. As MarioGAN does, the networks work at the smallest
power-of-two square R >= max(H, W) (32 for 14 x 28, 16 for a 16 x 16 dungeon): G makes
(C, R, R) and its top-left (C, H, W) is the level (the rest is dropped); D reads the level padded
to (C, R, R) with -1 (no tile type present, in model space) on the right and bottom, the same
pad for real and fake maps. Everything else (widths, D's normalisation, minibatch std, spectral
norm, PacGAN) is ``dcgan``'s, with the same ``model.*`` keys.
"""

from __future__ import annotations

from typing import Optional

import torch.nn.functional as F
from torch import Tensor, nn

from ..config import ModelConfig
from .base import register_model
from .dcgan import dcgan


def padded_side(shape: tuple) -> int:
    """The smallest power of two >= the map's height and width, at least 8."""
    r = 8
    while r < max(shape[1], shape[2]):
        r *= 2
    return r


class CropG(nn.Module):
    """G at (C, R, R), cropped to the map (C, H, W)."""

    def __init__(self, G: nn.Module, h: int, w: int):
        super().__init__()
        self.net, self.h, self.w = G, h, w

    def forward(self, z: Tensor, y: Optional[Tensor] = None) -> Tensor:
        return self.net(z, y)[:, :, : self.h, : self.w]  # (B, C, H, W)


class PadD(nn.Module):
    """D at (C, R, R) reading a map (C, H, W) padded with -1 on the right and bottom."""

    def __init__(self, D: nn.Module, r: int):
        super().__init__()
        self.net, self.r = D, r

    def forward(self, x: Tensor, y: Optional[Tensor] = None) -> Tensor:
        x = F.pad(x, (0, self.r - x.shape[-1], 0, self.r - x.shape[-2]), value=-1.0)  # (B, C, R, R)
        return self.net(x, y)


@register_model(kinds=("level",), d_norms=("none", "batch", "spectral", "instance", "layer"), g_conds=("concat", "cbn"),
                d_conds=("projection", "concat"))
def level_dcgan(cfg: ModelConfig, shape: tuple, n_classes: int = 0) -> tuple[nn.Module, nn.Module]:
    r = padded_side(shape)
    G, D = dcgan(cfg, (shape[0], r, r), n_classes)
    return CropG(G, shape[1], shape[2]), PadD(D, r)
