"""Text to image: DF-GAN (Tao et al. 2022, "DF-GAN: A Simple and Effective Baseline for
Text-to-Image Synthesis") with a text encoder trained here, DAMSM-style (Xu et al. 2018, AttnGAN).

- :class:`TextEncoder`: word embedding + a bidirectional GRU over the caption's tokens: word
  features (B, L, 128) and a sentence vector (B, 128), 64 per GRU direction (:data:`TEXT_DIM`). :class:`ImageEncoder` is DAMSM's image side (region
  features (B, TEXT_DIM, 4, 4) and a global vector); both are trained together on the matching
  loss (``train/games/text2image.py``), then frozen. They live in G (``G.text``,
  ``G.image``), so the run's checkpoint keeps the encoder that G was trained with.
- :class:`DFGenerator`: z -> 4x4 -> upsampling blocks to R x R, each fused with the condition
  vector c by DF-GAN's deep fusion blocks (two affine transformations of the features,
  gamma(c) * h + beta(c), with LeakyReLU between). c is the sentence vector (text), or the
  scene's one-hot attribute vector for the oracle (``data.name=digit_scenes_attributes``).
- :class:`DFDiscriminator`: residual downsampling to 4x4 features, then DF-GAN's conditional
  head on [features; c replicated over 4x4]. ``D(x, c)`` -> logits (B,); the matching-aware
  gradient penalty takes gradients with respect to both x and c.

``model.g_width`` / ``model.d_width``: channels next to the image (x2 per halving up to 8x, as dcgan).
"""

from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from ..config import ModelConfig
from ..errors import GanforgeError
from .base import register_model

TEXT_DIM = 128  # sentence vector and word features (2 x 64, the two GRU directions)
EMBED_DIM = 64


