"""Conditions that are integer ids (B,) int64: a class (:class:`ClassIds`) or a category of a
table (:class:`TableConditions`, CTGAN's training-by-sampling draw)."""

from __future__ import annotations

from typing import Optional, Sequence, Union

import torch
from torch import Tensor

from ..errors import GanforgeError
from .base import ROWS, ConditionSpec, _in_range, _int_value, _say


class ClassIds:
    """Class ids y (B,) int64 in [0, K). G's classes are drawn uniformly (every class alike, as a
    class-conditional GAN is trained), or at the frequencies ``p`` (K,) when the source gives them
    (:meth:`from_labels`). ``names``: the classes' names, accepted by :meth:`check`."""

    kind = "class_ids"

    def __init__(self, n_classes: int, p: Optional[Sequence[float]] = None, names: Optional[Sequence[str]] = None):
        if n_classes < 1:
            raise ValueError(f"ClassIds: n_classes must be >= 1, got {n_classes}")
        self.size = int(n_classes)
        self.p = None if p is None else torch.as_tensor(p, dtype=torch.float64) / float(sum(p))
        if self.p is not None and len(self.p) != self.size:
            raise ValueError(f"ClassIds: {len(self.p)} frequencies for {self.size} classes")
        self.names = [str(s) for s in names] if names else None

    @classmethod
    def from_labels(cls, labels: Tensor, n_classes: int, names: Optional[Sequence[str]] = None) -> "ClassIds":
        """Classes drawn at the frequencies of ``labels`` (N,) int64."""
        return cls(n_classes, torch.bincount(labels, minlength=n_classes).tolist(), names)

    def __repr__(self) -> str:
        return f"ClassIds({self.size}{', by frequency' if self.p is not None else ''})"

    def draw(self, n: int, gen: torch.Generator, empirical: bool = False) -> Tensor:
        """(n,) int64 on ``gen``'s device; ``empirical`` changes nothing (one distribution)."""
        if self.p is None:
            return torch.randint(self.size, (n,), generator=gen, device=gen.device)
        return torch.multinomial(self.p.to(gen.device), n, replacement=True, generator=gen)

    def check(self, value, name: str = "--class") -> Union[int, Tensor]:
        """An int (or a class's name) -> the class id; an id tensor (n,) -> int64 (n,)."""
        if isinstance(value, str) and not value.lstrip("-").isdigit():
            if self.names is None or value not in self.names:
                known = f"; classes: {', '.join(self.names)}" if self.names else ""
                raise GanforgeError(f"{_say(name, value)}: expected a class id in 0..{self.size - 1}{known}")
            return self.names.index(value)
        y = _int_value(int(value) if isinstance(value, str) else value, name)
        return _in_range(y, self.size, name, f"choose a class in 0..{self.size - 1}")

    def repeat(self, value, n: int) -> Tensor:
        return torch.full((n,), int(value), dtype=torch.int64)

    def held_by(self, x: Tensor) -> None:
        return None  # an image does not carry its class

    def rows(self, limit: int = ROWS) -> Optional[tuple[Tensor, list[str]]]:
        """Every class, one row each, named (or numbered): the grid a class-conditional GAN is
        shown with; None beyond ``limit`` classes (stacked digits' 1,000)."""
        if self.size > limit:
            return None
        return torch.arange(self.size), list(self.names or map(str, range(self.size)))


