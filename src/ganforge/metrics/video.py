"""Metrics of generated clips (N, C, T, H, W) in [0, 1] (the ``video`` evaluator).

- **FVD in ganforge's own feature space** (``fvd``): the Fréchet distance between the 128-d
  features of :class:`ClipNet`, a small 3-D convolutional classifier that ganforge trains once
  on real moving-digit clips (which digits are present, and the first digit's motion
  direction) and caches. It is *not* the FVD of the literature (Unterthiner et al. 2018), which
  uses an I3D network trained on Kinetics: I3D's weights are a download, and nothing here
  downloads. Numbers are comparable only with other numbers in this space (same cache key).
  Clips are resampled to 16 frames of 32 px grey before the network sees them.
- **Content consistency** (``consistency``): each frame is cropped around its centre of mass
  (a sprite's size) and read by the digit classifier (``features.digit_classifier``); a clip is
  consistent when every frame reads as the same digit with a softmax probability >= 0.5 (and a crop
  contrast >= 0.5: a blank frame is no digit). Meant for one-digit clips: on two digits the crop
  around their joint centre holds parts of both, and the real ceiling drops to about 0. The share of consistent clips, next to
  the real clips' own share (``consistency_real``, the ceiling).
- **Frame quality** (``frame_fid``): FID between those crops of real and generated frames in the
  digit classifier's feature space.
- **Motion** (``speed_w1``, ``speed``, ``speed_real``, ``bounces``, ``bounces_real``): the
  frame-to-frame displacement (px) of the frame's centre of mass, its 1-D Wasserstein distance
  to the real clips' and both means; bounces per clip (sign flips of a displacement component
  larger than half a pixel), generated and real.

Every network is trained on one thread from a fixed seed (the same weights whoever trains it).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Optional

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..cache import cache_dir
from ..files import save_atomic

FRAMES, SIZE = 16, 32  # ClipNet's input: (1, 16, 32, 32)
# the classifier's recipe: its training clips (half one digit, half two), epochs, batch, lr
RECIPE = {"arch": "clipnet-v1", "clips": 2000, "epochs": 4, "batch": 32, "lr": 2e-3, "seed": 0, "threads": 1,
          "test_clips": 400}


class ClipNet(nn.Module):
    """(B, 1, 16, 32, 32) -> features (B, 128); heads: digits present (10, multi-label) and the
    first digit's direction (8)."""

    num_features = 128

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv3d(1, 16, (3, 4, 4), (1, 2, 2), 1), nn.ReLU(),  # (B, 16, 16, 16, 16)
            nn.Conv3d(16, 32, 4, 2, 1), nn.ReLU(),  # (B, 32, 8, 8, 8)
            nn.Conv3d(32, 64, 4, 2, 1), nn.ReLU(),  # (B, 64, 4, 4, 4)
            nn.Flatten(), nn.Linear(64 * 64, 128), nn.ReLU(),
        )
        self.present = nn.Linear(128, 10)
        self.direction = nn.Linear(128, 8)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        h = self.body(x)
        return self.present(h), self.direction(h)


def clip_input(x: Tensor) -> Tensor:
    """Clips (B, C, T, H, W) in [0, 1] -> (B, 1, 16, 32, 32): grey, resampled (trilinear)."""
    x = x.float()
    if x.shape[1] == 3:
        x = (x * torch.tensor([0.299, 0.587, 0.114])[None, :, None, None, None]).sum(1, keepdim=True)
    if tuple(x.shape[2:]) != (FRAMES, SIZE, SIZE):
        x = F.interpolate(x, size=(FRAMES, SIZE, SIZE), mode="trilinear", align_corners=False)
    return x.clamp(0, 1)


def _key() -> str:
    h = hashlib.sha256(repr(sorted(RECIPE.items())).encode())
    h.update(b"moving-digits-v1")
    h.update(torch.__version__.split("+")[0].encode())
    return h.hexdigest()[:20]


