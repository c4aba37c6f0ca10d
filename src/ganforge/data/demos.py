"""Bundled image-to-image demos, built from images that installed packages ship; nothing is
downloaded. Each holds out part of its material for evaluation.

- ``edges`` (paired): Canny edges (scikit-image) of photo crops -> the photo crops. Photos:
  scikit-image's astronaut, coffee, rocket, immunohistochemistry and scikit-learn's
  china.jpg for training; chelsea and flower.jpg held out (whole images, so no test crop
  overlaps a training crop).
- ``digits`` (unpaired): scikit-learn's digits, white on black (A) <-> the same kind of digits
  drawn with a thicker stroke (a 3x3 dilation) in orange on dark blue (B). The two training
  domains use disjoint halves of the training digits (so nothing is paired); the test split
  (every 5th digit) is held out in both styles, with its labels, so that a digit classifier can
  tell whether translation kept the content.
- ``photos`` (super-resolution): the same photos as ``edges``, at half their size (which
  removes most JPEG artefacts), the same two held out.
- ``colour`` (paired): colorization, grey crops (luma, Rec. 601, in all three channels) -> the
  colour crops. Training photos: astronaut, coffee, rocket, china.jpg and the left view of
  stereo_motorcycle (natural scenes only: no microscopy); chelsea and flower.jpg held out, as
  for ``edges``. ``held_out_photos`` gives the two held-out photos whole, for figures.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from ..config import DataConfig
from ..registry import Registry

DEMOS: Registry = Registry("data.path=demo:")  # name -> (data.name it is for, builder)
TRAIN_PHOTOS = ("astronaut", "coffee", "rocket", "immunohistochemistry", "china.jpg")
TEST_PHOTOS = ("chelsea", "flower.jpg")
COLOUR_PHOTOS = ("astronaut", "coffee", "rocket", "china.jpg", "stereo_motorcycle")
DIGIT_FG, DIGIT_BG = (1.0, 0.6, 0.1), (0.1, 0.1, 0.4)  # domain B's stroke and background colours


def photo(name: str) -> Tensor:
    """uint8 (3, H, W) at half the shipped size."""
    if name.endswith(".jpg"):
        from sklearn.datasets import load_sample_image

        arr = load_sample_image(name)
    else:
        import skimage.data

        arr = getattr(skimage.data, name)()
        if isinstance(arr, tuple):  # stereo pairs: (left, right, disparity); the left view
            arr = arr[0]
    x = torch.from_numpy(np.array(arr)).permute(2, 0, 1).float()[None]
    x = F.interpolate(x, scale_factor=0.5, mode="bilinear", antialias=True, align_corners=False)
    return x[0].round().clamp(0, 255).to(torch.uint8)


def _grey(x: Tensor, channels: int) -> Tensor:
    if channels != 1:
        return x
    return (x.float() * torch.tensor([0.299, 0.587, 0.114]).view(-1, 3, 1, 1)).sum(-3, keepdim=True).round().to(torch.uint8)


def _crops(images: list[Tensor], r: int, per_image: int, rng: np.random.Generator) -> Tensor:
    out = []
    for im in images:
        # crops at a quarter of the (halved) photo's scale, so a small crop still holds structure
        small = F.interpolate(im[None].float(), scale_factor=0.5, mode="bilinear", antialias=True)[0]
        for _ in range(per_image):
            y, x = rng.integers(0, small.shape[1] - r + 1), rng.integers(0, small.shape[2] - r + 1)
            out.append(small[:, y: y + r, x: x + r])
    return torch.stack(out).round().clamp(0, 255).to(torch.uint8)  # (N, 3, r, r)


def edges_of(x: Tensor) -> Tensor:
    """Canny edges of uint8 photos (N, 3, r, r) -> uint8 (N, 3, r, r), white edges on black."""
    from skimage.feature import canny

    grey = (x.float() * torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1) / 255  # (N, r, r)
    e = np.stack([canny(g, sigma=1.0) for g in grey.numpy()]).astype(np.uint8) * 255
    return torch.from_numpy(e)[:, None].expand(-1, 3, -1, -1).contiguous()


def _edges(cfg: DataConfig) -> tuple[Tensor, Tensor]:
    rng = np.random.default_rng(0)  # the demo set is fixed, whatever the run's seed
    r, c = cfg.resolution, cfg.channels or 3
    out = []
    for names, per in ((TRAIN_PHOTOS, 160), (TEST_PHOTOS, 64)):
        b = _crops([photo(n) for n in names], r, per, rng)
        out.append(torch.cat([_grey(edges_of(b), c), _grey(b, c)], 1))  # (N, 2C, r, r)
    return out[0], out[1]


def luma(x: Tensor) -> Tensor:
    """uint8 colour images (..., 3, H, W) -> their grey (Rec. 601 luma) in all three channels, uint8."""
    y = (x.float() * torch.tensor([0.299, 0.587, 0.114]).view(3, 1, 1)).sum(-3, keepdim=True)
    return y.round().clamp(0, 255).to(torch.uint8).expand(*x.shape).contiguous()


def _colour(cfg: DataConfig) -> tuple[Tensor, Tensor]:
    from ..errors import GanforgeError

    if (cfg.channels or 3) != 3:
        raise GanforgeError(f"data.path=demo:colour: colorization needs data.channels=3, not {cfg.channels}")
    rng = np.random.default_rng(0)  # the demo set is fixed, whatever the run's seed
    out = []
    for names, per in ((COLOUR_PHOTOS, 320), (TEST_PHOTOS, 64)):
        b = _crops([photo(n) for n in names], cfg.resolution, per, rng)
        out.append(torch.cat([luma(b), b], 1))  # (N, 6, r, r): grey | colour
    return out[0], out[1]


def held_out_photos(multiple: int = 16) -> list[Tensor]:
    """The held-out photos whole, uint8 (3, H, W) at the colour demo's scale (a quarter of the
    shipped size), cropped to a multiple of ``multiple`` pixels (the U-Net's)."""
    out = []
    for n in TEST_PHOTOS:
        im = photo(n)
        small = F.interpolate(im[None].float(), scale_factor=0.5, mode="bilinear", antialias=True)[0]
        h, w = (small.shape[1] // multiple) * multiple, (small.shape[2] // multiple) * multiple
        out.append(small[:, :h, :w].round().clamp(0, 255).to(torch.uint8))
    return out


def digit_styles(x: np.ndarray, r: int) -> tuple[Tensor, Tensor]:
    """Digits (N, 8, 8) in [0, 1] -> uint8 (N, 3, r, r) in style A (white on black) and style B
    (dilated, orange on dark blue)."""
    t = torch.from_numpy(x).float()[:, None]
    t = F.interpolate(t, size=(r, r), mode="bilinear", align_corners=False).clamp(0, 1)  # (N, 1, r, r)
    thick = F.max_pool2d(t, 3, 1, 1)  # a 3x3 dilation: a thicker stroke
    fg, bg = torch.tensor(DIGIT_FG).view(1, 3, 1, 1), torch.tensor(DIGIT_BG).view(1, 3, 1, 1)
    a = t.expand(-1, 3, -1, -1)
    b = bg + (fg - bg) * thick
    to8 = lambda v: (v * 255).round().clamp(0, 255).to(torch.uint8)  # noqa: E731
    return to8(a), to8(b)


def _digits(cfg: DataConfig):
    from .images import digits_split

    (xtr, _), (xte, _) = digits_split()
    r, c = cfg.resolution, cfg.channels or 3
    a_tr, _ = digit_styles(xtr[0::2], r)  # domain A from one half of the training digits ...
    _, b_tr = digit_styles(xtr[1::2], r)  # ... domain B from the other: no pair is ever seen
    a_te, b_te = digit_styles(xte, r)
    return (_grey(a_tr, c), _grey(b_tr, c)), (_grey(a_te, c), _grey(b_te, c))


def _photos(cfg: DataConfig) -> tuple[list[Tensor], list[Tensor]]:
    c = cfg.channels or 3
    return [_grey(photo(n), c) for n in TRAIN_PHOTOS], [_grey(photo(n), c) for n in TEST_PHOTOS]


DEMOS.add("edges", ("paired", _edges))
DEMOS.add("digits", ("unpaired", _digits))
DEMOS.add("photos", ("superres", _photos))
DEMOS.add("colour", ("paired", _colour))


def build_demo(name: str, cfg: DataConfig):
    return DEMOS.get(name)[1](cfg)
