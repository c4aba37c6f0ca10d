"""ganforge's cache, ``$GANFORGE_CACHE`` (default ``~/.cache/ganforge``): what is in it, and
keeping it bounded.

It holds classifiers that ganforge trained for its image metrics (``*-classifier-*.pt``, a few
MB each) and the features of real image sets (``features/real-*.pt``, one per dataset and
classifier). Every file is derived data: deleting any of them costs only the time to compute
it again. The features are kept under ``$GANFORGE_CACHE_MAX_MB`` (default 1024) by deleting the
least recently written first; ``ganforge cache clean`` empties the cache or trims it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

DEFAULT_MAX_MB = 1024


def cache_dir() -> Path:
    """``$GANFORGE_CACHE``, else ``~/.cache/ganforge``."""
    return Path(os.environ.get("GANFORGE_CACHE", Path.home() / ".cache" / "ganforge"))


def max_bytes() -> int:
    """The features' size limit: ``$GANFORGE_CACHE_MAX_MB`` megabytes (default 1024)."""
    try:
        return int(float(os.environ.get("GANFORGE_CACHE_MAX_MB", DEFAULT_MAX_MB)) * 2**20)
    except ValueError:
        return DEFAULT_MAX_MB * 2**20


def _files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*.pt") if p.is_file()] if root.is_dir() else []


def usage(root: Optional[Path] = None) -> dict:
    """``{"path", "files", "bytes", "features_files", "features_bytes"}`` of the cache."""
    root = Path(root or cache_dir())
    files, feats = _files(root), _files(root / "features")
    return {"path": str(root), "files": len(files), "bytes": sum(p.stat().st_size for p in files),
            "features_files": len(feats), "features_bytes": sum(p.stat().st_size for p in feats)}


def trim(limit: int, root: Optional[Path] = None, features_only: bool = True) -> list[Path]:
    """Delete the least recently written cache files until those left take at most ``limit``
    bytes (``features_only``: among the real-image features); returns what was deleted."""
    root = Path(root or cache_dir())
    files = sorted(_files(root / "features" if features_only else root), key=lambda p: p.stat().st_mtime)
    total, removed = sum(p.stat().st_size for p in files), []
    for p in files:
        if total <= limit:
            break
        size = p.stat().st_size
        try:
            p.unlink()
        except FileNotFoundError:  # another process trimmed it first
            pass
        total -= size
        removed.append(p)
    return removed


def clean(keep_bytes: int = 0, root: Optional[Path] = None) -> list[Path]:
    """``ganforge cache clean``: delete every cache file (or the oldest until ``keep_bytes`` are left)."""
    return trim(keep_bytes, root, features_only=False)
