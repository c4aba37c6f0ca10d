"""StyleGAN2 (Karras et al. 2020) for square images of any power-of-two size from 8 to 1024.

G: a mapping network z (B, z_dim) -> w (B, w_dim) (``model.mapping_depth`` equalized linear
layers at 0.01 of the learning rate, on pixel-normalised z), then a synthesis network from a
learned constant 4x4 input: per resolution, a bilinear 2x upsampling, two modulated and
demodulated 3x3 convolutions with per-pixel noise of learned strength, and a toRGB output that
is added to the upsampled image so far (the skip generator). Its L = 2 + 2 log2(R / 4) ws
(one per convolution, each toRGB sharing the next convolution's, as in the paper);
``synthesis`` accepts (B, w_dim) or per-layer (B, L, w_dim). During training a second z's w
takes over from a random layer with probability ``model.mixing_prob`` (style mixing), and
``w_avg`` follows the mean w (moving average, beta 0.995) for the truncation trick
(:meth:`StyleGenerator.truncated`).

D: fromRGB (1x1), residual blocks down to 4x4, minibatch standard deviation (group
``model.mbstd``, default 4), a 3x3 convolution and two linear layers to one logit; all with
equalized learning rate. Conditional (``model.conditional=true``): a class embedding joins z in
the mapping network; D adds the projection <embed(y), h> / sqrt(dim h) of its last features h.
``g_width`` and ``d_width`` are the channel counts next to the image, doubling per halving of
the size, capped at 8x (as DCGAN's). Penalties made for it: ``reg.r1`` (lazy, on D) and
``reg.path_length`` (lazy, on G; it uses ``mapping`` and ``synthesis``).
"""

from __future__ import annotations

import math
from typing import Optional

import torch
from torch import Tensor, nn

from ..config import ModelConfig
from ..errors import GanforgeError
from ..priors import Rows, mean_over_ranks, randn_rows
from .base import register_model
from .layers import MinibatchStd
from .stylegan2_layers import DBlock, EqConv2d, EqLinear, MappingNetwork, StyleLayer, ToRGB, lrelu, upsample2x

W_AVG_BETA = 0.995  # moving average of w for the truncation trick (as in the paper's code)


def _channels(width: int, k: int) -> int:
    return width * min(2**k, 8)


class StyleGenerator(nn.Module):
    def __init__(self, z_dim: int, w_dim: int, mapping_depth: int, shape: tuple, width: int,
                 n_classes: int = 0, mixing_prob: float = 0.0):
        super().__init__()
        c_img, res = shape[0], shape[1]
        n = int(math.log2(res)) - 2  # upsampling blocks after 4x4
        chans = [_channels(width, k) for k in range(n, -1, -1)]  # channels at 4x4, 8x8, ..., R x R
        self.mapping = MappingNetwork(z_dim, w_dim, mapping_depth, n_classes)
        w_dim = self.mapping.out_dim
        self.const = nn.Parameter(torch.randn(1, chans[0], 4, 4))
        self.layers = nn.ModuleList([StyleLayer(chans[0], chans[0], w_dim, 4)])
        self.to_rgb = nn.ModuleList([ToRGB(chans[0], c_img, w_dim)])
        for k, (a, b) in enumerate(zip(chans, chans[1:])):
            r = 8 * 2**k
            self.layers.extend([StyleLayer(a, b, w_dim, r, up=True), StyleLayer(b, b, w_dim, r)])
            self.to_rgb.append(ToRGB(b, c_img, w_dim))
        self.num_ws = 2 + 2 * n  # ws: one per convolution, plus the last toRGB's
        self.w_dim, self.mixing_prob = w_dim, mixing_prob
        self.register_buffer("w_avg", torch.zeros(w_dim))
        self.rows: Rows = (0, 1)  # (rank, world): shard_randomness

    def synthesis(self, w: Tensor, y: Optional[Tensor] = None) -> Tensor:
        """w (B, w_dim) or (B, L, w_dim) -> images (B, C, R, R). w i drives convolution i
        (the 4x4 one first); toRGB k takes w 2k + 1."""
        ws = w[:, None].expand(-1, self.num_ws, -1) if w.dim() == 2 else w  # (B, L, w_dim)
        if ws.shape[1] != self.num_ws:
            raise ValueError(f"synthesis takes {self.num_ws} ws per sample, got {ws.shape[1]}")
        x = self.const.expand(ws.shape[0], -1, -1, -1)  # (B, c0, 4, 4)
        x = self.layers[0](x, ws[:, 0])
        img = self.to_rgb[0](x, ws[:, 1])  # (B, C, 4, 4)
        i = 1  # w 1 drives the first toRGB and the next convolution
        for k in range(len(self.to_rgb) - 1):
            x = self.layers[1 + 2 * k](x, ws[:, i])  # upsampled: (B, c, 2r, 2r)
            x = self.layers[2 + 2 * k](x, ws[:, i + 1])
            img = upsample2x(img) + self.to_rgb[k + 1](x, ws[:, i + 2])
            i += 2  # a toRGB shares its w with the next resolution's first convolution
        return img

    def forward(self, z: Tensor, y: Optional[Tensor] = None) -> Tensor:
        w = self.mapping(z, y)  # (B, w_dim)
        if not self.training:
            return self.synthesis(w, y)
        with torch.no_grad():  # the truncation trick's centre follows the training ws (the global batch's)
            mean_w = mean_over_ranks(w.detach().float().mean(0), self.rows)
            self.w_avg.copy_(mean_w.lerp(self.w_avg, W_AVG_BETA))
        if self.mixing_prob > 0 and torch.rand(()).item() < self.mixing_prob:
            # style mixing: layers from a random crossover on take a second z's w (one crossover
            # per batch: every rank draws the same, as one process would)
            cut = int(torch.randint(1, self.num_ws, ()).item())
            w2 = self.mapping(randn_rows(self.rows, z.shape, device=z.device, dtype=z.dtype), y)
            ws = w[:, None].repeat(1, self.num_ws, 1)  # (B, L, w_dim)
            ws[:, cut:] = w2[:, None]
            return self.synthesis(ws, y)
        return self.synthesis(w, y)

    def shard_randomness(self, rank: int, world: int) -> None:
        """Under data parallelism (rank of world processes, each holding B / world of the batch):
        draw the mixing z and the per-layer noise for the global batch and keep this rank's rows,
        and move w_avg by the global batch's mean w, so ranks never share a draw and the run
        matches one process with the global batch (minibatch std apart: it groups each rank's
        rows)."""
        self.rows = (rank, world)
        for layer in self.layers:
            layer.rows = (rank, world)

    def truncated(self, psi: float) -> nn.Module:
        """A module with G's (z, y) signature drawing w = w_avg + psi (w - w_avg)."""
        return Truncated(self, psi)


