"""Scatter plots written into the run directory (matplotlib, no display needed). Images of
generated samples, with their provenance, are written by :mod:`ganforge.io`."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import matplotlib

matplotlib.use("Agg")  # files only; never open a window
import matplotlib.pyplot as plt  # noqa: E402
from torch import Tensor  # noqa: E402


def scatter(real: Tensor, fake: Tensor, path: Path, title: str = "", centers: Optional[Tensor] = None) -> Path:
    """Real (grey) against generated (blue) 2D points, ``(N, 2)`` each, saved as a PNG."""
    fig, ax = plt.subplots(figsize=(5, 5), dpi=100)
    r, f = real.detach().cpu().numpy(), fake.detach().cpu().numpy()
    ax.scatter(r[:, 0], r[:, 1], s=3, c="0.6", alpha=0.5, label="real", linewidths=0)
    ax.scatter(f[:, 0], f[:, 1], s=3, c="tab:blue", alpha=0.5, label="generated", linewidths=0)
    if centers is not None:
        c = centers.cpu().numpy()
        ax.scatter(c[:, 0], c[:, 1], s=30, marker="x", c="tab:red", label="modes", linewidths=1)
    ax.set_title(title)
    ax.set_aspect("equal", adjustable="datalim")
    ax.legend(loc="upper right", fontsize=7, markerscale=3)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
