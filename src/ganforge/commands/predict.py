"""``ganforge predict``: continue a video clip from its first frames with a trained video run."""

from __future__ import annotations

from .common import add_run

HELP = "continue a video clip from its first frames (video runs)"


def add_arguments(p) -> None:
    add_run(p)
    p.add_argument("--video", required=True, help="the clip: a GIF/MP4/WebM file or a folder of frames")
    p.add_argument("--frames", type=int, required=True, help="observed frames k; the rest of the run's T are predicted")
    p.add_argument("--out", required=True, help="CLIP.gif, CLIP.mp4 or CLIP.npy: k observed + T - k predicted frames")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--steps", type=int, default=200, help="Adam steps of the latent search")
    p.add_argument("--class", dest="label", type=int, default=None, help="conditional runs: the class to assume")


def run(args) -> int:
    from pathlib import Path

    from ..api import load
    from ..apps.predict import predict_file

    written, rows = predict_file(load(args.run).generator, Path(args.video), args.frames, Path(args.out), args.seed,
                                 args.steps, args.label)
    if rows:
        print("step  psnr   copy-last  ssim   copy-last")
        for r in rows:
            print(f"{r['step']:>4}  {r['psnr']:5.2f}  {r['psnr_copy_last']:9.2f}  {r['ssim']:.3f}  "
                  f"{r['ssim_copy_last']:.3f}")
    print(f"wrote {written[0]}")
    return 0
