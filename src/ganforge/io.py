"""Writing files: atomically, and generated images with their provenance.

Every file ganforge writes for later (checkpoints, caches, reports, sample images) is written
whole or not at all: into a temporary file in the same directory, flushed to disk, then renamed
over its final name (``os.replace`` is atomic within one file system). A crash leaves either the
old file or the new one, never half of one, and the temporary file is removed on failure.

Every PNG of generated images carries text chunks saying that it is synthetic, which software
made it, and from which run and step (:func:`synthetic_meta`): a generated image must never pass
for a real one once it leaves the run directory.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import math
import os
import uuid
from pathlib import Path
from typing import IO, Iterator, Optional

import numpy as np
import torch
from PIL import Image
from PIL.PngImagePlugin import PngInfo
from torch import Tensor

# ----------------------------------------------------------------------------- atomic writes


@contextlib.contextmanager
def atomic_open(path: Path, mode: str = "wb", encoding: Optional[str] = None) -> Iterator[IO]:
    """Open a temporary file next to ``path`` for writing; when the block ends without error it
    is flushed, synced and renamed to ``path``, else removed. The file gets the permissions of
    any new file (0666 less the umask)."""
    path = Path(path)
    while True:  # O_EXCL: a name nobody else holds, in the same directory (so same file system)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            break
        except FileExistsError:
            continue
    try:
        with os.fdopen(fd, mode, encoding=encoding) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


class _Writes:
    """A file for ``torch.save`` that remembers the OSError of a failed write: torch's zip writer
    turns it into a RuntimeError ("unexpected pos ..."), which would hide a disk that is full."""

    def __init__(self, f: IO) -> None:
        self.f, self.error = f, None

    def write(self, b) -> int:
        try:
            return self.f.write(b)
        except OSError as e:
            self.error = self.error or e
            raise

    def flush(self) -> None:
        self.f.flush()


def save_atomic(obj, path: Path) -> None:
    """``torch.save(obj)`` to ``path``, atomically (read back with ``torch.load(weights_only=True)``).
    A failed write (a full disk) raises its OSError."""
    with atomic_open(path, "wb") as f:
        w = _Writes(f)
        try:
            torch.save(obj, w)
        except RuntimeError:
            if w.error is not None:
                raise w.error from None
            raise


def write_bytes_atomic(path: Path, data: bytes) -> None:
    with atomic_open(path, "wb") as f:
        f.write(data)


def write_text_atomic(path: Path, text: str, encoding: str = "utf-8") -> None:
    with atomic_open(path, "w", encoding=encoding) as f:
        f.write(text)


def check_output(path, what: str, suffixes: tuple = ()) -> Path:
    """Refuse an output ``path`` (a command's ``what``, e.g. ``--out``) before any work is done:
    a suffix other than ``suffixes`` (when given), or a nearest existing ancestor that is not a
    writable directory. A disk that fills up later still fails (as an OSError), atomically."""
    from .errors import GanforgeError

    p = Path(path).expanduser()
    if suffixes and p.suffix.lower() not in suffixes:
        raise GanforgeError(f"{what} {path}: expected a {' or '.join(suffixes)} file")
    if p.is_dir() and suffixes:
        raise GanforgeError(f"{what} {path}: is a directory; expected a {' or '.join(suffixes)} file")
    parent = p.absolute().parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise GanforgeError(f"{what} {path}: {parent} is not a directory")
    if not os.access(parent, os.W_OK):
        raise GanforgeError(f"{what} {path}: {parent} is not writable")
    return p


# ----------------------------------------------------------------------------- images with provenance


def sha256_file(path: Path) -> str:
    """The SHA-256 of a file's bytes, hex."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def provenance_path(path: Path) -> Path:
    """The sidecar of a non-PNG output: ``synth.npz`` -> ``synth.provenance.json``."""
    path = Path(path)
    return path.with_name(f"{path.stem}.provenance.json")


def write_provenance(path: Path, provenance: dict) -> Path:
    """Write ``provenance`` as the JSON sidecar of ``path``; returns the sidecar's path."""
    side = provenance_path(path)
    public = {k: v for k, v in provenance.items() if not str(k).startswith("_")}  # no secret key
    write_text_atomic(side, json.dumps(public, indent=1) + "\n")
    return side


def synthetic_meta(run: str, step: int) -> dict:
    """PNG text metadata for generated images: they are synthetic, and which run made them."""
    return {"Description": "synthetic image generated by ganforge", "Software": "ganforge", "run": run, "step": step}


def _to_uint8(x: Tensor) -> np.ndarray:
    """(N, C, H, W) in [0, 1] -> numpy (N, H, W, C) uint8."""
    return (x.detach().float().clamp(0, 1) * 255).round().byte().permute(0, 2, 3, 1).cpu().numpy()


def _png_info(meta: Optional[dict]) -> PngInfo:
    info = PngInfo()
    for k, v in (meta or {}).items():
        info.add_text(str(k), str(v))
    return info


def _save_image(img: Image.Image, path: Path, meta: Optional[dict]) -> None:
    """``img`` to ``path`` atomically, in the format its extension names (as ``Image.save``
    picks it); ``meta`` becomes PNG text chunks (other formats ignore it)."""
    fmt = Image.registered_extensions().get(path.suffix.lower())
    if fmt is None:
        raise ValueError(f"unknown file extension: {path.suffix}")
    meta = dict(meta or {})
    key = meta.pop("_watermark", None)  # a run's secret key: mark the pixels, never write the key
    if key is not None:
        from .watermark import embed

        img = Image.fromarray(embed(np.asarray(img), key))
    buf = io.BytesIO()
    img.save(buf, format=fmt, pnginfo=_png_info(meta))
    write_bytes_atomic(path, buf.getvalue())


def image_grid(x: Tensor, path: Path, nrow: Optional[int] = None, meta: Optional[dict] = None, scale: int = 0) -> Path:
    """Save images ``(N, C, H, W)`` in [0, 1] as one PNG grid with a 1-pixel gap; ``meta``
    becomes PNG text chunks. Small images are enlarged by an integer ``scale`` (auto: to ~64 px)."""
    return save_image(grid_image(x, nrow, scale), path, meta)


def save_image(img: Image.Image, path: Path, meta: Optional[dict] = None) -> Path:
    """A picture (a grid, a data kind's sample figure) to ``path`` atomically, ``meta`` as PNG text."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _save_image(img, path, meta)
    return path


def grid_image(x: Tensor, nrow: Optional[int] = None, scale: int = 0) -> Image.Image:
    """Images ``(N, C, H, W)`` in [0, 1] as one grid picture, 1-pixel gaps, enlarged by ``scale``."""
    imgs = _to_uint8(x)  # (N, H, W, C)
    n, h, w, c = imgs.shape
    nrow = nrow or max(1, int(math.ceil(math.sqrt(n))))  # images per grid row
    ncol = int(math.ceil(n / nrow))  # grid rows
    grid = np.full((ncol * (h + 1) + 1, nrow * (w + 1) + 1, c), 255, dtype=np.uint8)
    for i in range(n):
        r, q = divmod(i, nrow)
        grid[1 + r * (h + 1) : 1 + r * (h + 1) + h, 1 + q * (w + 1) : 1 + q * (w + 1) + w] = imgs[i]
    img = Image.fromarray(grid[..., 0] if c == 1 else grid)
    scale = scale or max(1, 64 // max(h, 1))
    if scale > 1:
        img = img.resize((img.width * scale, img.height * scale), Image.Resampling.NEAREST)
    return img


def image_files(x: Tensor, folder: Path, meta: Optional[dict] = None) -> list[Path]:
    """Save each image ``(N, C, H, W)`` in [0, 1] as ``folder/000000.png`` with ``meta``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, a in enumerate(_to_uint8(x)):
        p = folder / f"{i:06d}.png"
        _save_image(Image.fromarray(a[..., 0] if a.shape[-1] == 1 else a), p, meta)
        paths.append(p)
    return paths


def image_file(x: Tensor, path: Path, meta: Optional[dict] = None) -> Path:
    """Save one image ``(C, H, W)`` in [0, 1] as ``path`` (atomically), ``meta`` as PNG text."""
    a = _to_uint8(x[None])[0]
    _save_image(Image.fromarray(a[..., 0] if a.shape[-1] == 1 else a), Path(path), meta)
    return Path(path)
