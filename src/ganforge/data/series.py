"""Sequences: ``data.name=sines``, ``basicmotions``, ``macro`` and ``series`` (the user's file).

One sample is a sequence of shape (T, F): T time steps, F features, steps first (as a GRU
reads them with ``batch_first=True``); a batch is (B, T, F). Readers live in ``kinds/sequence_io.py``.

Scaling (as TimeGAN's ``timegan.py`` does before training): model space is each feature
min-max scaled to [0, 1] over all sequences and steps, ``(x - min) / (max - min)``; ``loc`` =
min and ``scale`` = max - min, both (1, F), so :meth:`decode` inverts it exactly. A constant
feature gets scale 1 and so is 0 in model space (kept, not refused). Data space is the values
as read: for ``sines``, TimeGAN's values in [0, 1].

Datasets and their windows (``data.window`` / ``data.stride`` override the defaults):

- ``sines``: 10,000 sequences, T = 24 (``data.window`` sets T; no stride), F = 5, generated
  with seed :data:`DATA_SEED` whatever the run's seed, so every run trains on the same set;
- ``basicmotions``: UEA BasicMotions (the copy bundled in sktime or aeon; 80 recordings of 100 steps,
  6 channels, 4 labelled activities), each recording cut into windows of 24 steps, stride 8:
  800 labelled sequences (n_classes = 4);
- ``macro``: statsmodels' US macrodata (203 quarters x 12 columns), windows of 24 quarters,
  stride 1 (as TimeGAN windows its stock and energy series): 180 sequences, unlabelled;
- ``series``: ``data.path`` a .npy or .csv (:func:`~ganforge.data.kinds.sequence_io.load_series`),
  ``data.target`` a label column in the long format.
"""

from __future__ import annotations

from typing import Optional

import numpy as np
import torch
from torch import Tensor

from ..config import DataConfig
from ..errors import GanforgeError
from ..conditions import ClassIds
from .base import DataSource, Finite, Normalized, register_dataset
from .kinds.sequence import SEQUENCE
from .sampling import EpochSampler
from .kinds.sequence_io import SINES, bundled_windows, load_series, sine_sequences

DATA_SEED = 0  # the generated sines are the same set for every run and seed
WINDOWS = {"basicmotions": (24, 8), "macro": (24, 1)}  # dataset -> default (window, stride)


def minmax(x: Tensor) -> tuple[Tensor, Tensor]:
    """Per-feature (loc, scale), each (1, F), of sequences (N, T, F): min and max - min over
    sequences and steps; a constant feature gets scale 1 (it maps to 0)."""
    flat = x.reshape(-1, x.shape[-1])  # (N * T, F)
    lo, hi = flat.min(0).values, flat.max(0).values
    span = hi - lo
    return lo.unsqueeze(0), torch.where(span > 0, span, torch.ones_like(span)).unsqueeze(0)


