"""Seeded data for the anomaly benchmark (benchmarks/anomaly.py): texture crops with synthetic
defects and pixel masks, one-class digits, and a 2D ring with points off it.

Textures: scikit-image's bundled photographs (brick, grass, gravel; 512x512 grey). Training
crops come from the left 60 % of each photograph, test crops from the right 40 %, so no
test pixel was ever seen in training. Half of the test crops get one synthetic defect each,
drawn with its pixel mask (the setting of the texture categories of industrial inspection
sets such as MVTec AD):

- ``scratch``: a thin anti-aliased line, 1 or 2 px wide, brighter or darker than its ground;
- ``stain``: a soft-edged blob whose grey level is shifted (a stain or a bright spot);
- ``patch``: a square from elsewhere in the photograph, rotated by 90, 180 or 270 degrees,
  pasted in (the texture is right, its arrangement is not);
- ``blur``: a disc of the crop blurred or its contrast changed (a local smear or fading).

Each defect comes in three sizes (small, medium, large); the kind and size cycle through the
anomalous crops so that every combination is equally represented. Everything is drawn from
one ``numpy`` generator seeded by the caller.

    python benchmarks/anomaly_data.py --out /tmp/defects.png   # a grid of examples to look at
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import numpy as np

import _harness as H

TEXTURES = ("brick", "grass", "gravel")
KINDS = ("scratch", "stain", "patch", "blur")
SIZES = ("small", "medium", "large")
TRAIN_PART = 0.6  # the left share of each photograph that training crops come from


def photograph(name: str) -> np.ndarray:
    """The bundled photograph as float (H, W) in [0, 1]; nothing is downloaded."""
    import skimage.data

    if name not in TEXTURES:
        raise ValueError(f"texture {name!r}: choose from {', '.join(TEXTURES)}")
    img = getattr(skimage.data, name)()
    return img.astype(np.float32) / 255.0


def crops(img: np.ndarray, n: int, size: int, cols: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """``n`` random size x size crops (n, size, size) whose columns lie within ``cols``."""
    h = img.shape[0]
    ys = rng.integers(0, h - size + 1, n)
    xs = rng.integers(cols[0], cols[1] - size + 1, n)
    return np.stack([img[y: y + size, x: x + size] for y, x in zip(ys, xs)])


def _disc(size: int, cy: float, cx: float, r: float, soft: float) -> np.ndarray:
    """A soft-edged disc (size, size) in [0, 1]: 1 inside radius r, falling to 0 over ``soft`` px."""
    yy, xx = np.mgrid[0:size, 0:size]
    d = np.hypot(yy - cy, xx - cx)
    return np.clip((r + soft - d) / max(soft, 1e-6), 0, 1) if soft > 0 else (d <= r).astype(np.float32)


def add_defect(crop: np.ndarray, kind: str, level: int, img: np.ndarray, rng: np.random.Generator):
    """One defect of ``kind`` and size ``level`` (0, 1, 2) on a copy of ``crop`` (S, S) in [0, 1];
    returns (defective crop, mask (S, S) bool). ``img``: the photograph patches come from."""
    from scipy.ndimage import gaussian_filter
    from skimage.draw import line_aa

    s = crop.shape[0]
    out = crop.copy()
    sign = rng.choice([-1.0, 1.0])
    if kind == "scratch":
        length = (8, 14, 22)[level] * s / 32
        ang = rng.uniform(0, np.pi)
        cy, cx = rng.uniform(s * 0.25, s * 0.75, 2)
        dy, dx = np.sin(ang) * length / 2, np.cos(ang) * length / 2
        alpha = np.zeros_like(crop)
        for off in range(1 + (level > 0)):  # 1 px wide when small, else 2
            rr, cc, val = line_aa(int(cy - dy) + off, int(cx - dx), int(cy + dy) + off, int(cx + dx))
            ok = (rr >= 0) & (rr < s) & (cc >= 0) & (cc < s)
            np.maximum.at(alpha, (rr[ok], cc[ok]), val[ok])
        target = 0.95 if sign > 0 else 0.05
        out = out * (1 - alpha) + target * alpha
        mask = alpha > 0.3
    elif kind == "stain":
        r = (2.0, 3.5, 5.5)[level] * s / 32
        cy, cx = rng.uniform(r + 1, s - r - 1, 2)
        alpha = _disc(s, cy, cx, r, 1.5)
        shift = sign * rng.uniform(0.25, 0.4)
        out = np.clip(out + shift * alpha, 0, 1)
        mask = alpha > 0.5
    elif kind == "patch":
        p = int((6, 10, 14)[level] * s / 32)
        y0, x0 = rng.integers(0, img.shape[0] - p), rng.integers(0, img.shape[1] - p)
        src = np.rot90(img[y0: y0 + p, x0: x0 + p], k=int(rng.integers(1, 4)))
        y, x = rng.integers(0, s - p + 1, 2)
        out[y: y + p, x: x + p] = src
        mask = np.zeros_like(crop, dtype=bool)
        mask[y: y + p, x: x + p] = True
    elif kind == "blur":
        r = (3.0, 5.0, 7.0)[level] * s / 32
        cy, cx = rng.uniform(r, s - r, 2)
        alpha = _disc(s, cy, cx, r, 1.0)
        if rng.random() < 0.5:
            changed = gaussian_filter(crop, sigma=(1.5, 2.0, 2.5)[level])  # a local smear
        else:
            m = crop.mean()
            changed = np.clip(m + (crop - m) * 0.3 + sign * 0.1, 0, 1)  # local fading, a shift in level
        out = crop * (1 - alpha) + changed * alpha
        mask = alpha > 0.5
    else:
        raise ValueError(kind)
    return out.astype(np.float32), mask


@dataclass
class TextureSplit:
    """Training crops (N, S, S); test crops (M, S, S) with labels (M,) 1 = defective, masks
    (M, S, S) bool, and the defect kind and size of each test crop ("" for normal ones)."""

    train: np.ndarray
    test: np.ndarray
    labels: np.ndarray
    masks: np.ndarray
    kinds: list
    sizes: list


def texture_split(name: str, seed: int, n_train: int = 2000, n_test: int = 400, size: int = 32) -> TextureSplit:
    """Normal training crops from the left part, test crops from the right part, half of
    them with a defect (every kind and size in turn)."""
    rng = np.random.default_rng([seed, TEXTURES.index(name)])  # each texture its own defects
    img = photograph(name)
    cut = int(TRAIN_PART * img.shape[1])
    train = crops(img, n_train, size, (0, cut), rng)
    test = crops(img, n_test, size, (cut, img.shape[1]), rng)
    labels = np.zeros(n_test, dtype=np.int64)
    masks = np.zeros(test.shape, dtype=bool)
    kinds, sizes = [""] * n_test, [""] * n_test
    bad = rng.permutation(n_test)[: n_test // 2]
    for j, i in enumerate(bad):
        kind, level = KINDS[j % len(KINDS)], (j // len(KINDS)) % len(SIZES)
        test[i], masks[i] = add_defect(test[i], kind, level, img, rng)
        labels[i], kinds[i], sizes[i] = 1, kind, SIZES[level]
    return TextureSplit(train.astype(np.float32), test.astype(np.float32), labels, masks, kinds, sizes)


def digits_one_class(digit: int):
    """(train images of ``digit`` (N, 8, 8), test images of all classes (360, 8, 8), test
    labels 1 = another digit) in [0, 1]: scikit-learn's digits with ganforge's fixed split."""
    from ganforge.data.images import digits_split

    (xtr, ytr), (xte, yte) = digits_split()
    return xtr[ytr == digit], xte, (yte != digit).astype(np.int64)


def ring_points(seed: int, n_normal: int = 1000, n_off: int = 1000):
    """Test points (N, 2) and labels: ring8's mixture (8 modes on the unit circle, std 0.01)
    as normal, and points uniform in [-1.5, 1.5]^2 at least 0.1 off the circle as anomalies."""
    rng = np.random.default_rng(seed)
    ang = rng.integers(0, 8, n_normal) * (2 * np.pi / 8)
    normal = np.stack([np.cos(ang), np.sin(ang)], 1) + rng.normal(0, 0.01, (n_normal, 2))
    off = []
    while len(off) < n_off:
        p = rng.uniform(-1.5, 1.5, (4 * n_off, 2))
        off.extend(p[np.abs(np.hypot(p[:, 0], p[:, 1]) - 1) > 0.1][: n_off - len(off)])
    x = np.concatenate([normal, np.array(off)]).astype(np.float32)
    return x, np.r_[np.zeros(n_normal), np.ones(n_off)].astype(np.int64)


def main() -> None:
    p = argparse.ArgumentParser(description="a grid of defective texture crops with their masks")
    p.add_argument("--out", default="defects.png")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    rows = []
    for name in TEXTURES:
        sp = texture_split(name, a.seed, n_train=10, n_test=48)
        bad = np.flatnonzero(sp.labels)[:12]
        rows += [sp.test[bad], sp.masks[bad].astype(np.float32)]  # 12 defective crops, then their masks
    H.save_grid(rows, a.out)
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
