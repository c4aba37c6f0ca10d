"""DCGAN (Radford et al. 2016) for square images of any power-of-two size from 8 to 256.

G: z (B, z_dim) -> 4x4 -> ... -> (B, C, R, R) in [-1, 1] with transposed convolutions, batch
norm and ReLU, tanh at the output (``model.g_spectral=true`` adds spectral norm to G's
convolutions, as in SAGAN, Zhang et al. 2019). D: strided convolutions with LeakyReLU(0.2), a
choice of normalisation (``model.d_norm``: none, batch, spectral, instance or layer), an
optional minibatch standard deviation channel (``model.mbstd``), and a 4x4 convolution to one
logit. ``g_width`` and
``d_width`` are the channel counts next to the image; they double per halving of the size,
capped at 8x. Conditioning (``model.conditional=true``):

- G, ``model.g_cond``: ``concat`` a class embedding to z (Mirza and Osindero 2014), or
  ``cbn``, conditional batch norm whose gains and biases depend on the class (de Vries et
  al. 2017; Miyato and Koyama 2018).
- D, ``model.d_cond``: ``projection``, adding <embed(y), h> to the logit, h being D's pooled
  last features (Miyato and Koyama 2018), or ``concat``, a learned per-class map stacked on
  the image as an extra channel.

The defaults (``default``) are ``cbn`` and ``concat``: on conditional digits the other pairs
drew each class as one or a few prototypes (benchmarks/results/conditional.md).
"""

from __future__ import annotations

import math
from typing import Optional

import torch
from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm

from ..config import ModelConfig
from .base import register_model
from .layers import MinibatchStd, maybe_spectral, refresh_spectral_norm


def _levels(resolution: int) -> int:
    """Number of 2x upsamplings from 4x4 to ``resolution`` (a power of two, checked by the spec)."""
    return int(math.log2(resolution)) - 2


def _channels(width: int, k: int) -> int:
    return width * min(2**k, 8)


# D's normalisations of the features after each strided convolution but the first (as in
# DCGAN); the convolution before one has no bias (the norm's shift replaces it). Instance and
# layer norm (GroupNorm with one group: over C, H, W) judge each sample alone, unlike batch
# norm, which mixes the real and fake statistics of a batch (and the samples of a pack).
_D_NORMS = {
    "batch": nn.BatchNorm2d,
    "instance": lambda c: nn.InstanceNorm2d(c, affine=True),
    "layer": lambda c: nn.GroupNorm(1, c),
}


class ConditionalBatchNorm2d(nn.Module):
    """Batch norm without its own affine transform; a per-class gain and bias instead."""

    def __init__(self, channels: int, n_classes: int):
        super().__init__()
        self.bn = nn.BatchNorm2d(channels, affine=False)
        self.gain = nn.Embedding(n_classes, channels)
        self.bias = nn.Embedding(n_classes, channels)
        nn.init.ones_(self.gain.weight)
        nn.init.zeros_(self.bias.weight)

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        return self.bn(x) * self.gain(y)[:, :, None, None] + self.bias(y)[:, :, None, None]


class DCGANGenerator(nn.Module):
    def __init__(self, z_dim: int, shape: tuple, width: int, n_classes: int = 0, cond: str = "concat",
                 spectral: bool = False):
        super().__init__()
        sn = maybe_spectral(spectral)  # SN on G's convolutions; its batch norm stays
        c_out, res = shape[0], shape[1]
        n = _levels(res)
        self.cbn = bool(n_classes) and cond == "cbn"
        self.embed = nn.Embedding(n_classes, z_dim) if n_classes and not self.cbn else None
        c_in = z_dim * (2 if self.embed is not None else 1)
        chans = [_channels(width, k) for k in range(n - 1, -1, -1)]  # e.g. [4w, 2w, w] for 32x32
        self.convs = nn.ModuleList([sn(nn.ConvTranspose2d(c_in, chans[0], 4, 1, 0, bias=False))])  # (B, c0, 4, 4)
        self.convs.extend(sn(nn.ConvTranspose2d(a, b, 4, 2, 1, bias=False)) for a, b in zip(chans, chans[1:]))
        norm = (lambda c: ConditionalBatchNorm2d(c, n_classes)) if self.cbn else nn.BatchNorm2d
        self.norms = nn.ModuleList(norm(c) for c in chans)
        self.to_image = sn(nn.ConvTranspose2d(chans[-1], c_out, 4, 2, 1))  # (B, C, R, R)

    def forward(self, z: Tensor, y: Optional[Tensor] = None) -> Tensor:
        if self.embed is not None:
            z = torch.cat([z, self.embed(y)], dim=1)
        h = z[:, :, None, None]  # (B, z, 1, 1)
        for conv, norm in zip(self.convs, self.norms):
            h = conv(h)
            h = torch.relu(norm(h, y) if self.cbn else norm(h))
        return torch.tanh(self.to_image(h))


