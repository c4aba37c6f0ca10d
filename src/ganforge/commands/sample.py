"""``ganforge sample``: draw samples from a trained run into .npy, .csv, a PNG grid or PNG files."""

from __future__ import annotations

from pathlib import Path

from ..errors import GanforgeError

NUMERIC = "none: numbers, not an image (only images carry the mark)"


def run(args) -> int:
    import numpy as np

    from ..api import load

    out = Path(args.out)
    is_dir = args.out.endswith(("/", "\\")) or out.is_dir()
    if not is_dir and out.suffix not in (".npy", ".csv", ".png"):
        raise GanforgeError(f"--out {args.out}: expected FILE.npy, FILE.csv, GRID.png or a folder DIR/")
    if args.n < 1:
        raise GanforgeError(f"--n {args.n}: must be >= 1")
    from ..io import check_output

    check_output(out / "x" if is_dir else out, "--out")
    run = load(args.run)
    images = len(run.shape) == 3
    if (is_dir or out.suffix == ".png") and not images:
        raise GanforgeError(f"--out {args.out}: PNG output is for image runs; use .npy or .csv")
    if out.suffix == ".csv" and images:
        raise GanforgeError(f"--out {args.out}: CSV output is for points; use GRID.png, DIR/ or .npy")
    x = run.sample(args.n, args.seed, args.label, args.truncation)
    if not is_dir:
        out.parent.mkdir(parents=True, exist_ok=True)
    if is_dir or out.suffix == ".png":
        from ..io import image_files, image_grid

        if is_dir:
            image_files(x, out, run.meta(args.truncation, not args.no_watermark))
        else:
            image_grid(x, out, meta=run.meta(args.truncation, not args.no_watermark))
    else:
        from ..io import atomic_open, sha256_file, write_provenance

        with atomic_open(out) as f:
            if out.suffix == ".npy":
                np.save(f, x.numpy() if images else x.flatten(1).numpy())
            else:
                flat = x.flatten(1).numpy()
                header = ",".join(f"x{i}" for i in range(flat.shape[1]))
                np.savetxt(f, flat, delimiter=",", header=header, comments="", fmt="%.8g")
        g = run.generator  # a PNG carries its provenance inside; an array file gets a sidecar
        write_provenance(out, {**run.meta(args.truncation, False), "watermark": NUMERIC, "synthetic": True, "file": out.name,
                               "sha256": sha256_file(out), "n": len(x), "seed": args.seed, "class": args.label,
                               "truncation": args.truncation,
                               "checkpoint_sha256": sha256_file(g.ckpt_path) if g.ckpt_path else None})
    print(f"wrote {len(x)} samples of run {args.run} (step {run.step}) to {out}")
    return 0
