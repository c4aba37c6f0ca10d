"""Built datasets: images packed once by ``ganforge dataset build`` (``pack.py``), read at
training time without decoding (``data.name=built data.path=DATA.gfd``).

A built dataset is a directory::

    DATA.gfd/
      images.npy     uint8 (N, C, R, R), a plain .npy (numpy can memory-map it: np.load(mmap_mode="r"))
      labels.npy     int64 (N,), only for labelled data
      manifest.json  what was built from what: source and its hash, resolution, channels, count,
                     class names, skipped files, format version, and the SHA-256 of the pixel
                     bytes of images.npy and of labels.npy

Opening one checks it against its manifest (:func:`open_built`): a truncated or edited file, or
a manifest that does not match, is refused with one line that says to rebuild. The pixel hash is
read in full for files up to :data:`FULL_CHECK_BYTES`; a larger file is re-hashed only when its
modification time differs from the one the manifest recorded (hashing 10 GB takes a minute, and
every later edit changes the time), while its size and header are always checked.

Training reads batches through a ``torch.utils.data.DataLoader`` (:class:`BuiltData`):
``data.workers`` worker processes, pinned memory on CUDA, batches of indices from a seeded
:class:`~ganforge.data.sampling.EpochSampler` whose consumed position is the checkpointed state
(the loader's prefetching never moves it), and under torchrun each rank reads only its rows of
the global batch. Rows are read with positioned reads rather than through a memory map: the
pages of a map count in the process's resident memory, reads go to the page cache, which the
kernel reclaims, so memory stays bounded whatever the file's size.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from ..conditions import ClassIds
from ..config import DataConfig
from ..errors import GanforgeError
from .base import DataSource, Normalized, Streamed, register_dataset
from .kinds import IMAGE
from .sampling import EpochSampler, ShardedBatches

FORMAT, VERSION = "ganforge-built", 1
IMAGES, LABELS, MANIFEST = "images.npy", "labels.npy", "manifest.json"
FULL_CHECK_BYTES = 1 << 30  # files up to this size are hashed in full at every opening
_BLOCK = 1 << 22


def rebuild_hint(root: Path, manifest: Optional[dict] = None) -> str:
    """How to fix a refused built dataset: the build command that makes it again."""
    m = manifest or {}
    src = (m.get("source") or {}).get("path", "SRC")
    res = m.get("resolution", "R")
    labels = " --labels from-folders" if m.get("labels") == "from-folders" else ""
    return f"rebuild it: ganforge dataset build {src} --out {root} --resolution {res}{labels} --force"


def npy_header(path: Path) -> tuple[tuple, np.dtype, bool, int]:
    """(shape, dtype, fortran_order, offset of the data) of a .npy file, reading its header only."""
    with open(path, "rb") as f:
        major, _ = np.lib.format.read_magic(f)
        read = np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
        shape, fortran, dtype = read(f)
        return tuple(shape), dtype, fortran, f.tell()


def hash_bytes(path: Path, offset: int = 0) -> str:
    """SHA-256 (hex) of a file's bytes from ``offset`` to its end."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        f.seek(offset)
        for block in iter(lambda: f.read(_BLOCK), b""):
            h.update(block)
    return h.hexdigest()


@dataclass(frozen=True)
class BuiltFile:
    """An opened, checked built dataset: ``count`` images of ``shape`` (C, R, R) starting at byte
    ``offset`` of ``images``, ``labels`` (N,) int64 or None, and its manifest."""

    root: Path
    images: Path
    offset: int
    count: int
    shape: tuple[int, int, int]
    labels: Optional[np.ndarray]
    n_classes: int  # 0 when unlabelled
    class_names: list
    manifest: dict

    @property
    def images_sha256(self) -> str:
        return self.manifest["images"]["sha256"]


