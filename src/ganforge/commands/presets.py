"""``ganforge presets``: the shipped presets."""

from __future__ import annotations

from ..config import preset_names


def run(args) -> int:
    for name in preset_names():
        print(name)
    return 0
