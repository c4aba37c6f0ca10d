"""``ganforge synth``: a labelled synthetic dataset of a run, with provenance."""

from __future__ import annotations

from .common import add_run

HELP = "a labelled synthetic dataset with provenance (folders, npz, csv, npy)"


def add_arguments(p) -> None:
    add_run(p, marks=True)
    p.add_argument("--out", required=True, help="DIR/ (class sub-folders of PNGs), FILE.npz, FILE.csv or FILE.npy")
    p.add_argument("--n", type=int, help="number of samples (classes in turn for a conditional run)")
    p.add_argument("--per-class", type=int, metavar="N", help="N samples of every class (conditional runs)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--min-confidence", type=float, metavar="C",
                   help="keep only samples the class reader reads as their class with probability >= C")
    p.add_argument("--truncation", type=float, metavar="PSI", help="truncation psi, for style-based runs")


def run(args) -> int:
    from ..api import load

    r = load(args.run)
    res = r.synth(args.out, args.n, args.per_class, args.seed, args.min_confidence, args.truncation,
                  not args.no_watermark)
    counts = f" ({', '.join(f'{k}: {v}' for k, v in res.per_class.items())})" if res.per_class else ""
    print(f"wrote {res.n} synthetic samples of run {args.run} (step {r.step}) to {res.out}{counts}")
    if args.min_confidence is not None:
        print(f"rejected {res.rejected} samples below --min-confidence {args.min_confidence}")
    return 0
