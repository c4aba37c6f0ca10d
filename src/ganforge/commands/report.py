"""``ganforge report``: one self-contained HTML report of a run."""

from __future__ import annotations


def run(args) -> int:
    from ..api import load

    print(f"wrote {load(args.run).report(args.out)}")
    return 0
