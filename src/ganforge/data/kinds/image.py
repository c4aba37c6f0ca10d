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
import torch.nn.functional as F
from torch import Tensor, nn

from ...errors import GanforgeError
from ..base import ImageSet
from .base import DataKind, Inputs, register_kind

# files read as images (the user's inputs to score, project or edit)
INPUT_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")


# How a source brought its images to data.resolution (``source.resize``): arrays with
# antialiased bilinear (``data/images.to_tensor``), image files with Lanczos (``data/images.read_image``). A
# user's inputs of another size are resized the same way (``--resize``: :func:`resize_images`).
RESIZES = {"bilinear": "antialiased bilinear", "lanczos": "Lanczos"}


def resize_images(x: Tensor, side: int, how: str) -> Tensor:
    """Images (N, C, H, W) in 0..255 (uint8; float too for bilinear), C = 1 or 3 -> uint8
    (N, C, side, side), resized as a source whose ``resize`` is ``how`` resized its own:
    "bilinear" as ``to_tensor``, "lanczos" as ``read_image`` (Pillow, image by image)."""
    if how == "lanczos":
        from PIL import Image

        hwc = x.permute(0, 2, 3, 1).numpy()  # (N, H, W, C)
        out = [np.asarray(Image.fromarray(a[..., 0] if a.shape[-1] == 1 else a).resize((side, side),
                                                                                      Image.Resampling.LANCZOS))
               for a in hwc]
        return torch.from_numpy(np.stack(out)).reshape(len(x), side, side, -1).permute(0, 3, 1, 2).contiguous()
    y = F.interpolate(x.float(), size=(side, side), mode="bilinear", antialias=True, align_corners=False)
    return y.round().clamp(0, 255).to(torch.uint8)


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


ASK_RESIZE = "give --resize to bring them to it with the run's own resizing"


def _resized(sizes: set, n: int, shape: tuple, how: str) -> Optional[str]:
    """What :func:`read_files` / :func:`read_array` resized, in words; None when nothing was."""
    if not sizes:
        return None
    return (f"resized {n} input(s) from {', '.join(sorted(sizes))} to {shape[2]}x{shape[1]} pixels with "
            f"{RESIZES[how]} (as this run's data was resized)")


def read_files(shape: tuple, path: Path, resize: Optional[str] = None) -> Inputs:
    """Images of a file or a folder as (N, C, H, W) in [0, 1] in the channels of ``shape``
    (C, H, W); their names. An image of another size is one line, not a silent resize, unless
    ``resize`` names how (a key of :data:`RESIZES`: "lanczos" as a folder source reads its files)."""
    from PIL import Image, UnidentifiedImageError

    if not path.exists():
        raise GanforgeError(f"{path}: no such file or folder")
    files = sorted(p for p in path.rglob("*") if p.suffix.lower() in INPUT_SUFFIXES and p.is_file()) \
        if path.is_dir() else [path]
    if not files:
        raise GanforgeError(f"{path}: no images (PNG/JPEG) in this folder")
    c, h, w = shape
    out, sizes, n = [], set(), 0
    for f in files:
        try:
            with Image.open(f) as im:
                im.load()
                size, im = im.size, im.convert("L" if c == 1 else "RGB")
                if size != (w, h) and resize is None:
                    raise GanforgeError(f"{f}: {size[0]}x{size[1]} pixels; this run makes {w}x{h} images: {ASK_RESIZE}")
                if size != (w, h) and resize == "lanczos":  # as data/images.read_image: convert, then resize
                    im = im.resize((w, h), Image.Resampling.LANCZOS)
                a = np.asarray(im, dtype=np.uint8).copy()
        except (OSError, UnidentifiedImageError, ValueError) as e:
            raise GanforgeError(f"{f}: not a readable image ({type(e).__name__})") from None
        a = torch.from_numpy(a).reshape(a.shape[0], a.shape[1], c).permute(2, 0, 1)  # (C, H', W') uint8
        if tuple(a.shape[1:]) != (h, w):
            a = resize_images(a[None], h, resize)[0]
        if size != (w, h):
            sizes.add(f"{size[0]}x{size[1]}")
            n += 1
        out.append(a)
    return Inputs(torch.stack(out).float() / 255, [str(f) for f in files], _resized(sizes, n, shape, resize))


