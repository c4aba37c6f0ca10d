"""What D sees: one transform of D's inputs, applied alike to reals and fakes in both phases.

Two things transform D's inputs (packing is not one of them: it belongs to D's architecture,
since penalties measure input gradients per sample, which a pre-packed batch would merge):

- differentiable augmentation (``augment.*``: DiffAugment or ADA, ``ganforge.augment``);
- instance noise (``train.instance_noise``; Sønderby et al. 2016, Arjovsky and Bottou 2017):
  Gaussian noise on both reals and fakes makes the two distributions overlap, so D cannot
  separate them perfectly and G's gradients stay informative early on; the loop anneals its
  std to 0 (``schedule.instance_noise_std``), so that the final game is the noiseless one.

Every random number comes from the run's noise generator, so a run is reproducible and resumes
exactly; each part draws nothing when it is off.
"""

from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor

from ..augment import Augment


class DInput:
    """x (B, ...) in model units -> what D judges. ``aug`` None: no augmentation."""

    def __init__(self, aug: Optional[Augment] = None):
        self.aug = aug

    def __call__(self, x: Tensor, gen: torch.Generator, sigma: float) -> Tensor:
        """One batch (G's phase): augmented, then noised with std ``sigma``."""
        return noised(self._augment(x, gen), gen, sigma)

    def pair(self, real: Tensor, fake: Tensor, gen: torch.Generator, sigma: float) -> tuple[Tensor, Tensor]:
        """D's phase: both batches augmented, then both noised (the order the random draws are made in)."""
        real, fake = self._augment(real, gen), self._augment(fake, gen)
        return noised(real, gen, sigma), noised(fake, gen, sigma)

    def _augment(self, x: Tensor, gen: torch.Generator) -> Tensor:
        return x if self.aug is None else self.aug(x, gen)

    def observe(self, real_logits: Tensor, batch_size: int, d_updates: int) -> None:
        """After a D update: ADA reads D's confidence on reals (B,) to steer p; nothing else does."""
        if self.aug is not None:
            self.aug.observe(real_logits, batch_size, d_updates)

    def stats(self) -> dict[str, Tensor]:
        """The augmentation's state for the log (``aug_p``, with ADA ``ada_rt``); {} without one."""
        return self.aug.stats() if self.aug is not None else {}


def noised(x: Tensor, gen: torch.Generator, sigma: float) -> Tensor:
    """x + N(0, sigma^2), the noise drawn from ``gen``; ``sigma`` <= 0 returns ``x`` itself and draws nothing."""
    if sigma <= 0:
        return x
    noise = torch.randn(x.shape, generator=gen, device=gen.device)  # (B, ...)
    return x + sigma * noise.to(x.device, x.dtype, non_blocking=True)
