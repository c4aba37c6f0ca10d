"""The noise prior p(z)."""

from __future__ import annotations

import torch
from torch import Tensor


class Prior:
    """p(z) over R^dim: ``normal`` is N(0, I), ``uniform`` is U[-1, 1]^dim."""

    def __init__(self, kind: str, dim: int):
        if kind not in ("normal", "uniform"):
            raise ValueError(f"unknown prior {kind!r}")
        self.kind, self.dim = kind, dim

    def sample(self, n: int, gen: torch.Generator, device: torch.device | str = "cpu") -> Tensor:
        """Noise of shape (n, dim), drawn on the generator's device and moved to ``device``."""
        if self.kind == "normal":
            z = torch.randn(n, self.dim, generator=gen, device=gen.device)
        else:
            z = torch.rand(n, self.dim, generator=gen, device=gen.device) * 2 - 1
        return z.to(device, non_blocking=True)
