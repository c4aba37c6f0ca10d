"""``ganforge upscale``: apply a super-resolution run to new images (a file or a folder)."""

from __future__ import annotations

from . import translate


def run(args) -> int:
    return translate.run(args, upscale=True)
