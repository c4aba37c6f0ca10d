"""``ganforge directions``: find the run's latent directions, write them, list them."""

from __future__ import annotations

from .common import add_run

HELP = "find and list latent directions (RUN/directions.pt)"





def add_arguments(p) -> None:
    add_run(p)
    p.add_argument("--k", type=int, default=8, help="principal directions to keep")


def run(args) -> int:
    from ..api import load
    from ..apps.edit import FILE

    r = load(args.run)
    dirs = r.directions(args.k)
    print(f"wrote {r.path / FILE}: {', '.join(dirs)}")
    return 0
