"""The condition protocol: a spec (:class:`ConditionSpec`) and a batch of conditions
(:data:`Condition`: a tensor, or a :class:`Batch` such as the text kind's), the one-line checks
every kind shares, and what callers use (:func:`check_condition`, :func:`draw`, :func:`rows_of`,
:func:`n_classes`)."""

from __future__ import annotations

import numbers
from typing import Callable, Optional, Protocol, Union, runtime_checkable

import torch
from torch import Tensor

from ..errors import GanforgeError

IDS = ("class_ids", "table")  # kinds whose conditions are integer ids (B,) a model embeds


@runtime_checkable
class Batch(Protocol):
    """A batch of B conditions that is not one tensor (e.g. text: token ids and a mask)."""

    def __len__(self) -> int: ...

    def __getitem__(self, rows) -> "Batch": ...

    def to(self, device) -> "Batch": ...

    def map(self, fn: Callable[[Tensor], Tensor]) -> "Batch":
        """``fn`` applied to each of its tensors (all (B, ...)), e.g. a rank's rows of a global batch."""
        ...


Condition = Union[Tensor, Batch]  # a batch of conditions: (B,), (B, A), or e.g. a TextBatch of B texts


ROWS = 16  # a sample figure shows one row per condition up to this many values


@runtime_checkable
class ConditionSpec(Protocol):
    """What a data source's conditions are. ``kind`` is one of ``class_ids``, ``table``,
    ``attributes``, ``text``; ``size`` is a model's input size for them: classes for class ids,
    categories for table conditions, width for attributes, vocabulary for text."""

    kind: str
    size: int

    def draw(self, n: int, gen: torch.Generator, empirical: bool = False) -> Condition:
        """n conditions for G, on ``gen``'s device, from ``gen`` only. ``empirical``: at the
        data's own frequencies (sampling the data as it is) where training draws otherwise."""
        ...

    def check(self, value, name: str = "--class"):
        """A user's value as this spec takes it (an id for ids, else a batch of 1 row, or of n
        rows for n values); a one-line GanforgeError naming ``name`` when it is not one of this
        data's conditions."""
        ...

    def repeat(self, value, n: int) -> Condition:
        """n rows of one checked value."""
        ...

    def held_by(self, x: Tensor) -> Optional[Condition]:
        """The conditions samples x (N, *shape) hold themselves (a table row holds its
        categories), or None where a sample does not say (an image does not carry its class)."""
        ...

    def rows(self, limit: int = ROWS) -> Optional[tuple[Condition, list[str]]]:
        """One condition per row of a sample figure, with its name (a class each), or None
        where the figure draws conditions at the data's frequencies (too many values, or a
        table whose figure compares distributions)."""
        ...


def _say(name: str, value) -> str:
    """How an error names the value: ``--class 12`` for a flag, ``label=12`` for an argument."""
    return f"{name} {value}" if name.startswith("-") else f"{name}={value}"


def _int_value(value, name: str) -> Union[int, Tensor]:
    """An int, or a 0/1-dim integer tensor as int64; anything else is a one-line error."""
    if isinstance(value, Tensor):
        if value.dtype.is_floating_point or value.dtype == torch.bool or value.dim() > 1:
            raise GanforgeError(f"{name}: expected integer ids (n,), got a {value.dtype} tensor {tuple(value.shape)}")
        return value.long().reshape(-1)
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise GanforgeError(f"{_say(name, value)}: expected an integer")
    return int(value)


def _in_range(y: Union[int, Tensor], size: int, name: str, advice: str) -> Union[int, Tensor]:
    """``y`` when every id is in [0, size); else a one-line error naming the first one that is not."""
    if isinstance(y, int):
        bad = None if 0 <= y < size else y
    else:
        out = (y < 0) | (y >= size)
        bad = int(y[out][0]) if bool(out.any()) else None
    if bad is not None:
        raise GanforgeError(f"{_say(name, bad)}: {advice}")
    return y


def check_condition(spec: Optional[ConditionSpec], value, name: str = "--class") -> Condition:
    """The one check of a user's condition value (``--class``, ``--to-class``, ``--label``,
    ``--condition``, ``label=``) against a run's conditions ``spec`` (None: an unconditional run);
    returns the value as the spec takes it. Errors are one line and name ``name``."""
    if spec is None:
        raise GanforgeError(f"{_say(name, value)}: this run is not conditional (model.conditional=false)")
    return spec.check(value, name)


def draw(spec: Optional[ConditionSpec], n: int, gen: torch.Generator, empirical: bool = False) -> Optional[Condition]:
    """n conditions for G from ``spec`` (None for an unconditional run, which draws nothing)."""
    return None if spec is None else spec.draw(n, gen, empirical)


def rows_of(y: Optional[Condition], fn: Optional[Callable[[Tensor], Tensor]]) -> Optional[Condition]:
    """``fn`` (e.g. DDP's cut of a global batch to this rank's rows) applied to a condition batch."""
    if y is None or fn is None:
        return y
    return fn(y) if isinstance(y, Tensor) else y.map(fn)


def n_classes(spec: Optional[ConditionSpec], what: str = "model.conditional=true") -> int:
    """The ids a model embeds for ``spec``: 0 for None, its size for class ids and table
    conditions; attributes and text are refused in one line (no model here takes them)."""
    if spec is None:
        return 0
    if spec.kind not in IDS:
        raise GanforgeError(f"{what}: this data's conditions are {spec.kind} ({spec!r}); the models here are "
                            "conditioned on class ids or table categories only")
    return spec.size


def class_count(spec: Optional[ConditionSpec]) -> int:
    """A data source's ``n_classes``: the size of id conditions, else 0 (none, attributes, text)."""
    return spec.size if spec is not None and spec.kind in IDS else 0
