"""A tiny name -> builder registry, shared by losses, penalties, models, datasets, evaluators,
priors, schedules and the other named choices of the config.

A registry key is the registered function's ``__name__``, so ``loss.name=hinge`` refers to
the function ``hinge`` in ``losses.py`` (a model registers a spec that names its builder, see
``models/base.py``). Unknown names raise a :class:`GanforgeError` that
lists the valid ones.
"""

from __future__ import annotations

from typing import Generic, Iterator, TypeVar

from .errors import GanforgeError

F = TypeVar("F")


class Registry(Generic[F]):
    """Maps names to builders (or specs). ``kind`` is the config key users set (e.g. ``loss.name``)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, F] = {}

    def register(self, fn: F) -> F:
        """Decorator: register ``fn`` under its own name."""
        self.add(fn.__name__, fn)
        return fn

    def add(self, name: str, item: F) -> None:
        """Register ``item`` (a function, or a spec naming one) under ``name``."""
        if name in self._items:
            raise ValueError(f"{self.kind}: '{name}' is registered twice")
        self._items[name] = item

    def get(self, name: str) -> F:
        try:
            return self._items[name]
        except KeyError:
            raise GanforgeError(
                f"{self.kind}: unknown name '{name}'; choose one of: {', '.join(self.names())}"
            ) from None

    def names(self) -> list[str]:
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._items)
