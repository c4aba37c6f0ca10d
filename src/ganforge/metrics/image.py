"""Image metrics in a feature space that needs no download: a classifier's (features.py).

This module extracts features and assembles the bundle; the distances themselves are computed
from the features in ``distances.py``:

- FID and KID (torchmetrics) of the classifier's 128-d penultimate features (per channel,
  concatenated), or of Inception-v3's pool3 features given a local weights file (inception.py).
- Improved precision and recall (Kynkaanniemi et al. 2019, k = 3) and density and coverage
  (Naeem et al. 2020, k = 5) in the classifier's feature space.
- Mode counting: classes covered out of 10 and KL(class histogram || uniform); for stacked
  digits, each channel is classified and the triple is one of 1,000 modes.
- A classifier score in the manner of the Inception Score (Salimans et al. 2016):
  exp E_x[KL(p(y|x) || p(y))], between 1 and 10.

Every result carries its provenance: the feature space, the sample counts and the seed.

Speed: each image set goes through the classifier once (its features serve FID, KID and PRDC
alike), and the features of the *real* images are cached on disk under ``$GANFORGE_CACHE``,
keyed by a hash of the images themselves and of the feature network's weights and recipe: a
changed dataset (or classifier) gets a new key and can never reuse stale statistics.
"""

from __future__ import annotations

import hashlib
from typing import Optional

import torch
from torch import Tensor, nn

from ..files import save_atomic
from . import distances
from ..cache import max_bytes, trim
from .features import RECIPE, Classifier, cache_dir
from .inception import inception_fid_kid


class ClassifierFeatures(nn.Module):
    """(B, C, H, W) in [0, 1] -> (B, 128 * C) (per-channel classifiers) or (B, 128): a
    torchmetrics feature extractor."""

    def __init__(self, clf: Classifier, channels: int):
        super().__init__()
        self.clf, self.channels = clf, channels
        self.num_features = 128 * (channels if clf.per_channel else 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.clf.features(x).reshape(x.shape[0], -1)


def features_key(images: Tensor, clf: Classifier) -> str:
    """A hash of the images (shape, dtype and every value) and of the feature network (its
    cache key, which covers its training data and recipe, and its weights)."""
    h = hashlib.sha256()
    x = images.detach().cpu().contiguous()
    h.update(f"{tuple(x.shape)} {x.dtype} {clf.per_channel} {clf.resolution}".encode())
    h.update(x.numpy().tobytes())
    h.update(clf.key.encode())
    for t in clf.net.state_dict().values():
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:24]


def image_features(images: Tensor, clf: Classifier, cache: bool = False) -> Tensor:
    """The classifier features (N, d) of images (N, C, H, W) in [0, 1]; with ``cache=True``
    read from (or written to) ``$GANFORGE_CACHE/features/``, keyed by :func:`features_key`."""
    if not cache:
        return ClassifierFeatures(clf, images.shape[1])(images)
    path = cache_dir() / "features" / f"real-{features_key(images, clf)}.pt"
    if path.exists():
        try:
            return torch.load(path, map_location="cpu", weights_only=True)["features"]
        except Exception:  # a damaged cache file: recompute and rewrite it
            pass
    feats = ClassifierFeatures(clf, images.shape[1])(images)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_atomic({"features": feats, "n": len(images), "classifier": clf.key}, path)
    trim(max_bytes())  # the features stay under $GANFORGE_CACHE_MAX_MB, least recently written out first
    return feats


def fid_kid(real: Tensor, fake: Tensor, clf: Classifier, batch_size: int = 500, cache: bool = True,
            seed: int = 0) -> dict:
    """FID and KID (mean, std) of images real (N, C, H, W) and fake (M, C, H, W) in [0, 1], in
    the classifier's space. Features are computed once per image set (the real ones cached on
    disk, see the module docstring); KID's random subsets are drawn from ``seed``."""
    feats = image_features(real, clf, cache), image_features(fake, clf)
    return distances.fid_kid(*feats, seed=seed, batch_size=batch_size)


def stacked_modes(pred: Tensor) -> tuple[int, float]:
    """Stacked digits (the Stacked-MNIST protocol): the classes read in each channel (N, 3) ->
    (modes covered of 1,000, KL(mode histogram || uniform)); the triple (a, b, c) is mode 100a + 10b + c."""
    return distances.class_histogram_kl(pred[:, 0] * 100 + pred[:, 1] * 10 + pred[:, 2], 1000)


def image_metrics(fake: Tensor, real: Tensor, clf: Classifier, seed: int, prdc_on: bool = True,
                  labels: Optional[Tensor] = None, cache: bool = True, inception_weights: Optional[str] = None) -> dict:
    """Every classifier metric for generated ``fake`` and reference ``real`` images (N, C, H, W)
    in [0, 1], in the feature space of ``clf`` (the digit classifier or one trained on the
    user's labels).

    ``labels`` (N,): the classes a conditional G was asked for; then ``class_accuracy`` is
    the classifier's accuracy on the generated samples against them.

    ``inception_weights``: the path of a local Inception-v3 weights file; then FID and KID
    are measured in Inception's space (``provenance.fid_feature_space`` says so) and the
    other metrics stay in the classifier's.
    """
    c = fake.shape[1]
    feats = image_features(real, clf, cache), image_features(fake, clf)  # once each; the real ones cached
    if inception_weights:
        out = inception_fid_kid(real, fake, inception_weights, seed=seed)
        fid_space = out.pop("fid_feature_space")
    else:
        out = distances.fid_kid(*feats, seed=seed)
    if prdc_on:
        out.update(distances.prdc(*feats))
    logits = clf.logits(fake)  # (N * C, K) per channel, or (N, K)
    pred = logits.argmax(1).view(len(fake), -1)  # (N, C) or (N, 1)
    if clf.per_channel and c == 3:  # stacked digits: the triple of channel classes is one of 1,000 modes
        out["modes"], out["mode_kl"] = stacked_modes(pred)
        out["n_modes"] = 1000
    else:
        out["classes"], out["class_kl"] = distances.class_histogram_kl(pred[:, 0], clf.n_classes)
        out["n_classes"] = clf.n_classes
        out["classifier_score"] = distances.classifier_score(logits)
        if labels is not None:
            out["class_accuracy"] = float((pred[:, 0] == labels.cpu()).double().mean())
    space = clf.space or f"classifier {RECIPE['arch']} (cache key {clf.key})"
    out["provenance"] = {
        "feature_space": space,
        "fid_feature_space": fid_space if inception_weights else space,
        "n_real": len(real),
        "n_fake": len(fake),
        "seed": seed,
    }
    return out
