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
from ..registry import Registry

DATASETS: Registry = Registry("data.name")


class Normalized:
    """Models see data as ``(x - loc) / scale``; :meth:`decode` maps their output back.

    Both are shape ``(d,)``. Working in unit-sized coordinates keeps learning rates and
    penalty weights meaningful whatever the units of the user's data.
    """

    loc: Tensor
    scale: Tensor

    def encode(self, x: Tensor) -> Tensor:
        return (x - self.loc.to(x.device)) / self.scale.to(x.device)

    def decode(self, x: Tensor) -> Tensor:
        """Model space -> data space, shape (n, d)."""
        return x * self.scale.to(x.device) + self.loc.to(x.device)


class MixtureData(Normalized):
    """An endless source of samples from a known density, drawn from its own generator."""

    def __init__(self, sampler, seed: int, extent: float, centers: Optional[Tensor] = None, std: Optional[float] = None):
        self._sampler = sampler  # (n, generator) -> (n, 2)
        self.gen = torch.Generator().manual_seed(seed)
        self.centers = centers  # (K, 2) or None
        self.std = std
        self.shape = (2,)
        self.loc, self.scale = torch.zeros(2), torch.full((2,), float(extent))

    def sample(self, n: int) -> Tensor:
        """A fresh batch of real points in model space, shape (n, 2)."""
        return self.encode(self._sampler(n, self.gen))

    def reference(self, n: int, seed: int) -> Tensor:
        """Real points in data space from a separate generator (plots, metrics), shape (n, 2)."""
        return self._sampler(n, torch.Generator().manual_seed(seed))

    def state_dict(self) -> dict:
        return {"gen": self.gen.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.gen.set_state(state["gen"])


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
    return MixtureData(_mixture(centers, 0.01), seed, 1.0, centers, 0.01)


@DATASETS.register
def grid25(cfg: DataConfig, seed: int) -> MixtureData:
    """25 Gaussians centred on {-4, -2, 0, 2, 4}^2, std 0.05."""
    axis = torch.tensor([-4.0, -2.0, 0.0, 2.0, 4.0])
    centers = torch.cartesian_prod(axis, axis)  # (25, 2)
    return MixtureData(_mixture(centers, 0.05), seed, 4.0, centers, 0.05)


@DATASETS.register
def spiral(cfg: DataConfig, seed: int) -> MixtureData:
    """A noisy two-turn Archimedean spiral of radius up to 1 (no discrete modes)."""

    def sampler(n: int, gen: torch.Generator) -> Tensor:
        t = torch.rand(n, generator=gen) * (4 * math.pi)  # angle along two turns
        r = t / (4 * math.pi)
        x = torch.stack([r * t.cos(), r * t.sin()], dim=1)
        return x + 0.02 * torch.randn(n, 2, generator=gen)

    return MixtureData(sampler, seed, 1.0)


class PointsData(Normalized):
    """A user's finite set of points, shape (N, d), served in reshuffled epochs, standardised
    per column (zero mean, unit standard deviation) in model space."""

    def __init__(self, points: Tensor, seed: int):
        self.points = points
        self.loc = points.mean(0)
        self.scale = points.std(0).clamp_min(1e-8)
        self.shape = tuple(points.shape[1:])
        self.centers, self.std = None, None
        self.gen = torch.Generator().manual_seed(seed)
        self._perm = torch.randperm(len(points), generator=self.gen)
        self._pos = 0

    def sample(self, n: int) -> Tensor:
        parts, need = [], n
        while need > 0:
            if self._pos == len(self._perm):
                self._perm, self._pos = torch.randperm(len(self.points), generator=self.gen), 0
            take = self._perm[self._pos : self._pos + need]
            self._pos += len(take)
            need -= len(take)
            parts.append(self.points[take])
        return self.encode(torch.cat(parts))

    def reference(self, n: int, seed: int) -> Tensor:
        g = torch.Generator().manual_seed(seed)
        return self.points[torch.randint(len(self.points), (n,), generator=g)]

    def state_dict(self) -> dict:
        return {"gen": self.gen.get_state(), "perm": self._perm.clone(), "pos": self._pos}

    def load_state_dict(self, state: dict) -> None:
        self.gen.set_state(state["gen"])
        self._perm, self._pos = state["perm"], int(state["pos"])


def load_points(path: str) -> Tensor:
    """Read a ``.npy`` or ``.csv`` (an optional header row, comma separated) of shape (N, d)."""
    p = Path(path)
    if not p.is_file():
        raise GanforgeError(f"data.path: no such file: {path}")
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
