"""Synthetic datasets from a trained run, ready for a training pipeline, with provenance.

Outputs (by the form of ``out``):

- ``DIR/``: one PNG per sample, in class sub-folders for a conditional run (the layout that
  ``data.name=folder`` and torchvision's ImageFolder read), each PNG carrying the synthetic-image
  text chunks, and ``DIR/manifest.json`` listing every file with its SHA-256 and the provenance;
- ``FILE.npz``: ``images`` (N, H, W[, C]) uint8 and, for a conditional run, ``labels`` (N,);
- ``FILE.csv``: point/table runs, columns ``x0..`` (and ``label``);
- ``FILE.npy``: the samples as float32 in data space.

Every non-PNG output gets a sidecar ``FILE.provenance.json`` (the provenance every command's
output carries, :func:`ganforge.files.provenance`, with truncation and counts).

``sample_file`` is ``ganforge sample``: the same writers for plain samples (a PNG grid, a folder
of PNGs, .npy, .csv, a table's rows, optionally redrawn until they hold a table condition).

``min_confidence``: keep only samples that the run's class reader (the digit classifier,
or one trained on the data's own labels) assigns to their requested class with probability
at least C; rejected ones are redrawn with fresh noise, and how many were rejected is reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import torch
from torch import Tensor

from ..errors import GanforgeError
from ..files import check_output, write_output
from ..evaluation import condition_rows
from ..metrics.evaluators import class_reader
from ..trained import check_class, truncated

FORMATS = (".npz", ".csv", ".npy")
MAX_DRAWS = 20  # with min_confidence: at most this many times the requested number of samples are drawn


@dataclass
class SynthResult:
    out: Path
    n: int  # samples written
    per_class: dict = field(default_factory=dict)  # class -> count (conditional runs)
    rejected: int = 0  # samples the class reader refused (min_confidence)
    files: list = field(default_factory=list)  # what was written


def check_request(run, out: str, n: Optional[int], per_class: Optional[int], min_confidence: Optional[float]) -> tuple[Path, bool]:
    """Validate a synth request before anything is drawn or written: (out path, is a folder)."""
    path = Path(out)
    is_dir = out.endswith(("/", "\\")) or path.is_dir()
    kind = run.data.kind
    if (n is None) == (per_class is None):
        raise GanforgeError("give exactly one of --n N or --per-class N")
    count = n if n is not None else per_class
    if count < 1:
        raise GanforgeError(f"{'--n' if n is not None else '--per-class'} {count}: must be >= 1")
    if per_class is not None and not run.n_classes:
        raise GanforgeError("--per-class: this run is not conditional (model.conditional=false), so its samples "
                            "have no class; use --n")
    if not is_dir and path.suffix not in FORMATS:
        raise GanforgeError(f"--out {out}: expected a folder DIR/, FILE.npz, FILE.csv or FILE.npy")
    kind.check_suffix(out, is_dir, FORMATS)  # what the data's kind writes (data/kinds)
    if min_confidence is not None:
        if not 0 < min_confidence <= 1:
            raise GanforgeError(f"--min-confidence {min_confidence}: must be in (0, 1]")
        if not run.n_classes:
            raise GanforgeError("--min-confidence: filters samples by their requested class; this run is not "
                                "conditional")
        if class_reader(run.data) is None:
            raise GanforgeError(f"--min-confidence: data.name={run.cfg.data.name} has no classifier to read "
                                "samples with")
    if is_dir and path.is_dir() and any(path.iterdir()):
        raise GanforgeError(f"--out {out}: the folder is not empty; give a new one")
    return path, is_dir


def _requested_labels(run, n: Optional[int], per_class: Optional[int]) -> Optional[Tensor]:
    if run.data.kind.holds_conditions:  # a table: G draws its conditions at the data's frequencies
        if per_class is not None:
            raise GanforgeError("--per-class: a table run samples rows as the table holds them; use --n")
        return None
    if not run.n_classes:
        return None
    if per_class is not None:
        return torch.arange(run.n_classes).repeat_interleave(per_class)  # (K * per_class,)
    return torch.arange(n) % run.n_classes  # every class equally often


def _draw(run, labels: Optional[Tensor], n: int, seed: int, min_confidence: Optional[float],
          truncation: Optional[float] = None) -> tuple[Tensor, int]:
    """n samples (data space) for the requested labels; with ``min_confidence`` only those the
    class reader reads as their label with at least that probability. Returns (samples, rejected)."""
    kw = {"truncation": truncation} if truncation is not None else {}  # (stand-in runs may not take it)
    if min_confidence is None:
        return run.generate(n, seed, labels, **kw), 0
    clf = class_reader(run.data)
    kept = [[] for _ in range(n)]  # a slot per requested sample, filled in order of draws
    rejected, draw = 0, 0
    todo = torch.arange(n)
    while len(todo):
        if draw >= MAX_DRAWS:
            raise GanforgeError(f"--min-confidence {min_confidence}: after {MAX_DRAWS} draws, {len(todo)} of {n} "
                                "samples still fall below it; lower it or train the run longer")
        x = run.generate(len(todo), seed + 7919 * draw, labels[todo], **kw)  # fresh noise on each redraw
        p = torch.softmax(clf.logits(x).float(), dim=1).view(len(x), -1, clf.n_classes)[:, 0]  # (m, K)
        ok = p[torch.arange(len(x)), labels[todo]] >= min_confidence
        for i, slot in enumerate(todo.tolist()):
            if ok[i]:
                kept[slot] = x[i : i + 1]
        rejected += int((~ok).sum())
        todo = todo[~ok]
        draw += 1
    return torch.cat(kept), rejected


def synth(run, run_dir: Path, out: str, n: Optional[int] = None, per_class: Optional[int] = None, seed: int = 0,
          min_confidence: Optional[float] = None, truncation: Optional[float] = None,
          watermark: bool = True) -> SynthResult:
    """Write a labelled synthetic dataset of ``run`` (a :class:`~ganforge.trained.TrainedRun`) to ``out``;
    PNGs carry the run's invisible mark unless ``watermark=False`` (arrays never do)."""
    path, is_dir = check_request(run, out, n, per_class, min_confidence)
    if truncation is not None:  # a psi the run cannot use fails before any work
        truncated(run.G, truncation, run.cfg.model.name)
    labels = _requested_labels(run, n, per_class)
    total = len(labels) if labels is not None else n
    x, rejected = _draw(run, labels, total, seed, min_confidence, truncation)
    counts = {int(k): int(v) for k, v in zip(*torch.unique(labels, return_counts=True))} if labels is not None else {}
    prov = run.provenance("synth", seed, truncation, watermark and is_dir, n=total, min_confidence=min_confidence,
                          rejected=rejected, per_class=counts)
    result = SynthResult(path, total, counts, rejected)
    if is_dir:  # class sub-folders of PNGs (audio: WAVs), numbered within each class
        groups = [("", x)] if labels is None else [(f"{k}/", x[labels == k]) for k in labels.unique().tolist()]
        items = [(f"{sub}{name}", c) for sub, xs in groups for name, c in run.data.kind.folder_items(xs, run.data, prov)]
        result.files = write_output(path, items, prov, folder=True)
    else:
        result.files = write_output(path, run.data.kind.content(x, path.suffix, run.data, labels), prov)
    return result


