"""Exact metrics for samples of a known Gaussian mixture (the PacGAN protocol, Lin et al. 2018).

A sample is *high quality* when it lies within 3 standard deviations of its nearest centre; a
mode is *captured* when at least one high-quality sample is nearest to it; ``rev_kl`` is
KL(histogram of the high-quality samples over the modes || uniform).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


def mode_metrics(x: Tensor, centers: Tensor, std: float) -> dict:
    """``x`` (N, d) samples, ``centers`` (K, d): modes, hq, rev_kl and the per-mode counts."""
    x, centers = x.double().cpu(), centers.double().cpu()
    dist, nearest = torch.cdist(x, centers).min(dim=1)  # (N,), (N,)
    hq = dist <= 3 * std
    counts = torch.bincount(nearest[hq], minlength=len(centers))  # (K,)
    total = int(counts.sum())
    if total:
        p = counts[counts > 0].double() / total
        rev_kl = float((p * (p * len(centers)).log()).sum())
    else:
        rev_kl = math.inf  # no high-quality sample: nothing is covered
    return {
        "modes": int((counts > 0).sum()),
        "n_modes": len(centers),
        "hq": float(hq.double().mean()) if len(x) else 0.0,
        "rev_kl": rev_kl,
        "n": len(x),
        "counts": counts.tolist(),
    }