def _load_manifest(root: Path) -> dict:
    path = root / MANIFEST
    try:
        m = json.loads(path.read_text())
    except FileNotFoundError:
        raise GanforgeError(f"data.path: {root} has no {MANIFEST}, so it is no built dataset; make one with "
                            f"ganforge dataset build SRC --out {root} --resolution R") from None
    except (OSError, ValueError) as e:
        raise GanforgeError(f"data.path: {path} is unreadable ({str(e).splitlines()[0][:120]}); "
                            f"{rebuild_hint(root)}") from None
    if not isinstance(m, dict) or m.get("format") != FORMAT:
        raise GanforgeError(f"data.path: {path} is not a ganforge built-dataset manifest; {rebuild_hint(root)}")
    if m.get("version") != VERSION:
        raise GanforgeError(f"data.path: {root} is built in format version {m.get('version')}, and this ganforge "
                            f"reads version {VERSION}; {rebuild_hint(root, m)}")
    return m


def open_built(path, full_check: Optional[bool] = None) -> BuiltFile:
    """Open the built dataset at ``path`` and check it against its manifest; every problem is one
    line (GanforgeError) saying what is wrong and how to rebuild. ``full_check``: hash the pixels
    in full (default: files up to FULL_CHECK_BYTES, or whose modification time changed)."""
    root = Path(path).expanduser()
    if not root.exists():
        raise GanforgeError(f"data.path: no such built dataset: {path}; make one with "
                            f"ganforge dataset build SRC --out {path} --resolution R")
    m = _load_manifest(root)
    hint = rebuild_hint(root, m)
    try:
        im = m["images"]
        n, c, r = int(m["count"]), int(m["channels"]), int(m["resolution"])
        want_bytes, want_sha = int(im["bytes"]), str(im["sha256"])
    except (KeyError, TypeError, ValueError) as e:
        raise GanforgeError(f"data.path: {root / MANIFEST} lacks {e}; {hint}") from None
    images = root / IMAGES
    try:
        shape, dtype, fortran, offset = npy_header(images)
        stat = images.stat()
    except FileNotFoundError:
        raise GanforgeError(f"data.path: {images} is missing; {hint}") from None
    except (OSError, ValueError) as e:
        raise GanforgeError(f"data.path: {images} has no readable .npy header ({str(e).splitlines()[0][:100]}); "
                            f"{hint}") from None
    if shape != (n, c, r, r) or dtype != np.uint8 or fortran:
        raise GanforgeError(f"data.path: {images} holds {shape} {dtype} but {MANIFEST} says ({n}, {c}, {r}, {r}) "
                            f"uint8: they do not match; {hint}")
    size = stat.st_size - offset
    if size != n * c * r * r or size != want_bytes:
        what = "truncated" if size < want_bytes else "longer than built"
        raise GanforgeError(f"data.path: {images} is {what}: {size} bytes of pixels where {MANIFEST} says "
                            f"{want_bytes}; {hint}")
    if full_check is None:
        full_check = size <= FULL_CHECK_BYTES or stat.st_mtime_ns != im.get("mtime_ns")
    if full_check and hash_bytes(images, offset) != want_sha:
        raise GanforgeError(f"data.path: {images} was changed after it was built (its SHA-256 differs from the "
                            f"one in {MANIFEST}); {hint}")
    labels, k = _open_labels(root, m, n, hint)
    return BuiltFile(root, images, offset, n, (c, r, r), labels, k, list(m.get("class_names") or []), m)


def _open_labels(root: Path, m: dict, n: int, hint: str) -> tuple[Optional[np.ndarray], int]:
    """(labels (n,) int64 or None, number of classes), checked against the manifest."""
    lab = m.get("labels_file")
    path = root / LABELS
    if lab is None:
        if path.exists():
            raise GanforgeError(f"data.path: {path} is there but {MANIFEST} lists no labels; {hint}")
        return None, 0
    try:
        y = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise GanforgeError(f"data.path: {path} is missing; {hint}") from None
    except (OSError, ValueError) as e:
        raise GanforgeError(f"data.path: {path} is unreadable ({str(e).splitlines()[0][:100]}); {hint}") from None
    if y.shape != (n,) or y.dtype != np.int64 or hashlib.sha256(y.tobytes()).hexdigest() != lab.get("sha256"):
        raise GanforgeError(f"data.path: {path} was changed after it was built (its shape, type or SHA-256 differs "
                            f"from {MANIFEST}); {hint}")
    k = int(m.get("n_classes") or 0)
    if n and (int(y.min()) < 0 or int(y.max()) >= k):
        raise GanforgeError(f"data.path: {path} holds labels outside 0..{k - 1}, the classes {MANIFEST} lists; {hint}")
    return y, k


