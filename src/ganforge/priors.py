"""The noise prior p(z): a registry of samplers, chosen by ``model.prior``."""

from __future__ import annotations

import torch
from torch import Tensor

from .registry import Registry

PRIORS: Registry = Registry("model.prior")


@PRIORS.register
def normal(n: int, dim: int, gen: torch.Generator) -> Tensor:
    """N(0, I): (n, dim) on the generator's device."""
    return torch.randn(n, dim, generator=gen, device=gen.device)


@PRIORS.register
def uniform(n: int, dim: int, gen: torch.Generator) -> Tensor:
    """U[-1, 1]^dim: (n, dim) on the generator's device."""
    return torch.rand(n, dim, generator=gen, device=gen.device) * 2 - 1


class Prior:
    """p(z) over R^dim, one of :data:`PRIORS` (``normal`` or ``uniform``)."""

    def __init__(self, kind: str, dim: int):
        self._draw = PRIORS.get(kind)  # an unknown kind is a one-line GanforgeError listing the valid ones
        self.kind, self.dim = kind, dim

    def sample(self, n: int, gen: torch.Generator, device: torch.device | str = "cpu") -> Tensor:
        """Noise of shape (n, dim), drawn on the generator's device and moved to ``device``."""
        return self._draw(n, self.dim, gen).to(device, non_blocking=True)
