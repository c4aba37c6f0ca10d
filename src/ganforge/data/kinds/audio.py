"""The audio kind: a sample is a mono clip, a sequence (L, 1) of L samples in [-1, 1] with one
feature, the amplitude: the sequence kind's layout (steps first), so the sequence machinery
(``SeriesData``'s epochs, resume state and labelled draws; its .npy files) carries over, and an
audio source (``data/audio.py``) adds its ``sample_rate``. A batch is (B, L, 1); the convolutional
models read it as (B, 1, L).

It owns writing clips as ``.wav`` (16-bit PCM, the clips back to back, provenance in the file's
LIST/INFO chunk and a sidecar: ``ganforge/wav.py``), as ``.npy`` (N, L, 1) float32, as a ``.png``
spectrogram grid, or a folder of one WAV each; reading a user's WAV/FLAC files or folders (and
ganforge's own multi-clip WAVs, split by their INFO chunk) to score or test for anomalies; the
figure, a grid of log-magnitude spectrograms (one row of real clips, then generated ones, or one
row per class); and a strided 1-D convolutional encoder trunk. Spectrograms: ``audio_spectral.py``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np
import torch
from torch import Tensor, nn

from ...errors import GanforgeError
from ...wav import Wave, read_info
from .audio_io import AUDIO_SUFFIXES, fit_length, read_sound
from .audio_spectral import spectrogram_image
from .base import Inputs, register_kind
from .sequence import SequenceKind

DEFAULT_RATE = 16000
PER_ROW = 8  # spectrograms per row of the figure


def stft_size(rate: int) -> tuple[int, int]:
    """(n_fft, hop) for a sample rate: a window of about 16 ms (a power of two), half overlapping."""
    n_fft = 1 << max(6, int(round(np.log2(rate * 0.016))))
    return n_fft, n_fft // 2


def rate_of(data) -> int:
    return int(getattr(data, "sample_rate", DEFAULT_RATE)) if data is not None else DEFAULT_RATE


def pictures(x: Tensor, rate: int) -> Tensor:
    """Clips (N, L, 1) -> spectrogram pictures (N, 3, F, frames) in [0, 1], coloured (magma)."""
    from matplotlib import colormaps

    n_fft, hop = stft_size(rate)
    s = spectrogram_image(x.detach().cpu().float().flatten(1), n_fft, hop)[:, 0]  # (N, F, frames)
    rgb = colormaps["magma"](s.numpy())[..., :3]  # (N, F, frames, 3)
    return torch.from_numpy(rgb.astype(np.float32)).permute(0, 3, 1, 2)


def spectrogram_grid(x: Tensor, rate: int, rows: Optional[list[str]] = None, title: str = ""):
    """A PIL picture of clips (N, L, 1): their spectrograms, :data:`PER_ROW` a row (or N / len(rows)
    a row, each row named), scaled up to at least 64 pixels a tile."""
    from ...files import grid_image, label_rows

    per = len(x) // len(rows) if rows else min(PER_ROW, len(x))
    img = grid_image(pictures(x, rate), nrow=max(1, per), scale=1).convert("RGB")
    if img.height < 200:
        k = max(1, 200 // img.height)
        img = img.resize((img.width * k, img.height * k))
    if rows:
        img = label_rows(img, rows)
    if title:
        from PIL import Image, ImageDraw

        out = Image.new("RGB", (img.width, img.height + 14), (255, 255, 255))
        out.paste(img, (0, 14))
        ImageDraw.Draw(out).text((4, 1), title, fill=(0, 0, 0))
        img = out
    return img


class ConvTrunk(nn.Module):
    """x (B, L, 1) -> (B, width): strided 1-D convolutions (stride 4), then a mean over time."""

    def __init__(self, length: int, width: int):
        super().__init__()
        layers, c, n = [], 1, length
        for i in range(5):
            out = min(width, 16 * 2**i)
            layers += [nn.Conv1d(c, out, 25, stride=4, padding=11), nn.LeakyReLU(0.2)]
            c, n = out, (n + 3) // 4
            if n < 8:
                break
        self.net, self.head = nn.Sequential(*layers), nn.Linear(c, width)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.net(x.transpose(1, 2)).mean(2))


class AudioKind(SequenceKind):
    name = "audio"
    default_model = "wavegan"
    game = "noise_to_data"
    default_dataset = "sounds"
    demo_data = {"name": "speech_digits", "limit": 40, "sample_rate": 8000}  # generated: a few clips, quickly
    evaluator = "audio"
    suffixes = (".wav", ".npy", ".png")
    task = "audio-generation"
    conditional_task = "class-conditional-audio-generation"
    figure_n = 64

    def describe(self, shape: tuple) -> str:
        return f"mono audio clips of {shape[0]} samples"

    def check_shape(self, data, x: Tensor, where: str) -> Tensor:
        want = tuple(data.shape)
        if tuple(x.shape[1:]) != want or len(x) == 0:
            raise GanforgeError(f"{where}: clips of shape {tuple(x.shape)}; this run's are (N, {want[0]}, 1)")
        return x.float()

    def check_suffix(self, out: str, is_dir: bool, offered: tuple = ()) -> None:
        """Audio runs write FILE.wav, FILE.npy, GRID.png (spectrograms) or DIR/ (one WAV each)."""
        if is_dir:
            return
        suffix = Path(out).suffix
        if suffix not in self.suffixes:
            files = " or ".join(f"FILE{s}" for s in self.suffixes if not offered or s in offered)
            raise GanforgeError(f"--out {out}: audio runs write {files} or DIR/ (one WAV each), "
                                f"not {suffix or 'a file without suffix'}")

    def content(self, x: Tensor, suffix: str, data=None, labels: Optional[Tensor] = None):
        """.wav: the clips back to back (a :class:`~ganforge.wav.Wave`); .npy: float32 (N, L, 1);
        .png: the spectrogram grid (3, H, W) in [0, 1]."""
        if suffix == ".wav":
            return Wave(x.detach().cpu().float().flatten().numpy(), rate_of(data), len(x))
        if suffix == ".png":
            img = spectrogram_grid(x, rate_of(data))
            return torch.from_numpy(np.asarray(img, dtype=np.float32) / 255).permute(2, 0, 1)
        return x.float().numpy()

    def folder_items(self, x: Tensor, data=None, prov: Optional[dict] = None):
        """``DIR/``: one WAV per clip."""
        return ((f"{i:06d}.wav", Wave(c.detach().cpu().float().flatten().numpy(), rate_of(data)))
                for i, c in enumerate(x))

    def sound(self, x: Tensor, data=None):
        """The clips back to back, to listen to (the report's players)."""
        return self.content(x, ".wav", data)

    def _read_file(self, data, path: Path) -> list[np.ndarray]:
        x = read_sound(path, rate_of(data))
        if x is None:
            raise GanforgeError(f"--data {path}: not a readable audio file (WAV, FLAC or OGG)")
        L = data.shape[0]
        clips = int(read_info(path).get("provenance", {}).get("clips", 1)) if path.suffix.lower() == ".wav" else 1
        if clips > 1 and len(x) == clips * L:  # a WAV ganforge wrote: its clips back to back
            return list(x.reshape(clips, L))
        return [fit_length(x, L)]

    def read_inputs(self, data, path: Path, resize: bool = False) -> Inputs:
        """Clips of the run's length: a WAV/FLAC/OGG file (always resampled, cut or padded to the
        run's rate and length, as the run read its own clips; a ganforge WAV of several clips gives
        each), a folder of them, or a .npy (N, L, 1) (``resize``: longer ones cut into clips)."""
        path = Path(path)
        if path.suffix == ".npy":
            return super().read_inputs(data, path, resize)
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES)
            if not files:
                raise GanforgeError(f"--data {path}: a folder with no WAV, FLAC or OGG file")
        elif path.is_file():
            if path.suffix.lower() not in AUDIO_SUFFIXES:
                raise GanforgeError(f"--data {path}: an audio run reads WAV/FLAC/OGG files, a folder of them or a .npy")
            files = [path]
        else:
            raise GanforgeError(f"--data {path}: no such file or folder")
        clips, names = [], []
        for f in files:
            got = self._read_file(data, f)
            clips += got
            names += [f.name] if len(got) == 1 else [f"{f.name}#{i}" for i in range(len(got))]
        x = torch.from_numpy(np.stack(clips).astype(np.float32)).unsqueeze(2)
        return Inputs(self.check_shape(data, x, f"--data {path}"), names)

    def from_array(self, arr: np.ndarray, where: str) -> Tensor:
        """(N, L) or (N, L, 1) waveforms in [-1, 1] -> float32 (N, L, 1)."""
        if arr.dtype.kind not in "fiu" or len(arr.shape) not in (2, 3) or (len(arr.shape) == 3 and arr.shape[2] != 1):
            raise GanforgeError(f"{where}: clips are (N, L) or (N, L, 1) waveforms; found shape {tuple(arr.shape)}")
        return torch.from_numpy(arr.astype(np.float32).reshape(len(arr), -1, 1))

    def data_settings(self, x: Tensor) -> dict:
        return {}

    def figure(self, fake: Tensor, data=None, seed: int = 0, title: str = "", rows: Optional[list[str]] = None):
        """Spectrograms: with ``rows``, one row per condition; else a row of real clips (from
        ``data.reference``) above the generated ones."""
        rate = rate_of(data)
        if rows or data is None:
            return spectrogram_grid(fake, rate, rows, title)
        n = min(PER_ROW, len(fake))
        real = data.reference(n, seed)
        k = min(len(fake), 3 * n) // n  # rows of generated clips
        if len(real) < n or k == 0:
            return spectrogram_grid(fake, rate, None, title)
        names = ["real"] + ["generated"] * k
        return spectrogram_grid(torch.cat([real[:n], fake[: k * n]]), rate, names, title)

    def encoder_trunk(self, shape: tuple, width: int) -> tuple[nn.Module, int]:
        """Strided 1-D convolutions over the clip: (B, L, 1) -> (B, 4 width)."""
        return ConvTrunk(shape[0], 4 * width), 4 * width


AUDIO = register_kind(AudioKind())
