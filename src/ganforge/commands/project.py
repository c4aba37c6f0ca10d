"""``ganforge project``: latents whose images reconstruct the given images, with the evidence."""

from __future__ import annotations

import json
from pathlib import Path


def run(args) -> int:
    import numpy as np
    import torch

    from ..api import load
    from ..apps.encoder import encode, load_encoder
    from ..apps.project import project, read_images
    from ..errors import GanforgeError
    from ..files import image_grid, write_provenance, write_text_atomic

    if args.steps < 0 or args.starts < 1:
        raise GanforgeError("--steps must be >= 0 and --starts >= 1")
    r = load(args.run)
    g = r.generator
    if args.label is not None and not 0 <= args.label < max(g.n_classes, 1) or (args.label is not None and not g.n_classes):
        raise GanforgeError(f"--class {args.label}: " + (f"choose a class in 0..{g.n_classes - 1}" if g.n_classes
                                                         else "this run is not conditional"))
    x, names = read_images(g, Path(args.image) if args.image else Path(args.data))
    out = Path(args.out)
    z_init = None
    if not args.no_encoder and (r.path / "encoder.pt").is_file():
        z_init = encode(load_encoder(r.path, g), g, x)
    labels = torch.full((len(x),), args.label) if args.label is not None else None
    p = project(g, x, steps=args.steps, starts=args.starts, seed=args.seed, labels=labels, z_init=z_init)
    out.mkdir(parents=True, exist_ok=True)
    latents = out / "latents.npy"
    np.save(latents, p.z.numpy())
    pairs = torch.stack([x, p.recon], 1).reshape(-1, *x.shape[1:])  # (2N, C, H, W): input, reconstruction
    image_grid(pairs, out / "side_by_side.png", nrow=2, meta=r.meta(watermark=not args.no_watermark))
    rows = [{"image": n, "mse": float(m), **({"feature_distance": float(f)} if p.feature_dist is not None else {}),
             **({"class": int(c)} if p.labels is not None else {})}
            for n, m, f, c in zip(names, p.mse, p.feature_dist if p.feature_dist is not None else p.mse,
                                  p.labels if p.labels is not None else p.mse)]
    write_text_atomic(out / "errors.json", json.dumps(rows, indent=1) + "\n")
    write_provenance(latents, {"run": r.path.resolve().name, "step": g.step, "images": names, "steps": args.steps,
                               "starts": args.starts, "seed": args.seed, "encoder_start": z_init is not None})
    print(f"projected {len(x)} image(s) into run {args.run} (step {g.step}): mean pixel MSE "
          f"{p.mse.mean():.4g}; wrote {latents}, {out / 'side_by_side.png'}, {out / 'errors.json'}")
    return 0
