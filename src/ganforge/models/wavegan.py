"""WaveGAN (Donahue, McAuley and Puckette 2019, "Adversarial Audio Synthesis"): DCGAN flattened to
one dimension for raw waveforms.

G: z (B, z_dim) [+ a class embedding, concatenated] -> dense -> (B, 16d, b) -> five transposed
convolutions (kernel 25, stride 4; ReLU, the last tanh) -> (B, 1, 1024 b) -> the first L samples,
(B, L, 1) in [-1, 1]. The paper's b is 16 (16,384 samples, about 1 s at 16 kHz); here b =
ceil(L / 1024), so any clip length builds (16,000 samples at 16 kHz: b = 16; 8,000 at 8 kHz: b = 8).
d = ``model.g_width`` (the paper's 64).

D: the mirror: (B, L, 1) zero-padded to 1024 b -> five convolutions (kernel 25, stride 4, leaky
ReLU 0.2), each but the last followed by **phase shuffle** -> dense -> logits (B,). d =
``model.d_width``. Phase shuffle (the paper's section 3.3) shifts each example's feature maps by a
random k in [-n, n] samples, filling the edge by reflection, so that D cannot key on the exact phase
of the periodic artefacts that transposed convolutions leave (n = 2 in the paper: WaveGAN's best).
No batch norm; the paper trains with WGAN-GP (``loss.name=wgan_gp``, 5 D steps per G step, Adam
1e-4, betas (0.5, 0.9)): the ``wavegan_digits`` preset. Conditional: a projection term
<embed(y), h> on D's last features (Miyato and Koyama 2018).
"""

from __future__ import annotations

import math
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..config import ModelConfig
from .base import register_model

LAYERS, KERNEL, STRIDE = 5, 25, 4
PHASE_SHUFFLE = 2  # n of phase shuffle in D (the paper's best)


def phase_shuffle(x: Tensor, n: int, generator: Optional[torch.Generator] = None) -> Tensor:
    """Shift each example of ``x`` (B, C, L) along L by its own k ~ U{-n..n}, reflection-padded;
    shape kept. ``n = 0`` is the identity. The shifts come from ``generator`` (else torch's
    global generator, which the checkpoint holds, so a resumed run draws the same shifts)."""
    if n == 0:
        return x
    b, c, L = x.shape
    k = torch.randint(-n, n + 1, (b,), generator=generator).to(x.device)  # (B,)
    padded = F.pad(x, (n, n), mode="reflect")  # (B, C, L + 2n)
    idx = (torch.arange(L, device=x.device).unsqueeze(0) + n - k.unsqueeze(1))  # (B, L): out[t] = x[t - k]
    return padded.gather(2, idx.unsqueeze(1).expand(b, c, L))


class PhaseShuffle(nn.Module):
    def __init__(self, n: int):
        super().__init__()
        self.n = n

    def forward(self, x: Tensor) -> Tensor:
        return phase_shuffle(x, self.n) if self.training else x


def base_length(length: int) -> int:
    """b: the length of G's first feature map, so that 4^5 b >= length."""
    return max(1, math.ceil(length / STRIDE**LAYERS))


class WaveGANGenerator(nn.Module):
    """z (B, z_dim) [, y (B,)] -> clips (B, L, 1) in [-1, 1]."""

    def __init__(self, length: int, z_dim: int, d: int, n_classes: int = 0):
        super().__init__()
        self.length, self.b, self.top = length, base_length(length), d * 2 ** (LAYERS - 1)
        self.embed = nn.Embedding(n_classes, z_dim) if n_classes else None
        self.fc = nn.Linear(z_dim * (2 if n_classes else 1), self.top * self.b)
        layers, c = [], self.top
        for i in range(LAYERS):
            out = 1 if i == LAYERS - 1 else c // 2
            # (L_in - 1) * 4 - 2 * 11 + 25 + 1 = 4 L_in: each layer multiplies the length by 4
            layers += [nn.ConvTranspose1d(c, out, KERNEL, STRIDE, padding=11, output_padding=1),
                       nn.Tanh() if i == LAYERS - 1 else nn.ReLU()]
            c = out
        self.net = nn.Sequential(*layers)

    def forward(self, z: Tensor, y: Optional[Tensor] = None) -> Tensor:
        if self.embed is not None:
            z = torch.cat([z, self.embed(y)], dim=1)
        h = F.relu(self.fc(z)).view(-1, self.top, self.b)  # (B, 16d, b)
        return self.net(h)[:, 0, : self.length].unsqueeze(2)  # (B, 1, 1024 b) -> (B, L, 1)


class WaveGANDiscriminator(nn.Module):
    """Clips (B, L, 1) [, y (B,)] -> logits (B,), phase shuffle between its convolutions."""

    def __init__(self, length: int, d: int, n_classes: int = 0, shuffle: int = PHASE_SHUFFLE):
        super().__init__()
        self.length, self.b = length, base_length(length)
        layers, c = [], 1
        for i in range(LAYERS):
            out = d * 2**i
            layers += [nn.Conv1d(c, out, KERNEL, STRIDE, padding=11), nn.LeakyReLU(0.2)]
            if i < LAYERS - 1:
                layers.append(PhaseShuffle(shuffle))
            c = out
        self.net = nn.Sequential(*layers)
        self.features = c * self.b
        self.head = nn.Linear(self.features, 1)
        self.proj = nn.Embedding(n_classes, self.features) if n_classes else None

    def forward(self, x: Tensor, y: Optional[Tensor] = None) -> Tensor:
        x = F.pad(x.transpose(1, 2), (0, self.b * STRIDE**LAYERS - self.length))  # (B, 1, 1024 b)
        h = self.net(x).flatten(1)  # (B, 16d * b)
        logits = self.head(h).squeeze(1)  # (B,)
        if self.proj is not None:
            logits = logits + (self.proj(y) * h).sum(1) / math.sqrt(self.features)
        return logits


@register_model(kinds=("audio",), d_conds=("projection",))
def wavegan(cfg: ModelConfig, shape: tuple, n_classes: int = 0) -> tuple[nn.Module, nn.Module]:
    """WaveGAN: G of width ``model.g_width`` (the paper's d = 64), D of ``model.d_width``, phase shuffle 2."""
    length = shape[0]
    return (WaveGANGenerator(length, cfg.z_dim, cfg.g_width, n_classes),
            WaveGANDiscriminator(length, cfg.d_width, n_classes))