class BuiltRows(Dataset):
    """``rows[idx]`` for a batch of indices idx (b,): (images (b, C, R, R) uint8, labels (b,) int64
    or None), read with one positioned read per row (in file order). Picklable and small: each
    worker process opens the file itself."""

    def __init__(self, built: BuiltFile):
        self.path, self.offset, self.shape, self.count = built.images, built.offset, built.shape, built.count
        self.row_bytes = int(np.prod(self.shape))
        self.labels = torch.from_numpy(built.labels) if built.labels is not None else None
        self._fd: Optional[tuple[int, int]] = None  # (pid, fd): a forked worker opens its own

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_fd": None}

    def _file(self) -> int:
        if self._fd is None or self._fd[0] != os.getpid():
            self._fd = (os.getpid(), os.open(self.path, os.O_RDONLY | getattr(os, "O_BINARY", 0)))
        return self._fd[1]

    def _read(self, fd: int, row: int, out: memoryview) -> None:
        pos, got = self.offset + row * self.row_bytes, 0
        preadv = getattr(os, "preadv", None)  # no shared file position: safe in forked workers (not on Windows)
        while got < self.row_bytes:
            if preadv is not None:
                k = preadv(fd, [out[got:]], pos + got)
            else:
                os.lseek(fd, pos + got, os.SEEK_SET)
                k = os.readv(fd, [out[got:]])
            if k == 0:
                raise GanforgeError(f"data.path: {self.path} ended at row {row} of {self.count} (truncated while "
                                    "training?); rebuild it with ganforge dataset build ... --force")
            got += k

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, idx) -> tuple[Tensor, Optional[Tensor]]:
        idx = torch.as_tensor(idx, dtype=torch.int64).reshape(-1)
        if len(idx) and (int(idx.min()) < 0 or int(idx.max()) >= self.count):
            raise IndexError(f"rows {idx.tolist()[:4]}... outside 0..{self.count - 1}")
        out = np.empty((len(idx), *self.shape), dtype=np.uint8)  # (b, C, R, R)
        fd = self._file()
        for slot in torch.argsort(idx).tolist():  # in file order: sequential reads where rows are near
            self._read(fd, int(idx[slot]), memoryview(out[slot]).cast("B"))
        return torch.from_numpy(out), (self.labels[idx] if self.labels is not None else None)

    def __del__(self) -> None:
        if self._fd is not None and self._fd[0] == os.getpid():
            try:
                os.close(self._fd[1])
            except OSError:
                pass


def _one_line(e: GanforgeError) -> GanforgeError:
    """A GanforgeError raised in a worker comes back with the worker's traceback in its text."""
    last = str(e).strip().splitlines()[-1]
    return GanforgeError(last.split("GanforgeError: ", 1)[-1])


