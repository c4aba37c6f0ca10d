"""Does ganforge's mark survive what happens to images, at the sizes ganforge writes, and does
it cost quality?

    python benchmarks/watermark.py                  # trains a short digits run (1,500 steps)
    python benchmarks/watermark.py --run RUN         # or uses a trained 16 px digits run
    python benchmarks/watermark.py --n 100 --quality-n 2000   # the full protocol

Image sets (nothing downloaded), each as ganforge's own writers (``ganforge.files``) write them:
real held-out digits (the test split, never trained on) as single files at 8 px and at 16 px
(``data.resolution`` 8 and 16, the default); the run's samples (16 px) as single files
(``sample --out DIR/``, ``synth``) and as 8x8 grids (``sample --out GRID.png``: 548 px);
photographs that scikit-image bundles, random crops at 32, 64 and 128 px.

Each image is measured unmarked (false positives; for the samples these are the unmarked
samples, for the others real images) and marked with its own random key (detection) after each
attack: none, PNG re-save, JPEG quality 75 and 50, a 1-pixel shift (np.roll; and a crop of one
pixel row and column: the content moves by one pixel and an edge row is lost), bicubic resizing
to 0.9x and 1.1x, and resizing to 0.9x / 1.1x and back. "Marked" means z >= 5 (the threshold of
`ganforge verify`).

Quality: PSNR of marked vs unmarked; the digit classifier's agreement on marked vs unmarked
digits; FID / precision / recall (ganforge's digit-classifier features, `evaluate --samples`)
of the same samples written as PNGs unmarked and marked.
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

import _harness as H

sys.path.insert(0, str(H.ROOT / "src"))

from ganforge import watermark as W  # noqa: E402


def _resave(a, fmt, **kw):
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, format=fmt, **kw)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())))


def _resize(a, f):
    h, w = a.shape[:2]
    return np.asarray(Image.fromarray(a).resize((max(1, round(w * f)), max(1, round(h * f))), Image.Resampling.BICUBIC))


def _resize_back(a, f):
    h, w = a.shape[:2]
    return np.asarray(Image.fromarray(_resize(a, f)).resize((w, h), Image.Resampling.BICUBIC))


ATTACKS = {
    "none": lambda a: a,
    "PNG re-save": lambda a: _resave(a, "PNG"),
    "JPEG q75": lambda a: _resave(a, "JPEG", quality=75),
    "JPEG q50": lambda a: _resave(a, "JPEG", quality=50),
    "shift 1 px (roll)": lambda a: np.roll(a, 1, axis=1),
    "shift 1 px (crop)": lambda a: a[1:, 1:],
    "resize 0.9x": lambda a: _resize(a, 0.9),
    "resize 1.1x": lambda a: _resize(a, 1.1),
    "resize 0.9x and back": lambda a: _resize_back(a, 0.9),
    "resize 1.1x and back": lambda a: _resize_back(a, 1.1),
}


def _pngs(x: torch.Tensor, folder: Path, key=None) -> list[np.ndarray]:
    """``x`` (N, C, H, W) in [0, 1] written by ganforge's writer (marked when ``key``), read back."""
    from ganforge.files import image_files

    paths = image_files(x, folder, {"_watermark": key} if key is not None else None)
    return [np.asarray(Image.open(p)) for p in paths]


def _grid(x: torch.Tensor, path: Path, key=None) -> np.ndarray:
    from ganforge.files import image_grid

    return np.asarray(Image.open(image_grid(x, path, meta={"_watermark": key} if key is not None else None)))


def real_digits(resolution: int) -> torch.Tensor:
    from ganforge.config import DataConfig
    from ganforge.data.images import digits

    held = digits(DataConfig(name="digits", resolution=resolution, channels=1), 0).holdout[0]
    return held.float() / 255  # (360, 1, R, R)


def photo_crops(n: int, rng) -> dict:
    from skimage import data

    photos = [data.astronaut(), data.coffee(), data.chelsea(), data.rocket(), np.stack([data.camera()] * 3, -1)]
    out = {}
    for size in (32, 64, 128):
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


def train_run(out: Path, steps: int) -> Path:
    torch.manual_seed(0)
    # the run's TensorBoard files stay on, as they were
    cfg = H.config("digits", [f"train.steps={steps}", "eval.every=0"],
                   quiet=["train.progress=false", "train.sample_every=0"])
    return H.train(cfg, out, via_api=True).result.path


