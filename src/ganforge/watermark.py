"""An invisible, key-seeded mark in the images ganforge generates, and its detection.

Scheme (``ganforge-qim-v2``): dither-modulation quantisation (QIM; Chen and Wornell 2001) of a
band of low-to-mid frequencies of the image's 2-D DCT. For each coefficient c of the band (DCT
indices LO <= u + v < HI of the luminance, orthonormal, divided by sqrt(H W) so that the units
do not depend on the image's size), the key gives a dither d in [0, 1); marking moves c to the
nearest point of the lattice STEP * (k + d). The change goes to R, G and B alike; rounding and
clipping to [0, 255] pull coefficients off the lattice, so marking is repeated ``ITERS`` times.

Two profiles (measured in ``benchmarks/results/watermark.md``): ``wide`` (u + v in [3, 20),
step 0.5; v1's only profile) for images of 32 px and more, where JPEG and resizing disturb the
size-free coefficients little, and ``low`` (u + v in [2, 9), step 1.5) for images of 12 to 31 px
(the 16 px digits ganforge writes one per file), where only fewer, lower coefficients on a
coarser lattice survive JPEG quality 75 and resizing; it costs about 3 grey levels RMS instead
of 1.5-2. Under 12 px nothing survives JPEG or resizing at an invisible strength, so those images
get the gentler ``wide`` mark, which survives lossless handling only.

Detection needs the key, not the original: the residual r = c / STEP - d - round(c / STEP - d)
is uniform on [-1/2, 1/2) for an image the key never marked (the host does not interfere, unlike
an additive mark), and near 0 for a marked one, so

    z = sum cos(2 pi r) / sqrt(n / 2)

is about standard normal without the mark and about sqrt(2 n) with it. A DCT index counts
half-cycles across the whole image, so resizing keeps the band; a shift of a pixel or two is
searched for (``SHIFTS``); both profiles are tried, whatever the size (a resized image may have
crossed 32 px; v1 marks still verify), and the p-value is corrected for the number of tries.

It is not a protection against someone who wants it gone: heavy cropping, regeneration, or
anyone holding the key remove it.
"""

from __future__ import annotations

import functools
import hashlib
import math
import os
import secrets
from pathlib import Path
from typing import Optional

import numpy as np

KEY_FILE = "watermark.key"
SCHEME = "ganforge-qim-v2"
# name -> (LO, HI, STEP): the band LO <= u + v < HI of DCT indices, the lattice step in grey
# levels of the size-normalised coefficients
PROFILES = {"wide": (3, 20, 0.5), "low": (2, 9, 1.5)}
LOW_SIZES = (12, 32)  # images whose smaller side is in [12, 32) get the "low" profile
ITERS = 4  # marking passes (each corrects what rounding and clipping undid)
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
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # a secret: owner only
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_bytes(16).hex() + "\n")
            f.flush()
            os.fsync(f.fileno())
        try:  # a hard link never replaces: if another process made a key meanwhile, keep the first
            os.link(tmp, path)
        except FileExistsError:
            pass
        except OSError:  # a file system without hard links
            if not path.exists():
                os.replace(tmp, path)
        finally:
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


def _frozen(a: np.ndarray) -> np.ndarray:
    a.flags.writeable = False  # shared by the caches below
    return a


