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


# Randomness inside a model or a penalty under data parallelism. Every rank seeds torch alike
# (the weights must start equal), so a draw of each rank's own batch size would give every rank
# the same numbers. Drawing the global batch and keeping this rank's rows, as the loop does for
# z, gives each sample its own draw and the same draws as one process with the global batch.
Rows = tuple  # (rank, world): (0, 1) in a single process


def randn_rows(rows: Rows, shape: tuple, generator: torch.Generator | None = None,
               device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> Tensor:
    """N(0, I) of ``shape`` (b, ...) for this rank: rows rank*b .. (rank+1)*b of a (b*world, ...) draw."""
    rank, world = rows
    b = shape[0]
    x = torch.randn((b * world, *shape[1:]), generator=generator, device=device, dtype=dtype)
    return x[rank * b:(rank + 1) * b] if world > 1 else x


def mean_over_ranks(x: Tensor, rows: Rows) -> Tensor:
    """The mean of each rank's ``x`` (equal shards: the global-batch mean); ``x`` alone in one process."""
    if rows[1] == 1:
        return x
    import torch.distributed as tdist

    x = x.clone()
    tdist.all_reduce(x)
    return x / rows[1]