class Truncated(nn.Module):
    """G with the truncation trick: psi = 1 is G itself (in eval mode), psi = 0 gives the
    image of w_avg for every z (of each class's w for a conditional G)."""

    def __init__(self, G: StyleGenerator, psi: float):
        super().__init__()
        self.G, self.psi = G, float(psi)

    def forward(self, z: Tensor, y: Optional[Tensor] = None) -> Tensor:
        w = self.G.mapping(z, y)  # (B, w_dim)
        w = self.G.w_avg.to(w.dtype) + self.psi * (w - self.G.w_avg.to(w.dtype))
        return self.G.synthesis(w, y)


class StyleDiscriminator(nn.Module):
    def __init__(self, shape: tuple, width: int, n_classes: int = 0, pac: int = 1, mbstd: int = 0):
        super().__init__()
        c_img, res = shape[0], shape[1]
        n = int(math.log2(res)) - 2
        chans = [_channels(width, k) for k in range(n + 1)]  # at R x R, R/2, ..., 4x4
        self.pac = pac
        self.from_rgb = EqConv2d(pac * c_img, chans[0], 1)
        self.blocks = nn.Sequential(*[DBlock(a, b) for a, b in zip(chans, chans[1:])])  # -> (B, c4, 4, 4)
        self.auto_group = mbstd == 0  # default: groups of 4, or the largest divisor of the batch below it
        self.mbstd = MinibatchStd(mbstd or 4)
        c = chans[-1]
        self.conv = EqConv2d(c + 1, c, 3)
        self.fc = EqLinear(c * 16, c)
        self.out = EqLinear(c, 1)
        self.project = nn.Embedding(n_classes, c) if n_classes else None
        if self.project is not None:
            nn.init.normal_(self.project.weight)
        self.c = c

    def forward(self, x: Tensor, y: Optional[Tensor] = None) -> Tensor:
        if self.pac > 1:
            x = x.reshape(x.shape[0] // self.pac, -1, *x.shape[2:])  # (B // pac, pac * C, R, R)
            y = y[:: self.pac] if y is not None else None
        h = self.blocks(lrelu(self.from_rgb(x)))  # (B', c, 4, 4)
        if self.auto_group:
            self.mbstd.group = math.gcd(4, h.shape[0])
        h = lrelu(self.conv(self.mbstd(h)))  # (B', c, 4, 4)
        h = lrelu(self.fc(h.flatten(1)))  # (B', c)
        logits = self.out(h).flatten()  # (B',)
        if self.project is not None:
            logits = logits + (self.project(y) * h).sum(1) / math.sqrt(self.c)
        return logits


@register_model(kinds=("image",), resolutions=(8, 1024), spatial_remedies=True)
def stylegan2(cfg: ModelConfig, shape: tuple, n_classes: int = 0) -> tuple[nn.Module, nn.Module]:
    if cfg.g_spectral:
        raise GanforgeError("model.g_spectral=true: model.name=stylegan2 uses equalized learning rate, not spectral "
                            "norm; leave model.g_spectral out")
    w_dim = cfg.w_dim or cfg.z_dim
    G = StyleGenerator(cfg.z_dim, w_dim, cfg.mapping_depth, shape, cfg.g_width, n_classes, cfg.mixing_prob)
    D = StyleDiscriminator(shape, cfg.d_width, n_classes, cfg.pac, cfg.mbstd)
    return G, D