class BuiltData(Normalized, DataSource, Streamed):
    """A built dataset served by a DataLoader: ``sample(n)`` gives this rank's rows of the next
    global batch of ``n``, in model space [-1, 1], on the device :meth:`stream` named.

    The batches are those of :class:`~ganforge.data.images.ImageData` over the same images and
    seed (one :class:`EpochSampler`), whatever the number of workers. Measured by the energy
    distance in pixels (and Inception FID/KID given weights): a classifier on its own labels
    would need every image in memory."""

    kind = IMAGE  # what one sample is (data/kinds)
    evaluator = "energy"

    def __init__(self, built: BuiltFile, seed: int, workers: int = 0):
        self.built, self.seed, self.workers = built, seed, workers
        self.rows = BuiltRows(built)
        self.shape = built.shape  # (C, R, R)
        self.condition_spec = ClassIds(built.n_classes, names=built.class_names or None) if built.n_classes else None
        self.class_names = built.class_names or None
        # resized as data.name=folder (Lanczos) or as an array source (images.RESIZES); a user's inputs too
        self.resize = "lanczos" if built.manifest.get("source", {}).get("kind") == "folder" else "bilinear"
        c = self.shape[0]
        self.loc, self.scale = torch.full((c, 1, 1), 0.5), torch.full((c, 1, 1), 0.5)  # [0, 1] <-> [-1, 1]
        self.order = EpochSampler(built.count, seed)  # what training has consumed: the checkpointed state
        self.device, self.rank, self.world = torch.device("cpu"), 0, 1
        self._norm = (self.loc, self.scale)  # loc, scale on self.device
        self._it, self._n = None, 0  # the running loader's iterator and its batch size

    def keep_first(self, n: int) -> None:
        """Train on the first ``n`` images only (``data.limit``)."""
        self.rows.count = min(n, self.rows.count)
        self.order = EpochSampler(self.rows.count, self.seed)
        self.close()

    def stream(self, device: torch.device, rank: int = 0, world: int = 1) -> None:
        self.device, self.rank, self.world = torch.device(device), rank, world
        self._norm = (self.loc.to(self.device), self.scale.to(self.device))
        self.close()

    def close(self) -> None:
        self._it = None  # the iterator's workers stop when it is collected

    def _start(self, n: int) -> None:
        """A loader whose batch stream starts where training stands (``self.order``)."""
        self.close()
        batches = ShardedBatches(self.rows.count, self.order.state_dict(), n, self.rank, self.world)
        extra = {"prefetch_factor": 2} if self.workers else {}
        # its own generator: starting a loader draws a base seed for the workers, which must not
        # come from torch's global RNG (part of a checkpoint; a resumed run starts a loader anew)
        loader = DataLoader(self.rows, batch_size=None, sampler=batches, num_workers=self.workers,
                            pin_memory=self.device.type == "cuda", generator=torch.Generator().manual_seed(self.seed),
                            **extra)
        self._it, self._n = iter(loader), n

    def sample(self, n: int) -> tuple[Tensor, Optional[Tensor]]:
        """This rank's rows of the next global batch of ``n``: x (n / world, C, R, R) float32 in
        model space, labels (n / world,) int64 or None, on the streaming device."""
        if self._it is None or self._n != n:
            self._start(n)
        self.order.next(n)  # the loader's stream draws the same indices from the same state
        try:
            x, y = next(self._it)  # (n / world, C, R, R) uint8, pinned on CUDA
        except GanforgeError as e:
            raise _one_line(e) from None
        loc, scale = self._norm
        x = x.to(self.device, non_blocking=True)
        y = y.to(self.device, non_blocking=True) if y is not None else None
        return (x.float() / 255 - loc) / scale, y

    def reference(self, n: int, seed: int) -> Tensor:
        """Real images in [0, 1], (min(n, N), C, R, R), without replacement, from ``seed`` alone."""
        g = torch.Generator().manual_seed(seed)
        idx = torch.randperm(self.rows.count, generator=g)[:n]
        return self.rows[idx][0].float() / 255

    def state_dict(self) -> dict:
        return {"order": self.order.state_dict(), "images_sha256": self.built.images_sha256}

    def load_state_dict(self, state: dict) -> None:
        if state.get("images_sha256") != self.built.images_sha256:
            raise GanforgeError(f"data.path: {self.built.root} is not the built dataset this run was trained on (its "
                                "images' SHA-256 differs from the checkpoint's); point data.path at that dataset")
        self.order.load_state_dict(state["order"])
        self.close()


@register_dataset(IMAGE)
def built(cfg: DataConfig, seed: int) -> BuiltData:
    """A dataset packed by ``ganforge dataset build`` (a DATA.gfd directory), read by a DataLoader
    with ``data.workers`` worker processes."""
    if not cfg.path:
        raise GanforgeError("data.path: data.name=built needs data.path=DATA.gfd (made by ganforge dataset build)")
    b = open_built(cfg.path)
    c, r, _ = b.shape
    if cfg.resolution != r:
        raise GanforgeError(f"data.resolution={cfg.resolution}: {cfg.path} was built at {r} px; set "
                            f"data.resolution={r} (or build it again at {cfg.resolution} px)")
    if cfg.channels and cfg.channels != c:
        raise GanforgeError(f"data.channels={cfg.channels}: {cfg.path} was built with {c} channel(s); set "
                            f"data.channels={c} or 0")
    return BuiltData(b, seed, cfg.workers)
