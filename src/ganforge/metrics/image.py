"""Image metrics in a feature space that needs no download: the digit classifier's.

- FID and KID: torchmetrics' ``FrechetInceptionDistance`` / ``KernelInceptionDistance`` given
  the classifier's 128-d penultimate features (per channel, concatenated) as a custom
  feature module.
- Improved precision and recall (Kynkaanniemi et al. 2019, k = 3) and density and coverage
  (Naeem et al. 2020, k = 5) in the same feature space.
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
import math
from typing import Optional

import torch
from torch import Tensor, nn

from .features import RECIPE, Classifier, cache_dir


class ClassifierFeatures(nn.Module):
    """(B, C, H, W) in [0, 1] -> (B, 128 * C) (per-channel classifiers) or (B, 128): a
    torchmetrics feature extractor."""

    def __init__(self, clf: Classifier, channels: int):
        super().__init__()
        self.clf, self.channels = clf, channels
        self.num_features = 128 * (channels if clf.per_channel else 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.clf.features(x).reshape(x.shape[0], -1)


class _Precomputed(nn.Module):
    """A torchmetrics feature extractor for features computed beforehand: (B, d) -> (B, d)."""

    def __init__(self, num_features: int):
        super().__init__()
        self.num_features = num_features

    def forward(self, feats: Tensor) -> Tensor:
        return feats


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
    from ..io import save_atomic

    save_atomic({"features": feats, "n": len(images), "classifier": clf.key}, path)
    return feats


def _kth_neighbour_radius(x: Tensor, k: int, chunk: int = 2048) -> Tensor:
    """Distance from each row of ``x`` (N, d) to its k-th nearest other row, shape (N,)."""
    out = []
    for i in range(0, len(x), chunk):
        d = torch.cdist(x[i : i + chunk], x)  # (c, N); the row itself is at distance 0
        out.append(d.kthvalue(k + 1, dim=1).values)
    return torch.cat(out)


def prdc(real: Tensor, fake: Tensor, k_pr: int = 3, k_dc: int = 5, chunk: int = 2048) -> dict:
    """Precision, recall (k_pr) and density, coverage (k_dc) of features real (N, d), fake (M, d)."""
    real, fake = real.double(), fake.double()
    r_real_pr, r_fake_pr = _kth_neighbour_radius(real, k_pr), _kth_neighbour_radius(fake, k_pr)
    r_real_dc = _kth_neighbour_radius(real, k_dc)
    precise = torch.zeros(len(fake), dtype=torch.bool)
    density_hits = torch.zeros(len(fake), dtype=torch.float64)
    nearest_fake = torch.full((len(real),), math.inf, dtype=torch.float64)
    recalled = torch.zeros(len(real), dtype=torch.bool)
    for j in range(0, len(fake), chunk):
        d = torch.cdist(fake[j : j + chunk], real)  # (c, N)
        precise[j : j + chunk] = (d <= r_real_pr[None]).any(1)
        density_hits[j : j + chunk] = (d <= r_real_dc[None]).sum(1).double()
        nearest_fake = torch.minimum(nearest_fake, d.min(0).values)
        recalled |= (d <= r_fake_pr[j : j + chunk, None]).any(0)
    return {
        "precision": float(precise.double().mean()),
        "recall": float(recalled.double().mean()),
        "density": float(density_hits.sum() / (k_dc * len(fake))),
        "coverage": float((nearest_fake <= r_real_dc).double().mean()),
    }


def fid_kid(real: Tensor, fake: Tensor, clf: Optional[Classifier], batch_size: int = 500, cache: bool = True,
            feats: Optional[tuple[Tensor, Tensor]] = None, seed: int = 0) -> dict:
    """FID and KID (mean, std) of images in [0, 1] with torchmetrics, in the classifier's space.
    Features are computed once per image set (the real ones cached on disk, see the module
    docstring), or given as ``feats`` = (real, fake) features. KID's random subsets are drawn
    from ``seed`` (torchmetrics draws them from torch's global RNG, which is left untouched)."""
    import warnings

    from torchmetrics.image.fid import FrechetInceptionDistance
    from torchmetrics.image.kid import KernelInceptionDistance

    if feats is None:
        feats = image_features(real, clf, cache), image_features(fake, clf)
    f_real, f_fake = feats
    feat = _Precomputed(f_real.shape[1])
    fid = FrechetInceptionDistance(feature=feat, normalize=True)
    fid.set_dtype(torch.float64)
    subset = min(1000, len(real), len(fake))
    with warnings.catch_warnings():  # KID keeps its features in memory: a few MB here
        warnings.filterwarnings("ignore", message=".*will save all extracted features.*")
        kid = KernelInceptionDistance(feature=feat, normalize=True, subset_size=subset, subsets=50)
    for f, is_real in ((f_real, True), (f_fake, False)):
        for i in range(0, len(f), batch_size):
            fid.update(f[i : i + batch_size], real=is_real)
            kid.update(f[i : i + batch_size], real=is_real)
    with torch.random.fork_rng(devices=[]):  # same seed, same subsets; the caller's RNG untouched
        torch.manual_seed(seed)
        kid_mean, kid_std = kid.compute()
    return {"fid": float(fid.compute()), "kid": float(kid_mean), "kid_std": float(kid_std)}


def class_histogram_kl(labels: Tensor, n_classes: int) -> tuple[int, float]:
    """(classes covered, KL(histogram || uniform)) of predicted labels (N,)."""
    counts = torch.bincount(labels, minlength=n_classes).double()
    p = counts[counts > 0] / counts.sum()
    return int((counts > 0).sum()), float((p * (p * n_classes).log()).sum())


def classifier_score(logits: Tensor) -> float:
    """exp E_x[KL(p(y|x) || p(y))] from logits (N, K): 1 (uninformative) .. K (sharp, uniform)."""
    logp = logits.double().log_softmax(1)
    p_y = logp.exp().mean(0)
    return float(torch.exp((logp.exp() * (logp - p_y.log()[None])).sum(1).mean()))


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
        from .inception import inception_fid_kid

        out = inception_fid_kid(real, fake, inception_weights, seed=seed)
        fid_space = out.pop("fid_feature_space")
    else:
        out = fid_kid(real, fake, clf, feats=feats, seed=seed)
    if prdc_on:
        out.update(prdc(*feats))
    logits = clf.logits(fake)  # (N * C, K) per channel, or (N, K)
    pred = logits.argmax(1).view(len(fake), -1)  # (N, C) or (N, 1)
    if clf.per_channel and c == 3:  # stacked digits: the triple of channel classes is one of 1,000 modes
        modes = pred[:, 0] * 100 + pred[:, 1] * 10 + pred[:, 2]
        out["modes"], out["mode_kl"] = class_histogram_kl(modes, 1000)
        out["n_modes"] = 1000
    else:
        out["classes"], out["class_kl"] = class_histogram_kl(pred[:, 0], clf.n_classes)
        out["n_classes"] = clf.n_classes
        out["classifier_score"] = classifier_score(logits)
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