def _convert(arr: np.ndarray, c: int) -> Tensor:
    """(N, C', H, W) uint8 or float in [0, 1] -> float (N, c, H, W) in 0..255, alpha dropped and
    channels converted as ``data/images.to_tensor`` converts them (grey = ITU-R 601 luma)."""
    x = torch.from_numpy(np.ascontiguousarray(arr[:, :3]).astype(np.float32))
    x = (x * 255).round() if arr.dtype.kind == "f" else x
    if c == 1 and x.shape[1] == 3:
        x = (x * torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1, keepdim=True)
    elif c == 3 and x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    return x


def read_array(shape: tuple, path: Path, resize: Optional[str] = None) -> Inputs:
    """An .npy of images, or an .npz (its ``images`` or its only array), uint8 or float in
    [0, 1], of ``shape`` (C, H, W) in any layout :func:`channels_first` reads -> (N, C, H, W)
    in [0, 1] (what ``ImageKind.write`` writes reads back). Another size or channel count is
    one line unless ``resize`` names how (a key of :data:`RESIZES`)."""
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
    found = tuple(arr.shape[1:])
    if len(arr.shape) != 4 or (found != tuple(shape) and (resize is None or found[0] not in (1, 3, 4))):
        raise GanforgeError(f"--data {path}: images of shape {found}; this run's data is {tuple(shape)} (channels, "
                            f"height, width)" + (f": {ASK_RESIZE}" if len(arr.shape) == 4 and resize is None else ""))
    if len(arr) == 0:
        raise GanforgeError(f"--data {path}: no images")
    if arr.dtype.kind not in "ui" and (arr.dtype.kind != "f" or not np.isfinite(arr).all() or arr.min() < 0
                                       or arr.max() > 1):
        raise GanforgeError(f"--data {path}: expected uint8 images or floats in [0, 1]")
    if found == tuple(shape):
        x = torch.from_numpy(arr.astype(np.float32) / 255 if arr.dtype.kind in "ui" else arr.astype(np.float32))
        return Inputs(x, [f"{path.name}[{i}]" for i in range(len(x))])
    x = _convert(arr, shape[0])  # (N, C, H', W') in 0..255
    sizes = {f"{found[2]}x{found[1]}"} if found[1:] != tuple(shape[1:]) else set()
    if sizes:
        x = resize_images(x if resize == "bilinear" else x.round().clamp(0, 255).to(torch.uint8), shape[1], resize)
    x = x.round().clamp(0, 255) / 255
    note = _resized(sizes, len(x), shape, resize) if sizes else f"converted {found[0]} channel(s) to {shape[0]}"
    return Inputs(x.float(), [f"{path.name}[{i}]" for i in range(len(x))], note)


class ImageKind(DataKind):
    name = "image"
    default_model = "dcgan"
    default_dataset = "folder"
    demo_data = {"name": "digits", "resolution": 8}
    evaluator = "energy"  # pixels, with Inception FID/KID given weights; digits and labelled sets name their own
    augment_ops = ("translation", "cutout", "color", "rotation")
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

    def read_inputs(self, data, path: Path, resize: bool = False) -> Inputs:
        """A folder of images, an image, or an .npz / .npy of images, at the run's size; with
        ``resize``, of any size, resized as the run's data was (``data.resize``: Lanczos for a
        folder source, antialiased bilinear for arrays)."""
        path = Path(path)
        how = getattr(data, "resize", "bilinear") if resize else None  # every image source records it
        suffix = path.suffix.lower()
        if suffix in (".npz", ".npy"):
            if not path.is_file():
                raise GanforgeError(f"--data {path}: no such file")
            return read_array(tuple(data.shape), path, how)
        if suffix == ".csv":
            raise GanforgeError(f"--data {path}: this run makes images; give a folder of images, an image, "
                                "an .npz or an .npy")
        return read_files(tuple(data.shape), path, how)

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
