"""Writing files: atomically, generated images with their provenance, and the one writer of
every command's output (:func:`write_output`, with :func:`provenance`).

Every file ganforge writes for later (checkpoints, caches, reports, sample images) is written
whole or not at all: into a temporary file in the same directory, flushed to disk, then renamed
over its final name (``os.replace`` is atomic within one file system). A crash leaves either the
old file or the new one, never half of one, and the temporary file is removed on failure.

Every PNG of generated images carries text chunks saying that it is synthetic, which software
made it, and from which run and step (:func:`synthetic_meta`): a generated image must never pass
for a real one once it leaves the run directory.

What a command writes for the user (samples, a synthetic dataset, translations, scores,
latents, edits) goes through :func:`write_output`, with a provenance made by :func:`provenance`:
one set of keys for every command (software, command, created, run, run_dir, step, checkpoint,
checkpoint_sha256, seed, synthetic, then the command's own), stored in a PNG's text chunks, in
a ``NAME.provenance.json`` sidecar next to any other file, or in a folder's ``manifest.json``.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import math
import os
import sys
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any, Iterable, Iterator, Mapping, Optional

import numpy as np
import torch
from PIL import Image
from PIL.PngImagePlugin import PngInfo
from torch import Tensor

from ._version import __version__

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


def checkpoint_sha256(path: Optional[Path]) -> Optional[str]:
    """The one convention for the ``checkpoint_sha256`` every output's provenance carries: the
    SHA-256 (hex) of the checkpoint file its weights came from, None when there is no such file."""
    return sha256_file(Path(path)) if path is not None and Path(path).is_file() else None


def provenance_path(path: Path) -> Path:
    """The sidecar of a non-PNG output: ``synth.npz`` -> ``synth.provenance.json``."""
    path = Path(path)
    return path.with_name(f"{path.stem}.provenance.json")


def write_provenance(path: Path, provenance: dict) -> Path:
    """Write ``provenance`` as the JSON sidecar of ``path``; returns the sidecar's path."""
    side = provenance_path(path)
    write_text_atomic(side, json.dumps(_public(provenance), indent=1) + "\n")
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
    write_bytes_atomic(path, encode_image(img, fmt, meta))


def encode_image(img: Image.Image, fmt: str = "PNG", meta: Optional[dict] = None) -> bytes:
    """``img`` as the bytes of a ``fmt`` file, ``meta`` as PNG text chunks; a run's mark key in
    ``meta`` (``_watermark``) marks the pixels and is never written."""
    meta = dict(meta or {})
    key = meta.pop("_watermark", None)  # a run's secret key: mark the pixels, never write the key
    if key is not None:
        from .watermark import embed

        img = Image.fromarray(embed(np.asarray(img), key))
    buf = io.BytesIO()
    img.save(buf, format=fmt, pnginfo=_png_info(meta))
    return buf.getvalue()


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


def label_rows(img: Image.Image, names: list[str]) -> Image.Image:
    """A grid picture with one name to the left of each of its ``len(names)`` rows (a class
    per row), on a white margin as wide as the longest name."""
    from PIL import ImageDraw, ImageFont

    font = ImageFont.load_default()
    draw = ImageDraw.Draw(img)
    width = max(draw.textbbox((0, 0), name, font=font)[2] for name in names) + 8
    out = Image.new(img.mode, (img.width + width, img.height), 255 if img.mode == "L" else (255, 255, 255))
    out.paste(img, (width, 0))
    draw, band = ImageDraw.Draw(out), img.height / len(names)
    for i, name in enumerate(names):
        box = draw.textbbox((0, 0), name, font=font)
        y = int((i + 0.5) * band - (box[3] - box[1]) / 2 - box[1])
        draw.text((width - 4 - (box[2] - box[0]), y), name, fill=0 if img.mode == "L" else (0, 0, 0), font=font)
    return out


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


# ----------------------------------------------------------------------------- every command's output

NUMBERS = "none: numbers, not images (only images carry the mark)"  # what a non-image file says of the mark
MANIFEST = "manifest.json"  # a folder output's list of files, with the provenance


def provenance(command: str, run_dir, step: Optional[int], checkpoint: Optional[Path] = None,
               seed: Optional[int] = None, synthetic: bool = True, **fields: Any) -> dict:
    """The provenance of a command's output, in the one convention every output uses: which
    ganforge made it and when (UTC), with which command, from which run, step and checkpoint
    (its :func:`checkpoint_sha256`), with which seed (None: no randomness), whether it is
    synthetic data, then ``fields`` (the command's own settings and counts)."""
    run_dir = Path(run_dir).resolve()
    return {"software": f"ganforge {__version__}", "command": command,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "run": run_dir.name, "run_dir": str(run_dir), "step": step,
            "checkpoint": Path(checkpoint).name if checkpoint is not None else None,
            "checkpoint_sha256": checkpoint_sha256(checkpoint), "seed": seed, "synthetic": synthetic, **fields}


