"""``ganforge dataset build``: pack a folder of images, an .npz, IDX files or CIFAR-10 batches
once into a built dataset (``built.py`` describes the format) that training reads without
decoding, like StyleGAN2-ADA's dataset tool but memory-mappable rather than a zip of PNGs.

Images are decoded and resized by the same helpers as the in-memory datasets (``images.py``:
Pillow's decompression-bomb limit kept, Lanczos for files, antialiased bilinear for arrays), so
a built dataset holds exactly the images that ``data.name=folder`` / ``npz`` / ``idx`` /
``cifar10`` would hold in memory. Files are decoded one at a time and written as they come, so
memory stays bounded; arrays are resized in chunks. Unreadable files are skipped, counted,
listed in the manifest and reported (a warning). Everything is written into a temporary
directory next to ``--out``, synced, then renamed over it: a crash leaves no half-built dataset.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import io
import json
import os
import shutil
import struct
import uuid
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Iterator, Optional

import numpy as np

from .._version import __version__
from ..config import DataConfig
from ..errors import GanforgeError, GanforgeWarning
from . import images as img
from .built import FORMAT, IMAGES, LABELS, MANIFEST, VERSION, hash_bytes, open_built

WARN_BYTES = 10 << 30  # a built dataset above this size gets a warning with its size before building
LABEL_MODES = ("from-folders", "none")
_CHUNK_BYTES = 1 << 26  # arrays are resized in chunks of about this many float32 bytes


@dataclass(frozen=True)
class BuildResult:
    """What ``build_dataset`` wrote: ``count`` images (C, R, R) in ``path``, ``skipped`` files
    ({"path", "reason"}), ``bytes`` of pixels, and the classes (none: ``n_classes`` 0)."""

    path: Path
    source: str
    kind: str
    count: int
    channels: int
    resolution: int
    bytes: int
    n_classes: int
    class_names: list = field(default_factory=list)
    skipped: list = field(default_factory=list)


def source_kind(src: Path) -> str:
    """folder, npz, idx or cifar10, from what ``src`` holds."""
    if src.is_dir():
        if any(src.glob("data_batch_*")):
            return "cifar10"
        if any(src.glob("*images-idx3-ubyte*")):
            return "idx"
        return "folder"
    if src.suffix.lower() == ".npz":
        return "npz"
    if "images-idx3-ubyte" in src.name:
        return "idx"
    if src.name.startswith("data_batch_"):
        return "cifar10"
    raise GanforgeError(f"{src}: expected a folder of images, an .npz, IDX files (*-images-idx3-ubyte[.gz]) or "
                        "CIFAR-10 python batches (data_batch_*)")


def _npy_header(shape: tuple, total: int = 0) -> bytes:
    """A .npy (version 1.0) header for uint8 C-order ``shape``, padded with spaces to ``total``
    bytes (a multiple of 64 when 0), so that a smaller count can later be written in its place."""
    d = "{'descr': '|u1', 'fortran_order': False, 'shape': %r, }" % (tuple(int(s) for s in shape),)
    base = 10 + len(d) + 1  # magic (6) + version (2) + length (2), the dict, '\n'
    total = total or -(-base // 64) * 64
    if total < base:
        raise ValueError("header does not fit")
    header = d + " " * (total - base) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode("latin1")


class _ImageWriter:
    """Rows (C, R, R) uint8 appended to an images.npy sized for at most ``n`` rows; the header is
    rewritten for the rows actually written when closed. Hashes the pixel bytes as they go."""

    def __init__(self, path: Path, n: int, shape: tuple):
        self.path, self.shape, self.count, self.sha = path, shape, 0, hashlib.sha256()
        self.header = _npy_header((n, *shape))
        self.f = open(path, "wb")
        self.f.write(self.header)

    def write(self, rows: np.ndarray) -> None:
        """``rows`` (k, C, R, R) uint8."""
        assert rows.dtype == np.uint8 and rows.shape[1:] == self.shape, (rows.dtype, rows.shape)
        b = np.ascontiguousarray(rows).tobytes()
        self.f.write(b)
        self.sha.update(b)
        self.count += len(rows)

    def close(self) -> None:
        self.f.seek(0)
        self.f.write(_npy_header((self.count, *self.shape), len(self.header)))
        self.f.truncate(len(self.header) + self.count * int(np.prod(self.shape)))
        self.f.flush()
        os.fsync(self.f.fileno())
        self.f.close()


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):  # not every platform can open a directory
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _check_space(out: Path, need: int, what: str, warn_bytes: int) -> None:
    """Warn with the size when it is large; refuse when the disk under ``out`` lacks the space."""
    parent = out.absolute().parent
    while not parent.exists():
        parent = parent.parent
    free = shutil.disk_usage(parent).free
    if need > free - (64 << 20):
        raise GanforgeError(f"--out {out}: {what} needs about {need / 1e9:.2f} GB and only {free / 1e9:.2f} GB are "
                            f"free on that disk; free space, or choose --out on another disk or a lower --resolution")
    if need > warn_bytes:
        warnings.warn(f"{what}: about {need / 1e9:.1f} GB once built ({free / 1e9:.0f} GB free); building it "
                      "reads every image once", GanforgeWarning)


def _progress(total: int, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="build", unit="img", disable=not enabled, dynamic_ncols=True)


def _folder_rows(src: Path, files: list, mode: str, r: int, sha, skipped: list, bar) -> Iterator[tuple[np.ndarray, str]]:
    """(image (C, R, R) uint8, class name) per readable file; the bytes of every file (and its
    relative path) go into the source hash ``sha``."""
    for f in files:
        rel = f.relative_to(src).as_posix()
        data = f.read_bytes()
        sha.update(f"{rel}\0{len(data)}\0".encode())
        sha.update(data)
        bar.update(1)
        try:
            a = img.read_image(io.BytesIO(data), mode, r)  # (R, R) or (R, R, 3)
        except img.SkippedImage as s:
            skipped.append({"path": rel, "reason": s.reason})
            continue
        yield np.atleast_3d(a).transpose(2, 0, 1), img.folder_class(src, f)


def _array_source(src: Path, kind: str) -> tuple[np.ndarray, Optional[np.ndarray], int, list[Path]]:
    """(images as stored, labels or None, default channels, the source files) of an array source."""
    if kind == "npz":
        arr, lab = img.read_npz(src, str(src))
        return arr, lab, 0, [src]
    if kind == "idx":
        arr, lab, p, lab_path = img.read_idx(src, str(src))
        return arr, lab, 1, [p] + ([lab_path] if lab is not None else [])
    files = img.cifar_files(src, str(src))
    arr, lab = img.read_cifar(files)
    return arr, lab, 3, files


def build_dataset(src, out, resolution: int, labels: Optional[str] = None, channels: int = 0, force: bool = False,
                  progress: bool = True, warn_bytes: int = WARN_BYTES) -> BuildResult:
    """Pack ``src`` (a folder of PNG/JPEG, an .npz, IDX files or CIFAR-10 batches) into the built
    dataset ``out`` at ``resolution`` px, with ``channels`` (1, 3, or 0: the source's own).

    ``labels``: ``from-folders`` (folders: the first sub-folder is the class), ``none`` (drop
    them), or None (array sources keep the labels they hold; folders are unlabelled). ``force``
    replaces an existing ``out``. Unreadable files are skipped and listed (a warning says how
    many); a dataset larger than ``warn_bytes`` is announced with its size, and one larger than
    the free disk space is refused, both before any work."""
    src, out = Path(src).expanduser(), Path(out).expanduser()
    if not src.exists():
        raise GanforgeError(f"dataset build: no such file or directory: {src}")
    if not 4 <= resolution <= img.MAX_RESOLUTION:
        raise GanforgeError(f"--resolution {resolution}: built images are 4 to {img.MAX_RESOLUTION} px a side (the "
                            "model asks for a power of two: dcgan up to 256, stylegan2 up to 1024)")
    if channels not in (0, 1, 3):
        raise GanforgeError(f"--channels {channels}: use 1 (grey), 3 (RGB) or 0 (the source's own)")
    if labels is not None and labels not in LABEL_MODES:
        raise GanforgeError(f"--labels {labels}: choose one of {', '.join(LABEL_MODES)}")
    if out.exists() and not force:
        raise GanforgeError(f"--out {out}: already exists; pass --force to build it again")
    if out.resolve() == src.resolve():
        raise GanforgeError(f"--out {out}: would overwrite the source")
    from ..io import check_output

    check_output(out, "--out")
    kind = source_kind(src)
    if labels == "from-folders" and kind != "folder":
        raise GanforgeError(f"--labels from-folders: {src} is {kind} data, which holds its own labels; leave "
                            "--labels out (or --labels none to drop them)")
    tmp = out.absolute().parent / f".{out.name}.{uuid.uuid4().hex[:8]}.tmp"
    tmp.mkdir(parents=True)
    try:
        if kind == "folder":
            result = _build_folder(src, tmp, resolution, labels, channels, progress, warn_bytes, out)
        else:
            result = _build_arrays(src, kind, tmp, resolution, labels, channels, progress, warn_bytes, out)
        open_built(tmp, full_check=False)  # what was written reads back as what the manifest says
        _fsync_dir(tmp)
        old = None
        if out.exists():  # --force: the old one goes aside first, and away once the new one is in place
            old = out.absolute().parent / f".{out.name}.{uuid.uuid4().hex[:8]}.old"
            os.replace(out, old)
        os.replace(tmp, out)
        _fsync_dir(out.absolute().parent)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if result.skipped:
        warnings.warn(f"dataset build: skipped {len(result.skipped)} file(s) that could not be read (listed under "
                      f"'skipped' in {out / MANIFEST}): {result.skipped[0]['path']} ({result.skipped[0]['reason']})"
                      f"{' ...' if len(result.skipped) > 1 else ''}", GanforgeWarning)
    return replace(result, path=out)


def _build_folder(src: Path, tmp: Path, r: int, labels: Optional[str], channels: int, progress: bool,
                  warn_bytes: int, out: Path) -> BuildResult:
    files = img.image_files(src)
    if not files:
        raise GanforgeError(f"dataset build: no PNG or JPEG file under {src}")
    mode = "L" if channels == 1 else "RGB"
    c = 1 if mode == "L" else 3
    _check_space(out, len(files) * c * r * r, f"{src} ({len(files)} images at {c}x{r}x{r})", warn_bytes)
    sha, skipped, names = hashlib.sha256(), [], []
    w = _ImageWriter(tmp / IMAGES, len(files), (c, r, r))
    try:
        with _progress(len(files), progress) as bar:
            for x, name in _folder_rows(src, files, mode, r, sha, skipped, bar):
                w.write(x[None])
                names.append(name)
    finally:
        w.close()
    if not w.count:
        raise GanforgeError(f"dataset build: no readable PNG or JPEG image under {src}")
    y, classes = None, []
    if labels == "from-folders":
        classes = sorted(set(names))
        if classes == [""]:
            raise GanforgeError(f"--labels from-folders: {src} has no class sub-folders (every image is at the top)")
        index = {n: i for i, n in enumerate(classes)}
        y = np.array([index[n] for n in names], dtype=np.int64)
    return _finish(tmp, w, y, classes, src, "folder", sha.hexdigest(), len(files), skipped, labels)


def _build_arrays(src: Path, kind: str, tmp: Path, r: int, labels: Optional[str], channels: int, progress: bool,
                  warn_bytes: int, out: Path) -> BuildResult:
    arr, lab, default_c, files = _array_source(src, kind)
    cfg = DataConfig(resolution=r, channels=channels)
    probe = arr[:1] if arr.shape else arr  # a bad shape or an empty array: to_tensor's one-line error
    c = img.to_tensor(probe, cfg, str(src), default_c).shape[1]  # (1, C, R, R)
    n = len(arr)
    _check_space(out, n * c * r * r, f"{src} ({n} images at {c}x{r}x{r})", warn_bytes)
    y, k = (None, 0) if labels == "none" else img._labels(lab, n, str(src))
    sha = hashlib.sha256()
    for f in files:
        sha.update(f"{f.name}\0".encode() + bytes.fromhex(hash_bytes(f)))
    step = max(1, _CHUNK_BYTES // (4 * max(arr[0].size, 3 * r * r)))  # float32 bytes of an image, in or out
    w = _ImageWriter(tmp / IMAGES, n, (c, r, r))
    try:
        with _progress(n, progress) as bar:
            for i in range(0, n, step):  # resized a chunk at a time: float32 copies stay small
                w.write(img.to_tensor(arr[i : i + step], cfg, str(src), default_c).numpy())
                bar.update(min(step, n - i))
    finally:
        w.close()
    y = y.numpy() if y is not None else None
    return _finish(tmp, w, y, [], src, kind, sha.hexdigest(), len(files), [], "source" if y is not None else None,
                   n_classes=k)


def write_rows(out: Path, chunks: Iterator[np.ndarray], n: int, shape: tuple, kind: str = "synthetic") -> BuildResult:
    """A built dataset in ``out`` (an existing, empty folder) from ``chunks`` of rows (k, C, R, R)
    uint8, at most ``n`` rows in all, unlabelled: written directly, nothing decoded (for generated
    data, e.g. a benchmark's dataset larger than RAM). The manifest names ``kind`` as its source."""
    w = _ImageWriter(out / IMAGES, n, shape)
    try:
        for rows in chunks:
            w.write(rows)
    finally:
        w.close()
    return _finish(out, w, None, [], out, kind, "0" * 64, 0, [], None)


def _finish(tmp: Path, w: _ImageWriter, y: Optional[np.ndarray], classes: list, src: Path, kind: str, src_sha: str,
            n_files: int, skipped: list, labels: Optional[str], n_classes: int = 0) -> BuildResult:
    """labels.npy and manifest.json next to the written images.npy."""
    c, r, _ = w.shape
    manifest = {
        "format": FORMAT, "version": VERSION, "ganforge": __version__,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "source": {"path": str(src.absolute()), "kind": kind, "files": n_files, "sha256": src_sha},
        "resolution": r, "channels": c, "count": w.count,
        "labels": labels if y is not None else None,
        "n_classes": (len(classes) or n_classes) if y is not None else 0,
        "class_names": classes,
        "skipped": {"count": len(skipped), "files": skipped},
        "images": {"file": IMAGES, "shape": [w.count, c, r, r], "dtype": "uint8", "bytes": w.count * c * r * r,
                   "sha256": w.sha.hexdigest(), "mtime_ns": os.stat(w.path).st_mtime_ns},
        "labels_file": None,
    }
    if y is not None:
        with open(tmp / LABELS, "wb") as f:
            np.save(f, y.astype(np.int64), allow_pickle=False)
            f.flush()
            os.fsync(f.fileno())
        manifest["labels_file"] = {"file": LABELS, "sha256": hashlib.sha256(y.astype(np.int64).tobytes()).hexdigest()}
    with open(tmp / MANIFEST, "w", encoding="utf-8") as f:
        f.write(json.dumps(manifest, indent=1) + "\n")
        f.flush()
        os.fsync(f.fileno())
    return BuildResult(tmp, str(src), kind, w.count, c, r, w.count * c * r * r, manifest["n_classes"], classes, skipped)