class TableConditions:
    """A table's conditions (Xu et al. 2019, CTGAN): y (B,) int64, the global index of one
    category over all discrete columns. ``groups``: per discrete column, its categories' global
    indices and their training counts; ``col_p``: the columns' probabilities (``data.target_share``),
    else uniform. ``names``: per discrete column, (its name, its categories' labels), for
    ``COLUMN=VALUE`` values; ``cond_spans``: per discrete column, the (start, width) of its
    one-hot in a row, for :meth:`held_by`.

    :meth:`draw` is training-by-sampling's draw: a column, then one of its categories with
    probability proportional to log(1 + count), or to the count (``empirical``)."""

    kind = "table"

    def __init__(self, groups: Sequence[tuple[Sequence[int], Sequence[int]]], col_p: Optional[Sequence[float]] = None,
                 names: Optional[Sequence[tuple[str, Sequence[str]]]] = None,
                 cond_spans: Optional[Sequence[tuple[int, int]]] = None):
        self.groups = [(list(i), list(c)) for i, c in groups]
        self.size = sum(len(i) for i, _ in self.groups)
        if not self.size:
            raise ValueError("TableConditions: a table without discrete columns has no conditions")
        width = max(len(i) for i, _ in self.groups)
        # (columns, width) tables of global index, count and log(1 + count); rows padded with weight 0
        self.idx = torch.zeros(len(self.groups), width, dtype=torch.int64)
        self.w, self.logw = torch.zeros(len(self.groups), width), torch.zeros(len(self.groups), width)
        for j, (ii, counts) in enumerate(self.groups):
            self.idx[j, : len(ii)] = torch.tensor(ii)
            self.w[j, : len(ii)] = torch.tensor(counts, dtype=torch.float32)
            self.logw[j, : len(ii)] = torch.log1p(self.w[j, : len(ii)])
        self.col_p = None if col_p is None else torch.tensor(col_p, dtype=torch.float64)
        self.names = [(str(c), [str(v) for v in vals]) for c, vals in names] if names is not None else None
        self.cond_spans = [tuple(s) for s in cond_spans] if cond_spans is not None else None
        self._on: dict = {}  # device -> (idx, w, logw, col_p) there: no copy per training step

    def _tables(self, dev: torch.device) -> tuple:
        if dev not in self._on:
            tables = (self.idx, self.w, self.logw, self.col_p)
            self._on[dev] = tuple(t.to(dev) if t is not None else None for t in tables)
        return self._on[dev]

    @classmethod
    def from_layout(cls, layout: dict, names=None) -> "TableConditions":
        """From a table source's ``layout``: its ``groups``, ``cond_spans`` and, when not uniform, ``col_p``."""
        return cls(layout["groups"], layout.get("col_p"), names, layout.get("cond_spans"))

    def __repr__(self) -> str:
        return f"TableConditions({len(self.groups)} columns, {self.size} categories)"

    def draw_columns(self, n: int, gen: torch.Generator) -> Tensor:
        """Which discrete column each of n conditions names (n,), on ``gen``'s device."""
        if self.col_p is not None:
            return torch.multinomial(self._tables(gen.device)[3], n, replacement=True, generator=gen)
        return torch.randint(len(self.groups), (n,), generator=gen, device=gen.device)

    def draw(self, n: int, gen: torch.Generator, empirical: bool = False) -> Tensor:
        """Global category indices (n,) int64 on ``gen``'s device."""
        idx, w, logw, _ = self._tables(gen.device)
        col = self.draw_columns(n, gen)  # (n,)
        probs = (w if empirical else logw)[col]  # (n, width)
        pick = torch.multinomial(probs, 1, generator=gen).squeeze(1)  # (n,)
        return idx[col, pick]

    def index_of(self, column: str, value: str, name: str = "--condition") -> int:
        """The global index of ``column=value``; one-line errors naming the columns or values."""
        said = _say(name, f"{column}={value}")
        if self.names is None:
            raise GanforgeError(f"{said}: this run's conditions have no column names; give a category index")
        hit = next((j for j, (c, _) in enumerate(self.names) if c == column), None)
        if hit is None:
            raise GanforgeError(f"{said}: '{column}' is not a categorical column; those are: "
                                f"{', '.join(c for c, _ in self.names) or 'none'}")
        labels = self.names[hit][1]
        if value not in labels:
            raise GanforgeError(f"{said}: never seen in training; values: {', '.join(labels)}")
        return self.groups[hit][0][labels.index(value)]

    def check(self, value, name: str = "--condition") -> Union[int, Tensor]:
        """``COLUMN=VALUE`` or a global index (int, or an id tensor (n,)) -> the index."""
        if isinstance(value, str) and "=" in value:
            column, _, v = value.partition("=")
            return self.index_of(column, v, name)
        y = _int_value(int(value) if isinstance(value, str) and value.lstrip("-").isdigit() else value, name)
        return _in_range(y, self.size, name, f"choose a category in 0..{self.size - 1} (or COLUMN=VALUE)")

    def repeat(self, value, n: int) -> Tensor:
        return torch.full((n,), int(value), dtype=torch.int64)

    def held_by(self, x: Tensor) -> Tensor:
        """The condition each row (N, width) of the layout holds (N,): the global index of its
        category in the first discrete column (an all-zero one-hot reads as its first category)."""
        if self.cond_spans is None:
            raise ValueError("TableConditions.held_by needs the layout's cond_spans")
        start, width = self.cond_spans[0]
        return x[:, start : start + width].argmax(1) + self.groups[0][0][0]

    def rows(self, limit: int = ROWS) -> None:
        return None  # a table's figure compares its columns' distributions: conditions at the data's frequencies


def as_condition(condition: Union[ConditionSpec, int, None]) -> Optional[ConditionSpec]:
    """A condition spec from a spec, or from a number of classes (an int: class ids; 0: None)."""
    if isinstance(condition, int):
        return ClassIds(condition) if condition else None
    return condition
