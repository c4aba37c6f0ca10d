"""``ganforge interpolate``: a PNG strip of images along paths between random latents."""

from __future__ import annotations

from pathlib import Path

from ..errors import GanforgeError


def run(args) -> int:
    from ..api import load
    import torch

    from ..io import check_output, image_grid

    if args.steps < 2 or args.rows < 1:
        raise GanforgeError("--steps must be >= 2 and --rows >= 1")
    check_output(args.out, "--out", (".png",))
    if (args.from_image is None) != (args.to_image is None):
        raise GanforgeError("--from and --to go together: the two images to interpolate between")
    run = load(args.run)
    kind = run.generator.data.kind
    if not kind.pixels:
        raise GanforgeError(f"{args.run}: interpolate draws image strips; this run generates {kind.name} samples")
    if args.from_image is None:
        x = run.interpolate(args.rows, args.steps, args.seed, args.label, args.truncation)  # (rows * steps, C, H, W)
    else:  # between two real images: project both, then walk between their latents
        from ..apps.project import project, read_images

        g = run.generator
        imgs = torch.cat([read_images(g, Path(p))[0] for p in (args.from_image, args.to_image)])  # (2, C, H, W)
        p = project(g, imgs, seed=args.seed)
        label = args.label if args.label is not None else (int(p.labels[0]) if p.labels is not None else None)
        x = g.interpolate(1, args.steps, args.seed, label, ends=(p.z[:1], p.z[1:]), truncation=args.truncation)
    image_grid(x, Path(args.out), nrow=args.steps, meta=run.meta(args.truncation, not args.no_watermark))
    print(f"wrote {args.rows} interpolation paths of {args.steps} images to {args.out}")
    return 0
