"""Synthetic datasets from a trained run, ready for a training pipeline, with provenance.

Outputs (by the form of ``out``):

- ``DIR/``: one PNG per sample, in class sub-folders for a conditional run (the layout that
  ``data.name=folder`` and torchvision's ImageFolder read), each PNG carrying the synthetic-image
  text chunks, and ``DIR/manifest.json`` listing every file with its SHA-256 and the provenance;
- ``FILE.npz``: ``images`` (N, H, W[, C]) uint8 and, for a conditional run, ``labels`` (N,);
- ``FILE.csv``: point/table runs, columns ``x0..`` (and ``label``);
- ``FILE.npy``: the samples as float32 in data space.

Every non-PNG output gets a sidecar ``FILE.provenance.json`` (run, step, checkpoint hash, seed,
truncation, counts, and the statement that the data is synthetic).

``min_confidence``: keep only samples that the run's judge classifier (the digit classifier,
or one trained on the data's own labels) assigns to their requested class with probability
at least C; rejected ones are redrawn with fresh noise, and how many were rejected is reported.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import torch
from torch import Tensor

from ..errors import GanforgeError
from ..io import image_files, sha256_file, write_provenance, write_text_atomic
from ..metrics.evaluators import judge
from ..train.checkpoint import checkpoint_path
from ..trained import truncated

FORMATS = (".npz", ".csv", ".npy")
MAX_DRAWS = 20  # with min_confidence: at most this many times the requested number of samples are drawn


@dataclass
class SynthResult:
    out: Path
    n: int  # samples written
    per_class: dict = field(default_factory=dict)  # class -> count (conditional runs)
    rejected: int = 0  # samples the judge refused (min_confidence)
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
        if judge(run.data) is None:
            raise GanforgeError(f"--min-confidence: data.name={run.cfg.data.name} has no classifier to judge "
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
    judge reads as their label with at least that probability. Returns (samples, rejected)."""
    kw = {"truncation": truncation} if truncation is not None else {}  # (stand-in runs may not take it)
    if min_confidence is None:
        return run.generate(n, seed, labels, **kw), 0
    clf = judge(run.data)
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
    ckpt = run.ckpt_path or checkpoint_path(run_dir, run.step)
    prov = {"synthetic": True, "statement": "generated by a GAN with ganforge; not real data",
            "run": Path(run_dir).resolve().name, "step": run.step,
            "checkpoint_sha256": sha256_file(ckpt) if ckpt.is_file() else None, "seed": seed,
            "truncation": truncation, "n": total, "min_confidence": min_confidence, "rejected": rejected}
    counts = {int(k): int(v) for k, v in zip(*torch.unique(labels, return_counts=True))} if labels is not None else {}
    result = SynthResult(path, total, counts, rejected)
    if is_dir:
        meta = run.meta(run_dir, truncation, watermark)
        prov["watermark"] = meta["watermark"]
        result.files = _write_folder(x, labels, path, meta, prov)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        run.data.kind.write(x, path, run.data, labels)  # the kind's own file: arrays, CSV rows, a table
        prov["watermark"] = "none: numbers, not images (only images carry the mark)"
        result.files = [path, write_provenance(path, {**prov, "file": path.name, "sha256": sha256_file(path),
                                                      "per_class": counts})]
    return result


def _write_folder(x: Tensor, labels: Optional[Tensor], folder: Path, meta: dict, prov: dict) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    if labels is None:
        files = image_files(x, folder, meta)
    else:
        for k in labels.unique().tolist():
            files += image_files(x[labels == k], folder / str(k), meta)
    entries = [{"file": p.relative_to(folder).as_posix(), "sha256": sha256_file(p)} for p in files]
    manifest = folder / "manifest.json"
    write_text_atomic(manifest, json.dumps({**prov, "files": entries}, indent=1) + "\n")
    return files + [manifest]
