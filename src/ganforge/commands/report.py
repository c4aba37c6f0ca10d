"""``ganforge report``: one self-contained HTML report of a run."""

from __future__ import annotations


def run(args) -> int:
    from ..api import load
    from ..files import check_output

    if args.out:
        check_output(args.out, "--out", (".html",))
    print(f"wrote {load(args.run).report(args.out)}")
    return 0