def _public(prov: Mapping) -> dict:
    """The provenance as written: without private entries (``_watermark``: the run's secret key)."""
    return {k: v for k, v in prov.items() if not str(k).startswith("_")}


def _write_csv(f: IO, content) -> None:
    pd = sys.modules.get("pandas")  # a DataFrame exists only where pandas was imported already
    if pd is not None and isinstance(content, pd.DataFrame):  # a table: its own columns and types
        content.to_csv(f, index=False)
    elif isinstance(content, str):  # already formatted
        f.write(content)
    else:  # rows: a list of dicts with the same keys
        rows = list(content)
        w = csv.DictWriter(f, fieldnames=list(rows[0]) if rows else [])
        w.writeheader()
        w.writerows(rows)


def _write_file(path: Path, content, prov: dict, nrow: Optional[int]) -> None:
    """One file of an output, atomically; a PNG carries ``prov`` in its text chunks."""
    suffix = path.suffix.lower()
    if suffix == ".png":  # a picture; images in [0, 1]: (C, H, W) one image, (N, C, H, W) a grid of nrow a row
        if isinstance(content, Image.Image):
            save_image(content, path, prov)
        elif content.dim() == 3:
            image_file(content, path, prov)
        else:
            image_grid(content, path, nrow=nrow, meta=prov)
        return
    text = suffix in (".csv", ".json", ".txt", ".smi", ".sdf")
    with atomic_open(path, "w" if text and not isinstance(content, (bytes, bytearray)) else "wb",
                     encoding="utf-8" if text and not isinstance(content, (bytes, bytearray)) else None) as f:
        if isinstance(content, (bytes, bytearray)):  # an encoded file (a GIF, an MP4) that carries its provenance
            f.write(content)
        elif suffix == ".npy":
            np.save(f, content.numpy() if isinstance(content, Tensor) else np.asarray(content))
        elif suffix == ".npz":  # a mapping name -> array
            np.savez_compressed(f, **{k: np.asarray(v) for k, v in content.items()})
        elif suffix == ".csv":
            _write_csv(f, content)
        elif suffix == ".json":
            f.write(json.dumps(content, indent=1) + "\n")
        elif suffix in (".txt", ".smi", ".sdf"):  # text as it is: VGLC levels, SMILES lines, an SD file
            f.write(content)
        elif suffix == ".wav":  # a wav.Wave: its provenance goes into the file's LIST/INFO chunk too
            from .wav import wav_bytes

            f.write(wav_bytes(content, _public(prov)))
        else:
            raise ValueError(f"write_output: no writer for {path.suffix} files")


def write_output(out: Path, content, prov: dict, nrow: Optional[int] = None, folder: bool = False) -> list[Path]:
    """Write a command's output to ``out`` with its provenance ``prov`` (:func:`provenance`, plus
    the PNG text of generated images and the run's mark key as ``_watermark``), every file
    atomically; returns the paths written.

    - ``.png``: images in [0, 1], (C, H, W) or (N, C, H, W) as a grid of ``nrow`` a row; the
      provenance is in the PNG's text chunks (and the run's mark in its pixels);
    - ``.npy`` an array, ``.npz`` a mapping name -> array, ``.csv`` rows (dicts), a table or
      text, ``.json`` a JSON value, ``.wav`` a :class:`ganforge.wav.Wave` (its provenance also
      in the WAV's INFO chunk): each with the sidecar ``NAME.provenance.json`` (the
      provenance, the file's name and SHA-256);
    - a folder (``folder=True``): ``content`` maps (or lists pairs of)
      relative file names to contents as above, written without sidecars; ``DIR/manifest.json``
      holds the provenance and every file with its SHA-256.
    """
    out = Path(out)
    if folder:
        return _write_folder(out, content.items() if isinstance(content, Mapping) else content, prov, nrow)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() == ".png":
        _write_file(out, content, prov, nrow)
        return [out]
    prov = {**prov, "watermark": NUMBERS} if "watermark" in prov else prov  # numbers carry no mark
    _write_file(out, content, prov, nrow)
    return [out, write_provenance(out, {**prov, "file": out.name, "sha256": sha256_file(out)})]


def _write_folder(folder: Path, items: Iterable, prov: dict, nrow: Optional[int]) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    files, entries = [], []
    for name, content in items:  # written one by one: a lazy iterable never holds all in memory
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        _write_file(path, content, prov, nrow)
        files.append(path)
        entries.append({"file": Path(name).as_posix(), "sha256": sha256_file(path)})
    manifest = folder / MANIFEST
    write_text_atomic(manifest, json.dumps({**_public(prov), "files": entries}, indent=1) + "\n")
    return files + [manifest]
