"""``ganforge card``: the run's model card (Markdown with YAML front matter)."""

from __future__ import annotations


def run(args) -> int:
    from ..api import load

    print(f"wrote {load(args.run).card(args.out)}")
    return 0
