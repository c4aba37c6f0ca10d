"""The user's captioned images: ``data.name=captioned data.path=DIR``.

``DIR`` holds images and ``captions.csv`` (columns ``file``, ``caption``; a file may have
several rows, one caption each) or ``captions.jsonl`` (one ``{"file": ..., "caption": ...}``
a line). Files are relative to ``DIR``. Images are read as RGB and resized to
``data.resolution``. A row with an empty caption, an image that is missing or unreadable, or a
malformed line is skipped and counted (a warning says how many of each; ``data.info`` keeps
them); when no row is left, that is one line. The vocabulary is built from the captions kept.
No attribute labels: such a run is measured by the energy distance in pixels (the attribute
metrics need the digit scenes).
"""

from __future__ import annotations

import csv
import json
import warnings
from collections import Counter
from pathlib import Path

import numpy as np

from ..config import DataConfig
from ..errors import GanforgeError, GanforgeWarning
from .base import register_dataset
from .kinds import IMAGE
from .scenes import CaptionedImages


def read_rows(folder: Path) -> list[tuple[str, str]]:
    """(file, caption) rows of ``captions.csv`` or ``captions.jsonl``; a malformed row is ("", "")."""
    csv_path, jsonl_path = folder / "captions.csv", folder / "captions.jsonl"
    if csv_path.is_file():
        with open(csv_path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            if not reader.fieldnames or not {"file", "caption"} <= set(reader.fieldnames):
                raise GanforgeError(f"{csv_path}: needs the columns file and caption (found "
                                    f"{', '.join(reader.fieldnames or []) or 'none'})")
            return [(str(r.get("file") or ""), str(r.get("caption") or "")) for r in reader]
    if jsonl_path.is_file():
        rows = []
        for line in jsonl_path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            try:
                r = json.loads(line)
                rows.append((str(r.get("file") or ""), str(r.get("caption") or "")))
            except (ValueError, AttributeError):
                rows.append(("", ""))
        return rows
    raise GanforgeError(f"data.path={folder}: no captions.csv (file, caption) or captions.jsonl in it")


def load_captioned(path: str, resolution: int) -> tuple[np.ndarray, np.ndarray, dict]:
    """Images (N, 3, R, R) uint8, captions (N, K) str ("" pads an image's missing ones), and what was skipped."""
    from PIL import Image, UnidentifiedImageError

    folder = Path(path).expanduser()
    if not folder.is_dir():
        raise GanforgeError(f"data.path={path}: not a folder (data.name=captioned reads a folder of images with "
                            "captions.csv or captions.jsonl)")
    skipped: Counter = Counter()
    caps: dict[str, list[str]] = {}
    for file, caption in read_rows(folder):
        if not file:
            skipped["malformed row"] += 1
        elif not caption.strip():
            skipped["empty caption"] += 1
        else:
            caps.setdefault(file, []).append(caption.strip())
    images, texts = [], []
    for file, cs in caps.items():
        p = folder / file
        if not p.is_file():
            skipped["missing image"] += len(cs)
            continue
        try:
            with Image.open(p) as im:
                a = np.asarray(im.convert("RGB").resize((resolution, resolution), Image.BILINEAR), dtype=np.uint8)
        except (OSError, UnidentifiedImageError, ValueError):
            skipped["unreadable image"] += len(cs)
            continue
        images.append(a.transpose(2, 0, 1))
        texts.append(cs)
    info = {"format": "captioned", "images": len(images), "skipped": dict(skipped)}
    if not images:
        what = ", ".join(f"{v} {k}" for k, v in skipped.items()) or "no rows"
        raise GanforgeError(f"data.path={path}: no usable captioned image ({what})")
    if skipped:
        warnings.warn(f"data.path={path}: skipped {sum(skipped.values())} caption row(s): "
                      + ", ".join(f"{v} {k}" for k, v in sorted(skipped.items())), GanforgeWarning, stacklevel=2)
    k = max(map(len, texts))
    caps_arr = np.array([t + [""] * (k - len(t)) for t in texts], dtype=str)
    return np.stack(images), caps_arr, info


@register_dataset(IMAGE)
def captioned(cfg: DataConfig, seed: int) -> CaptionedImages:
    """The user's images with captions: ``data.path`` a folder with captions.csv or captions.jsonl."""
    if not cfg.path:
        raise GanforgeError("data.path: data.name=captioned needs data.path=DIR (images + captions.csv or "
                            "captions.jsonl)")
    images, caps, info = load_captioned(cfg.path, cfg.resolution)
    prompts = list(dict.fromkeys(str(c) for c in caps[:, 0]))[:8]
    return CaptionedImages(images, caps, seed, info=info, prompts=prompts)
