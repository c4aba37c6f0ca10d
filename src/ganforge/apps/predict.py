"""Video prediction by inversion: continue a clip from its first k frames with a trained video G.

Given the first ``k`` frames x_{<k} of a clip, find the latent z whose clip G(z) matches them
(mean squared error in model space over those frames; Adam from ``starts`` draws of the prior,
the best kept) and take G(z)'s frames k .. T-1 as the continuation. This is prediction through
the unconditional generator's latent space (as GAN inversion), not the conditional prediction
game with a reconstruction term of Mathieu et al. (2016), which ganforge does not train yet.

When the clip holds the run's T frames, each future step is scored against the truth: PSNR and
SSIM of the prediction, next to the copy-last-frame baseline.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from ..errors import GanforgeError


def _psnr(a: Tensor, b: Tensor) -> float:
    mse = float(((a - b) ** 2).mean())
    return 99.0 if mse == 0 else 10 * np.log10(1.0 / mse)


def _ssim(a: Tensor, b: Tensor) -> float:
    from skimage.metrics import structural_similarity

    return float(np.mean([structural_similarity(a[c].numpy(), b[c].numpy(), data_range=1.0) for c in range(len(a))]))


def read_clip(run, path: Path, k: int) -> Tensor:
    """The clip at ``path`` (a GIF/MP4/... or frame folder, its first video) as (C, L, H, W) in
    [0, 1] at the run's channels; one line when its size differs or it has fewer than k frames."""
    from ..data.kinds.video_io import read_video, to_clip_tensor

    c, t, h, w = tuple(run.data.shape)
    if not 1 <= k < t:
        raise GanforgeError(f"--frames {k}: give 1 to {t - 1} observed frames (this run's clips have {t})")
    videos, _ = read_video(Path(path))
    name, v = videos[0]
    if v.shape[1:3] != (h, w):
        raise GanforgeError(f"--video {path}: {v.shape[2]}x{v.shape[1]} px; this run's clips are {w}x{h}")
    if len(v) < k:
        raise GanforgeError(f"--video {path}: {len(v)} frames; --frames {k} needs at least {k}")
    return to_clip_tensor(v, c, h)


def predict(run, clip: Tensor, k: int, seed: int = 0, steps: int = 200, starts: int = 8,
            label: Optional[int] = None) -> tuple[Tensor, list[dict]]:
    """The clip (C, L, H, W) continued from its first ``k`` frames: (1, C, T, H, W) in [0, 1]
    (frames < k observed, the rest G's), and per future step PSNR/SSIM of the prediction and of
    copy-last-frame against the truth (empty when the clip is shorter than T)."""
    G, data = run.G.eval(), run.data
    c, t, h, w = tuple(data.shape)
    obs = data.encode(clip[None, :, :k])  # (1, C, k, H, W) in model space
    gen = torch.Generator().manual_seed(seed)
    z = run.prior.sample(starts, gen).clone().requires_grad_(True)
    y = torch.full((starts,), int(label), dtype=torch.long) if label is not None else None
    opt = torch.optim.Adam([z], lr=0.05)
    for p in G.parameters():
        p.requires_grad_(False)
    for _ in range(steps):
        err = ((G(z, y)[:, :, :k] - obs) ** 2).flatten(1).mean(1)  # (starts,)
        opt.zero_grad(set_to_none=True)
        err.sum().backward()
        opt.step()
    with torch.no_grad():
        fake = G(z, y)
        best = int(((fake[:, :, :k] - obs) ** 2).flatten(1).mean(1).argmin())
        pred = data.decode(fake[best:best + 1]).clamp(0, 1)
    out = torch.cat([clip[None, :, :k], pred[:, :, k:]], 2)
    rows = []
    if clip.shape[1] >= t:
        last = clip[:, k - 1]
        for s in range(k, t):
            truth = clip[:, s]
            rows.append({"step": s - k + 1, "psnr": _psnr(pred[0, :, s], truth), "ssim": _ssim(pred[0, :, s], truth),
                         "psnr_copy_last": _psnr(last, truth), "ssim_copy_last": _ssim(last, truth)})
    return out, rows


def predict_file(run, video: Path, k: int, out: Path, seed: int = 0, steps: int = 200,
                 label: Optional[int] = None) -> tuple[list[Path], list[dict]]:
    """``ganforge predict``: read, continue, write ``out`` (.gif/.mp4/.npy) with provenance."""
    from ..files import check_output

    kind = run.data.kind
    if kind.name != "video":
        raise GanforgeError(f"predict continues video clips; this run generates {kind.name} samples")
    kind.check_suffix(str(out), False)
    check_output(Path(out), "--out")
    clip = read_clip(run, video, k)
    x, rows = predict(run, clip, k, seed, steps, label=label)
    prov = run.provenance("predict", seed, watermark=False, video=str(video), observed_frames=k, steps=steps)
    return kind.write(x, Path(out), run.data, prov=prov), rows
