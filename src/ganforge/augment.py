"""Differentiable augmentation of D's inputs: DiffAugment (Zhao et al. 2020) with a fixed
probability, or ADA (Karras et al. 2020, "Training generative adversarial networks with
limited data") with a probability that adapts to how much D overfits.

D sees augmented reals and augmented fakes, in its own update and in G's (so G learns through
the augmentation: every operation here is differentiable in the images). Each operation of
the policy is applied to each sample independently with probability ``p``, as in ADA: at small
``p`` most images pass through untouched, so the augmentations do not leak into G's samples.

All randomness comes from the run's noise generator ``gen``; the number of random draws does
not depend on ``p``, so a run is reproducible and resumes exactly. Images are ``(B, C, H, W)``
in [-1, 1]. ``p`` and the ADA accumulators stay on the device: no host sync in the step.
"""

from __future__ import annotations

import math
from typing import Callable, Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from .registry import Registry

Op = Callable[[Tensor, torch.Generator], Tensor]
OPS: Registry[Op] = Registry("augment.policy")  # the operations a policy may name


def _rand(x: Tensor, gen: Optional[torch.Generator], *shape: int) -> Tensor:
    return torch.rand(shape, generator=gen, device=x.device, dtype=x.dtype)


def _shift(x: Tensor, dy: Tensor, dx: Tensor) -> Tensor:
    """out[b, :, i, j] = x[b, :, i - dy[b], j - dx[b]], zero where that falls outside.
    A gather, so the gradient reaches the pixels that moved."""
    B, C, H, W = x.shape
    rows = torch.arange(H, device=x.device) - dy[:, None]  # (B, H) source row of each output row
    cols = torch.arange(W, device=x.device) - dx[:, None]  # (B, W)
    row_ok = ((rows >= 0) & (rows < H)).to(x.dtype)
    col_ok = ((cols >= 0) & (cols < W)).to(x.dtype)
    x = x.gather(2, rows.clamp(0, H - 1)[:, None, :, None].expand(B, C, H, W))
    x = x.gather(3, cols.clamp(0, W - 1)[:, None, None, :].expand(B, C, H, W))
    return x * (row_ok[:, None, :, None] * col_ok[:, None, None, :])


@OPS.register
def translation(x: Tensor, gen: Optional[torch.Generator], ratio: float = 0.125) -> Tensor:
    """Shift each image by whole pixels, up to ``ratio`` of its size each way, zero-filled (DiffAugment)."""
    B, _, H, W = x.shape
    sy, sx = max(1, round(H * ratio)), max(1, round(W * ratio))
    dy = torch.randint(-sy, sy + 1, (B,), generator=gen, device=x.device)
    dx = torch.randint(-sx, sx + 1, (B,), generator=gen, device=x.device)
    return _shift(x, dy, dx)


