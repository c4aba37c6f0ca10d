"""``ganforge translate``: apply a pix2pix or CycleGAN run to new images (a file or a folder)."""

from __future__ import annotations

from pathlib import Path


def run(args, upscale: bool = False) -> int:
    from ..apps.translate import apply_to_files, read_inputs, translator
    from ..files import check_output
    from ..trained import load_run

    check_output(Path(args.out) / "x.png", "--out")
    r = load_run(args.run)
    tr = translator(r, getattr(args, "direction", "a2b"), getattr(args, "scale", None), upscale)
    inputs = read_inputs(args.input, tr.channels, max(tr.multiple, 4) if upscale else tr.multiple)
    files = apply_to_files(tr, inputs, Path(args.out), r.meta(args.run, watermark=not args.no_watermark), r.ckpt_path, args.tile)
    what = f"upscaled x{tr.scale}" if upscale else "translated"
    print(f"{what} {len(files)} image(s) with run {args.run} (step {r.step}) into {args.out}")
    return 0
