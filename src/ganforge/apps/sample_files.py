"""Samples made by any program, read for measuring (``ganforge evaluate --samples``).

Accepted: ``.npy``; ``.npz`` (the array ``samples``, ``images`` or ``x``, or its only array);
a folder of PNG/JPEG files (sorted by name, all of one size). Images are (N, H, W), (N, H, W, C)
or (N, C, H, W), C = 1 or 3, uint8 or floats in [0, 1]; points are (N, d) in the data's own
units. They come back as ganforge's own samples do: float32, images (N, C, H, W) in [0, 1].
The data kind (``data/kinds``) of ``--data`` reads the array; without it, its layout decides.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np
from torch import Tensor

from ..config import Config, load_config
from ..data.kinds import DataKind, dataset_kind, kind_of_array
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


def read_samples(path: Path, data: Optional[str] = None) -> tuple[Tensor, DataKind]:
    """The samples in ``path`` as float32, and their data kind: that of ``data`` (a data.name)
    when given, else the kind the array's layout reads as (``data/kinds``). The kind turns the
    array into samples: images (N, C, H, W) in [0, 1], points (N, d)."""
    arr = _read_array(Path(path))
    where = f"--samples {path}"
    if arr.dtype.kind not in "uif" or len(arr) == 0:
        raise GanforgeError(f"{where}: expected numeric points (N, d) or images (N, H, W[, C]) / (N, C, H, W), "
                            f"found {arr.dtype} {arr.shape}")
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        raise GanforgeError(f"{where}: the samples hold NaN or infinite values")
    kind = dataset_kind(data) if data else kind_of_array(arr)
    return kind.from_array(arr, where), kind


def samples_config(x: Tensor, kind: DataKind, data: Optional[str], data_path: Optional[str]) -> Config:
    """The config of the real data to measure ``x`` against: ``data`` (a data.name; default the
    kind's own dataset for a bare ``data_path``: ``folder`` for images, ``points`` for points),
    with the settings under which it matches the samples (images: their resolution and channels)."""
    section: dict = {"name": data or kind.default_dataset, "path": data_path, **kind.data_settings(x)}
    from ..build import check_names

    cfg = load_config(base={"data": section})
    check_names(cfg)
    return cfg
