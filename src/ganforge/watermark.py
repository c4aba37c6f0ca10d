"""An invisible, key-seeded mark in the images ganforge generates, and its detection.

Scheme (``ganforge-qim-v1``): dither-modulation quantisation (QIM; Chen and Wornell 2001) of a
band of low-to-mid frequencies of the image's 2-D DCT. For each coefficient c of the band (DCT
indices u + v in [LO, HI) of the luminance, orthonormal, divided by sqrt(H W) so that the units
do not depend on the image's size), the key gives a dither d in [0, 1); marking moves c to the
nearest point of the lattice STEP * (k + d). The change goes to R, G and B alike.

Detection needs the key, not the original: the residual r = c / STEP - d - round(c / STEP - d)
is uniform on [-1/2, 1/2) for an image the key never marked (the host does not interfere, unlike
an additive mark), and near 0 for a marked one, so

    z = sum cos(2 pi r) / sqrt(n / 2)

is about standard normal without the mark and about sqrt(2 n) with it. A DCT index counts
half-cycles across the whole image, so resizing keeps the band; JPEG's quantisation of these
frequencies is finer than STEP at quality 75 on images of 64 px and more; a shift of a pixel or
two is searched for (``SHIFTS``, the p-value corrected for the number of tries).

The mark changes pixels by about 1.5 grey levels RMS (of 255). It is not a protection against
someone who wants it gone: heavy cropping, regeneration, or anyone holding the key remove it.
"""

from __future__ import annotations

import hashlib
import math
import os
import secrets
from pathlib import Path
from typing import Optional

import numpy as np

KEY_FILE = "watermark.key"
SCHEME = "ganforge-qim-v1"
LO, HI = 3, 20  # the band: DCT indices with LO <= u + v < HI
STEP = 0.5  # lattice step, in grey levels of the size-normalised coefficients
SHIFTS = 2  # verify: try shifts of up to this many pixels in x and y
THRESHOLD_Z = 5.0  # verify: "marked" at z >= this (p ~ 3e-7 per try)
MIN_COEFFS = 16  # an image with fewer band coefficients (under ~6 px) is left unmarked


def key_id(key: bytes) -> str:
    """A public name of a key (never the key itself): 16 hex digits of a hash of it."""
    return hashlib.sha256(b"ganforge-watermark-id" + key).hexdigest()[:16]


def run_key(run_dir: Path, create: bool = True) -> Optional[bytes]:
    """The run's secret key, ``RUN/watermark.key`` (32 hex digits), made at first need."""
    path = Path(run_dir) / KEY_FILE
    if not path.is_file():
        if not create:
            return None
        tmp = path.with_name(f".{KEY_FILE}.{os.getpid()}.tmp")
        tmp.write_text(secrets.token_bytes(16).hex() + "\n")
        if not path.exists():  # another process may have made one meanwhile: keep the first
            os.replace(tmp, path)
        tmp.unlink(missing_ok=True)
    return read_key(path)


def read_key(path: Path) -> bytes:
    from .errors import GanforgeError

    try:
        key = bytes.fromhex(Path(path).read_text().strip())
    except (OSError, ValueError, UnicodeDecodeError):
        key = b""
    if len(key) != 16:
        raise GanforgeError(f"{path}: not a ganforge watermark key (a file of 32 hex digits)")
    return key


def _band(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    u, v = np.meshgrid(np.arange(min(h, HI)), np.arange(min(w, HI)), indexing="ij")
    keep = (u + v >= LO) & (u + v < HI)
    return u[keep], v[keep]


def _dither(key: bytes, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """The key's dither in [0, 1) for each band index (a function of the index, not of the size)."""
    seed = int.from_bytes(hashlib.sha256(b"ganforge-watermark" + key).digest()[:8], "little")
    return np.random.default_rng(seed).random((HI, HI))[u, v]


def _luma(img: np.ndarray) -> np.ndarray:
    a = np.asarray(img, dtype=np.float64)
    if a.ndim == 3 and a.shape[2] >= 3:
        return a[..., :3] @ np.array([0.299, 0.587, 0.114])
    return a[..., 0] if a.ndim == 3 else a


def embed(img: np.ndarray, key: bytes) -> np.ndarray:
    """``img`` (H, W) or (H, W, C) uint8 with the mark; same shape and dtype."""
    from scipy.fft import dctn, idctn  # scipy only when an image is marked (not at import)

    y = _luma(img)
    h, w = y.shape
    u, v = _band(h, w)
    if len(u) < MIN_COEFFS:
        return img
    norm_ = math.sqrt(h * w)
    c = dctn(y, norm="ortho")[u, v] / norm_  # (n,) size-free
    d = _dither(key, u, v)
    target = (np.round(c / STEP - d) + d) * STEP  # the nearest lattice point
    delta = np.zeros((h, w))
    delta[u, v] = (target - c) * norm_
    delta = idctn(delta, norm="ortho")  # (H, W) in grey levels
    out = img.astype(np.float64)
    if img.ndim == 3:
        out[..., :3] += delta[..., None]
    else:
        out += delta
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


def _z(y: np.ndarray, key: bytes) -> float:
    from scipy.fft import dctn

    h, w = y.shape
    u, v = _band(h, w)
    if len(u) < MIN_COEFFS:
        return 0.0
    r = dctn(y, norm="ortho")[u, v] / math.sqrt(h * w) / STEP - _dither(key, u, v)
    r -= np.round(r)
    return float(np.cos(2 * np.pi * r).sum() / math.sqrt(len(u) / 2))


def detect(img: np.ndarray, key: bytes) -> tuple[float, float]:
    """(z, p-value) of the mark of ``key`` in ``img``: the best of the alignments tried (circular
    shifts, and edge padding that undoes a crop of a row or column or two), its p-value
    multiplied by the number of tries (Bonferroni)."""
    from scipy.stats import norm

    y = _luma(img)
    r = range(-SHIFTS, SHIFTS + 1)
    tries = [np.roll(y, (dy, dx), axis=(0, 1)) for dy in r for dx in r]
    tries += [np.pad(y, ((top, 0), (left, 0)), mode="edge") for top in range(SHIFTS + 1) for left in range(SHIFTS + 1)
              if top or left]
    z = max(_z(t, key) for t in tries)
    return z, float(min(1.0, len(tries) * norm.sf(z)))


def mark_meta(run_dir: Path, on: bool = True) -> dict:
    """What a writer of generated images needs: the key under ``_watermark`` (used by
    ``io``'s image writers and never written out) and a public ``watermark`` line."""
    if not on:
        return {"watermark": "off (--no-watermark)"}
    key = run_key(run_dir)
    return {"_watermark": key, "watermark": f"{SCHEME} key {key_id(key)}"}