class SeriesData(Normalized, DataSource, Finite):
    """Equal-length sequences held in memory, served in reshuffled epochs.

    ``x`` (N, T, F) float32 in data space; ``labels`` (N,) int64 or None, indices into
    ``classes`` (their names, sorted), the class ids of its condition spec; ``features`` the F feature names; ``info`` what the
    reader reports (windowing, constant features). ``shape`` = (T, F). Measured by the
    ``series`` evaluator (``metrics/series.py``).
    """

    kind = SEQUENCE  # what one sample is (data/kinds)
    evaluator = "series"
    metric_space = "scaled"  # the series evaluator scores per-feature [0, 1] values ("data": as read)

    def __init__(self, x: np.ndarray, labels: Optional[list], seed: int, features: list[str],
                 info: Optional[dict] = None):
        self.x = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))  # (N, T, F)
        self.loc, self.scale = minmax(self.x)
        self.shape = tuple(self.x.shape[1:])
        self.features = list(features)
        self.info = dict(info or {})
        self.classes = sorted(set(labels)) if labels is not None else []
        self.labels = torch.tensor([self.classes.index(v) for v in labels], dtype=torch.int64) \
            if labels is not None else None
        self.condition_spec = ClassIds(len(self.classes), names=[str(c) for c in self.classes]) \
            if self.classes else None
        self.seed = seed
        self.order = EpochSampler(len(self.x), seed)
        self.served: Optional[Tensor] = None  # the encoded sequences held on a device, or None

    def sample(self, n: int) -> tuple[Tensor, Optional[Tensor]]:
        """The next batch: x (n, T, F) in model space ([0, 1] per feature), labels (n,) or None."""
        idx = self.order.next(n)
        y = self.labels[idx] if self.labels is not None else None
        if self.served is not None:
            return self.served[idx.to(self.served.device)], (y.to(self.served.device) if y is not None else None)
        return self.encode(self.x[idx]), y

    def labelled(self, n: int, seed: int) -> tuple[Tensor, Optional[Tensor]]:
        """min(n, N) distinct real sequences in data space (m, T, F) and their labels (m,) or None,
        drawn with a generator seeded with ``seed``."""
        idx = torch.randperm(len(self.x), generator=torch.Generator().manual_seed(seed))[:n]
        return self.x[idx], (self.labels[idx] if self.labels is not None else None)

    def reference(self, n: int, seed: int) -> Tensor:
        """min(n, N) distinct real sequences in data space, (m, T, F): no repeats, so a
        discriminative score's train and test splits never share a sequence."""
        return self.labelled(n, seed)[0]

    def keep_first(self, n: int) -> None:
        self.x = self.x[:n]
        self.labels = self.labels[:n] if self.labels is not None else None
        self.order = EpochSampler(len(self.x), self.seed)
        self.served = None

    def nbytes(self) -> int:
        return self.x.numel() * self.x.element_size()

    def hold_on(self, device: torch.device) -> None:
        self.served = self.encode(self.x).to(device)

    def state_dict(self) -> dict:
        return self.order.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.order.load_state_dict(state)


def _bundled_source(name: str, cfg: DataConfig, seed: int) -> SeriesData:
    window, stride = cfg.window or WINDOWS[name][0], cfg.stride or WINDOWS[name][1]
    cut, ys, features, n_series = bundled_windows(name, window, stride)
    return SeriesData(cut, ys, seed, features, {"format": "bundled", "window": window, "stride": stride,
                                                "n_series": n_series})


@register_dataset(SEQUENCE)
def sines(cfg: DataConfig, seed: int) -> SeriesData:
    """TimeGAN's sines: 10,000 sequences of 24 steps (``data.window``), 5 features."""
    length = cfg.window or SINES["length"]
    x = sine_sequences(SINES["n"], length, SINES["features"], DATA_SEED)
    data = SeriesData(x, None, seed, [f"sine{i}" for i in range(SINES["features"])],
                      {"format": "generated", "window": length, "stride": 0, "n_series": SINES["n"]})
    data.metric_space = "data"  # TimeGAN scores its sines as generated, in [0, 1]
    return data


@register_dataset(SEQUENCE)
def basicmotions(cfg: DataConfig, seed: int) -> SeriesData:
    """UEA BasicMotions (sktime's bundled copy): 6 channels, 4 activities; windows of 24, stride 8."""
    return _bundled_source("basicmotions", cfg, seed)


@register_dataset(SEQUENCE)
def macro(cfg: DataConfig, seed: int) -> SeriesData:
    """statsmodels' US macrodata, 12 quarterly columns; windows of 24 quarters, stride 1."""
    return _bundled_source("macro", cfg, seed)


@register_dataset(SEQUENCE)
def series(cfg: DataConfig, seed: int) -> SeriesData:
    """The user's sequences: ``data.path`` a .npy (N, T, F) / (L, F) or a long/wide .csv."""
    if not cfg.path:
        raise GanforgeError("data.path: data.name=series needs data.path=FILE (.csv in long or wide format, or .npy)")
    x, labels, info = load_series(cfg.path, cfg.window, cfg.stride or 1, cfg.target)
    return SeriesData(x, labels, seed, info["features"], info)
