"""Image datasets, all read from disk or from installed packages; nothing is downloaded.

Images are held in memory as uint8 ``(N, C, H, W)``, resized once to ``data.resolution``,
and served in model space [-1, 1] (``decode`` maps back to [0, 1]).

- ``digits``: scikit-learn's bundled 8x8 digits (1,797 images, 10 classes), with a fixed
  train/test split (every 5th image is held out).
- ``stacked_digits``: three random training digits stacked as RGB channels: 1,000 modes
  (the Stacked-MNIST protocol of Metz et al. 2016 and Lin et al. 2018, on bundled data).
- ``folder``: PNG/JPEG files under ``data.path``, recursive; the class is the sub-folder.
- ``npz``: arrays ``images`` (N, H, W[, C]) and optional ``labels`` (N,) in ``data.path``.
- ``idx``: MNIST / Fashion-MNIST IDX files (``*-images-idx3-ubyte[.gz]`` and the matching
  labels file) in the folder ``data.path``.
- ``cifar10``: the CIFAR-10 python batches (``data_batch_1`` ... ``data_batch_5``) in
  ``data.path``, read with a restricted unpickler that builds numpy arrays and nothing else.
"""

from __future__ import annotations

import gzip
import io
import pickle
import struct
import warnings
from pathlib import Path
from typing import Optional

import numpy as np
import torch
from torch import Tensor

from ..conditions import ClassIds
from ..config import DataConfig
from ..errors import GanforgeError, GanforgeWarning
from .base import DataSource, Finite, ImageSet, Normalized, PartlyLabelled, keep_per_class, register_dataset
from .kinds import IMAGE
from .kinds.image import image_array, resize_images
from .sampling import EpochSampler

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


class ImageData(Normalized, DataSource, Finite, ImageSet, PartlyLabelled):
    """In-memory images ``(N, C, H, W)`` uint8 and optional labels ``(N,)``, served in epochs.

    Measured (``evaluator``) as its builder says (``digits``: the digit classifier), else by a
    classifier trained on its own labels when it has two classes or more, else by the energy
    distance in pixels (and Inception FID/KID given weights)."""

    kind = IMAGE  # what one sample is (data/kinds)

    def __init__(self, images: Tensor, labels: Optional[Tensor], seed: int, n_classes: int = 0,
                 holdout: Optional[tuple[Tensor, Optional[Tensor]]] = None, class_names: Optional[list] = None,
                 evaluator: Optional[str] = None, resize: str = "bilinear"):
        self.images, self.labels = images, labels
        self.resize = resize  # how its images were brought to data.resolution (RESIZES): a user's inputs too
        self.shape = tuple(images.shape[1:])  # (C, H, W)
        # class ids (B,) when labelled; G's classes drawn uniformly, as the game always has
        self.condition_spec = ClassIds(n_classes, names=class_names if class_names and len(class_names) == n_classes
                                       else None) if labels is not None and n_classes else None
        self.class_names = class_names
        self.holdout = holdout  # (images, labels) never trained on, or None
        self._evaluator = evaluator
        c = self.shape[0]
        self.loc, self.scale = torch.full((c, 1, 1), 0.5), torch.full((c, 1, 1), 0.5)  # [0, 1] <-> [-1, 1]
        self.seed = seed
        self.order = EpochSampler(len(images), seed)
        self.served: Optional[tuple] = None  # (images, labels, loc, scale) held on a device, or None

    @property
    def evaluator(self) -> str:
        if self._evaluator is not None:
            return self._evaluator
        return "own_labels" if self.labels is not None and self.n_classes >= 2 else "energy"

    def keep_first(self, n: int) -> None:
        """Train on the first ``n`` images only (small-data studies); the held-out split stays."""
        self.images = self.images[:n]
        self.labels = self.labels[:n] if self.labels is not None else None
        self.order = EpochSampler(len(self.images), self.seed)
        self.served = None

    def keep_labels(self, k: int) -> None:
        """``data.labels_per_class``: the labels of ``k`` training images per class are kept, the rest
        become UNLABELLED (-1) (:func:`keep_per_class`); the held-out split is untouched."""
        self.labels, self.served = keep_per_class(self.labels if self.n_classes else None, k, self.seed), None
        self._evaluator = self._evaluator or "energy"  # too few labels left for the own-labels classifier

    def labelled(self) -> tuple[Tensor, Tensor]:
        """The kept labelled images (M, C, H, W) in model space and their labels (M,)."""
        rows = torch.nonzero(self.labels >= 0).flatten()
        return self.encode(self.images[rows].float() / 255), self.labels[rows]

    def nbytes(self) -> int:
        return self.images.numel() * self.images.element_size()

    def hold_on(self, device: torch.device) -> None:
        """Serve training batches from a copy of the images (uint8) on ``device``: no host-to-device
        copy per step. The batches are the same: indices still come from the CPU sampler."""
        labels = self.labels.to(device) if self.labels is not None else None
        self.served = (self.images.to(device), labels, self.loc.to(device), self.scale.to(device))

    def sample(self, n: int) -> tuple[Tensor, Optional[Tensor]]:
        idx = self.order.next(n)
        if self.served is not None:
            images, labels, loc, scale = self.served
            idx = idx.to(images.device, non_blocking=True)
            y = labels[idx] if labels is not None else None
            return (images[idx].float() / 255 - loc) / scale, y
        y = self.labels[idx] if self.labels is not None else None
        return self.encode(self.images[idx].float() / 255), y

    def reference(self, n: int, seed: int) -> Tensor:
        """Real images in [0, 1], (min(n, N), C, H, W), drawn without replacement (duplicates
        would give nearest-neighbour metrics zero radii)."""
        g = torch.Generator().manual_seed(seed)
        return self.images[torch.randperm(len(self.images), generator=g)[:n]].float() / 255

    def state_dict(self) -> dict:
        return self.order.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.order.load_state_dict(state)


