"""Building blocks of StyleGAN2 (Karras et al. 2020, "Analyzing and improving the image quality
of StyleGAN"), written for ganforge at sizes from 8 to 1024 px.

Equalized learning rate: every weight is stored as N(0, 1) / lr_mul and multiplied at run time
by ``lr_mul / sqrt(fan_in)``, so that Adam's per-parameter steps move every layer at the same
relative speed (and the mapping network, with lr_mul 0.01, a hundred times slower). Activations
are LeakyReLU(0.2) times sqrt(2), which keeps the second moment of unit-variance inputs at 1.
"""

from __future__ import annotations

import math
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..priors import Rows, randn_rows

LRELU_GAIN = math.sqrt(2.0)


def lrelu(x: Tensor) -> Tensor:
    return F.leaky_relu(x, 0.2) * LRELU_GAIN


class EqLinear(nn.Module):
    """A linear layer with equalized learning rate: (B, in) -> (B, out)."""

    def __init__(self, c_in: int, c_out: int, lr_mul: float = 1.0, bias_init: float = 0.0):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(c_out, c_in) / lr_mul)
        self.bias = nn.Parameter(torch.full((c_out,), float(bias_init) / lr_mul))
        self.w_gain = lr_mul / math.sqrt(c_in)
        self.lr_mul = lr_mul

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x, self.weight * self.w_gain, self.bias * self.lr_mul)


class EqConv2d(nn.Module):
    """A k x k convolution (padding k // 2, stride 1) with equalized learning rate."""

    def __init__(self, c_in: int, c_out: int, k: int, bias: bool = True):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(c_out, c_in, k, k))
        self.bias = nn.Parameter(torch.zeros(c_out)) if bias else None
        self.w_gain = 1 / math.sqrt(c_in * k * k)

    def forward(self, x: Tensor) -> Tensor:
        return F.conv2d(x, self.weight * self.w_gain, self.bias, padding=self.weight.shape[-1] // 2)


def upsample2x(x: Tensor) -> Tensor:
    """Bilinear 2x upsampling, (B, C, H, W) -> (B, C, 2H, 2W)."""
    return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)


