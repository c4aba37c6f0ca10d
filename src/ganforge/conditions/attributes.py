"""Attribute vectors (B, A) float32, e.g. 40 binary face attributes, drawn as the data's own rows."""

from __future__ import annotations

from typing import Optional, Sequence

import torch
from torch import Tensor

from ..errors import GanforgeError
from .base import _say


class Attributes:
    """Attribute vectors y (B, A) float32, drawn for G as the rows of the data's own attribute
    table ``rows`` (N, A) (so their joint distribution is the data's). ``binary``: every value is
    0 or 1 (e.g. face attributes). ``names``: the A attributes' names, for messages."""

    kind = "attributes"

    def __init__(self, rows: Tensor, binary: bool = False, names: Optional[Sequence[str]] = None):
        if rows.dim() != 2 or len(rows) == 0:
            raise ValueError(f"Attributes: rows must be (N, A) with N >= 1, got {tuple(rows.shape)}")
        self.table = rows.float()  # (N, A); not ``rows``: that is the figure's method
        self.size = rows.shape[1]
        self.binary = binary
        self.names = [str(s) for s in names] if names else None
        if self.names is not None and len(self.names) != self.size:
            raise ValueError(f"Attributes: {len(self.names)} names for {self.size} attributes")

    def __repr__(self) -> str:
        return f"Attributes({self.size}{', binary' if self.binary else ''})"

    def draw(self, n: int, gen: torch.Generator, empirical: bool = False) -> Tensor:
        """(n, A) float32 on ``gen``'s device: rows of the data's attributes, uniformly."""
        pick = torch.randint(len(self.table), (n,), generator=gen, device=gen.device)  # (n,)
        return self.table.to(gen.device)[pick]

    def check(self, value, name: str = "--attributes") -> Tensor:
        """A sequence of A numbers (or a tensor (A,) or (n, A)) -> float32 (1, A) or (n, A)."""
        try:
            y = torch.as_tensor(value, dtype=torch.float32)
        except (TypeError, ValueError, RuntimeError):
            raise GanforgeError(f"{_say(name, value)}: expected {self.size} numbers") from None
        y = y.reshape(1, -1) if y.dim() <= 1 else y
        if y.dim() != 2 or y.shape[1] != self.size:
            raise GanforgeError(f"{name}: expected {self.size} attribute values per row, got shape {tuple(y.shape)}")
        if not bool(torch.isfinite(y).all()):
            raise GanforgeError(f"{name}: attribute values must be finite numbers")
        if self.binary and not bool(((y == 0) | (y == 1)).all()):
            col = int(((y != 0) & (y != 1)).any(0).nonzero()[0])
            which = self.names[col] if self.names else f"attribute {col}"
            raise GanforgeError(f"{name}: {which} is {float(y[:, col].flatten()[0]):g}; these attributes are 0 or 1")
        return y

    def repeat(self, value: Tensor, n: int) -> Tensor:
        return value.reshape(1, self.size).expand(n, self.size).clone()

    def held_by(self, x: Tensor) -> None:
        return None  # an image does not carry its attributes

    def rows(self, limit: int = 16) -> None:
        return None  # attributes: a row per attribute value comes with a model that takes them
