"""CycleGAN's networks (Zhu et al. 2017): two ResNet generators and two PatchGAN discriminators.

G (Johnson et al. 2016's transformer): a 7x7 reflection-padded conv, two stride-2 convs down,
``model.g_depth`` residual blocks, two transposed convs up, a 7x7 conv and tanh; instance norm
throughout. Channels ``g_width`` x 1, 2, 4. Any H, W that are multiples of 4.

The four networks are held as two :class:`torch.nn.ModuleDict`: G = {"ab": A -> B, "ba": B -> A}
and D = {"a": judges domain A, "b": judges domain B}, so that a run's players are still one
G and one D: one optimizer each, one state_dict each, and the EMA, checkpoints and resume of
every other game apply unchanged.
"""

from __future__ import annotations

from torch import Tensor, nn

from .base import register_model
from .unet import PatchD, check_size, pair_channels


class Residual(nn.Module):
    def __init__(self, c: int):
        super().__init__()
        self.body = nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(c, c, 3), nn.InstanceNorm2d(c, affine=True),
                                  nn.ReLU(), nn.ReflectionPad2d(1), nn.Conv2d(c, c, 3),
                                  nn.InstanceNorm2d(c, affine=True))

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


class ResnetG(nn.Module):
    """x (B, C, H, W) -> (B, C, H, W) in [-1, 1]; H, W multiples of 4."""

    multiple = 4

    def __init__(self, channels: int, width: int = 32, blocks: int = 4):
        super().__init__()
        w = width
        norm = lambda c: nn.InstanceNorm2d(c, affine=True)  # noqa: E731
        layers = [nn.ReflectionPad2d(3), nn.Conv2d(channels, w, 7), norm(w), nn.ReLU()]
        for m in (1, 2):  # down: w -> 2w -> 4w
            layers += [nn.Conv2d(w * m, w * m * 2, 3, 2, 1), norm(w * m * 2), nn.ReLU()]
        layers += [Residual(4 * w) for _ in range(blocks)]
        for m in (4, 2):  # up: 4w -> 2w -> w
            layers += [nn.ConvTranspose2d(w * m, w * m // 2, 3, 2, 1, output_padding=1), norm(w * m // 2), nn.ReLU()]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(w, channels, 7), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


@register_model(kinds=("image",), d_norms=("instance", "none"), game="cycle")
def resnet_i2i(m, shape: tuple, n_classes: int = 0) -> tuple[nn.Module, nn.Module]:
    """CycleGAN: G = {ab, ba} ResNet generators, D = {a, b} PatchGANs, on unpaired (2C, R, R) data."""
    c = pair_channels(shape)
    check_size("resnet_i2i", shape[1], max(4, 2 ** m.d_depth))
    G = nn.ModuleDict({"ab": ResnetG(c, m.g_width, m.g_depth), "ba": ResnetG(c, m.g_width, m.g_depth)})
    D = nn.ModuleDict({"a": PatchD(c, m.d_width, m.d_depth, m.d_norm), "b": PatchD(c, m.d_width, m.d_depth, m.d_norm)})
    return G, D
