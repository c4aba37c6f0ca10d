"""``ganforge sample``: draw samples from a trained run into .npy, .csv, a PNG grid or PNG files."""

from __future__ import annotations

from .common import add_class, add_run, add_truncation

HELP = "draw samples from a trained run"


def add_arguments(p) -> None:
    add_run(p, marks=True)
    p.add_argument("--n", type=int, required=True, help="number of samples")
    p.add_argument("--out", required=True,
                   help="points: FILE.npy or FILE.csv; images: GRID.png, DIR/ (one PNG each) or FILE.npy; "
                        "tables: FILE.csv")
    p.add_argument("--seed", type=int, default=0)
    add_class(p, "draw every sample from this class (conditional runs)")
    add_truncation(p)
    p.add_argument("--condition", metavar="COL=VALUE", help="tables: every row holds this category")
    p.add_argument("--prompt", metavar="TEXT", help="text-to-image runs: --n images of this caption, e.g. "
                                                   "\"a small blue 4 on the right\"")
    p.add_argument("--prompts", metavar="FILE.txt", help="text-to-image runs: --n images of each caption in FILE "
                                                         "(one a line), a row each in GRID.png")


def run(args) -> int:
    from pathlib import Path

    from ..api import load
    from ..apps.synth import sample_target

    sample_target(args.out, args.n)  # a bad --out or --n is refused before the run is read
    if args.prompt is not None or args.prompts is not None:
        return _prompts(args)
    r = load(args.run)
    n, what = r.write_samples(args.out, args.n, args.seed, args.label, args.truncation, args.condition,
                              not args.no_watermark)
    print(f"wrote {n} {what} of run {args.run} (step {r.step}) to {Path(args.out)}")
    return 0


def _prompts(args) -> int:
    from ..api import load
    from ..apps.prompts import describe, prompt_file, read_prompts
    from ..errors import GanforgeError

    if args.prompt is not None and args.prompts is not None:
        raise GanforgeError("give --prompt TEXT or --prompts FILE.txt, not both")
    if args.label is not None or args.condition or args.truncation is not None:
        raise GanforgeError("--prompt/--prompts take no --class, --condition or --truncation")
    prompts = [args.prompt] if args.prompt is not None else read_prompts(args.prompts)
    r = load(args.run)
    n, _ = prompt_file(r.generator, args.out, prompts, args.n, args.seed, not args.no_watermark,
                       "--prompt" if args.prompt is not None else "--prompts")
    print(f"wrote {n} images of {describe(prompts)} ({args.n} each) from run {args.run} (step {r.step}) to {args.out}")
    return 0
