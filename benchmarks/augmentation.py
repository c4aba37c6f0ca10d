"""Does synthetic data help? A downstream digit classifier trained on K real images per class,
with and without classic augmentation and GAN samples (issue: applications I, part 2).

For each seed and K, K images per class are drawn from the digits training split (the
held-out split is only used for the final accuracy). A conditional GAN is trained on those
K x 10 images alone, and ``per_class`` synthetic images per class are drawn from it. The same
small CNN (the judge's architecture, ``metrics/features.DigitNet``) is then trained with a
fixed budget of steps on each row's data:

| row | trains on |
|---|---|
| real only | the K x 10 real images |
| classic | the same, with random translations (+-2 px) and rotations (+-12 degrees) |
| GAN | real + synthetic |
| GAN + classic | real + synthetic, augmented |
| synthetic only (TSTR) | only the synthetic images |
| all real (ceiling) | the full training split |

Held-out accuracy, mean +- standard error over seeds, in ``benchmarks/results/augmentation.md``.

    python benchmarks/augmentation.py --seeds 5 --ks 5 10 20 50
    python benchmarks/augmentation.py --seeds 1 --ks 5 --gan-steps 50 --clf-steps 50   # a smoke run
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

import _harness as H
from ganforge.data.images import digits_split
from ganforge.metrics.features import DigitNet

OUT = H.RESULTS / "augmentation.md"
ROWS = ("real only", "classic", "GAN", "GAN + classic", "synthetic only (TSTR)", "all real (ceiling)")


def augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Classic augmentation of (B, 1, H, W) in [0, 1]: a random rotation and translation each."""
    b = len(x)
    angle = (torch.rand(b, generator=gen) * 2 - 1) * math.radians(12)
    shift = (torch.rand(b, 2, generator=gen) * 2 - 1) * (2 / x.shape[-1] * 2)  # +-2 px in [-1, 1] units
    cos, sin = angle.cos(), angle.sin()
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, padding_mode="zeros", align_corners=False)


