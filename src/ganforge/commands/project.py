"""``ganforge project``: latents whose images reconstruct the given images, with the evidence."""

from __future__ import annotations

from .common import add_class, add_resize, add_run

HELP = "find latents whose images reconstruct given images (inversion)"


def add_arguments(p) -> None:
    add_run(p, marks=True)
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--image", help="one image file (PNG/JPEG), the run's size (or any, with --resize)")
    src.add_argument("--data", help="a folder of images")
    p.add_argument("--out", required=True, help="output folder: latents.npy, side_by_side.png, errors.json, "
                                                "manifest.json")
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--starts", type=int, default=4)
    p.add_argument("--seed", type=int, default=0)
    add_class(p, "conditional runs: the class (default: what the judge reads)")
    add_resize(p)
    p.add_argument("--no-encoder", action="store_true", help="do not start from RUN/encoder.pt even if it exists")


def run(args) -> int:
    from ..api import load

    r = load(args.run)
    p, files = r.project(args.image or args.data, args.out, args.steps, args.starts, args.seed, args.label,
                         not args.no_encoder, not args.no_watermark, args.resize)
    if p.resized:
        print(p.resized)
    print(f"projected {len(p.z)} image(s) into run {args.run} (step {r.step}): mean pixel MSE "
          f"{p.mse.mean():.4g}; wrote {', '.join(str(f) for f in files)}")
    return 0
