"""The points kind: a sample is a vector (d,) of numbers in the data's own units.

It owns reading the user's point files (``.csv`` / ``.npy`` / ``.npz`` of shape (N, d), for
training and for scoring), writing samples as .npy or .csv, the scatter figure of 2-D points
against real ones, and the MLP encoder trunk (the base's).
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np
import torch
from torch import Tensor

from ...errors import GanforgeError
from ..base import KnownModes
from .base import DataKind, Inputs, register_kind


def available_memory() -> Optional[int]:
    """Bytes of memory available to a new allocation (Linux ``MemAvailable``), or None if unknown."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


# Parsing a CSV holds float64 values (8 bytes each), numpy's own parse buffers (about as much
# again, measured: 10 million rows x 2 columns peaked at 490 MB over the interpreter's) and the
# float32 copy the model trains on: 3 x 8 bytes per value is the estimate.
_CSV_BYTES_PER_VALUE = 24


def _check_csv_memory(p: Path) -> None:
    """Refuse a CSV whose parse would not fit in the memory available, saying how much it would
    need, instead of being killed for running out of memory halfway through reading it."""
    size = p.stat().st_size
    with open(p, "rb") as f:
        head = f.read(1 << 16)
    lines = [line for line in head.splitlines() if line.strip()][1:] or head.splitlines()[:1]
    if not lines or size < (1 << 20):  # small files: nothing to estimate
        return
    per_line = sum(len(line) + 1 for line in lines) / len(lines)
    cols = lines[0].count(b",") + 1
    rows = int(size / per_line)
    need, free = rows * cols * _CSV_BYTES_PER_VALUE, available_memory()
    if free is not None and need > 0.8 * free:
        raise GanforgeError(f"data.path: {p} holds about {rows:,} rows x {cols} columns; reading it needs about "
                            f"{need / 2**30:.1f} GiB of memory and {free / 2**30:.1f} GiB is available; use fewer "
                            f"rows, or a .npy file (float32: {rows * cols * 4 / 2**30:.2f} GiB)")


def load_points(path: str) -> Tensor:
    """Read a ``.npy`` or ``.csv`` (an optional header row, comma separated) of shape (N, d).
    A CSV too large for the memory available is refused before it is read (:func:`_check_csv_memory`)."""
    p = Path(path)
    if not p.is_file():
        raise GanforgeError(f"data.path: no such file: {path}")
    if p.suffix == ".csv":
        _check_csv_memory(p)
    try:
        if p.suffix == ".npy":
            arr = np.load(p, allow_pickle=False)
        elif p.suffix == ".csv":
            try:
                arr = np.loadtxt(p, delimiter=",", ndmin=2, dtype=np.float64)
            except ValueError:  # a header row
                arr = np.loadtxt(p, delimiter=",", ndmin=2, dtype=np.float64, skiprows=1)
        else:
            raise GanforgeError(f"data.path: {path}: expected a .npy or .csv file")
    except GanforgeError:
        raise
    except Exception as e:  # numpy raises many kinds for a malformed file
        raise GanforgeError(f"data.path: {path} could not be read as {p.suffix}: {str(e).splitlines()[0]}") from None
    if arr.dtype.kind not in "fiu":
        raise GanforgeError(f"data.path: {path}: expected numbers, found dtype {arr.dtype}")
    if arr.ndim != 2 or arr.shape[0] < 2 or arr.shape[1] < 1:
        raise GanforgeError(f"data.path: {path}: expected a table of shape (N >= 2, d), found {arr.shape}")
    bad = ~np.isfinite(arr)
    if bad.any():
        row = int(np.argwhere(bad)[0][0])
        raise GanforgeError(
            f"data.path: {path}: {int(bad.any(axis=1).sum())} rows hold NaN or infinite values (first: row {row})"
        )
    return torch.from_numpy(arr.astype(np.float32))


def scatter_figure(real: Tensor, fake: Tensor, title: str = "", centers: Optional[Tensor] = None):
    """Real (grey) against generated (blue) 2D points, ``(N, 2)`` each, on matplotlib's Agg
    canvas (no pyplot: importing ganforge never changes the user's backend): the Figure."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

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
    return fig


def figure_image(fig):
    """A matplotlib Figure on an Agg canvas, rendered as a PIL RGB image."""
    from PIL import Image

    fig.canvas.draw()
    return Image.fromarray(np.asarray(fig.canvas.buffer_rgba())).convert("RGB")


class PointsKind(DataKind):
    name = "points"
    default_model = "mlp"
    default_dataset = "points"
    demo_data = {"name": "ring8"}
    evaluator = "energy"  # known mixtures name their exact mode metrics (modes)
    suffixes = (".npy", ".csv")
    task = "tabular-generation"  # the model hub has no task for point clouds of vectors
    figure_n = 2000  # points in the report's scatter plot

    def describe(self, shape: tuple) -> str:
        return f"points of dimension {shape[0]}"

    def read_inputs(self, data, path: Path, resize: bool = False) -> Inputs:
        """Rows (N, d) from a .csv, .npy or .npz (its first array) with d the run's dimension
        (a point has no size to resize: ``resize`` changes nothing)."""
        path = Path(path)
        if not path.is_file():
            raise GanforgeError(f"--data {path}: no such file (a point run scores a .csv, .npy or .npz)")
        if path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as z:
                x = torch.as_tensor(z[z.files[0]], dtype=torch.float32)
        else:
            x = load_points(str(path)).float()
        if x.dim() != 2 or x.shape[1] != data.shape[0]:
            raise GanforgeError(f"--data {path}: rows of {tuple(x.shape[1:])} values; this run's data has "
                                f"{data.shape[0]} columns")
        if len(x) == 0:
            raise GanforgeError(f"--data {path}: no rows")
        return Inputs(x, [str(i) for i in range(len(x))])

    def from_array(self, arr: np.ndarray, where: str) -> Tensor:
        """(N, d) numbers in the data's own units -> float32."""
        if len(arr.shape) != 2:
            raise GanforgeError(f"{where}: samples of shape {tuple(arr.shape[1:])} do not match points data, "
                                "which are rows (N, d)")
        return torch.from_numpy(arr.astype(np.float32))

    def figure(self, fake: Tensor, data=None, seed: int = 0, title: str = "", rows: Optional[list[str]] = None):
        """2-D points: a scatter of ``fake`` against as many real ones (and the known modes);
        None for other dimensions (no honest picture of them in one plot)."""
        if int(np.prod(fake.shape[1:])) != 2 or data is None:
            return None
        real = data.reference(len(fake), seed)
        centers = data.centers if isinstance(data, KnownModes) else None
        return figure_image(scatter_figure(real.reshape(-1, 2), fake.reshape(-1, 2), title, centers))

    def normal_data(self, data, seed: int, n: int = 12000) -> tuple[Tensor, Optional[Tensor]]:
        """The user's points as they are; an endless density: ``n`` fresh draws of it."""
        points = getattr(data, "points", None)
        if torch.is_tensor(points):
            return points.float(), None
        return super().normal_data(data, seed, n)


POINTS = register_kind(PointsKind())
