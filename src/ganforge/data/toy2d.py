"""2D data with known densities, and the user's own point files.

``ring8`` and ``grid25`` follow the PacGAN protocol (Lin et al. 2018): a uniform mixture of
Gaussians with the given centres and a shared isotropic standard deviation, so that mode
coverage and sample quality can be measured exactly (``ganforge.metrics.toy2d``).
"""

from __future__ import annotations

import math
from typing import Optional

import torch
from torch import Tensor

from ..config import DataConfig
from ..errors import GanforgeError
from .base import DataSource, Finite, KnownModes, Normalized, register_dataset
from .kinds import POINTS
from .kinds.points import load_points  # the user's point files: the points kind reads them
from .sampling import EpochSampler


class KnownDensity(Normalized, DataSource):
    """An endless source of samples from a known density, drawn from its own generator; no
    discrete modes (spiral), so it is measured by the energy distance. Not :class:`Finite`."""

    kind = POINTS  # what one sample is (data/kinds)
    evaluator = "energy"

    def __init__(self, sampler, seed: int, extent: float):
        self._sampler = sampler  # (n, generator) -> (n, 2)
        self.gen = torch.Generator().manual_seed(seed)
        self.shape = (2,)
        self.condition_spec = None  # unlabelled
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


@register_dataset(POINTS)
def ring8(cfg: DataConfig, seed: int) -> MixtureData:
    """8 Gaussians evenly spaced on the unit circle, std 0.01."""
    angle = torch.arange(8) * (2 * math.pi / 8)
    centers = torch.stack([angle.cos(), angle.sin()], dim=1)  # (8, 2)
    return MixtureData(seed, 1.0, centers, 0.01)


@register_dataset(POINTS)
def grid25(cfg: DataConfig, seed: int) -> MixtureData:
    """25 Gaussians centred on {-4, -2, 0, 2, 4}^2, std 0.05."""
    axis = torch.tensor([-4.0, -2.0, 0.0, 2.0, 4.0])
    centers = torch.cartesian_prod(axis, axis)  # (25, 2)
    return MixtureData(seed, 4.0, centers, 0.05)


@register_dataset(POINTS)
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

    kind = POINTS  # what one sample is (data/kinds)
    evaluator = "energy"

    def __init__(self, points: Tensor, seed: int):
        self.points = points
        self.loc = points.mean(0)
        self.scale = points.std(0).clamp_min(1e-8)
        self.shape = tuple(points.shape[1:])
        self.condition_spec = None  # unlabelled
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


@register_dataset(POINTS)
def points(cfg: DataConfig, seed: int) -> PointsData:
    """The user's own points: ``data.path`` names a .csv or .npy file of shape (N, d)."""
    if not cfg.path:
        raise GanforgeError("data.path: data.name=points needs data.path=FILE (.csv or .npy)")
    return PointsData(load_points(cfg.path), seed)
