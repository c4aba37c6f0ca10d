"""SpecGAN (Donahue, McAuley and Puckette 2019, section 4): a DCGAN on log-magnitude spectrograms,
turned into sound with Griffin-Lim.

The audio kind's samples are waveforms (B, L, 1), so SpecGAN sits between two fixed,
differentiable front ends (``data/kinds/audio_spectral.py``, ``torch.stft``):

- G: z (B, z_dim) [+ class embedding] -> dense -> (8d, 4, 4) -> 2-D transposed convolutions
  (kernel 5, stride 2, ReLU, the last tanh) -> a normalised log-magnitude spectrogram S in
  [-1, 1], (B, 1, F, frames) -> magnitude exp(S * range + floor) -> a waveform by Griffin-Lim
  (16 iterations, the paper's count) -> (B, L, 1). The phase Griffin-Lim finds is held constant in
  the backward pass, so G's gradient reaches S through one inverse STFT, not through the iterations.
- D: waveform -> the same normalised log-magnitude spectrogram -> 2-D convolutions (kernel 5,
  stride 2, leaky ReLU 0.2) -> dense -> logits (B,); conditional: a projection term.

The paper normalises each frequency bin by the training set's mean and standard deviation; here
the log-magnitude is mapped to [-1, 1] over a fixed range (``DB_RANGE``), so the model needs no
statistics of the data. STFT: hop h = 2^round(log2(L / 64)) (about 64 frames, as the paper's
128 frames of 16,384 samples), window 2h, the Nyquist bin dropped, so F = h: 64 x 64 at 4 kHz
(4,000 samples), 128 x 64 at 8 kHz.
"""

from __future__ import annotations

import math
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..config import ModelConfig
from ..data.kinds.audio_spectral import DB_RANGE, EPS, griffin_lim, stft
from .base import register_model

GL_ITERS = 16  # Griffin-Lim iterations (the paper's)


def spec_size(length: int) -> tuple[int, int, int]:
    """(hop, bins, frames) of a clip of ``length`` samples: about 64 frames, ``bins = hop``; frames
    rounded up to a multiple of 16 (four halvings in D)."""
    hop = 1 << max(3, int(round(math.log2(length / 64))))
    frames = 1 + length // hop
    return hop, hop, -(-frames // 16) * 16


def to_spec(x: Tensor, length: int) -> Tensor:
    """Waveforms (B, L, 1) -> normalised log-magnitude (B, 1, bins, frames) in about [-1, 1]."""
    hop, bins, frames = spec_size(length)
    mag = stft(x.flatten(1), 2 * hop, hop).abs()[:, :bins]  # (B, bins, 1 + L // hop)
    lo, hi = DB_RANGE
    s = 2 * (torch.log(mag + EPS) - lo) / (hi - lo) - 1
    return F.pad(s, (0, frames - s.shape[2]), value=-1.0).unsqueeze(1)


def from_spec(s: Tensor, length: int, seed: int = 0) -> Tensor:
    """Normalised log-magnitude (B, 1, bins, frames) -> waveforms (B, L, 1) by Griffin-Lim, its
    phase held constant in the backward pass."""
    hop, bins, _ = spec_size(length)
    lo, hi = DB_RANGE
    n = 1 + length // hop
    mag = torch.exp((s[:, 0, :, :n] + 1) / 2 * (hi - lo) + lo) - EPS  # (B, bins, n)
    mag = F.pad(mag.clamp_min(0), (0, 0, 0, 1))  # the Nyquist bin back, at 0: (B, bins + 1, n)
    with torch.no_grad():
        wave = griffin_lim(mag.detach().float(), 2 * hop, hop, length, iters=GL_ITERS, seed=seed)
        phase = stft(wave, 2 * hop, hop)
        phase = phase / (phase.abs() + 1e-16)
    return torch.istft(mag * phase, 2 * hop, hop, window=torch.hann_window(2 * hop, device=mag.device),
                       center=True, length=length).unsqueeze(2)


class SpecGANGenerator(nn.Module):
    """z (B, z_dim) [, y (B,)] -> clips (B, L, 1): a spectrogram inverted by Griffin-Lim."""

    def __init__(self, length: int, z_dim: int, d: int, n_classes: int = 0):
        super().__init__()
        self.length = length
        _, bins, frames = spec_size(length)
        self.ups = int(math.log2(min(bins, frames) // 4))  # halvings back to a 4-row start
        self.h0, self.w0, self.top = bins >> self.ups, frames >> self.ups, d * 2 ** (self.ups - 1)
        self.embed = nn.Embedding(n_classes, z_dim) if n_classes else None
        self.fc = nn.Linear(z_dim * (2 if n_classes else 1), self.top * self.h0 * self.w0)
        layers, c = [], self.top
        for i in range(self.ups):
            out = 1 if i == self.ups - 1 else c // 2
            layers += [nn.ConvTranspose2d(c, out, 5, 2, padding=2, output_padding=1),
                       nn.Tanh() if i == self.ups - 1 else nn.ReLU()]
            c = out
        self.net = nn.Sequential(*layers)

    def spectrogram(self, z: Tensor, y: Optional[Tensor] = None) -> Tensor:
        """The normalised log-magnitude (B, 1, bins, frames) in [-1, 1]."""
        if self.embed is not None:
            z = torch.cat([z, self.embed(y)], dim=1)
        return self.net(F.relu(self.fc(z)).view(-1, self.top, self.h0, self.w0))

    def forward(self, z: Tensor, y: Optional[Tensor] = None) -> Tensor:
        return from_spec(self.spectrogram(z, y), self.length)


class SpecGANDiscriminator(nn.Module):
    """Clips (B, L, 1) [, y (B,)] -> logits (B,), judged on their normalised log-magnitude."""

    def __init__(self, length: int, d: int, n_classes: int = 0):
        super().__init__()
        self.length = length
        _, bins, frames = spec_size(length)
        downs = int(math.log2(min(bins, frames) // 4))
        layers, c = [], 1
        for i in range(downs):
            out = d * 2**i
            layers += [nn.Conv2d(c, out, 5, 2, padding=2), nn.LeakyReLU(0.2)]
            c = out
        self.net = nn.Sequential(*layers)
        self.features = c * (bins >> downs) * (frames >> downs)
        self.head = nn.Linear(self.features, 1)
        self.proj = nn.Embedding(n_classes, self.features) if n_classes else None

    def forward(self, x: Tensor, y: Optional[Tensor] = None) -> Tensor:
        h = self.net(to_spec(x, self.length)).flatten(1)
        logits = self.head(h).squeeze(1)
        if self.proj is not None:
            logits = logits + (self.proj(y) * h).sum(1) / math.sqrt(self.features)
        return logits


@register_model(kinds=("audio",), d_conds=("projection",))
def specgan(cfg: ModelConfig, shape: tuple, n_classes: int = 0) -> tuple[nn.Module, nn.Module]:
    """SpecGAN: 2-D G of width ``model.g_width`` (the paper's d = 64) and D of ``model.d_width``."""
    return (SpecGANGenerator(shape[0], cfg.z_dim, cfg.g_width, n_classes),
            SpecGANDiscriminator(shape[0], cfg.d_width, n_classes))
