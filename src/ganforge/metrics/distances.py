"""Distances between sample sets, from features or raw coordinates: pure tensor maths.

Whatever the feature space (the digit classifier's, a classifier trained on the user's labels,
Inception-v3's pool3), FID, KID and PRDC are computed here from the features, so every space
gets the same numbers from the same code:

- FID and KID: torchmetrics' ``FrechetInceptionDistance`` / ``KernelInceptionDistance`` fed
  precomputed features (an identity feature module), in float64.
- Improved precision and recall (Kynkaanniemi et al. 2019, k = 3) and density and coverage
  (Naeem et al. 2020, k = 5).
- From a classifier's outputs: classes covered and KL(class histogram || uniform), and a
  classifier score in the manner of the Inception Score (Salimans et al. 2016).
- The energy distance (Szekely and Rizzo), in raw coordinates, for data with no feature space.
"""

from __future__ import annotations

import math
import warnings

import torch
from torch import Tensor, nn


class _Precomputed(nn.Module):
    """A torchmetrics feature extractor for features computed beforehand: (B, d) -> (B, d)."""

    def __init__(self, num_features: int):
        super().__init__()
        self.num_features = num_features

    def forward(self, feats: Tensor) -> Tensor:
        return feats


def fid_kid(f_real: Tensor, f_fake: Tensor, seed: int = 0, batch_size: int = 500) -> dict:
    """FID and KID (mean, std) of features f_real (N, d) and f_fake (M, d), with torchmetrics.
    KID's 50 random subsets of min(1000, N, M) are drawn from ``seed`` (torchmetrics draws
    them from torch's global RNG, which is left untouched)."""
    # torchmetrics is imported here, not at the top: it is slow to import and only evaluation needs it
    from torchmetrics.image.fid import FrechetInceptionDistance
    from torchmetrics.image.kid import KernelInceptionDistance

    feat = _Precomputed(f_real.shape[1])
    fid = FrechetInceptionDistance(feature=feat, normalize=True)
    fid.set_dtype(torch.float64)
    subset = min(1000, len(f_real), len(f_fake))
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


def frechet_gaussians(mu_a, cov_a, mu_b, cov_b) -> float:
    """The Fréchet distance of two Gaussians, |mu_a - mu_b|^2 + tr(S_a + S_b - 2 (S_a S_b)^(1/2))
    (Heusel et al. 2017), in float64. The trace of the root is the sum of the square roots of
    the eigenvalues of S_a S_b, which are those of the symmetric R S_b R with R = S_a^(1/2)
    (both from symmetric eigendecompositions; rounding's tiny negative eigenvalues count as 0).
    A general matrix square root of the product (scipy's ``sqrtm``) gives the same number to
    1e-8 but takes seconds on the singular covariances of a few samples in 512 dimensions."""
    import numpy as np

    mu_a, mu_b = np.asarray(mu_a, dtype=np.float64), np.asarray(mu_b, dtype=np.float64)
    cov_a, cov_b = np.asarray(cov_a, dtype=np.float64), np.asarray(cov_b, dtype=np.float64)
    w, v = np.linalg.eigh((cov_a + cov_a.T) / 2)
    root_a = (v * np.sqrt(np.clip(w, 0, None))) @ v.T  # S_a^(1/2)
    inner = root_a @ cov_b @ root_a
    root_trace = np.sqrt(np.clip(np.linalg.eigvalsh((inner + inner.T) / 2), 0, None)).sum()
    diff = mu_a - mu_b
    return float(max(0.0, diff @ diff + np.trace(cov_a) + np.trace(cov_b) - 2 * root_trace))


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


def energy_distance(x: Tensor, y: Tensor) -> float:
    """Energy distance 2E|X-Y| - E|X-X'| - E|Y-Y'| (Szekely and Rizzo), 0 iff equal laws.

    For data with no discrete modes and no feature space (spiral, user points, unlabelled
    images in pixels). ``x`` (N, d), ``y`` (M, d).
    """
    x, y = x.double().cpu(), y.double().cpu()
    return float(2 * torch.cdist(x, y).mean() - torch.cdist(x, x).mean() - torch.cdist(y, y).mean())


__all__ = ["class_histogram_kl", "classifier_score", "energy_distance", "fid_kid", "prdc"]