# ----------------------------------------------------------------------------- ganforge sample


def sample_target(out: str, n: int) -> tuple[Path, bool]:
    """Check a ``ganforge sample`` request that needs no run (the form of ``out``, ``n``) before
    the run is read: (out path, whether it is a folder)."""
    path = Path(out)
    is_dir = out.endswith(("/", "\\")) or path.is_dir()
    if not is_dir and path.suffix not in (".npy", ".csv", ".png", ".txt", ".smi", ".sdf", ".wav", ".gif", ".mp4"):
        raise GanforgeError(f"--out {out}: expected FILE.npy, FILE.csv, GRID.png, a folder DIR/ (levels: FILE.txt; "
                            "molecules: FILE.smi, FILE.sdf; audio: FILE.wav; video: CLIPS.gif, CLIPS.mp4)")
    if n < 1:
        raise GanforgeError(f"--n {n}: must be >= 1")
    check_output(path / "x" if is_dir else path, "--out")
    return path, is_dir


def sample_file(run, out: str, n: int, seed: int = 0, label: Optional[int] = None,
                truncation: Optional[float] = None, condition: Optional[str] = None,
                watermark: bool = True) -> tuple[int, str]:
    """``n`` samples of ``run`` written to ``out`` with their provenance, in a file the data's
    kind writes (data/kinds): points to FILE.npy or FILE.csv; images to GRID.png, DIR/ (one PNG
    each) or FILE.npy; a table's rows (its own columns, optionally all holding ``condition`` =
    "COL=VALUE") to FILE.csv. Returns (count, what was counted: "rows" or "samples")."""
    path, is_dir = sample_target(out, n)
    kind = run.data.kind
    if kind.holds_conditions:  # a table run writes its own columns
        if path.suffix != ".csv" or label is not None:
            raise GanforgeError(f"--out {out}: a table run writes FILE.csv (and takes --condition, not --class)")
        frame = _conditioned(run, condition, n, seed) if condition else run.data.to_frame(run.generate(n, seed))
        write_output(path, frame, run.provenance("sample", seed, watermark=False, n=len(frame), condition=condition))
        return len(frame), "rows"
    if condition:
        raise GanforgeError("--condition COL=VALUE is for table runs; use --class for a conditional run")
    check_class(label, run.n_classes)
    kind.check_suffix(out, is_dir, (".npy", ".csv", ".png", ".txt", ".smi", ".sdf", ".wav", ".gif", ".mp4"))  # what the data's kind writes
    grid = path.suffix == ".png" and not is_dir
    rows, names = condition_rows(run.condition, n) if grid and label is None else (None, None)
    x = run.generate(n, seed, label if rows is None else rows, truncation)
    marked = watermark and kind.pixels and (is_dir or grid)  # only images carry the mark
    prov = run.provenance("sample", seed, truncation, marked, n=len(x), **{"class": label})
    if is_dir:
        write_output(path, kind.folder_items(x, run.data, prov), prov, folder=True)
    elif names:  # a conditional run's grid: one row per class, named
        write_output(path, kind.figure(x, run.data, seed, rows=names), prov)
    else:
        kind.write(x, path, run.data, prov=prov)
    return len(x), "samples"


def _conditioned(run, condition: str, n: int, seed: int, max_draws: int = 50):
    """``n`` rows of a table run holding ``COL=VALUE``: G is asked for that category (its
    conditional vector) and rows it did not honour are redrawn with fresh noise (rejection),
    at most ``max_draws`` times."""
    import pandas as pd

    col, sep, value = condition.partition("=")
    if not sep:
        raise GanforgeError(f"--condition {condition}: expected COLUMN=VALUE")
    label = run.data.condition(col, value)
    kept, have = [], 0
    for draw in range(max_draws):
        f = run.data.to_frame(run.generate(max(n - have, 16), seed + 7919 * draw, label))
        f = f[f[col].astype(str) == value]
        kept.append(f)
        have += len(f)
        if have >= n:
            return pd.concat(kept, ignore_index=True).iloc[:n]
    raise GanforgeError(f"--condition {col}={value}: after {max_draws} draws only {have} of {n} rows hold it; "
                        "train the run longer")
