"""2D data with known densities, and the user's own point files.

``ring8`` and ``grid25`` follow the PacGAN protocol (Lin et al. 2018): a uniform mixture of
Gaussians with the given centres and a shared isotropic standard deviation, so that mode
coverage and sample quality can be measured exactly (``ganforge.metrics.toy2d``).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Optional

import numpy as np
import torch
from torch import Tensor

from ..config import DataConfig
from ..errors import GanforgeError
from .base import DATASETS, DataSource, Finite, KnownModes, Normalized
from .sampling import EpochSampler


class KnownDensity(Normalized, DataSource):
    """An endless source of samples from a known density, drawn from its own generator; no
    discrete modes (spiral), so it is measured by the energy distance. Not :class:`Finite`."""

    evaluator = "energy"

    def __init__(self, sampler, seed: int, extent: float):
        self._sampler = sampler  # (n, generator) -> (n, 2)
        self.gen = torch.Generator().manual_seed(seed)
        self.shape = (2,)
        self.n_classes = 0
        self.loc, self.scale = torch.zeros(2), torch.full((2,), float(extent))

    def sample(self, n: int) -> tuple[Tensor, None]:
        """A fresh batch of real points in model space, shape (n, 2); no labels."""
        return self.encode(self._sampler(n, self.gen)), None

    def reference(self, n: int, seed: int) -> Tensor:
        """Real points in data space from a separate generator (plots, metrics), shape (n, 2)."""
        return self._sampler(n, torch.Generator().manual_seed(seed))

    def state_dict(self) -> dict:
        return {"gen": self.gen.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.gen.set_state(state["gen"])


class MixtureData(KnownDensity, KnownModes):
    """A uniform mixture of Gaussians with known ``centers`` (K, 2) and ``std``: satisfies
    :class:`KnownModes`, measured by the exact mode metrics."""

    evaluator = "modes"

    def __init__(self, seed: int, extent: float, centers: Tensor, std: float):
        super().__init__(_mixture(centers, std), seed, extent)
        self.centers = centers  # (K, 2)
        self.std = std


def _mixture(centers: Tensor, std: float):
    def sampler(n: int, gen: torch.Generator) -> Tensor:
        idx = torch.randint(len(centers), (n,), generator=gen)
        return centers[idx] + std * torch.randn(n, 2, generator=gen)

    return sampler


@DATASETS.register
def ring8(cfg: DataConfig, seed: int) -> MixtureData:
    """8 Gaussians evenly spaced on the unit circle, std 0.01."""
    angle = torch.arange(8) * (2 * math.pi / 8)
    centers = torch.stack([angle.cos(), angle.sin()], dim=1)  # (8, 2)
    return MixtureData(seed, 1.0, centers, 0.01)


@DATASETS.register
def grid25(cfg: DataConfig, seed: int) -> MixtureData:
    """25 Gaussians centred on {-4, -2, 0, 2, 4}^2, std 0.05."""
    axis = torch.tensor([-4.0, -2.0, 0.0, 2.0, 4.0])
    centers = torch.cartesian_prod(axis, axis)  # (25, 2)
    return MixtureData(seed, 4.0, centers, 0.05)


@DATASETS.register
def spiral(cfg: DataConfig, seed: int) -> KnownDensity:
    """A noisy two-turn Archimedean spiral of radius up to 1 (no discrete modes)."""

    def sampler(n: int, gen: torch.Generator) -> Tensor:
        t = torch.rand(n, generator=gen) * (4 * math.pi)  # angle along two turns
        r = t / (4 * math.pi)
        x = torch.stack([r * t.cos(), r * t.sin()], dim=1)
        return x + 0.02 * torch.randn(n, 2, generator=gen)

    return KnownDensity(sampler, seed, 1.0)


class PointsData(Normalized, DataSource, Finite):
    """A user's finite set of points, shape (N, d), served in reshuffled epochs, standardised
    per column (zero mean, unit standard deviation) in model space. :class:`Finite`; measured
    by the energy distance."""

    evaluator = "energy"

    def __init__(self, points: Tensor, seed: int):
        self.points = points
        self.loc = points.mean(0)
        self.scale = points.std(0).clamp_min(1e-8)
        self.shape = tuple(points.shape[1:])
        self.n_classes = 0
        self.seed = seed
        self.order = EpochSampler(len(points), seed)
        self.served: Optional[Tensor] = None  # the encoded points held on a device, or None

    def keep_first(self, n: int) -> None:
        """Train on the first ``n`` points only (the normalisation stays that of all points)."""
        self.points = self.points[:n]
        self.order = EpochSampler(len(self.points), self.seed)
        self.served = None

    def nbytes(self) -> int:
        return self.points.numel() * self.points.element_size()

    def hold_on(self, device: torch.device) -> None:
        """Serve batches from the encoded points on ``device`` (encoding is per row: same values)."""
        self.served = self.encode(self.points).to(device)

    def sample(self, n: int) -> tuple[Tensor, None]:
        if self.served is not None:
            return self.served[self.order.next(n).to(self.served.device, non_blocking=True)], None
        return self.encode(self.points[self.order.next(n)]), None

    def reference(self, n: int, seed: int) -> Tensor:
        g = torch.Generator().manual_seed(seed)
        return self.points[torch.randint(len(self.points), (n,), generator=g)]

    def state_dict(self) -> dict:
        return self.order.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.order.load_state_dict(state)


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


@DATASETS.register
def points(cfg: DataConfig, seed: int) -> PointsData:
    """The user's own points: ``data.path`` names a .csv or .npy file of shape (N, d)."""
    if not cfg.path:
        raise GanforgeError("data.path: data.name=points needs data.path=FILE (.csv or .npy)")
    return PointsData(load_points(cfg.path), seed)
