"""What every dataset shares: the registry and the mapping between data and model space."""

from __future__ import annotations

from torch import Tensor

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
