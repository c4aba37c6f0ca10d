"""``ganforge sample``: draw samples from a trained run into .npy, .csv, a PNG grid or PNG files."""

from __future__ import annotations

from .common import add_class, add_run, add_truncation

HELP = "draw samples from a trained run"


def add_arguments(p) -> None:
    add_run(p, marks=True)
    p.add_argument("--n", type=int, help="number of samples (required unless --length)")
    p.add_argument("--out", required=True,
                   help="points: FILE.npy or FILE.csv; images: GRID.png, DIR/ (one PNG each) or FILE.npy; "
                        "tables: FILE.csv; molecules: FILE.smi, FILE.csv, FILE.sdf or GRID.png; audio: FILE.wav or "
                        "DIR/; video: CLIPS.gif, CLIPS.mp4, FILE.npy or DIR/ (a GIF each); levels: FILE.txt or GRID.png")
    p.add_argument("--seed", type=int, default=0)
    add_class(p, "draw every sample from this class (conditional runs)")
    add_truncation(p)
    p.add_argument("--condition", metavar="COL=VALUE", help="tables: every row holds this category")
    p.add_argument("--length", type=int, metavar="COLUMNS",
                   help="level runs: one long level this many columns wide, stitched from windows (FILE.txt or .png)")
    p.add_argument("--repair", action="store_true",
                   help="top-down level runs: make each unplayable level playable with the fewest, least surprising "
                        "tile changes by G's own scores (a cheapest path from start to exit); the provenance lists "
                        "every change")
    p.add_argument("--objective", metavar="PROP",
                   help="molecules: the best --n valid, unique, novel molecules for qed, logp, sa (higher = easier "
                        "to make) or a weighted sum such as qed+0.1*logp, by an evolution strategy over z")
    p.add_argument("--threshold", type=float,
                   help="with --objective: report the share above this (default: 0.9 for qed, else the training "
                        "molecules' 90th percentile)")
    p.add_argument("--prompt", metavar="TEXT", help="text-to-image runs: --n images of this caption, e.g. "
                                                   "\"a small blue 4 on the right\"")
    p.add_argument("--prompts", metavar="FILE.txt", help="text-to-image runs: --n images of each caption in FILE "
                                                         "(one a line), a row each in GRID.png")


def run(args) -> int:
    from pathlib import Path

    from ..api import load
    from ..apps.synth import sample_target
    from ..errors import GanforgeError

    if args.repair and (args.length is not None or args.objective or args.prompt is not None or args.prompts):
        raise GanforgeError("--repair repairs --n sampled levels; it takes no --length, --objective or --prompt")
    if args.length is not None:
        from ..apps.level_search import write_long

        n_bad, out = write_long(load(args.run).generator, args.length, args.out, args.seed)
        joins = "every seam playable" if not n_bad else f"{n_bad} seams found no playable join"
        print(f"wrote one level {args.length} columns long of run {args.run} to {out} ({joins})")
        return 0
    if args.n is None:
        raise GanforgeError("sample: give --n N (or --length COLUMNS for a level run)")
    sample_target(args.out, args.n)  # a bad --out or --n is refused before the run is read
    if args.prompt is not None or args.prompts is not None:
        return _prompts(args)
    r = load(args.run)
    if args.objective:
        return _objective(r, args)
    if args.repair:
        return _repair(r, args)
    n, what = r.write_samples(args.out, args.n, args.seed, args.label, args.truncation, args.condition,
                              not args.no_watermark)
    print(f"wrote {n} {what} of run {args.run} (step {r.step}) to {Path(args.out)}")
    return 0


def _repair(r, args) -> int:
    """``--repair``: levels made playable (``apps/level_repair.py``), with what changed."""
    from ..apps.level_repair import repaired_line, write_repaired
    from ..errors import GanforgeError

    if args.label is not None or args.truncation is not None or args.condition:
        raise GanforgeError("--repair takes no --class, --condition or --truncation")
    counts, _ = write_repaired(r.generator, args.out, args.n, args.seed)
    print(f"wrote {repaired_line(counts, args.out)} (run {args.run}, step {r.step})")
    return 0


def _objective(r, args) -> int:
    """``--objective``: the property-directed search (``apps/molecules.py``) and its report."""
    import sys
    from pathlib import Path

    from ..apps.molecules import objective_file, parse_objective

    parse_objective(args.objective)  # a malformed objective is one line before any work
    res = objective_file(r.generator, args.out, args.n, args.objective, args.seed, args.threshold,
                         progress=lambda g, k: print(f"objective: generation {g}/{k}", file=sys.stderr, flush=True))
    print(f"wrote {len(res.smiles)} molecules of run {args.run} (step {r.step}) optimised for {args.objective} to "
          f"{Path(args.out)} ({res.evaluations} molecules decoded, evolution strategy over z)")
    print(f"valid, unique and novel: {res.share_kept:.3f} of the {args.n} asked; mean objective {res.mean:.3f} "
          f"(plain samples {res.sample_mean:.3f})")
    print(f"share with {args.objective} >= {res.threshold:.3g}: {res.share_above:.3f} (valid, unique, novel, of "
          f"{args.n}); training molecules {res.train_share:.3f}; plain samples {res.sample_share:.3f}")
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