def _training_set(n: int, seed: int) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """``n`` clips (half one digit, half two) of the training digits, and their labels:
    presence (n, 10) float, direction (n,), one-digit mask (n,)."""
    from ..data.moving_digits import make_clips

    gen = torch.Generator().manual_seed(seed)
    xs, pres, dirs, ones = [], [], [], []
    for digits in (1, 2):
        a = make_clips(n // 2, digits, FRAMES, SIZE, "train" if seed < 10**6 else "test", gen)
        xs.append(torch.from_numpy(a["clips"]).float() / 255)
        p = torch.zeros(n // 2, 10)
        p.scatter_(1, torch.from_numpy(a["classes"]).long(), 1.0)
        pres.append(p)
        dirs.append(torch.from_numpy(a["direction"]).long())
        ones.append(torch.full((n // 2,), digits == 1))
    return torch.cat(xs), torch.cat(pres), torch.cat(dirs), torch.cat(ones)


def _train(r: dict) -> tuple[ClipNet, float]:
    x, pres, dirs, one = _training_set(r["clips"], r["seed"])
    xt, pt, dt, ot = _training_set(r["test_clips"], 10**6 + r["seed"])  # held-out digits
    gen = torch.Generator().manual_seed(r["seed"])
    with torch.random.fork_rng():
        torch.manual_seed(r["seed"])
        net = ClipNet()
    opt = torch.optim.Adam(net.parameters(), lr=r["lr"])
    threads = torch.get_num_threads()
    torch.set_num_threads(r["threads"])
    try:
        for _ in range(r["epochs"]):
            perm = torch.randperm(len(x), generator=gen)
            for i in range(0, len(x), r["batch"]):
                idx = perm[i:i + r["batch"]]
                lp, ld = net(x[idx])
                loss = F.binary_cross_entropy_with_logits(lp, pres[idx])
                m = one[idx]
                if m.any():
                    loss = loss + F.cross_entropy(ld[m], dirs[idx][m])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
    finally:
        torch.set_num_threads(threads)
    net.eval()
    with torch.no_grad():
        lp, ld = net(xt)
    acc = float((ld[ot].argmax(1) == dt[ot]).double().mean())  # direction accuracy on held-out one-digit clips
    return net, acc


_LOADED: dict = {}


def clip_classifier(cache: Optional[Path] = None) -> tuple[ClipNet, str]:
    """ClipNet and its feature space in words: from memory, the disk cache, or trained now."""
    key = _key()
    if key not in _LOADED:
        path = Path(cache or cache_dir()) / f"clip-classifier-{key}.pt"
        if path.exists():
            state = torch.load(path, map_location="cpu", weights_only=True)
            net = ClipNet()
            net.load_state_dict(state["net"])
            net.eval()
            acc = float(state["direction_accuracy"])
        else:
            net, acc = _train(RECIPE)
            path.parent.mkdir(parents=True, exist_ok=True)
            save_atomic({"net": net.state_dict(), "direction_accuracy": acc, "key": key}, path)
        space = (f"ganforge clip classifier {RECIPE['arch']} (3-D convolutions trained on moving digits, 128 "
                 f"features, held-out direction accuracy {acc:.3f}, cache key {key}); NOT the I3D feature space "
                 "of the literature's FVD")
        _LOADED[key] = (net, space)
    return _LOADED[key]


@torch.no_grad()
def clip_features(net: ClipNet, x: Tensor, batch: int = 256) -> Tensor:
    return torch.cat([net.body(clip_input(x[i:i + batch])) for i in range(0, len(x), batch)]).double()


# ----------------------------------------------------------------------------- frames and motion


def centres(x: Tensor) -> Tensor:
    """Intensity centres of mass (N, T, 2) (x, y in px) of clips (N, C, T, H, W) in [0, 1]
    (the canvas centre for a blank frame)."""
    g = x.float().mean(1)  # (N, T, H, W)
    h, w = g.shape[-2:]
    mass = g.sum((2, 3)).clamp_min(1e-6)
    cy = (g.sum(3) * torch.arange(h)).sum(2) / mass
    cx = (g.sum(2) * torch.arange(w)).sum(2) / mass
    blank = g.sum((2, 3)) < 1e-3
    cx, cy = torch.where(blank, (w - 1) / 2, cx), torch.where(blank, (h - 1) / 2, cy)
    return torch.stack([cx, cy], -1)


def crops(x: Tensor, side: int) -> Tensor:
    """Each frame's ``side`` x ``side`` window around its centre of mass: (N * T, 1, side, side)."""
    n, c, t, h, w = x.shape
    g = x.float().mean(1).reshape(n * t, 1, h, w)
    ctr = centres(x).reshape(n * t, 2)
    pad = side
    g = F.pad(g, (pad, pad, pad, pad))
    x0 = (ctr[:, 0] - side / 2 + 0.5).round().long() + pad
    y0 = (ctr[:, 1] - side / 2 + 0.5).round().long() + pad
    ar = torch.arange(side)
    rows = (y0[:, None] + ar)[:, :, None].expand(-1, side, side)
    cols = (x0[:, None] + ar)[:, None, :].expand(-1, side, side)
    return g[torch.arange(n * t)[:, None, None], 0, rows, cols][:, None]


def _w1(a: Tensor, b: Tensor) -> float:
    """1-D Wasserstein distance between two samples (quantiles on a common grid)."""
    q = torch.linspace(0, 1, 201, dtype=torch.float64)
    return float((torch.quantile(a.double(), q) - torch.quantile(b.double(), q)).abs().mean())


def motion(x: Tensor) -> tuple[Tensor, Tensor]:
    """Per-step displacements (N * (T-1),) px and bounces per clip (N,) of clips (N, C, T, H, W)."""
    c = centres(x)
    d = c[:, 1:] - c[:, :-1]  # (N, T-1, 2)
    big = d.abs() > 0.5
    s = torch.sign(d) * big
    flips = ((s[:, 1:] * s[:, :-1]) < 0).flatten(1).sum(1)
    return d.norm(dim=-1).flatten(), flips.float()


def consistency(x: Tensor, clf, side: int, confidence: float = 0.5) -> float:
    """Share of clips whose every frame's crop reads as the same digit, each with a softmax
    probability of at least ``confidence`` and a contrast (max - min) of at least 0.5 (a blank or
    smeared frame is not a digit, so a static blur does not count as consistent)."""
    n, t = x.shape[0], x.shape[2]
    c = crops(x, side)  # (N*T, 1, side, side)
    p = torch.softmax(clf.logits(c), 1)
    conf, pred = p.max(1)
    ink = (c.amax((1, 2, 3)) - c.amin((1, 2, 3))) >= 0.5  # a frame without contrast holds no digit
    pred, sure = pred.reshape(n, t), ((conf >= confidence) & ink).reshape(n, t)
    return float(((pred == pred[:, :1]) & sure).all(1).double().mean())


def frechet(a: Tensor, b: Tensor) -> float:
    """The Fréchet distance between Gaussians fitted to features a (N, d) and b (M, d):
    |mu_a - mu_b|^2 + tr(S_a + S_b - 2 (S_a S_b)^(1/2)) (Heusel et al. 2017), in float64."""
    from .distances import frechet_gaussians

    a, b = a.double().numpy(), b.double().numpy()  # dead ReLU features make the covariances singular: harmless
    return frechet_gaussians(a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False))


def video_metrics(real: Tensor, fake: Tensor, seed: int) -> dict:
    """Every metric above, real (N, C, T, H, W) against fake (M, ...), both in [0, 1]."""
    from .features import digit_classifier

    net, space = clip_classifier()
    fvd = frechet(clip_features(net, real), clip_features(net, fake))
    side = max(8, real.shape[-1] * 7 // 16)
    dig = digit_classifier()
    frame_fid = frechet(dig.features(crops(real, side)), dig.features(crops(fake, side)))
    sr, br = motion(real)
    sf, bf = motion(fake)
    return {"fvd": fvd, "consistency": consistency(fake, dig, side),
            "consistency_real": consistency(real, dig, side), "frame_fid": frame_fid,
            "speed_w1": _w1(sf, sr), "speed": float(sf.mean()), "speed_real": float(sr.mean()),
            "bounces": float(bf.mean()), "bounces_real": float(br.mean()),
            "_space": space, "_frame_space": dig.space}
