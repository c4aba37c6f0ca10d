"""``ganforge classify``: a semi-supervised run's D as a classifier, one CSV row per input."""

from __future__ import annotations

from .common import add_resize, add_run

HELP = "classify images with a semi-supervised run's D (one CSV row per input)"


def add_arguments(p) -> None:
    add_run(p)
    p.add_argument("--data", required=True, help="a folder of images, an image, or images in .npz/.npy")
    p.add_argument("--out", required=True, help="predictions.csv: name, class, confidence and p_<class> per input")
    add_resize(p)


def run(args) -> int:
    from ..api import load

    rows, about = load(args.run).classify(args.data, args.out, args.resize)
    if about.get("resized"):
        print(about["resized"])
    counts: dict = {}
    for r in rows:
        counts[r["class"]] = counts.get(r["class"], 0) + 1
    print(f"classified {len(rows)} input(s) with the D of run {args.run} (step {about['step']}): "
          + ", ".join(f"{k}: {v}" for k, v in sorted(counts.items())) + f"; wrote {args.out}")
    return 0
