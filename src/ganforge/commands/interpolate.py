"""``ganforge interpolate``: a PNG strip of images along paths between random latents."""

from __future__ import annotations

from pathlib import Path

from ..errors import GanforgeError


def run(args) -> int:
    from ..api import load
    from ..io import check_output, image_grid

    if args.steps < 2 or args.rows < 1:
        raise GanforgeError("--steps must be >= 2 and --rows >= 1")
    check_output(args.out, "--out", (".png",))
    run = load(args.run)
    if len(run.shape) != 3:
        raise GanforgeError(f"{args.run}: interpolate draws image strips; this run generates points")
    x = run.interpolate(args.rows, args.steps, args.seed, args.label)  # (rows * steps, C, H, W)
    image_grid(x, Path(args.out), nrow=args.steps, meta=run.meta())
    print(f"wrote {args.rows} interpolation paths of {args.steps} images to {args.out}")
    return 0
