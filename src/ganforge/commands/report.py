"""``ganforge report``: one self-contained HTML report of a run."""

from __future__ import annotations

from pathlib import Path


def run(args) -> int:
    from ..report.html import write_report
    from ..rundir import existing_run

    path = write_report(existing_run(args.run), Path(args.out) if args.out else None)
    print(f"wrote {path}")
    return 0
