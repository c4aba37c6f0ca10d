"""The image kind: a sample is a picture (C, H, W) in [0, 1] in data space, C = 1 or 3 (or 2C:
a pair of pictures stacked along the channels, for the image-to-image games).

It owns the array layouts image files come in (:func:`channels_first`: one rule for the
datasets, ``evaluate --samples`` and the inputs of ``score``/``anomaly``/``project``), reading a
user's image files at a run's size, the sample grid, the strided-convolution encoder trunk and
the image task names of the model card.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np
import torch
from torch import Tensor, nn

from ...errors import GanforgeError
from ..base import ImageSet
from .base import DataKind, register_kind

# files read as images (the user's inputs to score, project or edit)
INPUT_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")


def channels_first(arr: np.ndarray) -> np.ndarray:
    """An image array as (N, C, H, W): grey (N, H, W) gains C = 1; (N, H, W, C) with C in
    1, 3, 4 is transposed unless its second axis already reads as 1 or 3 channels; any other
    layout is returned as it is, for the caller's one-line error."""
    if len(arr.shape) == 3:
        return arr[:, None]
    if len(arr.shape) == 4 and arr.shape[-1] in (1, 3, 4) and arr.shape[1] not in (1, 3):
        return arr.transpose(0, 3, 1, 2)
    return arr


def image_array(arr: np.ndarray, where: str) -> np.ndarray:
    """A stack of images in any layout :func:`channels_first` reads -> (N, C, H, W) with C in
    1, 3, 4 and N >= 1; anything else is one line."""
    arr = channels_first(arr)
    if len(arr.shape) != 4 or arr.shape[1] not in (1, 3, 4) or len(arr) == 0:
        raise GanforgeError(f"{where}: expected images shaped (N, H, W[, C]) with 1, 3 or 4 channels, found {arr.shape}")
    return arr


def is_image_shape(shape: tuple) -> bool:
    """Whether one sample's ``shape`` is (C, H, W)."""
    return len(shape) == 3


def square_side(shape: tuple) -> Optional[int]:
    """R when one sample's ``shape`` is a square image (C, R, R), else None."""
    return int(shape[1]) if len(shape) == 3 and shape[1] == shape[2] else None


def read_files(shape: tuple, path: Path) -> tuple[Tensor, list[str]]:
    """Images of a file or a folder as (N, C, H, W) in [0, 1] in the channels of ``shape``
    (C, H, W); their names. Every image must already have that size (a mismatch is one line,
    not a silent resize)."""
    from PIL import Image, UnidentifiedImageError

    if not path.exists():
        raise GanforgeError(f"{path}: no such file or folder")
    files = sorted(p for p in path.rglob("*") if p.suffix.lower() in INPUT_SUFFIXES and p.is_file()) \
        if path.is_dir() else [path]
    if not files:
        raise GanforgeError(f"{path}: no images (PNG/JPEG) in this folder")
    c, h, w = shape
    out = []
    for f in files:
        try:
            with Image.open(f) as im:
                im.load()
                if im.size != (w, h):
                    raise GanforgeError(f"{f}: {im.size[0]}x{im.size[1]} pixels; this run makes {w}x{h} images")
                a = np.asarray(im.convert("L" if c == 1 else "RGB"), dtype=np.uint8)
        except (OSError, UnidentifiedImageError, ValueError) as e:
            raise GanforgeError(f"{f}: not a readable image ({type(e).__name__})") from None
        out.append(torch.from_numpy(a.copy()).reshape(h, w, c).permute(2, 0, 1))
    return torch.stack(out).float() / 255, [str(f) for f in files]


def read_array(shape: tuple, path: Path) -> Tensor:
    """An .npy of images, or an .npz (its ``images`` or its only array), uint8 or float in
    [0, 1], exactly of ``shape`` (C, H, W) in any layout :func:`channels_first` reads ->
    (N, C, H, W) in [0, 1] (what ``ImageKind.write`` writes reads back)."""
    names = ""
    try:
        if path.suffix.lower() == ".npy":
            arr = np.load(path, allow_pickle=False)
        else:
            with np.load(path, allow_pickle=False) as f:
                arr = f["images"] if "images" in f.files else (f[f.files[0]] if len(f.files) == 1 else None)
                names = ", ".join(f.files)
    except Exception as e:  # noqa: BLE001 - numpy raises many kinds for a malformed file
        raise GanforgeError(f"--data {path}: not a readable {path.suffix} ({type(e).__name__})") from None
    if arr is None:
        raise GanforgeError(f"--data {path}: no array named 'images' (found {names or 'none'})")
    arr = channels_first(arr)
    if len(arr.shape) != 4 or tuple(arr.shape[1:]) != tuple(shape):
        raise GanforgeError(f"--data {path}: images of shape {tuple(arr.shape[1:])}; this run's data is "
                            f"{tuple(shape)} (channels, height, width)")
    if len(arr) == 0:
        raise GanforgeError(f"--data {path}: no images")
    if arr.dtype.kind in "ui":
        return torch.from_numpy(arr.astype(np.float32) / 255)
    if arr.dtype.kind != "f" or not np.isfinite(arr).all() or arr.min() < 0 or arr.max() > 1:
        raise GanforgeError(f"--data {path}: expected uint8 images or floats in [0, 1]")
    return torch.from_numpy(arr.astype(np.float32))


