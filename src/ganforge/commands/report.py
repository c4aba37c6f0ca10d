"""``ganforge report``: one self-contained HTML report of a run."""

from __future__ import annotations

from .common import add_run


HELP = "write a self-contained HTML report of a run"


def add_arguments(p) -> None:
    add_run(p)
    p.add_argument("--out", help="output .html (default: RUN/report.html)")


def run(args) -> int:
    from ..api import load
    from ..files import check_output

    if args.out:
        check_output(args.out, "--out", (".html",))
    print(f"wrote {load(args.run).report(args.out)}")
    return 0