def quality(run_dir: Path, n: int, tmp: Path, rng) -> list[str]:
    """FID / precision / recall of the same samples unmarked and marked, and the classifier's
    agreement on them."""
    from ganforge import api
    from ganforge.metrics.features import digit_classifier

    x = api.load(run_dir).sample(n, seed=7)  # (n, 1, 16, 16) in [0, 1]
    key = rng.bytes(16)
    plain, marked = _pngs(x, tmp / "q_plain"), _pngs(x, tmp / "q_marked", key)
    rows = []
    for name in ("q_plain", "q_marked"):
        ev = api.evaluate_samples(tmp / name, data="digits", seed=0)
        rows.append(f"| {'unmarked' if name == 'q_plain' else 'marked'} | {ev.fid:.2f} | {ev.precision:.3f} | "
                    f"{ev.recall:.3f} | {ev.coverage:.3f} |")
    clf = digit_classifier()
    to_t = lambda ims: torch.tensor(np.stack(ims), dtype=torch.float32)[:, None] / 255  # noqa: E731
    agree = float((clf.logits(to_t(plain)).argmax(1) == clf.logits(to_t(marked)).argmax(1)).float().mean())
    held = real_digits(16)
    hp, hm = _pngs(held, tmp / "h_plain"), _pngs(held, tmp / "h_marked", key)
    agree_real = float((clf.logits(to_t(hp)).argmax(1) == clf.logits(to_t(hm)).argmax(1)).float().mean())
    return [f"Samples of the run ({n}, 16 px PNGs as `sample --out DIR/` writes them), measured against the digits "
            "with ganforge's digit-classifier features (`ganforge evaluate --samples DIR --data digits`):", "",
            "| samples | FID | precision | recall | coverage |", "|---|---|---|---|---|", *rows, "",
            f"The digit classifier reads the same class on {100 * agree:.1f} % of these samples marked as unmarked, "
            f"and on {100 * agree_real:.1f} % of the {len(held)} held-out real digits (16 px)."]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=60, help="images per set")
    ap.add_argument("--run", help="a trained digits run (16 px); default: train one")
    ap.add_argument("--steps", type=int, default=1500, help="steps of the run trained when --run is not given")
    ap.add_argument("--quality-n", type=int, default=1000, help="samples for FID / precision")
    ap.add_argument("--out", default=str(H.RESULTS / "watermark.md"))
    a = ap.parse_args()
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    t0 = time.time()
    with H.temp_dir() as tmp:
        run_dir = Path(a.run) if a.run else train_run(tmp / "run", a.steps)
        from ganforge import api

        x = api.load(run_dir).sample(a.n, seed=1)  # (n, 1, 16, 16)
        sets, keys = {}, {}
        for res in (8, 16):
            held = real_digits(res)[torch.from_numpy(rng.choice(360, a.n, replace=False))]
            ks = [rng.bytes(16) for _ in range(a.n)]
            sets[f"real digits {res} px"] = (_pngs(held, tmp / f"d{res}"),
                                             [_pngs(held[i:i + 1], tmp / f"d{res}m{i}", k)[0] for i, k in enumerate(ks)])
            keys[f"real digits {res} px"] = ks
        ks = [rng.bytes(16) for _ in range(a.n)]
        sets["samples 16 px"] = (_pngs(x, tmp / "s"), [_pngs(x[i:i + 1], tmp / f"sm{i}", k)[0] for i, k in enumerate(ks)])
        keys["samples 16 px"] = ks
        n_grid = max(10, a.n // 3)  # grids are large: fewer of them
        ks = [rng.bytes(16) for _ in range(n_grid)]
        xs = [api.load(run_dir).sample(64, seed=100 + i) for i in range(n_grid)]
        plain = [_grid(g, tmp / f"g{i}.png") for i, g in enumerate(xs)]
        sets["sample grids 548 px"] = (plain, [_grid(g, tmp / f"gm{i}.png", k) for i, (g, k) in enumerate(zip(xs, ks))])
        keys["sample grids 548 px"] = ks
        for name, crops in photo_crops(a.n, rng).items():
            keys[name] = [rng.bytes(16) for _ in crops]
            sets[name] = (crops, [W.embed(c, k) for c, k in zip(crops, keys[name])])
        results = {att: {} for att in ATTACKS}
        zmed = {}
        for name, (plain, marked) in sets.items():
            for att, f in ATTACKS.items():
                zs = np.array([W.detect(f(m), k)[0] for m, k in zip(marked, keys[name])])
                z0 = np.array([W.detect(f(p), k)[0] for p, k in zip(plain, keys[name])])
                results[att][name] = f"{100 * np.mean(zs >= W.THRESHOLD_Z):.0f} / {100 * np.mean(z0 >= W.THRESHOLD_Z):.0f}"
                zmed[att, name] = float(np.median(zs))
        qual = quality(run_dir, a.quality_n, tmp, rng)
    names = list(sets)
    lines = [f"# Watermark: detection after ordinary handling, and quality (scheme {W.SCHEME})", "",
             f"`python benchmarks/watermark.py --n {a.n} --quality-n {a.quality_n}`"
             + (f" (run: a `digits` preset run of {a.steps} steps)" if not a.run else "") + f"; {time.time() - t0:.0f} s "
             "on one thread of a shared 2-core machine. Each cell: marked images detected / unmarked images flagged "
             f"(false positives), in %, at z >= {W.THRESHOLD_Z:g}; {a.n} images per set ({n_grid} grids). Profiles: "
             + ", ".join(f"`{p}` u+v in [{lo}, {hi}) step {s}" for p, (lo, hi, s) in W.PROFILES.items())
             + f"; `low` for images whose smaller side is {W.LOW_SIZES[0]}-{W.LOW_SIZES[1] - 1} px.", "",
             "| attack | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    lines += [f"| {att} | " + " | ".join(results[att][s] for s in names) + " |" for att in ATTACKS]
    lines += ["", "Median z of the marked images:", "", "| attack | " + " | ".join(names) + " |",
              "|---|" + "---|" * len(names)]
    lines += [f"| {att} | " + " | ".join(f"{zmed[att, s]:.1f}" for s in names) + " |" for att in ATTACKS]
    lines += ["", "| quality | " + " | ".join(names) + " |", "|---|" + "---|" * len(names),
              "| PSNR marked vs unmarked (dB) | "
              + " | ".join(f"{np.mean([psnr(m, p) for p, m in zip(*sets[s])]):.1f}" for s in names) + " |",
              "| RMS change (grey levels) | " + " | ".join(
                  f"{np.mean([np.sqrt(((m.astype(float) - p) ** 2).mean()) for p, m in zip(*sets[s])]):.2f}"
                  for s in names) + " |", "", *qual]
    H.write_results(lines, a.out, threads=1)


if __name__ == "__main__":
    main()
