"""``ganforge interpolate``: a PNG strip of images along paths between random latents (audio: a WAV that morphs)."""

from __future__ import annotations

from .common import add_class, add_resize, add_run, add_truncation


HELP = "a strip of images along paths between random latents"


def add_arguments(p) -> None:
    add_run(p, marks=True)
    p.add_argument("--out", required=True, help="output PNG (audio runs: a .wav of the paths' clips back to back, or a PNG of their spectrograms)")
    p.add_argument("--steps", type=int, default=10, help="images per path, ends included")
    p.add_argument("--rows", type=int, default=4, help="number of paths")
    p.add_argument("--seed", type=int, default=0)
    add_class(p, "class of every image (conditional runs)")
    p.add_argument("--from", dest="from_image", metavar="A.png", help="start at this real image (projected first)")
    p.add_argument("--to", dest="to_image", metavar="B.png", help="end at this real image (projected first)")
    add_truncation(p)
    add_resize(p)


def run(args) -> int:
    from ..api import load

    load(args.run).interpolate_file(args.out, args.rows, args.steps, args.seed, args.label, args.truncation,
                                    args.from_image, args.to_image, not args.no_watermark, args.resize, print)
    print(f"wrote {args.rows} interpolation paths of {args.steps} images to {args.out}")
    return 0
