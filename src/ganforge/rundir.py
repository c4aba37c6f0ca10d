"""Run directories: new numbered ones under runs/, and never writing over an existing run."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Optional

from .errors import GanforgeError

_NUMBERED = re.compile(r"^(\d{3,})-")


def is_run(path: Path) -> bool:
    path = Path(path)
    return (path / "config.yaml").exists() or any(path.glob("ckpt-*.pt"))


def new_run_dir(out: Optional[str], name: str, root: Path = Path("runs")) -> Path:
    """``out`` if given (it must not hold a run already), else ``runs/NNN-name``."""
    if out is not None:
        path = Path(out)
        if path.exists() and not path.is_dir():
            raise GanforgeError(f"--out {out}: exists and is not a directory")
        if path.is_dir() and is_run(path):
            raise GanforgeError(f"--out {out}: already holds a run; use --resume {out} or another --out")
        path.mkdir(parents=True, exist_ok=True)
        return path
    root.mkdir(parents=True, exist_ok=True)
    taken = [int(m.group(1)) for p in root.iterdir() if (m := _NUMBERED.match(p.name))]
    number = max(taken, default=0) + 1
    while True:  # mkdir is atomic: two runs started together still get different directories
        path = root / f"{number:03d}-{name}"
        try:
            path.mkdir()
            return path
        except FileExistsError:
            number += 1


def existing_run(path: str) -> Path:
    p = Path(path)
    if not p.is_dir() or not is_run(p):
        raise GanforgeError(f"{path}: not a ganforge run directory (no config.yaml or checkpoint)")
    return p
