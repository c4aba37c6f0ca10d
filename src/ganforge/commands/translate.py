"""``ganforge translate``: apply a pix2pix or CycleGAN run to new images (a file or a folder)."""

from __future__ import annotations

from .common import add_run

HELP = "apply a pix2pix or CycleGAN run to images (any size)"


def add_image_arguments(p) -> None:
    """What translate and upscale share: the run, the inputs, the output folder, the tiling."""
    add_run(p, marks=True)
    p.add_argument("--input", required=True, help="an image file (PNG/JPEG) or a folder of them")
    p.add_argument("--out", required=True, help="output folder: NAME.png per input and manifest.json")
    p.add_argument("--tile", type=int, default=256, help="inputs larger than this (px a side) go in tiles")


def add_arguments(p) -> None:
    add_image_arguments(p)
    p.add_argument("--direction", default="a2b", choices=("a2b", "b2a"), help="CycleGAN: which generator")


def run(args) -> int:
    from ..api import load

    tr, files = load(args.run).translate(args.input, args.out, args.direction, args.tile, not args.no_watermark)
    print(f"translated {len(files)} image(s) with run {args.run} (step {tr.step}) into {args.out}")
    return 0