@functools.lru_cache(maxsize=64)
def _band(h: int, w: int, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
    u, v = np.meshgrid(np.arange(min(h, hi)), np.arange(min(w, hi)), indexing="ij")
    keep = (u + v >= lo) & (u + v < hi)
    return _frozen(u[keep]), _frozen(v[keep])


def _dither(key: bytes, profile: str, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """The key's dither in [0, 1) for each band index (a function of the index, not of the size;
    each profile its own, "wide" keeping v1's)."""
    return _dither_table(key, profile)[u, v]


@functools.lru_cache(maxsize=16)
def _dither_table(key: bytes, profile: str) -> np.ndarray:
    salt = b"ganforge-watermark" + (b"" if profile == "wide" else profile.encode())
    seed = int.from_bytes(hashlib.sha256(salt + key).digest()[:8], "little")
    hi = PROFILES[profile][1]
    return _frozen(np.random.default_rng(seed).random((hi, hi)))


def _luma(img: np.ndarray) -> np.ndarray:
    a = np.atleast_3d(np.asarray(img, dtype=np.float64))  # grey (H, W) -> (H, W, 1)
    if a.shape[2] >= 3:
        return a[..., :3] @ np.array([0.299, 0.587, 0.114])
    return a[..., 0]


@functools.lru_cache(maxsize=64)
def _basis(n: int, k: int) -> np.ndarray:
    """The first ``k`` rows of the orthonormal DCT-II matrix of size ``n``: (min(k, n), n). Only
    the band's low indices are needed, so ``B_h @ y @ B_w.T`` replaces a full 2-D DCT."""
    k = min(k, n)
    b = np.sqrt(2.0 / n) * np.cos(np.pi * np.outer(np.arange(k), np.arange(n) + 0.5) / n)
    b[0] /= np.sqrt(2.0)
    return _frozen(b)


def _coeffs(y: np.ndarray) -> np.ndarray:
    """(H, W) -> the size-free DCT coefficients of indices below every profile's HI, (<=K, <=K)."""
    h, w = y.shape
    k = max(p[1] for p in PROFILES.values())
    return _basis(h, k) @ y @ _basis(w, k).T / math.sqrt(h * w)


def profile_for(h: int, w: int) -> str:
    return "low" if LOW_SIZES[0] <= min(h, w) < LOW_SIZES[1] else "wide"


def embed(img: np.ndarray, key: bytes) -> np.ndarray:
    """``img`` (H, W) or (H, W, C) uint8 with the mark; same shape and dtype."""
    h, w = np.asarray(img).shape[:2]
    profile = profile_for(h, w)
    lo, hi, step = PROFILES[profile]
    u, v = _band(h, w, lo, hi)
    if len(u) < MIN_COEFFS:
        return img
    bh, bw = _basis(h, hi), _basis(w, hi)
    d = _dither(key, profile, u, v)
    out = img
    for _ in range(ITERS):
        c = _coeffs(_luma(out))[u, v]  # (n,)
        target = (np.round(c / step - d) + d) * step  # the nearest lattice point
        delta = np.zeros((len(bh), len(bw)))
        delta[u, v] = (target - c) * math.sqrt(h * w)
        delta = bh.T @ delta @ bw  # the inverse DCT of the change: (H, W) in grey levels
        new = out.astype(np.float64)
        new.reshape(h, w, -1)[..., :3] += delta[..., None]  # a view: grey (H, W) as (H, W, 1), colour's first 3
        out = np.clip(np.round(new), 0, 255).astype(np.uint8)
    return out


def _z_of(c: np.ndarray, h: int, w: int, key: bytes, profile: str) -> float:
    lo, hi, step = PROFILES[profile]
    u, v = _band(h, w, lo, hi)
    if len(u) < MIN_COEFFS:
        return 0.0
    r = c[u, v] / step - _dither(key, profile, u, v)
    r -= np.round(r)
    return float(np.cos(2 * np.pi * r).sum() / math.sqrt(len(u) / 2))


def _z(y: np.ndarray, key: bytes, profile: str = "wide") -> float:
    """The detection statistic of one profile on a grey image (H, W), no search."""
    return _z_of(_coeffs(np.asarray(y, dtype=np.float64)), *y.shape, key, profile)


def detect(img: np.ndarray, key: bytes) -> tuple[float, float]:
    """(z, p-value) of the mark of ``key`` in ``img``: the best of the profiles and alignments
    tried (circular shifts, and edge padding that undoes a crop of a row or column or two), its
    p-value multiplied by the number of tries (Bonferroni)."""
    from scipy.stats import norm

    y = _luma(img)
    r = range(-SHIFTS, SHIFTS + 1)
    tries = [np.roll(y, (dy, dx), axis=(0, 1)) for dy in r for dx in r]
    tries += [np.pad(y, ((top, 0), (left, 0)), mode="edge") for top in range(SHIFTS + 1) for left in range(SHIFTS + 1)
              if top or left]
    z = max(_z_of(_coeffs(t), *t.shape, key, profile) for t in tries for profile in PROFILES)
    return z, float(min(1.0, len(tries) * len(PROFILES) * norm.sf(z)))


def mark_meta(run_dir: Path, on: bool = True) -> dict:
    """What a writer of generated images needs: the key under ``_watermark`` (used by
    ``io``'s image writers and never written out) and a public ``watermark`` line."""
    if not on:
        return {"watermark": "off (--no-watermark)"}
    key = run_key(run_dir)
    return {"_watermark": key, "watermark": f"{SCHEME} key {key_id(key)}"}
