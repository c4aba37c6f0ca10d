"""Super-resolution networks in the spirit of SRGAN / ESRGAN (Ledig et al. 2017; Wang et al. 2018).

G: a 3x3 head, ``model.g_depth`` residual blocks without batch norm (EDSR, Lim et al. 2017:
batch norm hurts pixel accuracy), log2(scale) x [3x3 conv to 4x channels, pixel shuffle
(Shi et al. 2016), LeakyReLU], a 3x3 tail; the network predicts the residual over the
bicubic upsampling of its input, so it starts as bicubic and learns the detail. Fully
convolutional: lr (B, C, h, w) -> (B, C, scale h, scale w) for any h, w.

D: the PatchGAN of ``unet.py`` on one image (B, C, H, W) -> patch logits.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from ..data.kinds.image import is_image_shape
from ..errors import GanforgeError
from .base import register_model
from .unet import PatchD


class ResBlock(nn.Module):
    def __init__(self, width: int):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(width, width, 3, 1, 1), nn.ReLU(), nn.Conv2d(width, width, 3, 1, 1))

    def forward(self, x: Tensor) -> Tensor:
        return x + 0.2 * self.body(x)  # residual scaling (Szegedy et al. 2017; ESRGAN) keeps deep stacks stable


class SRNet(nn.Module):
    """lr (B, C, h, w) in model space -> (B, C, scale h, scale w)."""

    multiple = 1

    def __init__(self, channels: int, width: int = 32, blocks: int = 4, scale: int = 4):
        super().__init__()
        self.scale = scale
        self.head = nn.Conv2d(channels, width, 3, 1, 1)
        self.body = nn.Sequential(*[ResBlock(width) for _ in range(blocks)], nn.Conv2d(width, width, 3, 1, 1))
        up = []
        for _ in range(scale.bit_length() - 1):  # x2 per stage: 1 stage for x2, 2 for x4
            up += [nn.Conv2d(width, 4 * width, 3, 1, 1), nn.PixelShuffle(2), nn.LeakyReLU(0.2)]
        self.up = nn.Sequential(*up)
        self.tail = nn.Conv2d(width, channels, 3, 1, 1)

    def forward(self, lr: Tensor) -> Tensor:
        h = self.head(lr)
        detail = self.tail(self.up(h + self.body(h)))
        return F.interpolate(lr, scale_factor=self.scale, mode="bicubic", align_corners=False) + detail


def downscale(hr: Tensor, scale: int) -> Tensor:
    """The low-resolution input of a high-resolution batch: bicubic, antialiased, (B, C, H/s, W/s)."""
    return F.interpolate(hr, scale_factor=1 / scale, mode="bicubic", antialias=True, align_corners=False)


@register_model(kinds=("image",), d_norms=("instance", "none"), game="superres")
def srnet(m, shape: tuple, n_classes: int = 0) -> tuple[nn.Module, nn.Module]:
    """Super-resolution: residual G (model.scale 2 or 4) and a PatchGAN D on high-res crops."""
    if not is_image_shape(shape):
        raise GanforgeError(f"model.name=srnet needs images; the data gives samples of shape {tuple(shape)}")
    c, r = shape[0], shape[-1]
    if r % m.scale or r // m.scale < 4:
        raise GanforgeError(f"data.resolution={r}: model.name=srnet with model.scale={m.scale} needs a crop size "
                            f"that is a multiple of {m.scale} and at least {4 * m.scale}")
    return SRNet(c, m.g_width, m.g_depth, m.scale), PatchD(c, m.d_width, m.d_depth, m.d_norm)
