"""``ganforge score``: the discriminator's judgement of the user's data, one CSV row per input."""

from __future__ import annotations

import argparse

from .common import add_class, add_resize, add_run

HELP = "the discriminator's probability that each input is real (a judge)"


def add_arguments(p) -> None:
    add_run(p)
    p.add_argument("--data", required=True, help="a folder of images, an image, or points in .csv/.npy/.npz")
    p.add_argument("--out", required=True, help="scores.csv: one row per input")
    add_class(p, "conditional runs: judge every input as class K")
    add_resize(p)
    p.add_argument("--label", dest="label", type=int, help=argparse.SUPPRESS)  # deprecated spelling of --class


def run(args) -> int:
    from ..api import load

    rows, about = load(args.run).score(args.data, args.out, args.label, args.resize)
    if about.get("resized"):
        print(about["resized"])
    mean = sum(r["p_real"] for r in rows) / len(rows)
    print(f"scored {len(rows)} input(s) with the D of run {args.run} (step {about['step']}): mean p_real "
          f"{mean:.3f}; wrote {args.out}")
    return 0
