"""Checkpoints: state_dicts, RNG states, the step and the resolved config, written atomically.

Files are ``ckpt-<step>.pt`` in the run directory, written atomically (:func:`ganforge.files.save_atomic`:
a crash leaves either the old file or the new one, never half of one). They hold only tensors and
plain Python values and are read with ``torch.load(weights_only=True)``: no pickled code is executed.
"""

from __future__ import annotations

import pickle
import re
import warnings
from pathlib import Path
from typing import Optional

import torch

from ..errors import GanforgeError, GanforgeWarning
from ..files import save_atomic

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


class UnsafeCheckpoint(GanforgeError):
    """A file that holds pickled code or objects: refused, never loaded (and never a fallback)."""


_GLOBAL = re.compile(r"GLOBAL ([\w.]+)")


def read_checkpoint(path: Path, map_location="cpu") -> dict:
    """One checkpoint file, loaded with ``weights_only=True``: tensors and plain values only.

    A file that asks to import anything else (pickled code or objects, e.g. a tampered file or
    one from another program) raises :class:`UnsafeCheckpoint`; a truncated or unreadable one,
    or one not of ganforge's format, :class:`GanforgeError`."""
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:  # torch's text advises weights_only=False: never, for a file from elsewhere
        found = _GLOBAL.search(str(e))
        what = f" ({found.group(1)})" if found else ""
        raise UnsafeCheckpoint(
            f"{path}: refused: it holds pickled code or objects{what}, and loading it would let the file run code; "
            f"ganforge checkpoints hold only tensors and plain values, so this file was not written by ganforge "
            f"or was altered since") from None
    except Exception as e:
        raise GanforgeError(f"{path}: not a readable ganforge checkpoint, truncated or damaged "
                            f"({str(e).splitlines()[0][:120]})") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise GanforgeError(f"{path}: not a ganforge checkpoint of format {FORMAT}")
    return ckpt


def load_checkpoint(run_dir: Path, step: Optional[int] = None, map_location="cpu") -> dict:
    """The newest checkpoint of ``run_dir`` (or the one at ``step``), loaded safely.

    Without ``step``, a newest file that is truncated or damaged (a disk that filled up, a copy
    cut short) is passed over for the one before it, with a :class:`GanforgeWarning` naming
    both; a file holding pickled code is refused outright (:class:`UnsafeCheckpoint`)."""
    found = list_checkpoints(run_dir)
    if not found:
        raise GanforgeError(f"{run_dir}: no checkpoint (ckpt-*.pt) in this run directory")
    if step is not None:
        by_step = dict(found)
        if step not in by_step:
            raise GanforgeError(f"{run_dir}: no checkpoint at step {step}; have {sorted(by_step)}")
        return read_checkpoint(by_step[step], map_location)
    skipped = []
    for _, path in reversed(found):
        try:
            ckpt = read_checkpoint(path, map_location)
        except UnsafeCheckpoint:
            raise
        except GanforgeError as e:
            skipped.append((path, e))
            continue
        if skipped:
            names = ", ".join(p.name for p, _ in skipped)
            warnings.warn(f"{names}: truncated or unreadable; using {path.name} (step {ckpt['step']}), "
                          f"the newest complete checkpoint", GanforgeWarning)
        return ckpt
    raise skipped[0][1]  # none is readable: say what is wrong with the newest
