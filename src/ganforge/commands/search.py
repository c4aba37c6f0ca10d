"""``ganforge search``: search a level run's latent space for levels with chosen properties
(CMA-ES over z, or a MAP-Elites grid over two features), writing the best levels and the archive."""

from __future__ import annotations

from .common import add_run

HELP = "search a level run's z for levels meeting an objective (CMA-ES or MAP-Elites)"
EPILOG = ('example: ganforge search RUN --objective "playable and enemies>=5 and jumps>=3" --budget 500 --out best/\n'
          "features: enemies, gaps, gap_columns, jumps, coins, keys, doors, hazards, path, linearity, leniency, "
          "openness, reached")


def add_arguments(p) -> None:
    add_run(p)
    p.add_argument("--objective", required=True,
                   help='constraints joined by "and": playable, FEATURE>=N, FEATURE<=N, FEATURE==N, ...')
    p.add_argument("--budget", type=int, default=500, help="levels evaluated at most (default 500)")
    p.add_argument("--out", required=True, help="a new folder: the best levels (.txt, .png) and archive.json/.npy")
    p.add_argument("--method", default="cma", choices=("cma", "map-elites"),
                   help="cma: CMA-ES over z (the cma package); map-elites: a grid over --features")
    p.add_argument("--n", type=int, default=8, help="cma: stop after this many distinct levels meet the objective, "
                                                    "and write the best this many (default 8)")
    p.add_argument("--features", default="enemies,gaps", help="map-elites: two features, FEATURE,FEATURE")
    p.add_argument("--bins", type=int, default=8, help="map-elites: cells per feature (values 0..bins-1)")
    p.add_argument("--seed", type=int, default=0)


def run(args) -> int:
    from pathlib import Path

    from ..api import load
    from ..apps.level_search import search
    from ..errors import GanforgeError

    feats = tuple(f.strip() for f in args.features.split(","))
    if len(feats) != 2:
        raise GanforgeError(f"--features {args.features}: name two features, FEATURE,FEATURE")

    def progress(evals, best, found):
        print(f"  {evals}/{args.budget} levels  best violation {best:.3f}  meeting the objective {found}", flush=True)

    r = search(load(args.run).generator, args.objective, args.budget, args.out, args.method, args.n, args.seed,
               feats, args.bins, progress)
    print(f"{args.method}: {r.found} distinct levels meet \"{args.objective}\" after {r.evals} evaluated; "
          f"wrote {len([f for f in r.files if f.suffix == '.txt'])} levels and the archive to {Path(args.out)}")
    return 0
