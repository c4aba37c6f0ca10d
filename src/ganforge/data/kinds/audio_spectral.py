"""Spectrograms and their inversion, written with ``torch.stft`` (no torchaudio).

torchaudio has no wheel for torch 2.13 (its last release pairs with torch 2.11), and ganforge
pins neither; the short-time Fourier transform, the log-magnitude spectrogram and Griffin-Lim
are a few lines of torch each, so they are written here.

- :func:`magnitude`: |STFT| of waveforms (B, L) -> (B, n_fft/2 + 1, frames), Hann window, centred;
- :func:`log_spectrogram`: ``log(|STFT| + eps)`` (B, F, frames); :func:`spectrogram_image`
  maps it to [0, 1] for pictures and the digit classifier (a fixed range, so that loud and quiet
  clips stay comparable);
- :func:`griffin_lim`: a waveform whose STFT magnitude approaches a given one (Griffin and Lim
  1984), with the momentum of Perraudin et al. 2013 (``fast Griffin-Lim``), as SpecGAN inverts
  its spectrograms (Donahue et al. 2019 use 16 iterations; the default here is 32).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

EPS = 1e-5  # floor of the log-magnitude (about -100 dB)
DB_RANGE = (math.log(EPS), math.log(64.0))  # log-magnitude mapped to [0, 1] in pictures and the classifier


def _window(n_fft: int, device=None) -> Tensor:
    return torch.hann_window(n_fft, periodic=True, dtype=torch.float32, device=device)


def stft(x: Tensor, n_fft: int, hop: int) -> Tensor:
    """Complex STFT of waveforms (B, L) -> (B, n_fft // 2 + 1, 1 + L // hop)."""
    return torch.stft(x.float(), n_fft, hop, window=_window(n_fft, x.device), center=True, pad_mode="reflect",
                      return_complex=True)


def istft(spec: Tensor, n_fft: int, hop: int, length: int) -> Tensor:
    """The inverse of :func:`stft`: (B, F, frames) complex -> (B, length)."""
    return torch.istft(spec, n_fft, hop, window=_window(n_fft, spec.device), center=True, length=length)


def magnitude(x: Tensor, n_fft: int = 256, hop: int = 128) -> Tensor:
    """|STFT| (B, n_fft // 2 + 1, frames) of waveforms (B, L)."""
    return stft(x, n_fft, hop).abs()


def log_spectrogram(x: Tensor, n_fft: int = 256, hop: int = 128) -> Tensor:
    """log(|STFT| + eps) of waveforms (B, L): (B, F, frames)."""
    return torch.log(magnitude(x, n_fft, hop) + EPS)


def spectrogram_image(x: Tensor, n_fft: int = 256, hop: int = 128) -> Tensor:
    """Waveforms (B, L) -> log-magnitude pictures (B, 1, F, frames) in [0, 1], low frequencies at
    the bottom (row 0 is the highest frequency), over the fixed range :data:`DB_RANGE`."""
    lo, hi = DB_RANGE
    s = ((log_spectrogram(x, n_fft, hop) - lo) / (hi - lo)).clamp(0, 1)
    return s.flip(1).unsqueeze(1)


def griffin_lim(mag: Tensor, n_fft: int, hop: int, length: int, iters: int = 32, momentum: float = 0.99,
                seed: int = 0) -> Tensor:
    """A waveform (B, length) whose STFT magnitude approaches ``mag`` (B, F, frames): alternate
    projections between consistent spectrograms and the given magnitude, from a random phase
    drawn from ``seed``, with fast Griffin-Lim's momentum ``momentum`` (0: the original)."""
    gen = torch.Generator().manual_seed(seed)
    phase = torch.rand(mag.shape, generator=gen).to(mag.device) * 2 * math.pi
    angles = torch.polar(torch.ones_like(mag), phase)
    prev = torch.zeros_like(angles)
    for _ in range(iters):
        rebuilt = stft(istft(mag * angles, n_fft, hop, length), n_fft, hop)
        angles = rebuilt - (momentum / (1 + momentum)) * prev if momentum else rebuilt
        prev = rebuilt
        angles = angles / (angles.abs() + 1e-16)
    return istft(mag * angles, n_fft, hop, length)


def spectral_convergence(x: Tensor, y: Tensor, n_fft: int = 256, hop: int = 128) -> float:
    """|| |S(x)| - |S(y)| ||_F / || |S(x)| ||_F: how far ``y``'s magnitude is from ``x``'s (both (B, L))."""
    mx, my = magnitude(x, n_fft, hop), magnitude(y, n_fft, hop)
    return float((mx - my).norm() / mx.norm().clamp_min(1e-12))
