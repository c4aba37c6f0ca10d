"""``ganforge edit``: a strip of images moved along a latent direction, or to another class."""

from __future__ import annotations

import argparse

from .common import add_resize, add_run

HELP = "a strip of images moved along a latent direction, or to another class"


def _strengths(text: str) -> list[float]:
    try:
        return [float(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text}: expected numbers separated by commas, e.g. -3,-1,0,1,3") from None


def add_arguments(p) -> None:
    add_run(p, marks=True)
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--latent", help="z.npy (from `ganforge project`), one latent per row")
    src.add_argument("--image", help="an image, projected first")
    how = p.add_mutually_exclusive_group(required=True)
    how.add_argument("--direction", help="a name from `ganforge directions RUN` (pc0, class_3, ...)")
    how.add_argument("--to-class", type=int, help="conditional runs: the same z under this class")
    p.add_argument("--strengths", type=_strengths, default="-3,-1,0,1,3",
                   help="comma-separated steps along the direction")
    p.add_argument("--out", required=True, help="output PNG")
    add_resize(p)


def run(args) -> int:
    from ..api import load

    out = load(args.run).edit(args.out, args.strengths, args.direction, args.to_class, args.latent, args.image,
                              not args.no_watermark, args.resize, print)
    print(f"wrote {out}")
    return 0
