"""The semi-supervised GAN's networks (Salimans et al. 2016, "Improved Techniques for Training
GANs", section 5), for small square images (8 to 32 px, e.g. the 8x8 digits).

D is a K-class classifier: ``D.heads(x)`` gives its class logits l (B, K) and the features of
its last hidden layer h (B, F) (G's feature-matching target). Its real/fake logit is
``logsumexp_k l_k`` (the K+1-th "fake" class's logit fixed at 0), so ``D(x)`` returns that
(B,) logit like every other D and the doctor's probes, ``score`` and ``judge`` read it alike.
As in the paper's recipe (and its reference code, openai/improved-gan): dropout on D's input
(0.2) and after each downsampling (0.5), LeakyReLU(0.2), a global mean pool before the
linear classifier; ``model.d_norm=spectral`` adds spectral norm to D's layers (the paper used
weight norm; both bound D's layers). G is an unconditional DCGAN-style generator with batch
norm: z (B, z_dim) -> 4x4 -> ... -> (B, C, R, R) in [-1, 1].

The game that trains them is ``train/games/semi_supervised.py`` (``ModelSpec.game``).
"""

from __future__ import annotations

import math
from typing import Optional

import torch
from torch import Tensor, nn

from ..config import ModelConfig
from ..errors import GanforgeError
from .base import register_model
from .layers import maybe_spectral, refresh_spectral_norm


class SSLGenerator(nn.Module):
    """z (B, z_dim) -> (B, C, R, R) in [-1, 1]; ``y`` is accepted and ignored (unconditional)."""

    def __init__(self, z_dim: int, shape: tuple, width: int):
        super().__init__()
        c, r = shape[0], shape[-1]
        levels = int(math.log2(r)) - 2  # 2x upsamplings from 4x4
        ch = width * 2 ** levels
        self.stem = nn.Sequential(nn.Linear(z_dim, ch * 16, bias=False), nn.BatchNorm1d(ch * 16), nn.ReLU())
        blocks = []
        for _ in range(levels):
            blocks += [nn.ConvTranspose2d(ch, ch // 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ch // 2), nn.ReLU()]
            ch //= 2
        self.body = nn.Sequential(*blocks, nn.Conv2d(ch, c, 3, 1, 1), nn.Tanh())
        self.ch0 = width * 2 ** levels

    def forward(self, z: Tensor, y: Optional[Tensor] = None) -> Tensor:
        h = self.stem(z).view(len(z), self.ch0, 4, 4)  # (B, ch, 4, 4)
        return self.body(h)


class SSLDiscriminator(nn.Module):
    """x (B, C, R, R) -> K class logits; ``forward`` gives the real/fake logit logsumexp (B,)."""

    def __init__(self, shape: tuple, width: int, n_classes: int, spectral: bool):
        super().__init__()
        c, r = shape[0], shape[-1]
        sn = maybe_spectral(spectral)
        act = lambda: nn.LeakyReLU(0.2)  # noqa: E731
        layers: list[nn.Module] = [nn.Dropout(0.2), sn(nn.Conv2d(c, width, 3, 1, 1)), act()]
        ch = width
        for _ in range(int(math.log2(r)) - 2):  # down to 4x4
            layers += [sn(nn.Conv2d(ch, ch, 3, 1, 1)), act(), sn(nn.Conv2d(ch, 2 * ch, 3, 2, 1)), act(),
                       nn.Dropout(0.5)]
            ch *= 2
        layers += [sn(nn.Conv2d(ch, ch, 3, 1, 1)), act(), sn(nn.Conv2d(ch, ch, 1)), act()]
        self.body = nn.Sequential(*layers)
        self.classifier = sn(nn.Linear(ch, n_classes))
        self.n_classes, self.n_features = n_classes, ch

    def heads(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """(class logits (B, K), features of the last hidden layer (B, F), mean-pooled)."""
        h = self.body(x).mean((2, 3))  # (B, F)
        return self.classifier(h), h

    def classify(self, x: Tensor) -> Tensor:
        """Class logits (B, K)."""
        return self.heads(x)[0]

    def forward(self, x: Tensor, y: Optional[Tensor] = None) -> Tensor:
        """The real/fake logit (B,): logsumexp of the class logits (Salimans et al. 2016, eq. 5)."""
        return torch.logsumexp(self.classify(x), 1)


@register_model(kinds=("image",), d_norms=("none", "spectral"), resolutions=(8, 32), game="semi_supervised",
                classifies=True)
def ssl_dcgan(cfg: ModelConfig, shape: tuple, n_classes: int = 0) -> tuple[nn.Module, nn.Module]:
    """The semi-supervised GAN: a K-class D (K = the data's classes), an unconditional G;
    ``g_width``/``d_width`` channels next to the image (x2 per halving)."""
    if n_classes < 2:
        raise GanforgeError("model.name=ssl_dcgan classifies the data's classes: it needs labelled images of two "
                            "classes or more (digits, a folder of class sub-folders, an .npz with labels)")
    G = SSLGenerator(cfg.z_dim, shape, cfg.g_width)
    D = SSLDiscriminator(shape, cfg.d_width, n_classes, cfg.d_norm == "spectral")
    refresh_spectral_norm(D)
    return G, D
