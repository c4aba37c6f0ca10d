"""Audio: ``data.name=speech_digits`` (spoken digits ganforge makes itself) and ``sounds`` (the user's).

One sample is a mono clip (L, 1), L = data.seconds x data.sample_rate samples in [-1, 1] (the
sequence kind's layout, steps first; ``kinds/audio.py``). Model space is data space (waveforms
are already in [-1, 1]: loc 0, scale 1), as WaveGAN trains on them.

- ``speech_digits``: "zero" to "nine" said by espeak-ng voices (``kinds/audio_io.py``, recipe
  ``speech:digits``). ``data.path=SET.gfd`` reads a set built once with ``ganforge dataset build
  speech:digits --out SET.gfd`` (resampled to ``data.sample_rate`` and cut to ``data.seconds`` when
  they differ from the set's); without it the default set (8 voices x 4 pitches x 10 digits x 4
  repeats, seed 0) is made on the fly (about a minute; ``data.limit=N`` makes only the first N
  training clips). Training uses the training speakers; the held-out speakers' clips are
  ``holdout``, the classifier's test set and the memorisation check's reference. Labelled 0..9.
- ``sounds``: ``data.path`` a folder of WAV/FLAC/OGG files, labels from its subfolders when every
  file sits in one (``kinds/audio_io.py``, :func:`read_folder`); every 5th file is held out.
"""

from __future__ import annotations

from typing import Optional

import numpy as np
import torch
from torch import Tensor

from ..config import DataConfig
from ..errors import GanforgeError
from .base import register_dataset
from .kinds.audio import AUDIO
from .kinds.audio_io import DIGITS, fit_length, read_folder, resample, speech_digits as make_digits
from .series import SeriesData

DATA_SEED = 0  # the on-the-fly set is the same for every run and seed
DIGIT_SET = {"voices": 8, "pitches": 4, "repeats": 4}  # the recipe's defaults (data/generated.py)
_MADE: dict = {}  # (sample rate, seconds, limit) -> the on-the-fly set, made once per process


class AudioData(SeriesData):
    """Clips held in memory, (N, L, 1) float32 in [-1, 1] at ``sample_rate`` Hz, served in
    reshuffled epochs (``SeriesData``); ``holdout`` = (clips (M, L, 1), labels (M,) or None), never
    trained on. Measured by the ``audio`` evaluator (``metrics/audio.py``)."""

    kind = AUDIO
    evaluator = "audio"

    def __init__(self, x: np.ndarray, labels: Optional[list], seed: int, sample_rate: int,
                 holdout: Optional[tuple] = None, info: Optional[dict] = None, classes: Optional[list] = None):
        super().__init__(np.asarray(x, np.float32)[:, :, None], labels, seed, ["amplitude"], info)
        if classes is not None and labels is not None:  # every class named, in a fixed order
            self.classes = list(classes)
            self.labels = torch.tensor([self.classes.index(v) for v in labels], dtype=torch.int64)
            from ..conditions import ClassIds

            self.condition_spec = ClassIds(len(self.classes), names=[str(c) for c in self.classes])
        self.loc, self.scale = torch.zeros(1, 1), torch.ones(1, 1)  # waveforms are model space already
        self.sample_rate = int(sample_rate)
        self.holdout: Optional[tuple[Tensor, Optional[Tensor]]] = None
        if holdout is not None and len(holdout[0]):
            hx = torch.from_numpy(np.asarray(holdout[0], np.float32)[:, :, None])
            hy = torch.tensor([self.classes.index(v) for v in holdout[1]], dtype=torch.int64) \
                if holdout[1] is not None and self.classes else None
            self.holdout = (hx, hy)


def _fit(x: np.ndarray, rate_in: int, cfg: DataConfig) -> np.ndarray:
    """Clips (N, L0) at ``rate_in`` -> (N, L) at data.sample_rate, data.seconds long."""
    x = resample(x, rate_in, cfg.sample_rate)
    length = int(round(cfg.seconds * cfg.sample_rate))
    return x[:, :length] if x.shape[1] >= length else np.stack([fit_length(c, length) for c in x])


@register_dataset(AUDIO)
def speech_digits(cfg: DataConfig, seed: int) -> AudioData:
    """Spoken digits "zero".."nine" (espeak-ng voices); ``data.path`` a set built by ``dataset build speech:digits``."""
    if cfg.path:
        from .generated import open_set

        s = open_set(cfg.path, expect="speech:digits")
        waves = np.asarray(s.array("waves"), np.float32) / 32768.0
        labels, test = np.asarray(s.array("labels")), np.asarray(s.array("test")).astype(bool)
        rate, info = int(s.options["sample_rate"]), {"format": "generated", "set": str(s.path), "seed": s.manifest["seed"]}
    else:
        opts = {**DIGIT_SET, "sample_rate": cfg.sample_rate, "seconds": cfg.seconds}
        key = (cfg.sample_rate, cfg.seconds, cfg.limit)
        if key not in _MADE:
            _MADE[key] = make_digits(opts, DATA_SEED, train_limit=cfg.limit)[0]
        arrays = _MADE[key]
        waves = arrays["waves"].astype(np.float32) / 32768.0
        labels, test, rate = arrays["labels"], arrays["test"].astype(bool), cfg.sample_rate
        info = {"format": "generated on the fly", "seed": DATA_SEED}
    waves = _fit(waves, rate, cfg)
    names = list(DIGITS)
    data = AudioData(waves[~test], [names[i] for i in labels[~test]], seed, cfg.sample_rate,
                     (waves[test], [names[i] for i in labels[test]]), {**info, "clips": len(waves)}, classes=names)
    return data


@register_dataset(AUDIO)
def sounds(cfg: DataConfig, seed: int) -> AudioData:
    """The user's sounds: ``data.path`` a folder of WAV/FLAC/OGG files (subfolders: labels)."""
    if not cfg.path:
        raise GanforgeError("data.path: data.name=sounds needs data.path=FOLDER of WAV/FLAC files "
                            "(subfolders name the labels)")
    x, labels, info = read_folder(cfg.path, cfg.sample_rate, cfg.seconds)
    if len(x) < 2:
        raise GanforgeError(f"data.path: {cfg.path}: {len(x)} usable clip; training needs at least 2 (better thousands)")
    held = np.arange(len(x)) % 5 == 4 if len(x) >= 10 else np.zeros(len(x), bool)
    classes = sorted(set(labels)) if labels is not None else None
    pick = lambda m: [lab for lab, h in zip(labels, m) if h] if labels is not None else None  # noqa: E731
    return AudioData(x[~held], pick(~held), seed, cfg.sample_rate, (x[held], pick(held)), info, classes=classes)
