"""pix2pix's networks (Isola et al. 2017): a U-Net generator and a PatchGAN discriminator.

U-Net G: ``model.g_depth`` stride-2 4x4 convolutions down (width ``g_width``, doubling up to
8x), the same number of transposed convolutions up, each up level concatenated with the down
level of the same size (the skips), and a last 3x3 convolution over [up features | the input
image] so that pixel-exact maps (colour changes) need no trip through the bottleneck. The
output is linear (no tanh): targets in model space [-1, 1] are met exactly, and writers clamp.
Fully convolutional: any H, W that are multiples of 2 ** g_depth.

PatchGAN D: ``model.d_depth`` stride-2 4x4 convolutions then a 3x3 convolution to one logit
per patch, (B, 1, H / 2**d_depth, W / 2**d_depth). pix2pix's D sees (input, output) stacked
along the channels; CycleGAN's (``resnet_i2i``) sees one image.
"""

from __future__ import annotations

from torch import Tensor, nn
import torch

from ..data.kinds.image import is_image_shape
from ..errors import GanforgeError
from .base import register_model


def _norm(kind: str, channels: int) -> nn.Module:
    # instance norm (Ulyanov et al. 2016): the same in training and at test time, any batch size
    return nn.InstanceNorm2d(channels, affine=True) if kind == "instance" else nn.Identity()


class UNet(nn.Module):
    """x (B, C_in, H, W) -> (B, C_out, H, W); H and W multiples of ``2 ** depth``."""

    def __init__(self, c_in: int, c_out: int, width: int = 32, depth: int = 4, norm: str = "instance"):
        super().__init__()
        self.depth, self.multiple = depth, 2 ** depth  # inputs: H, W multiples of this
        chans = [min(width * 2 ** i, width * 8) for i in range(depth)]  # channels after each down step
        self.down = nn.ModuleList()
        prev = c_in
        for i, c in enumerate(chans):
            # no norm on the first level (as pix2pix) nor the bottleneck (it may be 1 x 1)
            plain = i == 0 or i == depth - 1
            self.down.append(nn.Sequential(nn.Conv2d(prev, c, 4, 2, 1), _norm("none" if plain else norm, c),
                                           nn.LeakyReLU(0.2)))
            prev = c
        self.up = nn.ModuleList()
        for i in reversed(range(depth)):
            c_skip = chans[i - 1] if i > 0 else 0  # the down level of the output's size (none at full size)
            c = chans[i - 1] if i > 0 else width
            self.up.append(nn.Sequential(nn.ConvTranspose2d(prev, c, 4, 2, 1), _norm(norm, c), nn.ReLU()))
            prev = c + c_skip
        self.out = nn.Conv2d(prev + c_in, c_out, 3, 1, 1)  # over [up features | the input]

    def forward(self, x: Tensor, skips: bool = True) -> Tensor:
        """``skips=False`` zeroes the skip features (a test of their use), keeping the shapes."""
        h, saved = x, []
        for layer in self.down:
            h = layer(h)
            saved.append(h)
        saved.pop()  # the bottleneck feeds the first up step directly
        for layer in self.up:
            h = layer(h)
            if saved:
                s = saved.pop()
                h = torch.cat([h, s if skips else torch.zeros_like(s)], 1)
        return self.out(torch.cat([h, x if skips else torch.zeros_like(x)], 1))


class PatchD(nn.Module):
    """x (B, C, H, W) -> patch logits (B, 1, H / 2**depth, W / 2**depth)."""

    def __init__(self, c_in: int, width: int = 32, depth: int = 3, norm: str = "instance"):
        super().__init__()
        layers, prev = [], c_in
        for i in range(depth):
            c = min(width * 2 ** i, width * 8)
            layers += [nn.Conv2d(prev, c, 4, 2, 1), _norm(norm if i else "none", c), nn.LeakyReLU(0.2)]
            prev = c
        layers.append(nn.Conv2d(prev, 1, 3, 1, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


def pair_channels(shape: tuple) -> int:
    """C of one image, from a paired source's sample shape (2C, H, W)."""
    if not is_image_shape(shape) or shape[0] % 2:
        raise GanforgeError(f"image-to-image models need paired images (2C, H, W); the data gives {tuple(shape)} "
                            "(use data.name=paired or unpaired)")
    return shape[0] // 2


def check_size(name: str, side: int, multiple: int, key: str = "data.resolution") -> None:
    if side < multiple or side % multiple:
        raise GanforgeError(f"{key}={side}: model.name={name} needs a multiple of {multiple} "
                            f"(2 ** its number of down-sampling steps)")


@register_model(kinds=("image",), d_norms=("instance", "none"), game="paired")
def unet(m, shape: tuple, n_classes: int = 0) -> tuple[nn.Module, nn.Module]:
    """pix2pix: U-Net G (g_depth levels) and a PatchGAN D on (input, output) pairs."""
    c = pair_channels(shape)
    check_size("unet", shape[1], 2 ** m.g_depth)
    return UNet(c, c, m.g_width, m.g_depth, m.d_norm), PatchD(2 * c, m.d_width, m.d_depth, m.d_norm)
