"""``ganforge sample``: draw samples from a trained run into .npy, .csv, a PNG grid or PNG files."""

from __future__ import annotations

from pathlib import Path

from ..errors import GanforgeError

NUMERIC = "none: numbers, not an image (only images carry the mark)"


def run(args) -> int:
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
    data = run._generator().data
    if data.kind.holds_conditions:  # a table run: its own columns, --condition COL=VALUE
        return _table(run, args, out)
    if getattr(args, "condition", None):
        raise GanforgeError("--condition COL=VALUE is for table runs; use --class for a conditional run")
    data.kind.check_suffix(args.out, is_dir, (".npy", ".csv", ".png"))  # what the data's kind writes
    x = run.sample(args.n, args.seed, args.label, args.truncation)
    if not is_dir:
        out.parent.mkdir(parents=True, exist_ok=True)
    if is_dir or out.suffix == ".png":  # pictures: they carry their provenance (and mark) inside
        from ..io import image_files

        if is_dir:
            image_files(x, out, run.meta(args.truncation, not args.no_watermark))
        else:
            data.kind.write(x, out, data, meta=run.meta(args.truncation, not args.no_watermark))
    else:
        from ..io import sha256_file, write_provenance

        data.kind.write(x, out, data)
        g = run.generator  # a PNG carries its provenance inside; an array file gets a sidecar
        write_provenance(out, {**run.meta(args.truncation, False), "watermark": NUMERIC, "synthetic": True,
                               "file": out.name,
                               "sha256": sha256_file(out), "n": len(x), "seed": args.seed, "class": args.label,
                               "truncation": args.truncation,
                               "checkpoint_sha256": sha256_file(g.ckpt_path) if g.ckpt_path else None})
    print(f"wrote {len(x)} samples of run {args.run} (step {run.step}) to {out}")
    return 0


def _table(run, args, out: Path) -> int:
    """A table run: the original columns, types, labels and ranges in a CSV, with provenance."""
    from ..io import atomic_open, sha256_file, write_provenance

    if out.suffix != ".csv" or args.label is not None:
        raise GanforgeError(f"--out {args.out}: a table run writes FILE.csv (and takes --condition, not --class)")
    g = run._generator()
    if args.condition:
        col, sep, value = args.condition.partition("=")
        if not sep:
            raise GanforgeError(f"--condition {args.condition}: expected COLUMN=VALUE")
        frame = _conditioned(run, g.data, col, value, args.n, args.seed)
    else:
        frame = g.data.to_frame(run.sample(args.n, args.seed))
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_open(out, "w") as f:
        frame.to_csv(f, index=False)
    write_provenance(out, {**run.meta(watermark=False), "watermark": NUMERIC, "synthetic": True, "file": out.name,
                           "sha256": sha256_file(out),
                           "n": len(frame), "seed": args.seed, "condition": args.condition,
                           "checkpoint_sha256": sha256_file(g.ckpt_path) if g.ckpt_path else None})
    print(f"wrote {len(frame)} rows of run {args.run} (step {run.step}) to {out}")
    return 0


def _conditioned(run, data, col: str, value: str, n: int, seed: int, max_draws: int = 50):
    """``n`` rows holding ``col=value``: G is asked for that category (its conditional vector)
    and rows it did not honour are redrawn with fresh noise (rejection), at most ``max_draws`` times."""
    import pandas as pd

    label = data.condition(col, value)
    kept, have = [], 0
    for draw in range(max_draws):
        f = data.to_frame(run.sample(max(n - have, 16), seed + 7919 * draw, label))
        f = f[f[col].astype(str) == value]
        kept.append(f)
        have += len(f)
        if have >= n:
            return pd.concat(kept, ignore_index=True).iloc[:n]
    raise GanforgeError(f"--condition {col}={value}: after {max_draws} draws only {have} of {n} rows hold it; "
                        "train the run longer")
