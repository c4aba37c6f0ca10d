"""Scatter plots of 2D runs, written into the run directory, and the figure writer they share.

Figures are drawn on matplotlib's Agg canvas directly (``Figure`` + ``FigureCanvasAgg``, no
pyplot): nothing opens a window and importing ganforge never changes matplotlib's backend, which
belongs to the user's program. Files are written atomically, and images of generated samples
(with their provenance) by :mod:`ganforge.io`.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Optional

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from torch import Tensor

from ..io import write_bytes_atomic


def scatter(real: Tensor, fake: Tensor, path: Path, title: str = "", centers: Optional[Tensor] = None) -> Path:
    """Real (grey) against generated (blue) 2D points, ``(N, 2)`` each, saved as a PNG."""
    fig = Figure(figsize=(5, 5), dpi=100)
    FigureCanvasAgg(fig)  # attaches itself to fig: savefig renders with Agg
    ax = fig.subplots()
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
    return save_figure(fig, path)


def save_figure(fig: Figure, path: Path) -> Path:
    """Write ``fig`` atomically in the format ``path``'s extension names (none: a PNG, ".png"
    appended, as savefig does); returns the path written."""
    path = Path(path)
    if not path.suffix:  # as savefig does: no extension, a PNG with one appended
        path = path.with_name(path.name + ".png")
    buf = io.BytesIO()
    fig.savefig(buf, format=path.suffix[1:].lower())  # the format the extension names, as savefig(path) picks it
    path.parent.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(path, buf.getvalue())
    return path
