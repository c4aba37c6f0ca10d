"""Plots written into the run directory (matplotlib, no display needed)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Optional

import matplotlib

matplotlib.use("Agg")  # files only; never open a window
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from torch import Tensor  # noqa: E402


def scatter(real: Tensor, fake: Tensor, path: Path, title: str = "", centers: Optional[Tensor] = None) -> Path:
    """Real (grey) against generated (blue) 2D points, ``(N, 2)`` each, saved as a PNG."""
    fig, ax = plt.subplots(figsize=(5, 5), dpi=100)
    r, f = real.detach().cpu().numpy(), fake.detach().cpu().numpy()
    ax.scatter(r[:, 0], r[:, 1], s=3, c="0.6", alpha=0.5, label="real", linewidths=0)
    ax.scatter(f[:, 0], f[:, 1], s=3, c="tab:blue", alpha=0.5, label="generated", linewidths=0)
    if centers is not None:
        c = centers.cpu().numpy()
        ax.scatter(c[:, 0], c[:, 1], s=30, marker="x", c="tab:red", label="modes", linewidths=1)
    ax.set_title(title)
    ax.set_aspect("equal", adjustable="datalim")
    ax.legend(loc="upper right", fontsize=7, markerscale=3)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def _to_uint8(x: Tensor):
    """(N, C, H, W) in [0, 1] -> numpy (N, H, W, C) uint8."""
    return (x.detach().float().clamp(0, 1) * 255).round().byte().permute(0, 2, 3, 1).cpu().numpy()


def _png_info(meta: Optional[dict]):
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    for k, v in (meta or {}).items():
        info.add_text(str(k), str(v))
    return info


def image_grid(x: Tensor, path: Path, nrow: Optional[int] = None, meta: Optional[dict] = None, scale: int = 0) -> Path:
    """Save images ``(N, C, H, W)`` in [0, 1] as one PNG grid with a 1-pixel gap; ``meta``
    becomes PNG text chunks. Small images are enlarged by an integer ``scale`` (auto: to ~64 px)."""
    from PIL import Image

    imgs = _to_uint8(x)
    n, h, w, c = imgs.shape
    nrow = nrow or max(1, int(math.ceil(math.sqrt(n))))
    ncol = int(math.ceil(n / nrow))
    grid = np.full((ncol * (h + 1) + 1, nrow * (w + 1) + 1, c), 255, dtype=np.uint8)
    for i in range(n):
        r, q = divmod(i, nrow)
        grid[1 + r * (h + 1) : 1 + r * (h + 1) + h, 1 + q * (w + 1) : 1 + q * (w + 1) + w] = imgs[i]
    img = Image.fromarray(grid[..., 0] if c == 1 else grid)
    scale = scale or max(1, 64 // max(h, 1))
    if scale > 1:
        img = img.resize((img.width * scale, img.height * scale), Image.Resampling.NEAREST)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, pnginfo=_png_info(meta))
    return path


def image_files(x: Tensor, folder: Path, meta: Optional[dict] = None) -> list[Path]:
    """Save each image ``(N, C, H, W)`` in [0, 1] as ``folder/000000.png`` with ``meta``."""
    from PIL import Image

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, a in enumerate(_to_uint8(x)):
        p = folder / f"{i:06d}.png"
        Image.fromarray(a[..., 0] if a.shape[-1] == 1 else a).save(p, pnginfo=_png_info(meta))
        paths.append(p)
    return paths
