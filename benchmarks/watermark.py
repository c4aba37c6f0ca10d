"""Does ganforge's mark survive what happens to images, and does it cost quality?

    python benchmarks/watermark.py            # writes benchmarks/results/watermark.md

Image sets (nothing downloaded): scikit-learn's digits (held-out half) rendered as ganforge
writes them, as 8x8 grids enlarged 4x (the `sample GRID.png` layout, 292 px) and as single
images at 32 px; photographs that scikit-image bundles, random crops at 64 and 128 px. Each
image is measured unmarked (false positives) and marked with a random key (detection) after
each attack: none, PNG re-save, JPEG quality 75 and 50, a 1-pixel shift (np.roll; and a crop
of one pixel row and column), bicubic resizing to 0.9x and 1.1x. "Marked" means z >= 5 (the
threshold of `ganforge verify`). Quality: PSNR of marked vs unmarked, and how often the digit
classifier reads the same class on a marked digit as on the unmarked one.
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from ganforge import watermark as W  # noqa: E402


def _resave(a, fmt, **kw):
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, format=fmt, **kw)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())))


def _resize(a, f):
    h, w = a.shape[:2]
    return np.asarray(Image.fromarray(a).resize((max(1, round(w * f)), max(1, round(h * f))), Image.Resampling.BICUBIC))


ATTACKS = {
    "none": lambda a: a,
    "PNG re-save": lambda a: _resave(a, "PNG"),
    "JPEG q75": lambda a: _resave(a, "JPEG", quality=75),
    "JPEG q50": lambda a: _resave(a, "JPEG", quality=50),
    "shift 1 px (roll)": lambda a: np.roll(a, 1, axis=1),
    "shift 1 px (crop)": lambda a: a[1:, 1:],
    "resize 0.9x": lambda a: _resize(a, 0.9),
    "resize 1.1x": lambda a: _resize(a, 1.1),
}


def digit_sets(n: int, rng):
    from sklearn.datasets import load_digits

    d = load_digits().images[len(load_digits().images) // 2:]  # the held-out half
    ims = (255 - d * 16).clip(0, 255).astype(np.uint8)  # dark digits on white, as the digits are drawn
    grids, singles = [], []
    for _ in range(n):
        idx = rng.choice(len(ims), 64, replace=False)
        g = np.full((73, 73), 255, np.uint8)
        for i, k in enumerate(idx):
            r, q = divmod(i, 8)
            g[1 + r * 9:9 + r * 9, 1 + q * 9:9 + q * 9] = ims[k]
        grids.append(np.asarray(Image.fromarray(g).resize((292, 292), Image.Resampling.NEAREST)))
        singles.append(np.asarray(Image.fromarray(ims[rng.integers(len(ims))]).resize((32, 32), Image.Resampling.NEAREST)))
    return {"digit grids 292 px": grids, "single digits 32 px": singles}


def photo_sets(n: int, rng):
    from skimage import data

    photos = [data.astronaut(), data.coffee(), data.chelsea(), data.rocket(), np.stack([data.camera()] * 3, -1)]
    out = {}
    for size in (64, 128):
        crops = []
        for _ in range(n):
            p = photos[rng.integers(len(photos))]
            y, x = rng.integers(0, p.shape[0] - 2 * size), rng.integers(0, p.shape[1] - 2 * size)
            crops.append(np.asarray(Image.fromarray(p[y:y + 2 * size, x:x + 2 * size]).resize((size, size))))
        out[f"photo crops {size} px"] = crops
    return out


def psnr(a, b):
    mse = ((a.astype(float) - b.astype(float)) ** 2).mean()
    return 10 * np.log10(255 ** 2 / max(mse, 1e-12))


def digit_class_agreement(rng, n=200) -> float:
    """Share of held-out digits (single 32 px images) that the digit classifier reads as the
    same class marked as unmarked."""
    from ganforge.metrics.features import digit_classifier

    sets = digit_sets(n, rng)["single digits 32 px"]
    key = rng.bytes(16)
    plain = torch.tensor(np.stack(sets), dtype=torch.float32)[:, None] / 255
    marked = torch.tensor(np.stack([W.embed(a, key) for a in sets]), dtype=torch.float32)[:, None] / 255
    clf = digit_classifier()
    # the classifier reads light digits on black, as the bundled digits are stored
    return float((clf.logits(1 - plain).argmax(1) == clf.logits(1 - marked).argmax(1)).float().mean())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100, help="images per set")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "watermark.md"))
    a = ap.parse_args()
    rng = np.random.default_rng(0)
    sets = {**digit_sets(a.n, rng), **photo_sets(a.n, rng)}
    lines = [f"# Watermark: detection after ordinary handling ({a.n} images per set, z >= {W.THRESHOLD_Z:g})", "",
             "`python benchmarks/watermark.py`. Each cell: marked images detected / unmarked images "
             "flagged (false positives), in %. Scheme " + W.SCHEME + ".", "",
             "| attack | " + " | ".join(sets) + " |", "|---|" + "---|" * len(sets)]
    quality = {}
    results = {name: {} for name in ATTACKS}
    for set_name, ims in sets.items():
        keys = [rng.bytes(16) for _ in ims]
        marked = [W.embed(im, k) for im, k in zip(ims, keys)]
        quality[set_name] = np.mean([psnr(m, im) for m, im in zip(marked, ims)])
        for att, f in ATTACKS.items():
            hit = np.mean([W.detect(f(m), k)[0] >= W.THRESHOLD_Z for m, k in zip(marked, keys)])
            fp = np.mean([W.detect(f(im), k)[0] >= W.THRESHOLD_Z for im, k in zip(ims, keys)])
            results[att][set_name] = f"{100 * hit:.0f} / {100 * fp:.0f}"
    for att in ATTACKS:
        lines.append(f"| {att} | " + " | ".join(results[att][s] for s in sets) + " |")
    lines += ["", "| quality | " + " | ".join(sets) + " |", "|---|" + "---|" * len(sets),
              "| PSNR marked vs unmarked (dB) | " + " | ".join(f"{quality[s]:.1f}" for s in sets) + " |"]
    agree = digit_class_agreement(np.random.default_rng(1))
    lines += ["", f"The digit classifier reads the same class on {100 * agree:.1f} % of 200 held-out digits "
              "(32 px) marked as unmarked."]
    text = "\n".join(lines) + "\n"
    print(text)
    Path(a.out).write_text(text)


if __name__ == "__main__":
    main()
