"""``ganforge doctor``: the phases of a run, its failure events and remedies, and a verdict."""

from __future__ import annotations

import json

from .common import add_run


HELP = "diagnose a run: phases, failure events and remedies"


def add_arguments(p) -> None:
    add_run(p)
    p.add_argument("--json", action="store_true", help="print one JSON object")


def run(args) -> int:
    from ..api import load
    from ..diagnostics.doctor import format_diagnosis

    d = load(args.run).doctor()
    if args.json:
        print(json.dumps({"run": d.run, "last_step": d.last_step,
                          "phases": [{"phase": n, "first_step": a, "last_step": b} for n, a, b in d.phases],
                          "events": d.events, "open_at_end": d.open_at_end, "final": d.final,
                          "verdict": d.verdict, "likely_causes": d.causes}))
    else:
        print(format_diagnosis(d))
    return 0
