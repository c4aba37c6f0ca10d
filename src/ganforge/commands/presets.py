"""``ganforge presets``: each shipped preset, what it is for (its file's own comment) and what it trains."""

from __future__ import annotations


def run(args) -> int:
    from ..discover import presets

    for p in presets():
        print(f"{p.name}\n    {p.description}\n    trains: {p.trains}")
    return 0