def train_classifier(x: torch.Tensor, y: torch.Tensor, steps: int, aug: bool, seed: int,
                     n_real: int = 0, syn_share: float = 0.0) -> DigitNet:
    """The same small CNN and budget for every row: ``steps`` Adam steps of batch 64. With
    ``syn_share`` > 0, ``x`` holds ``n_real`` real images first and synthetic ones after, and
    that share of every batch is drawn from the synthetic part (else batches are uniform)."""
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    net = DigitNet(1, 10, x.shape[-1])
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    n_syn = round(64 * syn_share) if syn_share > 0 and 0 < n_real < len(x) else 0
    for _ in range(steps):
        if n_syn:
            idx = torch.cat([torch.randint(n_real, (64 - n_syn,), generator=gen),
                             n_real + torch.randint(len(x) - n_real, (n_syn,), generator=gen)])
        else:
            idx = torch.randint(len(x), (64,), generator=gen)
        xb = augment(x[idx], gen) if aug else x[idx]
        loss = F.cross_entropy(net(xb), y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return net.eval()


@torch.no_grad()
def accuracy(net: DigitNet, x: torch.Tensor, y: torch.Tensor) -> float:
    return float((net(x).argmax(1) == y).float().mean())


def to_tensor(images: np.ndarray, resolution: int) -> torch.Tensor:
    x = torch.from_numpy(images).float()[:, None]  # (N, 1, 8, 8), already in [0, 1]
    return F.interpolate(x, size=(resolution, resolution), mode="bilinear", antialias=True, align_corners=False)


def run_setting(k: int, seed: int, a, xtr_all, ytr_all, xte, yte, work: Path) -> dict:
    g = np.random.default_rng(seed)
    pick = np.concatenate([g.choice(np.flatnonzero(ytr_all.numpy() == c), k, replace=False) for c in range(10)])
    x, y = xtr_all[pick], ytr_all[pick]
    # the conditional GAN sees only these K x 10 images (as an npz the folder/npz loader reads)
    npz = work / f"k{k}-s{seed}.npz"
    np.savez(npz, images=(x[:, 0] * 255).round().byte().numpy(), labels=y.numpy())
    cfg = H.config("digits_small", ["data.name=npz", f"data.path={npz}", "data.limit=0", "data.channels=1",
                                    f"data.resolution={a.resolution}", "model.conditional=true",
                                    f"train.steps={a.gan_steps}", "eval.every=0", "doctor.enabled=false",
                                    "eval.n_samples=200", *a.gan_set], seed=seed, threads=a.threads)
    run = H.train(cfg, work / f"gan-k{k}-s{seed}", via_api=True).result
    labels = torch.arange(10).repeat_interleave(a.per_class)
    syn = run.generator.generate(len(labels), seed=seed, label=labels).clamp(0, 1)  # (10 * per_class, 1, R, R)
    data = {"real only": (x, y, False), "classic": (x, y, True),
            "GAN": (torch.cat([x, syn]), torch.cat([y, labels]), False),
            "GAN + classic": (torch.cat([x, syn]), torch.cat([y, labels]), True),
            "synthetic only (TSTR)": (syn, labels, False)}
    out = {name: accuracy(train_classifier(xs, ys, a.clf_steps, aug, seed, len(x) if name.startswith("GAN") else 0,
                                           a.syn_share), xte, yte) for name, (xs, ys, aug) in data.items()}
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--ks", type=int, nargs="+", default=[5, 10, 20, 50])
    p.add_argument("--gan-steps", type=int, default=1500)
    p.add_argument("--clf-steps", type=int, default=600)
    p.add_argument("--per-class", type=int, default=100, help="synthetic images per class")
    p.add_argument("--resolution", type=int, default=16)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--syn-share", type=float, default=0.0,
                   help="share of each GAN-row batch drawn from the synthetic images (0: uniform over real + synthetic)")
    p.add_argument("--gan-set", nargs="*", default=[], metavar="KEY=VALUE", help="overrides for the GAN's config")
    p.add_argument("--out", default=str(OUT))
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    t0 = time.perf_counter()
    (xtr, ytr), (xte, yte) = digits_split()
    xtr_all, ytr_all = to_tensor(xtr, a.resolution), torch.from_numpy(ytr).long()
    xte_t, yte_t = to_tensor(xte, a.resolution), torch.from_numpy(yte).long()
    ceiling = [accuracy(train_classifier(xtr_all, ytr_all, a.clf_steps, False, s), xte_t, yte_t) for s in range(a.seeds)]
    results = {}
    with H.temp_dir() as tmp:
        for k in a.ks:
            per_seed = [run_setting(k, s, a, xtr_all, ytr_all, xte_t, yte_t, tmp) for s in range(a.seeds)]
            results[k] = {row: [r[row] for r in per_seed] for row in per_seed[0]}
            results[k]["all real (ceiling)"] = ceiling
            print(k, {row: round(H.mean(v), 4) for row, v in results[k].items()}, flush=True)

    def cell(v: list) -> str:  # in %; one seed: '± nan'
        return H.pm(v, "{:.1f}", scale=100, alone=math.nan)

    lines = ["# Does synthetic data help? Held-out digit accuracy (%)", "",
             f"{a.seeds} seed(s); conditional GAN: the `digits_small` preset (spectral-norm D, LeCam, EMA) with "
             f"model.conditional=true{''.join(', ' + o for o in a.gan_set)}, {a.gan_steps} steps on the K x 10 images "
             f"alone; {a.per_class} synthetic images per class"
             + (f", {100 * a.syn_share:.0f} % of each GAN-row batch synthetic" if a.syn_share else
                ", batches uniform over real + synthetic") + f"; the same CNN for every row, {a.clf_steps} Adam steps "
             f"of batch 64, {a.threads} thread(s). Command: `python "
             f"benchmarks/augmentation.py --seeds {a.seeds} --ks {' '.join(map(str, a.ks))}"
             + (f" --syn-share {a.syn_share:g}" if a.syn_share else "")
             + (f" --gan-set {' '.join(a.gan_set)}" if a.gan_set else "") + f"`. Total "
             f"{time.perf_counter() - t0:.0f} s.", "",
             "| K per class | " + " | ".join(ROWS) + " |", "|---" * (len(ROWS) + 1) + "|"]
    for k, rows in results.items():
        lines.append(f"| {k} | " + " | ".join(cell(rows[r]) for r in ROWS) + " |")
    lines += ["", "Target: GAN + classic beats classic alone by >= 2 points at K = 10 and K = 20."]
    H.write_results(lines, a.out, threads=a.threads)


if __name__ == "__main__":
    main()