class StackedDigits(Normalized, DataSource, Finite):
    """Three independent training digits as the R, G and B channels; label 100a + 10b + c.

    Its samples are drawn, not stored, so it is no :class:`ImageSet`: ``digits`` (N, 1, H, W)
    uint8 and ``digit_labels`` (N,) are the grey digits the channels are drawn from."""

    kind = IMAGE  # what one sample is (data/kinds)
    evaluator = "digits"
    resize = "bilinear"  # its digits were resized as arrays (to_tensor)

    def __init__(self, digits: ImageData, seed: int):
        self.digits, self.digit_labels = digits.images, digits.labels
        self.shape = (3,) + tuple(digits.shape[1:])
        self.condition_spec = ClassIds(1000)  # the digit triple 100a + 10b + c
        self.loc, self.scale = torch.full((3, 1, 1), 0.5), torch.full((3, 1, 1), 0.5)
        self.gen = torch.Generator().manual_seed(seed)
        self.served: Optional[tuple] = None  # (digits, labels, loc, scale) held on a device, or None

    def keep_first(self, n: int) -> None:
        """Draw from the first ``n`` training digits only."""
        self.digits, self.digit_labels = self.digits[:n], self.digit_labels[:n]
        self.served = None

    def nbytes(self) -> int:
        return self.digits.numel() * self.digits.element_size()

    def hold_on(self, device: torch.device) -> None:
        """Stack the digits on ``device``; the indices still come from the CPU generator."""
        self.served = (self.digits.to(device), self.digit_labels.to(device), self.loc.to(device), self.scale.to(device))

    def _stack(self, idx: Tensor) -> tuple[Tensor, Tensor]:
        x = self.digits[idx].squeeze(2)  # (n, 3, H, W): one grey digit per channel
        y = self.digit_labels[idx]  # (n, 3)
        return x, y[:, 0] * 100 + y[:, 1] * 10 + y[:, 2]

    def sample(self, n: int) -> tuple[Tensor, Tensor]:
        idx = torch.randint(len(self.digits), (n, 3), generator=self.gen)
        if self.served is not None:  # on the device: the same digits, stacked there
            images, labels, loc, scale = self.served
            idx = idx.to(images.device, non_blocking=True)
            y = labels[idx]
            x = images[idx].squeeze(2)
            return (x.float() / 255 - loc) / scale, y[:, 0] * 100 + y[:, 1] * 10 + y[:, 2]
        x, y = self._stack(idx)
        return self.encode(x.float() / 255), y

    def reference(self, n: int, seed: int) -> Tensor:
        g = torch.Generator().manual_seed(seed)
        return self._stack(torch.randint(len(self.digits), (n, 3), generator=g))[0].float() / 255

    def state_dict(self) -> dict:
        return {"gen": self.gen.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.gen.set_state(state["gen"])


# ----------------------------------------------------------------------------- helpers


MAX_RESOLUTION = 1024  # images are held in memory at this size; each model says which sizes it builds


def _check_resolution(cfg: DataConfig) -> int:
    r = cfg.resolution
    if not 4 <= r <= MAX_RESOLUTION:
        raise GanforgeError(f"data.resolution={r} is not allowed; image datasets are resized to 4 to "
                            f"{MAX_RESOLUTION} px (and the model may ask for a power of two)")
    return r


def to_tensor(arr: np.ndarray, cfg: DataConfig, where: str, channels_default: int) -> Tensor:
    """(N, H, W), (N, H, W, C) or (N, C, H, W) uint8 / float in [0, 1] -> uint8 (N, C, R, R)."""
    arr = image_array(arr, where)  # the image kind's one rule for array layouts: (N, C, H, W)
    if arr.dtype.kind == "f":
        if not np.isfinite(arr).all():
            raise GanforgeError(f"{where}: images hold NaN or infinite values")
        if arr.min() < 0 or arr.max() > 1:
            raise GanforgeError(f"{where}: float images must lie in [0, 1] (found {arr.min():.3g}..{arr.max():.3g})")
        arr = np.round(arr * 255)
    elif arr.dtype.kind not in "ui":
        raise GanforgeError(f"{where}: expected numeric images, found dtype {arr.dtype}")
    x = torch.from_numpy(np.ascontiguousarray(arr[:, :3]).astype(np.float32))  # drop alpha
    want = cfg.channels or channels_default or x.shape[1]
    if want == 1 and x.shape[1] == 3:
        x = (x * torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1, keepdim=True)
    elif want == 3 and x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    r = _check_resolution(cfg)
    if x.shape[-2:] != (r, r):
        return resize_images(x, r, "bilinear")  # from float: the rounding happens once, after resizing
    return x.round().clamp(0, 255).to(torch.uint8)


def _labels(arr: Optional[np.ndarray], n: int, where: str) -> tuple[Optional[Tensor], int]:
    if arr is None:
        return None, 0
    arr = np.asarray(arr).reshape(-1)
    if len(arr) != n or arr.dtype.kind not in "ui" or (len(arr) and arr.min() < 0):
        raise GanforgeError(f"{where}: labels must be {n} non-negative integers, found {arr.shape} {arr.dtype}")
    return torch.from_numpy(arr.astype(np.int64)), int(arr.max()) + 1


def _need_path(cfg: DataConfig, what: str) -> Path:
    if not cfg.path:
        raise GanforgeError(f"data.path: data.name={cfg.name} needs data.path={what}")
    p = Path(cfg.path).expanduser()
    if not p.exists():
        raise GanforgeError(f"data.path: no such file or directory: {cfg.path}")
    return p


# ----------------------------------------------------------------------------- datasets


def _digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits  # ships the data; nothing is downloaded

    d = load_digits()
    return (d.images / 16.0).astype(np.float32), d.target.astype(np.int64)  # (1797, 8, 8) in [0, 1]


def digits_split() -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """The fixed split: every 5th image (index % 5 == 0) is test, the rest train."""
    x, y = _digits_arrays()
    test = np.arange(len(x)) % 5 == 0
    return (x[~test], y[~test]), (x[test], y[test])


@register_dataset(IMAGE)
def digits(cfg: DataConfig, seed: int) -> ImageData:
    """scikit-learn's 8x8 digits, resized to data.resolution; 1,437 train / 360 test images."""
    (xtr, ytr), (xte, yte) = digits_split()
    train = to_tensor(xtr, cfg, "digits", 1)
    test = to_tensor(xte, cfg, "digits", 1)
    return ImageData(train, torch.from_numpy(ytr), seed, 10, holdout=(test, torch.from_numpy(yte)), evaluator="digits")


@register_dataset(IMAGE)
def stacked_digits(cfg: DataConfig, seed: int) -> StackedDigits:
    """Three random training digits stacked as RGB: 1,000 modes."""
    base = digits(DataConfig(name="digits", resolution=cfg.resolution, channels=1), seed)
    return StackedDigits(base, seed)


class SkippedImage(Exception):
    """An image file left undecoded: ``reason`` is ``unreadable`` (corrupt, truncated, not an
    image) or ``pixel limit`` (over Pillow's ``Image.MAX_IMAGE_PIXELS``: a possible
    decompression bomb, never decoded)."""

    def __init__(self, path, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path, self.reason = path, reason


def image_files(root: Path) -> list[Path]:
    """Every PNG/JPEG under ``root`` (recursive), sorted: the order of a folder dataset."""
    return sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())


def folder_class(root: Path, f: Path) -> str:
    """The class name of ``f``: its first sub-folder under ``root`` ("" for a file at the top)."""
    rel = f.relative_to(root)
    return rel.parts[0] if len(rel.parts) > 1 else ""


def read_image(src, mode: str, r: int) -> np.ndarray:
    """One image file (a path or a binary file object) converted to ``mode`` (L or RGB) and
    resized to r x r with Lanczos: uint8 (r, r) or (r, r, 3). Raises :class:`SkippedImage`."""
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():  # over Pillow's pixel limit is an error here, not a warning
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(src) as im:
                im = im.convert(mode).resize((r, r), Image.Resampling.LANCZOS)
                return np.asarray(im, dtype=np.uint8)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise SkippedImage(src, "pixel limit") from None  # Pillow's limit is kept: never decoded
    except (OSError, UnidentifiedImageError, ValueError, SyntaxError):
        raise SkippedImage(src, "unreadable") from None


def warn_skipped(skipped: list, where) -> None:
    """One warning per kind of :class:`SkippedImage` among ``skipped``."""
    from PIL import Image

    bad = [s for s in skipped if s.reason == "unreadable"]
    bombs = [s.path for s in skipped if s.reason == "pixel limit"]
    if bad:
        warnings.warn(f"data.path: skipped {len(bad)} unreadable or corrupt image file(s) under {where}", GanforgeWarning)
    if bombs:
        warnings.warn(f"data.path: skipped {len(bombs)} image(s) over Pillow's limit of {Image.MAX_IMAGE_PIXELS} pixels "
                      f"(possible decompression bombs, not decoded): {bombs[0]}{' ...' if len(bombs) > 1 else ''}",
                      GanforgeWarning)


@register_dataset(IMAGE)
def folder(cfg: DataConfig, seed: int) -> ImageData:
    """Every PNG/JPEG under data.path (recursive); the class of an image is its sub-folder."""
    root = _need_path(cfg, "a folder of images")
    if not root.is_dir():
        raise GanforgeError(f"data.path: {cfg.path} is not a folder")
    mode = "L" if cfg.channels == 1 else "RGB"
    r = _check_resolution(cfg)
    images, names, skipped = [], [], []
    for f in image_files(root):
        try:
            images.append(read_image(f, mode, r))
        except SkippedImage as s:
            skipped.append(s)
            continue
        names.append(folder_class(root, f))
    warn_skipped(skipped, cfg.path)
    if not images:
        raise GanforgeError(f"data.path: no readable PNG or JPEG image under {cfg.path}")
    x = to_tensor(np.stack(images), cfg, str(root), 1 if mode == "L" else 3)
    classes = sorted(set(names))
    labels = torch.tensor([classes.index(n) for n in names]) if len(classes) > 1 or classes != [""] else None
    return ImageData(x, labels, seed, len(classes), class_names=classes, resize="lanczos")


def read_npz(p: Path, where: str) -> tuple[np.ndarray, Optional[np.ndarray]]:
    """The arrays ``images`` and ``labels`` (or None) of an .npz, as stored."""
    try:
        with np.load(p, allow_pickle=False) as f:
            if "images" not in f:
                raise GanforgeError(f"data.path: {where} has no array named 'images' (found {', '.join(f.files)})")
            return f["images"], (f["labels"] if "labels" in f else None)
    except GanforgeError:
        raise
    except Exception as e:
        raise GanforgeError(f"data.path: {where} could not be read as .npz: {str(e).splitlines()[0]}") from None


@register_dataset(IMAGE)
def npz(cfg: DataConfig, seed: int) -> ImageData:
    """An .npz with ``images`` (N, H, W[, C]) uint8 or float in [0, 1] and optional ``labels``."""
    p = _need_path(cfg, "FILE.npz")
    arr, lab = read_npz(p, cfg.path)
    x = to_tensor(arr, cfg, str(p), 0)
    y, k = _labels(lab, len(x), str(p))
    return ImageData(x, y, seed, k)


def _read_idx(path: Path) -> np.ndarray:
    raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 8:
        raise GanforgeError(f"data.path: {path} is not an IDX file of unsigned bytes")
    ndim = raw[3]
    dims = struct.unpack(f">{ndim}I", raw[4 : 4 + 4 * ndim])
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise GanforgeError(f"data.path: {path} is truncated ({data.size} of {int(np.prod(dims))} values)")
    return data.reshape(dims)


def read_idx(p: Path, where: str) -> tuple[np.ndarray, Optional[np.ndarray], Path, Path]:
    """``p``: a folder holding ``train-images-idx3-ubyte[.gz]`` (or any ``*images-idx3-ubyte*``)
    and its labels file, or an images file. (images, labels or None, images file, labels file)."""
    if p.is_dir():
        found = sorted(p.glob("train-images-idx3-ubyte*")) or sorted(p.glob("*images-idx3-ubyte*"))
        if not found:
            raise GanforgeError(f"data.path: no *images-idx3-ubyte[.gz] file in {where}")
        p = found[0]
    lab_path = p.with_name(p.name.replace("images-idx3", "labels-idx1"))
    return _read_idx(p), (_read_idx(lab_path) if lab_path.exists() else None), p, lab_path


@register_dataset(IMAGE)
def idx(cfg: DataConfig, seed: int) -> ImageData:
    """MNIST-style IDX files: data.path is a folder holding ``train-images-idx3-ubyte[.gz]``
    and ``train-labels-idx1-ubyte[.gz]`` (or the path of an ``*images-idx3-ubyte`` file)."""
    arr, lab, p, lab_path = read_idx(_need_path(cfg, "a folder of IDX files"), cfg.path)
    x = to_tensor(arr, cfg, str(p), 1)
    y, k = _labels(lab, len(x), str(lab_path))
    return ImageData(x, y, seed, k)


class _ArrayUnpickler(pickle.Unpickler):
    """Builds numpy arrays, dicts, lists and strings only: never runs other code."""

    ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
               ("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "scalar"),
               ("numpy._core.multiarray", "scalar"), ("_codecs", "encode")}

    def find_class(self, module: str, name: str):
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")


def cifar_files(p: Path, where: str) -> list[Path]:
    files = sorted(p.glob("data_batch_*")) if p.is_dir() else [p]
    if not files:
        raise GanforgeError(f"data.path: no data_batch_* file in {where}")
    return files


def read_cifar(files: list[Path]) -> tuple[np.ndarray, np.ndarray]:
    """CIFAR-10 python batches: images (N, 3, 32, 32) uint8 and labels (N,) int64."""
    xs, ys = [], []
    for f in files:
        try:
            batch = _ArrayUnpickler(io.BytesIO(f.read_bytes()), encoding="bytes").load()
            xs.append(np.asarray(batch[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32))
            ys.append(np.asarray(batch[b"labels"], dtype=np.int64))
        except Exception as e:
            raise GanforgeError(f"data.path: {f} is not a CIFAR-10 python batch ({str(e).splitlines()[0]})") from None
    return np.concatenate(xs), np.concatenate(ys)


@register_dataset(IMAGE)
def cifar10(cfg: DataConfig, seed: int) -> ImageData:
    """The CIFAR-10 python batches (``data_batch_1``..``5``) in the folder data.path."""
    p = _need_path(cfg, "the cifar-10-batches-py folder")
    arr, lab = read_cifar(cifar_files(p, cfg.path))
    x = to_tensor(arr, cfg, str(p), 3)
    y, k = _labels(lab, len(x), str(p))
    return ImageData(x, y, seed, k)
