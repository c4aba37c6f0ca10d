"""``ganforge sample``: draw samples from a trained run into .npy, .csv, a PNG grid or PNG files."""

from __future__ import annotations

from .common import add_class, add_run, add_truncation

HELP = "draw samples from a trained run"


def add_arguments(p) -> None:
    add_run(p, marks=True)
    p.add_argument("--n", type=int, required=True, help="number of samples")
    p.add_argument("--out", required=True,
                   help="points: FILE.npy or FILE.csv; images: GRID.png, DIR/ (one PNG each) or FILE.npy; video: CLIPS.gif, CLIPS.mp4, FILE.npy or DIR/ (a GIF each); "
                        "tables: FILE.csv")
    p.add_argument("--seed", type=int, default=0)
    add_class(p, "draw every sample from this class (conditional runs)")
    add_truncation(p)
    p.add_argument("--condition", metavar="COL=VALUE", help="tables: every row holds this category")


def run(args) -> int:
    from pathlib import Path

    from ..api import load
    from ..apps.synth import sample_target

    sample_target(args.out, args.n)  # a bad --out or --n is refused before the run is read
    r = load(args.run)
    n, what = r.write_samples(args.out, args.n, args.seed, args.label, args.truncation, args.condition,
                              not args.no_watermark)
    print(f"wrote {n} {what} of run {args.run} (step {r.step}) to {Path(args.out)}")
    return 0
