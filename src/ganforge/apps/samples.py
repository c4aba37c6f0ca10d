"""Samples made by any program, read for measuring (``ganforge evaluate --samples``).

Accepted: ``.npy``; ``.npz`` (the array ``samples``, ``images`` or ``x``, or its only array);
a folder of PNG/JPEG files (sorted by name, all of one size). Images are (N, H, W), (N, H, W, C)
or (N, C, H, W), C = 1 or 3, uint8 or floats in [0, 1]; points are (N, d) in the data's own
units. They come back as ganforge's own samples do: float32, images (N, C, H, W) in [0, 1].
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np
import torch
from torch import Tensor

from ..config import Config, load_config
from ..errors import GanforgeError

_KEYS = ("samples", "images", "x")
_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


def _read_array(path: Path) -> np.ndarray:
    if path.is_dir():
        from PIL import Image

        files = sorted(p for p in path.iterdir() if p.suffix.lower() in _IMAGE_SUFFIXES)
        if not files:
            raise GanforgeError(f"--samples {path}: a folder with no PNG or JPEG file")
        try:
            arrs = [np.asarray(Image.open(p)) for p in files]
        except OSError as e:
            raise GanforgeError(f"--samples {path}: an unreadable image ({e})") from None
        if len({a.shape for a in arrs}) != 1:
            raise GanforgeError(f"--samples {path}: the images differ in size or channels; give images of one shape")
        return np.stack(arrs)
    if not path.is_file():
        raise GanforgeError(f"--samples {path}: no such file or folder")
    try:
        loaded = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise GanforgeError(f"--samples {path}: not a .npy or .npz array file ({str(e).splitlines()[0]})") from None
    if isinstance(loaded, np.ndarray):
        return loaded
    with loaded:
        names = list(loaded.files)
        key = next((k for k in _KEYS if k in names), names[0] if len(names) == 1 else None)
        if key is None:
            raise GanforgeError(f"--samples {path}: which array? name it one of {', '.join(_KEYS)} "
                                f"(found {', '.join(names) or 'none'})")
        return loaded[key]


def read_samples(path: Path) -> Tensor:
    """The samples in ``path`` as float32: images (N, C, H, W) in [0, 1], points (N, d)."""
    arr = _read_array(Path(path))
    where = f"--samples {path}"
    if arr.dtype.kind not in "uif" or arr.ndim not in (2, 3, 4) or len(arr) == 0:
        raise GanforgeError(f"{where}: expected numeric points (N, d) or images (N, H, W[, C]) / (N, C, H, W), "
                            f"found {arr.dtype} {arr.shape}")
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        raise GanforgeError(f"{where}: the samples hold NaN or infinite values")
    if arr.ndim == 2:
        return torch.from_numpy(arr.astype(np.float32))
    if arr.ndim == 3:
        arr = arr[:, None]
    elif arr.shape[1] not in (1, 3) and arr.shape[-1] in (1, 3, 4):
        arr = arr.transpose(0, 3, 1, 2)[:, :3]  # (N, C, H, W), alpha dropped
    if arr.shape[1] not in (1, 3):
        raise GanforgeError(f"{where}: images need 1 or 3 channels, found shape {arr.shape}")
    if arr.dtype.kind in "ui":
        x = torch.from_numpy(arr.astype(np.float32)) / 255
    else:
        if arr.min() < 0 or arr.max() > 1:
            raise GanforgeError(f"{where}: float images must lie in [0, 1] (found {arr.min():.3g}..{arr.max():.3g}); "
                                "map [-1, 1] outputs by (x + 1) / 2")
        x = torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32))
    return x


def samples_config(x: Tensor, data: Optional[str], data_path: Optional[str]) -> Config:
    """The config of the real data to measure ``x`` against: ``data`` (a data.name; default
    ``folder`` for images and ``points`` for points when only ``data_path`` is given), at the
    samples' own resolution and channels."""
    images = x.dim() == 4
    name = data or ("folder" if images else "points")
    section: dict = {"name": name, "path": data_path}
    if images:
        section.update(resolution=int(x.shape[-1]), channels=int(x.shape[1]))
        if x.shape[-1] != x.shape[-2]:
            raise GanforgeError(f"--samples: images must be square, found {tuple(x.shape[-2:])}")
    from ..build import check_names

    cfg = load_config(base={"data": section})
    check_names(cfg)
    return cfg
