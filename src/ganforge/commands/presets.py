"""``ganforge presets``: each shipped preset, what it is for (its file's own comment) and what it trains."""

from __future__ import annotations


HELP = "list the shipped presets, each with what it trains"


def add_arguments(p) -> None:
    pass


def run(args) -> int:
    from ..discover import presets

    for p in presets():
        print(f"{p.name}\n    {p.description}\n    trains: {p.trains}")
    return 0
