"""``ganforge edit``: a strip of images moved along a latent direction, or to another class."""

from __future__ import annotations

from pathlib import Path


def run(args) -> int:
    import numpy as np
    import torch

    from ..api import load
    from ..apps.edit import change_class, direction, edit, load_directions
    from ..apps.project import project, read_images
    from ..errors import GanforgeError
    from ..io import image_grid

    try:
        strengths = [float(s) for s in args.strengths.split(",") if s.strip()]
    except ValueError:
        raise GanforgeError(f"--strengths {args.strengths}: expected numbers separated by commas, e.g. -3,-1,0,1,3") from None
    if not strengths:
        raise GanforgeError("--strengths: give at least one number")
    if not str(args.out).endswith(".png"):
        raise GanforgeError(f"--out {args.out}: expected a .png file")
    r = load(args.run)
    g = r.generator
    if not g.data.kind.pixels:
        raise GanforgeError(f"{args.run}: edit draws image strips; this run generates {g.data.kind.name} samples")
    if args.to_class is None:
        d = direction(load_directions(r.path), args.direction)  # checked before any projection
    if args.latent:
        path = Path(args.latent)
        if not path.is_file():
            raise GanforgeError(f"--latent {args.latent}: no such file")
        try:
            z = torch.as_tensor(np.load(path, allow_pickle=False), dtype=torch.float32)
        except (OSError, ValueError) as e:
            raise GanforgeError(f"--latent {args.latent}: not a .npy array ({e})") from None
        z = z[None] if z.dim() == 1 else z
        if z.dim() != 2 or z.shape[1] != g.prior.dim:
            raise GanforgeError(f"--latent {args.latent}: expected latents of size {g.prior.dim}, got {tuple(z.shape)}")
        labels = None
    else:
        x, _ = read_images(g, Path(args.image))
        p = project(g, x)
        z, labels = p.z, p.labels
    if args.to_class is not None:
        x = torch.cat([change_class(g, z, args.to_class)])
        grid, nrow = x, len(x)
    else:
        grid, nrow = edit(g, z, d, strengths, labels), len(strengths)
    image_grid(grid, Path(args.out), nrow=nrow, meta=r.meta(watermark=not args.no_watermark))
    print(f"wrote {args.out}")
    return 0