class DCGANDiscriminator(nn.Module):
    def __init__(self, shape: tuple, width: int, norm: str = "none", n_classes: int = 0,
                 cond: str = "projection", pac: int = 1, mbstd: int = 0, dropout: float = 0.0):
        super().__init__()
        c_img, res = shape[0], shape[1]
        n = _levels(res)
        self.pac = pac
        self.cond_map = nn.Embedding(n_classes, res * res) if n_classes and cond == "concat" else None
        c_in = pac * (c_img + (1 if self.cond_map is not None else 0))
        sn = spectral_norm if norm == "spectral" else (lambda m: m)
        chans = [_channels(width, k) for k in range(n)]  # e.g. [w, 2w, 4w] for 32x32
        # dropout (model.d_dropout) after each hidden activation: a D that must judge from a random
        # subset of its features has a harder time memorising single training images; none is
        # added at 0, so a run without it keeps its layer indices (and checkpoints)
        drop = [nn.Dropout(dropout)] if dropout > 0 else []
        layers: list[nn.Module] = [sn(nn.Conv2d(c_in, chans[0], 4, 2, 1)), nn.LeakyReLU(0.2), *drop]
        for a, b in zip(chans, chans[1:]):
            layers.append(sn(nn.Conv2d(a, b, 4, 2, 1, bias=norm not in _D_NORMS)))
            if norm in _D_NORMS:
                layers.append(_D_NORMS[norm](b))
            layers += [nn.LeakyReLU(0.2), *(nn.Dropout(dropout) for _ in drop)]
        self.features = nn.Sequential(*layers)  # (B, c_last, 4, 4)
        # minibatch std: one more 4x4 channel before the head, (B', c_last + 1, 4, 4)
        self.mbstd = MinibatchStd(mbstd) if mbstd else None
        self.head = sn(nn.Conv2d(chans[-1] + (1 if mbstd else 0), 1, 4, 1, 0))  # (B, 1, 1, 1)
        self.project = nn.Embedding(n_classes, chans[-1]) if n_classes and cond == "projection" else None

    def forward(self, x: Tensor, y: Optional[Tensor] = None) -> Tensor:
        if self.cond_map is not None:
            r = x.shape[-1]
            x = torch.cat([x, self.cond_map(y).view(-1, 1, r, r)], dim=1)
        if self.pac > 1:
            x = x.reshape(x.shape[0] // self.pac, -1, *x.shape[2:])  # (B // pac, pac * C, R, R)
            y = y[:: self.pac] if y is not None else None
        h = self.features(x)  # (B // pac, c_last, 4, 4); the projection below uses h without the std channel
        logits = self.head(self.mbstd(h) if self.mbstd is not None else h).flatten()  # (B // pac,)
        if self.project is not None:
            logits = logits + (self.project(y) * h.sum(dim=(2, 3))).sum(1)
        return logits


def _dcgan_init(m: nn.Module) -> None:
    """The DCGAN initialisation: N(0, 0.02) weights, norm gains N(1, 0.02) (batch, instance, layer).

    A spectrally normalised weight is initialised through its ``original``; its singular
    vectors are then stale, so the builder calls :func:`refresh_spectral_norm` afterwards."""
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
        plist = getattr(m, "parametrizations", None)  # spectral norm holds the raw weight as .original
        w = plist.weight.original if plist is not None else m.weight
        nn.init.normal_(w, 0.0, 0.02)
    elif isinstance(m, (nn.BatchNorm2d, nn.InstanceNorm2d, nn.GroupNorm)) and m.affine:
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


@register_model(kinds=("image",), d_norms=("none", "batch", "spectral", "instance", "layer"), g_conds=("concat", "cbn"),
                d_conds=("projection", "concat"), resolutions=(8, 256), spatial_remedies=True,
                spectral_d_remedy=True, d_dropout=True)
def dcgan(cfg: ModelConfig, shape: tuple, n_classes: int = 0) -> tuple[nn.Module, nn.Module]:
    # the defaults, measured on conditional digits (benchmarks/results/conditional.md): an
    # embedding concatenated to z let G ignore z within a class (recall 0, FID 246); conditional
    # batch norm in G with the label map concatenated to D's input gave recall 0.64, FID 34
    g_cond = "cbn" if cfg.g_cond == "default" else cfg.g_cond
    d_cond = "concat" if cfg.d_cond == "default" else cfg.d_cond
    G = DCGANGenerator(cfg.z_dim, shape, cfg.g_width, n_classes, g_cond, cfg.g_spectral)
    D = DCGANDiscriminator(shape, cfg.d_width, cfg.d_norm, n_classes, d_cond, cfg.pac, cfg.mbstd, cfg.d_dropout)
    G.apply(_dcgan_init)
    D.apply(_dcgan_init)
    refresh_spectral_norm(G)  # sigma of the re-initialised weights, not of torch's default ones
    refresh_spectral_norm(D)
    return G, D
