"""Moving digits: clips of one or two bouncing digits, in the spirit of Moving MNIST
(Srivastava, Mansimov and Salakhutdinov 2015), made from scikit-learn's bundled 8x8 digits.

One clip is (1, T, S, S) uint8: T frames (default 16, 8..32) of an S x S canvas (32, or 64),
holding ``digits`` (1 or 2) sprites. Each sprite is an 8x8 digit upsampled (bilinear) to
:data:`SPRITE` px (``S * 7 / 16``: 14 px on 32, 28 px on 64); two digits overlap by their maximum.
A sprite starts at a uniform position with a velocity of uniform direction and a speed uniform in
[:data:`SPEED_LO`, :data:`SPEED_HI`] x S / 32 px a frame, and bounces off the walls (the position
is reflected, the velocity component flips): a sprite never leaves the canvas.

Splits: training clips use the digit images of ``digits_split()``'s training part, test clips
only its held-out images (every 5th of the 1,797): no test digit was seen in training.
Labels per clip: ``classes`` (digits,) the digit classes, ``direction`` the first digit's
initial direction in 8 compass sectors (:data:`DIRECTIONS`, y up), ``centres`` (T, digits, 2)
each sprite's centre (x, y) in px per frame (the motion metrics read them), ``bounces`` the
wall bounces of the clip.

Everything is drawn from a ``torch.Generator`` seeded by the caller: the same seed gives the
same clips, byte for byte.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

DIRECTIONS = ("E", "NE", "N", "NW", "W", "SW", "S", "SE")  # angle sectors of 45 degrees, counter-clockwise
SPEED_LO, SPEED_HI = 1.5, 3.0  # px per frame on a 32 px canvas (scaled with the canvas)
SIZES = (32, 64)


def sprite_side(size: int) -> int:
    """A sprite's side on a ``size`` canvas: 14 px on 32 (7/16 of the canvas)."""
    return size * 7 // 16


_SPRITES: dict = {}