@OPS.register
def cutout(x: Tensor, gen: Optional[torch.Generator], ratio: float = 0.5) -> Tensor:
    """Zero a square of ``ratio`` times the image size at a random centre (DeVries and Taylor 2017)."""
    B, _, H, W = x.shape
    h, w = max(1, round(H * ratio)), max(1, round(W * ratio))
    cy = (_rand(x, gen, B) * H).long()  # (B,) centres, possibly near the border
    cx = (_rand(x, gen, B) * W).long()
    rows = torch.arange(H, device=x.device)[None, :] - (cy[:, None] - h // 2)  # (B, H)
    cols = torch.arange(W, device=x.device)[None, :] - (cx[:, None] - w // 2)
    inside = ((rows >= 0) & (rows < h))[:, :, None] & ((cols >= 0) & (cols < w))[:, None, :]  # (B, H, W)
    return x * (~inside).to(x.dtype)[:, None]


def _rotate(x: Tensor, angle: Tensor) -> Tensor:
    """Rotate each image of ``x`` (B, C, H, W) about its centre by ``angle`` (B,) radians, bilinear,
    the corners filled by reflection (as ADA pads its geometric transforms). The sampling grid is
    in [-1, 1] units on both axes, so the off-diagonal terms carry the aspect ratio: a rotation of
    the pixels, not of the unit square."""
    B, _, H, W = x.shape
    cos, sin, zero = angle.cos(), angle.sin(), torch.zeros_like(angle)
    theta = torch.stack([torch.stack([cos, -sin * H / W, zero], 1),
                         torch.stack([sin * W / H, cos, zero], 1)], 1)  # (B, 2, 3): output -> input coordinates
    grid = F.affine_grid(theta, [B, x.shape[1], H, W], align_corners=False)  # (B, H, W, 2)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)


@OPS.register
def rotation(x: Tensor, gen: Optional[torch.Generator], degrees: float = 12.0) -> Tensor:
    """Rotate each image by a uniform angle in [-``degrees``, ``degrees``]: the classic small
    rotation of digit and character data (the augmentation benchmark's CNN uses +-12 degrees)."""
    return _rotate(x, (_rand(x, gen, x.shape[0]) * 2 - 1) * math.radians(degrees))


@OPS.register
def color(x: Tensor, gen: Optional[torch.Generator]) -> Tensor:
    """Random brightness, saturation and contrast (DiffAugment's ``color``)."""
    B = x.shape[0]
    x = x + (_rand(x, gen, B, 1, 1, 1) - 0.5)  # brightness: +U[-0.5, 0.5)
    mean_c = x.mean(dim=1, keepdim=True)  # (B, 1, H, W); grey images: saturation is a no-op
    x = (x - mean_c) * (_rand(x, gen, B, 1, 1, 1) * 2) + mean_c  # saturation: x U[0, 2)
    mean = x.mean(dim=(1, 2, 3), keepdim=True)  # (B, 1, 1, 1)
    return (x - mean) * (_rand(x, gen, B, 1, 1, 1) + 0.5) + mean  # contrast: x U[0.5, 1.5)


def augment(x: Tensor, policy: tuple[str, ...], p, gen: Optional[torch.Generator]) -> Tensor:
    """Apply each operation of ``policy`` to each image of ``x`` (B, C, H, W) with probability
    ``p`` (a float or a 0-dim tensor). Every draw is made whatever ``p`` is, so ``p = 0``
    returns ``x``'s values exactly and the generator advances by the same amount."""
    for name in policy:
        apply = _rand(x, gen, x.shape[0]) < p  # (B,)
        x = torch.where(apply[:, None, None, None], OPS.get(name)(x, gen), x)
    return x


def flip_translate(x: Tensor, gen: Optional[torch.Generator]) -> Tensor:
    """bCR's transformation T (Zhao et al. 2020): a horizontal flip with probability 1/2 and a
    translation by up to 1/8 of the image size."""
    flip = _rand(x, gen, x.shape[0]) < 0.5  # (B,)
    x = torch.where(flip[:, None, None, None], x.flip(3), x)
    return translation(x, gen)


class Augment:
    """The augmentation of D's inputs and, with ``ada_target > 0``, ADA's controller of ``p``.

    ADA's heuristic: over each ``interval`` D updates, r_t = E[sign(D(real))] (the share of reals
    D is sure of, rescaled to [-1, 1]); then p += sign(r_t - target) * (reals seen) / (kimg * 1000),
    clamped to [0, 1], so that p can cross [0, 1] in ``kimg`` thousand real images.
    """

    def __init__(self, policy: tuple[str, ...], p: float, target: float = 0.0, interval: int = 4,
                 kimg: float = 100.0, device: torch.device | str = "cpu") -> None:
        self.policy, self.target, self.interval, self.kimg = tuple(policy), target, interval, kimg
        self.p = torch.tensor(float(p), device=device)  # () the probability in use
        self.rt = torch.zeros((), device=device)  # () r_t of the last finished interval, for the logs
        self._signs = torch.zeros((), device=device)  # () sum of sign(D(real)) this interval
        self._n_logits = 0  # logits summed in _signs (python ints: known on the host, no sync)
        self._n_images = 0  # real images seen this interval

    @property
    def adaptive(self) -> bool:
        return self.target > 0

    def __call__(self, x: Tensor, gen: Optional[torch.Generator]) -> Tensor:
        return augment(x, self.policy, self.p, gen)

    def observe(self, real_logits: Tensor, n_images: int, d_updates: int) -> None:
        """After a D update: accumulate sign(D(real)) (B,) and, every ``interval`` D updates
        (counted by ``d_updates``, the run's clock), move p."""
        if not self.adaptive:
            return
        self._signs = self._signs + real_logits.detach().sign().sum().float()
        self._n_logits += real_logits.numel()
        self._n_images += n_images
        if d_updates % self.interval == 0:
            self.rt = self._signs / self._n_logits
            step = self._n_images / (self.kimg * 1000)
            self.p = (self.p + torch.sign(self.rt - self.target) * step).clamp(0.0, 1.0)
            self._signs, self._n_logits, self._n_images = torch.zeros_like(self._signs), 0, 0

    def stats(self) -> dict[str, Tensor]:
        out = {"aug_p": self.p.clone()}
        if self.adaptive:
            out["ada_rt"] = self.rt.clone()
        return out

    def state_dict(self) -> dict:
        return {"p": self.p.clone(), "rt": self.rt.clone(), "signs": self._signs.clone(),
                "n_logits": self._n_logits, "n_images": self._n_images}

    def load_state_dict(self, state: dict) -> None:
        device = self.p.device
        self.p, self.rt = state["p"].to(device).clone(), state["rt"].to(device).clone()
        self._signs = state["signs"].to(device).clone()
        self._n_logits, self._n_images = int(state["n_logits"]), int(state["n_images"])


def parse_policy(policy: str) -> tuple[str, ...]:
    """'translation, color' -> ('translation', 'color'); empty -> ()."""
    return tuple(s.strip() for s in policy.split(",") if s.strip())


def initial_p(p: Optional[float], adaptive: bool) -> float:
    """augment.p unset: 1 for a fixed policy (DiffAugment always augments), 0 for ADA (it starts clean)."""
    if p is not None:
        return p
    return 0.0 if adaptive else 1.0

