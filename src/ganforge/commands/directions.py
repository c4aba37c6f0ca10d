"""``ganforge directions``: find the run's latent directions, write them, list them."""

from __future__ import annotations


def run(args) -> int:
    from ..api import load
    from ..apps.edit import FILE, find_directions
    from ..errors import GanforgeError

    if args.k < 1:
        raise GanforgeError(f"--k {args.k}: must be >= 1")
    r = load(args.run)
    dirs = find_directions(r.generator, r.path, k=args.k)
    print(f"wrote {r.path / FILE}: {', '.join(dirs)}")
    return 0