class TextEncoder(nn.Module):
    """tokens, mask (B, L) -> word features (B, L, TEXT_DIM) (zero on padding) and the sentence
    vector (B, TEXT_DIM): the last states of both GRU directions, concatenated."""

    def __init__(self, vocab: int):
        super().__init__()
        self.embed = nn.Embedding(vocab, EMBED_DIM, padding_idx=0)
        self.rnn = nn.GRU(EMBED_DIM, TEXT_DIM // 2, batch_first=True, bidirectional=True)

    def forward(self, tokens: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        L = tokens.shape[1]
        lengths = mask.sum(1).clamp(min=1).cpu()
        packed = pack_padded_sequence(self.embed(tokens), lengths, batch_first=True, enforce_sorted=False)
        out, h_n = self.rnn(packed)  # h_n (2, B, H)
        words, _ = pad_packed_sequence(out, batch_first=True, total_length=L)  # (B, L, 2H)
        return words, torch.cat([h_n[0], h_n[1]], 1)


class ImageEncoder(nn.Module):
    """DAMSM's image side: x (B, 3, R, R) -> regions (B, 16, TEXT_DIM) (a 4x4 grid) and a global
    vector (B, TEXT_DIM)."""

    def __init__(self, resolution: int, width: int = 32):
        super().__init__()
        layers, ch, r = [], 3, resolution
        while r > 4:
            layers += [nn.Conv2d(ch, width, 4, 2, 1), nn.BatchNorm2d(width), nn.LeakyReLU(0.2)]
            ch, width, r = width, min(2 * width, 256), r // 2
        self.trunk = nn.Sequential(*layers)
        self.local = nn.Conv2d(ch, TEXT_DIM, 1)
        self.globl = nn.Linear(ch * 16, TEXT_DIM)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        h = self.trunk(x)  # (B, ch, 4, 4)
        return self.local(h).flatten(2).transpose(1, 2), self.globl(h.flatten(1))


class Affine(nn.Module):
    """gamma(c) * h + beta(c), per channel; starts as the identity (DF-GAN's initialisation)."""

    def __init__(self, cond_dim: int, ch: int):
        super().__init__()
        self.gamma = nn.Sequential(nn.Linear(cond_dim, ch), nn.ReLU(), nn.Linear(ch, ch))
        self.beta = nn.Sequential(nn.Linear(cond_dim, ch), nn.ReLU(), nn.Linear(ch, ch))
        nn.init.zeros_(self.gamma[2].weight), nn.init.ones_(self.gamma[2].bias)
        nn.init.zeros_(self.beta[2].weight), nn.init.zeros_(self.beta[2].bias)

    def forward(self, h: Tensor, c: Tensor) -> Tensor:
        return self.gamma(c)[:, :, None, None] * h + self.beta(c)[:, :, None, None]


class Fusion(nn.Module):
    """DF-GAN's deep fusion block: affine, LeakyReLU, affine, LeakyReLU. ``norm``: batch-normalise
    the features (no learnt scale: the affine is it) before the first affine, which makes the
    block BigGAN's conditional batch norm."""

    def __init__(self, cond_dim: int, ch: int, norm: bool = False):
        super().__init__()
        self.norm = nn.BatchNorm2d(ch, affine=False) if norm else nn.Identity()
        self.a0, self.a1 = Affine(cond_dim, ch), Affine(cond_dim, ch)

    def forward(self, h: Tensor, c: Tensor) -> Tensor:
        return F.leaky_relu(self.a1(F.leaky_relu(self.a0(self.norm(h), c), 0.2), c), 0.2)


class GBlock(nn.Module):
    """Upsample x2, then fusion -> conv3x3 -> fusion -> conv3x3, plus a (1x1) shortcut."""

    def __init__(self, cin: int, cout: int, cond_dim: int, norm: bool = False):
        super().__init__()
        self.f1, self.c1 = Fusion(cond_dim, cin, norm), nn.Conv2d(cin, cout, 3, 1, 1)
        self.f2, self.c2 = Fusion(cond_dim, cout, norm), nn.Conv2d(cout, cout, 3, 1, 1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, h: Tensor, c: Tensor) -> Tensor:
        h = F.interpolate(h, scale_factor=2)
        return self.skip(h) + self.c2(self.f2(self.c1(self.f1(h, c)), c))


def _channels(width: int, resolution: int) -> list[int]:
    """Channels from 4x4 up to R x R: width x 2^k at 1/2^k of R, at most 8 width."""
    sizes, r = [], resolution
    while r >= 4:
        sizes.append(r)
        r //= 2
    return [width * min(2 ** i, 8) for i in range(len(sizes))][::-1]  # 4x4 first


class DFGenerator(nn.Module):
    """z (B, z_dim), c (B, cond_dim) -> images (B, 3, R, R) in [-1, 1]. ``norm``: batch norm in
    every fusion block (``model.g_norm=batch``)."""

    def __init__(self, z_dim: int, cond_dim: int, width: int, resolution: int, channels: int = 3,
                 norm: bool = False):
        super().__init__()
        chs = _channels(width, resolution)
        self.fc = nn.Linear(z_dim, chs[0] * 16)
        self.blocks = nn.ModuleList(GBlock(a, b, cond_dim, norm) for a, b in zip(chs, chs[1:]))
        # no tanh: the scenes' black background sits at -1, tanh's asymptote, and G chasing it there saturated every
        # pixel within 50 steps (all-black images, no gradient left); a linear output keeps the gradient
        self.to_rgb = nn.Sequential(nn.LeakyReLU(0.2), nn.Conv2d(chs[-1], channels, 3, 1, 1))
        self.c0 = chs[0]

    def forward(self, z: Tensor, c: Tensor) -> Tensor:
        h = self.fc(z).view(len(z), self.c0, 4, 4)
        for block in self.blocks:
            h = block(h, c)
        return self.to_rgb(h)


class DBlock(nn.Module):
    """DF-GAN's D block: conv4x4/2 -> LeakyReLU -> conv3x3 -> LeakyReLU, gamma-scaled, plus an
    average-pooled (1x1) shortcut."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.res = nn.Sequential(nn.Conv2d(cin, cout, 4, 2, 1), nn.LeakyReLU(0.2),
                                 nn.Conv2d(cout, cout, 3, 1, 1), nn.LeakyReLU(0.2))
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()
        self.gamma = nn.Parameter(torch.zeros(1))

    def forward(self, h: Tensor) -> Tensor:
        return F.avg_pool2d(self.skip(h), 2) + self.gamma * self.res(h)


class DFDiscriminator(nn.Module):
    """x (B, 3, R, R), c (B, cond_dim) -> logits (B,): residual blocks down to 4x4, then the
    conditional head conv3x3([h; c]) -> LeakyReLU -> conv4x4 (DF-GAN's), or with ``projection``
    (``model.d_cond=projection``, Miyato & Koyama 2018) that head plus <W c, sum_xy h>, a term
    that rewards an image's features for agreeing with the condition directly."""

    def __init__(self, cond_dim: int, width: int, resolution: int, channels: int = 3, projection: bool = False):
        super().__init__()
        chs = _channels(width, resolution)[::-1]  # R x R first
        self.stem = nn.Conv2d(channels, chs[0], 3, 1, 1)
        self.blocks = nn.Sequential(*(DBlock(a, b) for a, b in zip(chs, chs[1:])))
        self.head = nn.Sequential(nn.Conv2d(chs[-1] + cond_dim, 2 * width, 3, 1, 1), nn.LeakyReLU(0.2),
                                  nn.Conv2d(2 * width, 1, 4, 1, 0))
        self.project = nn.Linear(cond_dim, chs[-1], bias=False) if projection else None

    def features(self, x: Tensor) -> Tensor:
        return self.blocks(self.stem(x))  # (B, 8 width, 4, 4)

    def logits(self, h: Tensor, c: Tensor) -> Tensor:
        out = self.head(torch.cat([h, c[:, :, None, None].expand(-1, -1, 4, 4)], 1)).flatten()  # (B,)
        if self.project is not None:
            out = out + (self.project(c) * F.leaky_relu(h, 0.2).sum((2, 3))).sum(1)  # (B,)
        return out

    def forward(self, x: Tensor, c: Tensor) -> Tensor:
        return self.logits(self.features(x), c)


class TextToImageG(nn.Module):
    """G(z, y): y a TextBatch (texts, through the frozen :class:`TextEncoder`) or attribute
    vectors (B, A) (the oracle) -> images (B, 3, R, R) in [-1, 1]. ``text``/``image``: the
    DAMSM encoders (None for the oracle)."""

    def __init__(self, synth: DFGenerator, text: Optional[TextEncoder], image: Optional[ImageEncoder]):
        super().__init__()
        self.synth, self.text, self.image = synth, text, image

    def condition(self, y) -> Tensor:
        """The condition vector c (B, cond_dim): the sentence vector, or the attributes as they are."""
        if self.text is None:
            return y.float()
        return self.text(y.tokens, y.mask)[1]

    def forward(self, z: Tensor, y) -> Tensor:
        if y is None:
            raise GanforgeError("model.name=dfgan draws every image from a text (or attribute vector); give one")
        return self.synth(z, self.condition(y))

    def generator_parameters(self):
        return self.synth.parameters()

    def encoder_parameters(self):
        return [p for m in (self.text, self.image) if m is not None for p in m.parameters()]


@register_model(kinds=("image",), game="text_to_image", resolutions=(16, 128), condition_kinds=("text", "attributes"),
                g_norms=("default", "none", "batch"), d_conds=("concat", "projection"))
def dfgan(cfg: ModelConfig, shape: tuple, n_classes: int = 0, condition=None) -> tuple[nn.Module, nn.Module]:
    """DF-GAN for R x R RGB images conditioned on text (a ``text`` condition: its vocabulary) or
    on attribute vectors (an ``attributes`` condition: their width)."""
    if condition is None or condition.kind not in ("text", "attributes"):
        raise GanforgeError("model.name=dfgan is conditioned on captions: use data.name=digit_scenes (or captioned, "
                            "or digit_scenes_attributes for the one-hot oracle) with model.conditional=true")
    r = shape[1]
    text = condition.kind == "text"
    cond_dim = TEXT_DIM if text else condition.size
    G = TextToImageG(DFGenerator(cfg.z_dim, cond_dim, cfg.g_width, r, shape[0], norm=cfg.g_norm == "batch"),
                     TextEncoder(condition.size) if text else None, ImageEncoder(r) if text else None)
    D = DFDiscriminator(cond_dim, cfg.d_width, r, shape[0], projection=cfg.d_cond == "projection")
    return G, D