class ImageKind(DataKind):
    name = "image"
    default_model = "dcgan"
    default_dataset = "folder"
    demo_data = {"name": "digits", "resolution": 8}
    evaluator = "energy"  # pixels, with Inception FID/KID given weights; digits and labelled sets name their own
    augment_ops = ("translation", "cutout", "color")
    spatial = True
    pixels = True
    suffixes = (".npy", ".npz", ".png")
    task = "image-generation"
    conditional_task = "class-conditional-image-generation"
    figure_n = 64  # samples in the report's grid

    def describe(self, shape: tuple) -> str:
        return "images (C, H, W) in [0, 1]: " + "x".join(map(str, shape))

    def pipeline_tag(self, conditional: bool) -> Optional[str]:
        return None if conditional else "unconditional-image-generation"

    def content(self, x: Tensor, suffix: str, data=None, labels: Optional[Tensor] = None):
        """.npy: float32 (N, C, H, W) in [0, 1]; .npz: ``images`` uint8 (N, H, W[, C]) and
        ``labels``; .png: the images themselves, drawn as one grid (their provenance and the
        run's mark go in by the writer)."""
        if suffix == ".png":
            return x
        if suffix == ".npz":
            imgs = (x.clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()  # (N, H, W, C)
            arrays = {"images": imgs[..., 0] if imgs.shape[-1] == 1 else imgs}
            if labels is not None:
                arrays["labels"] = labels.numpy().astype(np.int64)
            return arrays
        return super().content(x, suffix, data, labels)

    def read_inputs(self, data, path: Path) -> tuple[Tensor, list[str]]:
        """A folder of images, an image, or an .npz / .npy of images, at the run's size."""
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix in (".npz", ".npy"):
            if not path.is_file():
                raise GanforgeError(f"--data {path}: no such file")
            x = read_array(tuple(data.shape), path)
            return x, [f"{path.name}[{i}]" for i in range(len(x))]
        if suffix == ".csv":
            raise GanforgeError(f"--data {path}: this run makes images; give a folder of images, an image, "
                                "an .npz or an .npy")
        return read_files(tuple(data.shape), path)

    def from_array(self, arr: np.ndarray, where: str) -> Tensor:
        """(N, H, W), (N, H, W, C) or (N, C, H, W), C = 1 or 3 (alpha dropped), uint8 or floats
        in [0, 1] -> float32 (N, C, H, W) in [0, 1]."""
        arr = channels_first(arr)
        if len(arr.shape) == 4 and arr.shape[1] == 4:
            arr = arr[:, :3]  # RGBA: alpha dropped
        if len(arr.shape) != 4 or arr.shape[1] not in (1, 3):
            raise GanforgeError(f"{where}: images need 1 or 3 channels, found shape {arr.shape}")
        if arr.dtype.kind in "ui":
            return torch.from_numpy(arr.astype(np.float32)) / 255
        if arr.min() < 0 or arr.max() > 1:
            raise GanforgeError(f"{where}: float images must lie in [0, 1] (found {arr.min():.3g}..{arr.max():.3g}); "
                                "map [-1, 1] outputs by (x + 1) / 2")
        return torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32))

    def data_settings(self, x: Tensor) -> dict:
        if x.shape[-1] != x.shape[-2]:
            raise GanforgeError(f"--samples: images must be square, found {tuple(x.shape[-2:])}")
        return {"resolution": int(x.shape[-1]), "channels": int(x.shape[1])}

    def figure(self, fake: Tensor, data=None, seed: int = 0, title: str = "", rows: Optional[list[str]] = None):
        """A grid of ``fake`` (N, C, H, W) in [0, 1] (no real images: they are in the data);
        with ``rows``, one row per condition, named on the left."""
        from ...files import grid_image, label_rows

        if not rows:
            return grid_image(fake)
        return label_rows(grid_image(fake, nrow=-(-len(fake) // len(rows))), rows)

    def encoder_trunk(self, shape: tuple, width: int) -> tuple[nn.Module, int]:
        """Strided convolutions halving a (B, C, R, R) image down to 4x4: (B, w * 2^k * 16)."""
        c, r = shape[0], shape[1]
        layers, ch = [], c
        while r > 4:  # halve until 4x4: (B, C, R, R) -> (B, w * 2^k, 4, 4)
            layers += [nn.Conv2d(ch, width, 4, 2, 1), nn.LeakyReLU(0.2)]
            ch, width, r = width, min(width * 2, 256), r // 2
        return nn.Sequential(*layers, nn.Flatten()), ch * r * r

    def normal_data(self, data, seed: int, n: int = 12000) -> tuple[Tensor, Optional[Tensor]]:
        """The training images themselves (an :class:`ImageSet`), else ``n`` reference draws."""
        if isinstance(data, ImageSet) and torch.is_tensor(data.images):
            return data.images.float() / 255, data.labels
        return super().normal_data(data, seed, n)



IMAGE = register_kind(ImageKind())