def sprites(size: int, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """The digit images of ``split`` ("train" or "test": the held-out digits) upsampled to
    sprites: (M, s, s) float32 in [0, 1] and their classes (M,) int64."""
    key = (size, split)
    if key not in _SPRITES:
        from .images import digits_split

        (xtr, ytr), (xte, yte) = digits_split()  # (M, 8, 8) in [0, 1]
        x, y = (xtr, ytr) if split == "train" else (xte, yte)
        s = sprite_side(size)
        up = F.interpolate(torch.from_numpy(np.asarray(x, dtype=np.float32))[:, None], size=(s, s),
                           mode="bilinear", align_corners=False)[:, 0].clamp(0, 1)
        _SPRITES[key] = (up, torch.from_numpy(np.asarray(y, dtype=np.int64)))
    return _SPRITES[key]


def trajectories(n: int, digits: int, frames: int, size: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Top-left positions (n, T, digits, 2) float64 (x, y) in [0, size - s], and the initial
    velocities (n, digits, 2) px per frame; reflecting walls."""
    s = sprite_side(size)
    room = float(size - s)
    pos = torch.rand(n, digits, 2, generator=gen, dtype=torch.float64) * room
    angle = torch.rand(n, digits, generator=gen, dtype=torch.float64) * 2 * math.pi
    speed = (SPEED_LO + (SPEED_HI - SPEED_LO) * torch.rand(n, digits, generator=gen, dtype=torch.float64)) * size / 32
    # y grows downwards on the canvas: an angle of 90 degrees (north) moves up
    vel = torch.stack([speed * torch.cos(angle), -speed * torch.sin(angle)], -1)  # (n, digits, 2)
    v0 = vel.clone()
    out = [pos.clone()]
    for _ in range(frames - 1):
        pos = pos + vel
        low, high = pos < 0, pos > room
        pos = torch.where(low, -pos, torch.where(high, 2 * room - pos, pos))
        vel = torch.where(low | high, -vel, vel)
        out.append(pos.clone())
    return torch.stack(out, 1), v0


def direction_of(v: torch.Tensor) -> torch.Tensor:
    """The compass sector (index into :data:`DIRECTIONS`) of velocities (..., 2) (x right, y down)."""
    angle = torch.atan2(-v[..., 1], v[..., 0])  # y up
    return (torch.round(angle / (math.pi / 4)).long() % 8)


def render(pos: torch.Tensor, idx: torch.Tensor, sprite: torch.Tensor, size: int) -> np.ndarray:
    """Clips (n, 1, T, size, size) uint8: sprite ``idx`` (n, digits) pasted at the rounded
    positions ``pos`` (n, T, digits, 2), digits overlapping by their maximum."""
    n, T, D, _ = pos.shape
    s = sprite.shape[-1]
    at = pos.round().long().clamp(0, size - s)  # (n, T, D, 2) top-left (x, y)
    off = torch.arange(s)
    rows = at[..., 1, None, None] + off[:, None]  # (n, T, D, s, 1)
    cols = at[..., 0, None, None] + off[None, :]  # (n, T, D, 1, s)
    index = (rows * size + cols).reshape(n, T, D * s * s)  # each sprite pixel's place on the canvas
    src = sprite[idx].reshape(n, 1, D * s * s).expand(n, T, D * s * s)  # (n, T, D*s*s)
    canvas = torch.zeros(n, T, size * size).scatter_reduce(2, index, src, "amax", include_self=True)
    return (canvas.reshape(n, T, size, size) * 255).round().to(torch.uint8)[:, None].numpy()


def bounces(pos: torch.Tensor) -> torch.Tensor:
    """Wall bounces per clip (n,) int64: sign changes of the frame-to-frame displacement."""
    step = pos[:, 1:] - pos[:, :-1]  # (n, T-1, D, 2)
    flips = (torch.sign(step[:, 1:]) * torch.sign(step[:, :-1])) < 0
    return flips.flatten(1).sum(1)


def make_clips(n: int, digits: int, frames: int, size: int, split: str, gen: torch.Generator) -> dict:
    """``n`` clips of ``split``'s digits, drawn from ``gen``: ``clips`` (n, 1, T, S, S) uint8,
    ``classes`` (n, digits), ``direction`` (n,), ``centres`` (n, T, digits, 2) float32,
    ``bounces`` (n,)."""
    sprite, labels = sprites(size, split)
    idx = torch.randint(len(sprite), (n, digits), generator=gen)
    pos, v0 = trajectories(n, digits, frames, size, gen)
    s = sprite_side(size)
    return {"clips": render(pos, idx, sprite, size), "classes": labels[idx].numpy(),
            "direction": direction_of(v0[:, 0]).numpy(), "centres": (pos + s / 2).float().numpy(),
            "bounces": bounces(pos).numpy()}


def check_options(digits: int, frames: int, size: int, where: str) -> None:
    from ..errors import GanforgeError

    if digits not in (1, 2):
        raise GanforgeError(f"{where}: digits {digits}; moving digits hold 1 or 2 digits")
    if not 8 <= frames <= 32:
        raise GanforgeError(f"{where}: frames {frames}; moving digits have 8 to 32 frames")
    if size not in SIZES:
        raise GanforgeError(f"{where}: size {size}; moving digits are 32 or 64 px")


def make(options: dict, seed: int, progress: bool = False) -> tuple[dict, dict]:
    """The ``video:moving-digits`` recipe (``data/generated.py``): ``train_*`` and ``test_*``
    arrays (clips, classes, direction, centres, bounces) and a record of the protocol."""
    digits, frames, size = options["digits"], options["frames"], options["size"]
    check_options(digits, frames, size, "dataset build video:moving-digits")
    arrays = {}
    for split, n, offset in (("train", options["n"], 0), ("test", options["n_test"], 1)):
        gen = torch.Generator().manual_seed(seed * 2 + offset)
        parts = []
        for start in range(0, n, 1000):  # in chunks, with progress
            parts.append(make_clips(min(1000, n - start), digits, frames, size, split, gen))
            if progress:
                print(f"  {split}: {start + len(parts[-1]['clips'])}/{n} clips", flush=True)
        for k in parts[0]:
            arrays[f"{split}_{k}"] = np.concatenate([p[k] for p in parts])
    record = {"splits": {"train": "digits_split() training digits", "test": "held-out digits (every 5th image)"},
              "sprite_px": sprite_side(size), "speed_px": [SPEED_LO * size / 32, SPEED_HI * size / 32],
              "directions": list(DIRECTIONS)}
    return arrays, record
