"""Checkpoints: state_dicts, RNG states, the step and the resolved config, written atomically.

Files are ``ckpt-<step>.pt`` in the run directory, written atomically (:func:`ganforge.io.save_atomic`:
a crash leaves either the old file or the new one, never half of one). They hold only tensors and
plain Python values and are read with ``torch.load(weights_only=True)``: no pickled code is executed.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Optional

import torch

from ..errors import GanforgeError
from ..io import save_atomic

FORMAT = 1
_NAME = re.compile(r"^ckpt-(\d+)\.pt$")


def checkpoint_path(run_dir: Path, step: int) -> Path:
    return Path(run_dir) / f"ckpt-{step:07d}.pt"


def list_checkpoints(run_dir: Path) -> list[tuple[int, Path]]:
    """(step, path) of every checkpoint in ``run_dir``, oldest first."""
    found = []
    for p in Path(run_dir).glob("ckpt-*.pt"):
        m = _NAME.match(p.name)
        if m:
            found.append((int(m.group(1)), p))
    return sorted(found)


def save_checkpoint(run_dir: Path, step: int, state: dict, keep: int) -> Path:
    """Write ``state`` (plus format and step) for ``step``; keep the newest ``keep`` files."""
    path = checkpoint_path(run_dir, step)
    save_atomic({"format": FORMAT, "step": step, **state}, path)
    for _, old in list_checkpoints(run_dir)[:-keep]:
        old.unlink(missing_ok=True)
    return path


def load_checkpoint(run_dir: Path, step: Optional[int] = None, map_location="cpu") -> dict:
    """The newest checkpoint of ``run_dir`` (or the one at ``step``), loaded safely."""
    found = list_checkpoints(run_dir)
    if not found:
        raise GanforgeError(f"{run_dir}: no checkpoint (ckpt-*.pt) in this run directory")
    if step is None:
        path = found[-1][1]
    else:
        by_step = dict(found)
        if step not in by_step:
            raise GanforgeError(f"{run_dir}: no checkpoint at step {step}; have {sorted(by_step)}")
        path = by_step[step]
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:
        raise GanforgeError(f"{path}: not a readable ganforge checkpoint ({str(e).splitlines()[0]})") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise GanforgeError(f"{path}: not a ganforge checkpoint of format {FORMAT}")
    return ckpt