class ModulatedConv2d(nn.Module):
    """A k x k convolution whose input channels are scaled per sample by a style s (B, c_in)
    taken from w, and whose output channels are then demodulated: divided by the norm each
    output channel's modulated weights would have, so unit-variance inputs give unit-variance
    outputs whatever the style (the paper's replacement of AdaIN's instance norm).

    Computed without per-sample weights: conv(x * s, W) * d with d (B, c_out) the
    demodulation coefficients, which equals the convolution with the per-sample weights
    W * s / ||W * s|| and keeps one shared weight (fast on CPU, fine with channels_last)."""

    def __init__(self, c_in: int, c_out: int, k: int, w_dim: int, demodulate: bool = True, up: bool = False):
        super().__init__()
        self.affine = EqLinear(w_dim, c_in, bias_init=1.0)  # w -> s, starting near 1
        self.weight = nn.Parameter(torch.randn(c_out, c_in, k, k))
        self.w_gain = 1 / math.sqrt(c_in * k * k)
        self.demodulate, self.up = demodulate, up

    def forward(self, x: Tensor, w: Tensor) -> Tensor:
        s = self.affine(w)  # (B, c_in)
        weight = self.weight * self.w_gain  # (c_out, c_in, k, k)
        if self.up:
            x = upsample2x(x)
        x = F.conv2d(x * s[:, :, None, None].to(x.dtype), weight.to(x.dtype), padding=weight.shape[-1] // 2)
        if self.demodulate:
            # ||W_o * s||^2 = sum_i s_i^2 sum_k W_oik^2: (B, c_in) @ (c_in, c_out) -> (B, c_out)
            d = torch.rsqrt(s.pow(2) @ weight.pow(2).sum((2, 3)).t() + 1e-8)
            x = x * d[:, :, None, None].to(x.dtype)
        return x


class StyleLayer(nn.Module):
    """Modulated 3x3 convolution (optionally after a 2x upsampling), per-pixel noise with a
    learned strength (starting at 0), bias and activation: (B, c_in, R, R) -> (B, c_out, R', R').

    Training draws fresh noise (B, 1, R', R') from torch's generator, which the run seeds and
    checkpoints (exact resume); in eval mode a fixed noise map stored with the weights is used,
    so sampling with a seed is reproducible."""

    def __init__(self, c_in: int, c_out: int, w_dim: int, resolution: int, up: bool = False):
        super().__init__()
        self.conv = ModulatedConv2d(c_in, c_out, 3, w_dim, up=up)
        self.noise_strength = nn.Parameter(torch.zeros(()))
        self.bias = nn.Parameter(torch.zeros(c_out))
        self.register_buffer("noise_const", torch.randn(1, 1, resolution, resolution))
        self.rows: Rows = (0, 1)  # (rank, world) under data parallelism: StyleGenerator.shard_randomness

    def forward(self, x: Tensor, w: Tensor) -> Tensor:
        x = self.conv(x, w)  # (B, c_out, R', R')
        if self.training:  # fresh noise per sample; under DDP this rank's rows of the global draw
            noise = randn_rows(self.rows, (x.shape[0], 1, *x.shape[2:]), device=x.device, dtype=x.dtype)
        else:
            noise = self.noise_const.to(x.dtype)
        x = x + noise * self.noise_strength.to(x.dtype) + self.bias[None, :, None, None].to(x.dtype)
        return lrelu(x)


class ToRGB(nn.Module):
    """Modulated 1x1 convolution to the image's channels, without demodulation: (B, c, R, R) ->
    (B, C, R, R). Each resolution's output is added to the upsampled image so far (skip G)."""

    def __init__(self, c_in: int, c_img: int, w_dim: int):
        super().__init__()
        self.conv = ModulatedConv2d(c_in, c_img, 1, w_dim, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(c_img))

    def forward(self, x: Tensor, w: Tensor) -> Tensor:
        return self.conv(x, w) + self.bias[None, :, None, None].to(x.dtype)


class MappingNetwork(nn.Module):
    """z (B, z_dim) [, y (B,)] -> w (B, w_dim): pixel-normalised z, concatenated with a
    pixel-normalised class embedding when conditional, then ``depth`` equalized linear layers
    with a learning-rate multiplier of 0.01 (as in the paper)."""

    def __init__(self, z_dim: int, w_dim: int, depth: int, n_classes: int = 0, lr_mul: float = 0.01):
        super().__init__()
        self.embed = EqLinear(n_classes, w_dim) if n_classes else None  # one-hot y -> (B, w_dim)
        self.n_classes = n_classes
        c = z_dim + (w_dim if n_classes else 0)
        layers = []
        for i in range(depth):
            layers.append(EqLinear(c if i == 0 else w_dim, w_dim, lr_mul=lr_mul))
        self.layers = nn.ModuleList(layers)
        self.out_dim = w_dim if depth else c

    def forward(self, z: Tensor, y: Optional[Tensor] = None) -> Tensor:
        h = _pixel_norm(z)
        if self.embed is not None:
            e = self.embed(F.one_hot(y.long(), self.n_classes).to(z.dtype))  # (B, w_dim)
            h = torch.cat([h, _pixel_norm(e)], dim=1)
        for layer in self.layers:
            h = lrelu(layer(h))
        return h


def _pixel_norm(x: Tensor, eps: float = 1e-8) -> Tensor:
    """x / RMS(x) over the feature dimension: (B, F) -> (B, F)."""
    return x * torch.rsqrt(x.pow(2).mean(1, keepdim=True) + eps)


class DBlock(nn.Module):
    """D's residual block: two 3x3 convolutions and a 2x average-pool downsampling, plus a
    skip path (downsample, 1x1 convolution without bias), summed and scaled by 1/sqrt(2) to
    keep the variance: (B, c_in, R, R) -> (B, c_out, R/2, R/2)."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.conv1 = EqConv2d(c_in, c_in, 3)
        self.conv2 = EqConv2d(c_in, c_out, 3)
        self.skip = EqConv2d(c_in, c_out, 1, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        skip = self.skip(F.avg_pool2d(x, 2))
        h = lrelu(self.conv1(x))
        h = F.avg_pool2d(lrelu(self.conv2(h)), 2)
        return (h + skip) * (1 / math.sqrt(2))
