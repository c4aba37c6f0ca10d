"""Figures of sequences (N, T, F) as files: real against generated traces (the sequence kind draws
them), and TimeGAN's 2-D overlay.

The overlay follows TimeGAN's ``metrics/visualization_metrics.py`` (Yoon et al. 2019, Fig. 3):
at most 1000 sequences of each, each reduced to its mean over features (a curve of T values);
PCA fitted on the real curves and applied to both, or t-SNE on both together (perplexity 40,
300 iterations there; here perplexity min(40, (n - 1) / 3) so small sets work, and sklearn's
minimum of 250 iterations is respected). Drawn on matplotlib's Agg canvas, written atomically
(``plots.save_figure``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from torch import Tensor

from ..data.kinds.sequence import pca_coords, trace_figure as kind_traces
from .plots import save_figure

MAX_OVERLAY = 1000  # sequences of each kind in the overlay, as TimeGAN


def overlay_coords(real: Tensor, fake: Tensor, method: str = "pca", seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """2-D coordinates (n, 2) of real and generated sequences, n = min(1000, N, M): each
    sequence's mean over features, then ``pca`` (fitted on real) or ``tsne`` (on both)."""
    rng = np.random.default_rng(seed)
    n = min(MAX_OVERLAY, len(real), len(fake))
    r = real.detach().cpu().double().numpy()[rng.permutation(len(real))[:n]].mean(2)  # (n, T)
    f = fake.detach().cpu().double().numpy()[rng.permutation(len(fake))[:n]].mean(2)
    if method == "pca":  # the sequence kind's PCA (fitted on real), on these curves
        return pca_coords(r[:, :, None], f[:, :, None])
    if method == "tsne":
        from sklearn.manifold import TSNE

        both = TSNE(n_components=2, perplexity=min(40.0, max(1.0, (2 * n - 1) / 3)), max_iter=300,
                    random_state=seed, init="pca").fit_transform(np.concatenate([r, f]))
        return both[:n], both[n:]
    raise ValueError(f"method must be pca or tsne, not {method!r}")


def overlay_figure(real: Tensor, fake: Tensor, path: Path, method: str = "pca", seed: int = 0) -> Path:
    """TimeGAN's PCA or t-SNE plot: real (red) and generated (blue) sequences, saved at ``path``."""
    r, f = overlay_coords(real, fake, method, seed)
    fig = Figure(figsize=(5, 5), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    ax.scatter(r[:, 0], r[:, 1], s=6, c="tab:red", alpha=0.3, label="real", linewidths=0)
    ax.scatter(f[:, 0], f[:, 1], s=6, c="tab:blue", alpha=0.3, label="generated", linewidths=0)
    ax.set_title(f"{method.upper() if method == 'pca' else 't-SNE'} of sequences (mean over features)")
    ax.legend(loc="upper right", fontsize=7, markerscale=2)
    fig.tight_layout()
    return save_figure(fig, path)


def trace_figure(real: Tensor, fake: Tensor, path: Path, features: Optional[Sequence[str]] = None, n: int = 4,
                 max_features: int = 6) -> Path:
    """Real (grey) and generated (blue) traces, ``n`` sequences of each, one panel per feature
    (the first ``max_features``), saved at ``path``: the sequence kind's figure
    (``data/kinds/sequence.py``) written as a file."""
    fig = kind_traces(real, fake, list(features) if features is not None else None, n=n, max_features=max_features)
    return save_figure(fig, path)
