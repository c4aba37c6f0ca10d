"""``ganforge encoder``: fit an encoder image -> z to the run's generator (RUN/encoder.pt)."""

from __future__ import annotations

import sys

from .common import add_run

HELP = "fit an encoder image -> z on the run's own samples (RUN/encoder.pt)"


def add_arguments(p) -> None:
    add_run(p)
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--seed", type=int, default=0)


def _progress(step: int, loss: float) -> None:
    print(f"encoder step {step}: loss {loss:.4g}", file=sys.stderr)


def run(args) -> int:
    from ..api import load

    print(f"wrote {load(args.run).fit_encoder(args.steps, args.seed, _progress)}")
    return 0
