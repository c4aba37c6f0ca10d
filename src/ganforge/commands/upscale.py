"""``ganforge upscale``: apply a super-resolution run to new images (a file or a folder)."""

from __future__ import annotations

from .translate import add_image_arguments

HELP = "apply a super-resolution run to images (any size)"


def add_arguments(p) -> None:
    add_image_arguments(p)
    p.add_argument("--scale", type=int, help="the factor expected (checked against the run's model.scale)")
    p.add_argument("--alpha", type=float, default=1.0,
                   help="network interpolation in [0, 1]: 0 = the L1 network (highest PSNR), 1 = the GAN "
                        "(sharpest; default); between, the blended weights")


def run(args) -> int:
    from ..api import load

    tr, files = load(args.run).upscale(args.input, args.out, args.scale, args.tile, not args.no_watermark, args.alpha)
    blend = "" if args.alpha == 1.0 else f", alpha {args.alpha:g}"
    print(f"upscaled x{tr.scale} {len(files)} image(s) with run {args.run} (step {tr.step}{blend}) into {args.out}")
    return 0
