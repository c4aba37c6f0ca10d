"""Scatter plots of 2D runs, written into the run directory, and the figure writer they share.

Figures are drawn on matplotlib's Agg canvas directly (``Figure`` + ``FigureCanvasAgg``, no
pyplot): nothing opens a window and importing ganforge never changes matplotlib's backend, which
belongs to the user's program. Files are written atomically, and images of generated samples
(with their provenance) by :mod:`ganforge.files`.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Optional

from torch import Tensor

from ..data.kinds.points import scatter_figure
from ..files import write_bytes_atomic


def scatter(real: Tensor, fake: Tensor, path: Path, title: str = "", centers: Optional[Tensor] = None) -> Path:
    """Real (grey) against generated (blue) 2D points, ``(N, 2)`` each, saved as a PNG."""
    fig = scatter_figure(real, fake, title, centers)  # the points kind draws it
    return save_figure(fig, path)


def save_figure(fig, path: Path) -> Path:
    """Write the matplotlib figure ``fig`` atomically in the format ``path``'s extension names
    (none: a PNG, ".png" appended, as savefig does); returns the path written."""
    path = Path(path)
    if not path.suffix:  # as savefig does: no extension, a PNG with one appended
        path = path.with_name(path.name + ".png")
    buf = io.BytesIO()
    fig.savefig(buf, format=path.suffix[1:].lower())  # the format the extension names, as savefig(path) picks it
    path.parent.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(path, buf.getvalue())
    return path
