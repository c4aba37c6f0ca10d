"""Audio metrics, as WaveGAN measured them (Donahue et al. 2019, section 6.1), without a download.

- **A digit classifier** trained once on the real *training* clips' log-magnitude spectrograms
  (the digit classifier's network and recipe, ``features.py``, on 32x32 spectrogram pictures) and
  tested on the held-out speakers; cached under ``$GANFORGE_CACHE`` keyed by a hash of its
  training data and recipe, with its test accuracy. WaveGAN's own SC09 classifier played this
  role. From it (``image.py``'s bundle, on spectrogram pictures):
  - ``inception_score``: exp E[KL(p(y|x) || p(y))], 1 .. 10, WaveGAN's headline; and
    ``inception_score_real``, the held-out real clips' own, the ceiling (``is_ratio`` = the two's
    ratio, what carries between datasets);
  - ``fid`` (and kid, precision/recall, density/coverage) in its 128-d feature space;
  - a conditional run's ``class_accuracy`` (the clips read as the asked digit) and
    ``per_class_accuracy``;
- **memorisation** (``nn_ratio``): the median distance from each generated clip to its nearest
  training clip, over the same for held-out real clips, in the space of 32x32 spectrogram
  pictures; far below 1 means copies of training clips;
- **spectral statistics** (``spectral_distance``): the mean absolute difference, over frequency
  bins, of the real and generated clips' mean log-magnitude spectra (natural log units).

Without labels (a folder with no subfolders) only the last two are measured.
"""

from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from ..data.kinds.audio import stft_size
from ..data.kinds.audio_spectral import log_spectrogram, spectrogram_image
from .distances import classifier_score
from .features import RECIPE, Classifier, _cached, _key, _LOADED
from .image import image_metrics

SIDE = 32  # spectrogram pictures are resized to SIDE x SIDE for the classifier and the distances


def pictures(x: Tensor, rate: int) -> Tensor:
    """Clips (N, L, 1) -> spectrogram pictures (N, 1, SIDE, SIDE) in [0, 1]."""
    n_fft, hop = stft_size(rate)
    s = spectrogram_image(x.detach().cpu().float().flatten(1), n_fft, hop)
    return F.interpolate(s, size=(SIDE, SIDE), mode="bilinear", antialias=True, align_corners=False).clamp(0, 1)


def audio_classifier(data) -> Optional[Classifier]:
    """The classifier of the data's classes, trained on its training clips and tested on its
    held-out ones (every 5th training clip when it has none); None without two classes."""
    if data.labels is None or data.n_classes < 2:
        return None
    xtr, ytr = pictures(data.x, data.sample_rate), data.labels
    if data.holdout is not None and data.holdout[1] is not None:
        xte, yte = pictures(data.holdout[0], data.sample_rate), data.holdout[1]
    else:
        test = torch.arange(len(xtr)) % 5 == 0
        xtr, ytr, xte, yte = xtr[~test], ytr[~test], xtr[test], ytr[test]
    key = _key(xtr, ytr, f"audio-classifier:{data.n_classes}:{data.sample_rate}")
    if key not in _LOADED:
        net, acc = _cached("audio-classifier", key, xtr, ytr, xte, yte, data.n_classes, None)
        space = (f"a spectrogram classifier ganforge trained on this dataset's training clips ({RECIPE['arch']} on "
                 f"{SIDE}x{SIDE} log-magnitude spectrograms, {len(xtr)} clips, {data.n_classes} classes, accuracy "
                 f"{acc:.4f} on {len(xte)} held-out clips, 128 features, cache key {key})")
        _LOADED[key] = Classifier(net, acc, key, per_channel=False, resolution=SIDE, n_classes=data.n_classes,
                                  space=space)
    return _LOADED[key]


def nn_distances(x: Tensor, train: Tensor, chunk: int = 1024) -> Tensor:
    """(N,) distance from each row of ``x`` (N, d) to its nearest row of ``train`` (M, d)."""
    return torch.cat([torch.cdist(x[i : i + chunk].double(), train.double()).min(1).values
                      for i in range(0, len(x), chunk)])


def spectral_distance(real: Tensor, fake: Tensor, rate: int) -> float:
    """Mean |mean log-spectrum of real - of fake| over frequency bins, clips (N, L, 1)."""
    n_fft, hop = stft_size(rate)
    spec = lambda x: log_spectrogram(x.detach().cpu().float().flatten(1), n_fft, hop).mean((0, 2))  # noqa: E731
    return float((spec(real) - spec(fake)).abs().mean())


def audio_metrics(fake: Tensor, data, seed: int, labels: Optional[Tensor] = None) -> dict:
    """Every audio metric of generated clips ``fake`` (N, L, 1) in [-1, 1] against ``data``
    (an ``AudioData``): see the module docstring. ``labels`` (N,): the classes asked for."""
    rate = data.sample_rate
    real, _ = data.labelled(len(fake), seed)
    held = data.holdout[0] if data.holdout is not None and len(data.holdout[0]) else None
    train_pics = pictures(data.x, rate).flatten(1)
    nn_fake = float(nn_distances(pictures(fake, rate).flatten(1), train_pics).median())
    out: dict = {"spectral_distance": spectral_distance(real, fake, rate), "nn_fake": nn_fake}
    if held is not None:
        out["nn_real"] = float(nn_distances(pictures(held, rate).flatten(1), train_pics).median())
        out["nn_ratio"] = nn_fake / max(out["nn_real"], 1e-12)
    clf = audio_classifier(data)
    if clf is None:
        return {**out, "n": len(fake), "provenance": {"feature_space": f"{SIDE}x{SIDE} log-magnitude spectrograms",
                                                      "n_real": len(real), "n_fake": len(fake), "seed": seed}}
    m = image_metrics(pictures(fake, rate), pictures(real, rate), clf, seed, labels=labels)
    m["inception_score"] = m.pop("classifier_score")
    m["classifier_accuracy"] = clf.test_accuracy
    if held is not None:
        m["inception_score_real"] = classifier_score(clf.logits(pictures(held, rate)))
        m["is_ratio"] = m["inception_score"] / m["inception_score_real"]
    if labels is not None:
        pred = clf.logits(pictures(fake, rate)).argmax(1)
        names = data.condition_spec.names
        m["per_class_accuracy"] = {names[c]: float((pred[labels == c] == c).double().mean())
                                   for c in range(data.n_classes) if (labels == c).any()}
    return {**m, **out, "n": len(fake)}
