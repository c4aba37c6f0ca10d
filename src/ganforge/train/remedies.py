"""Training-schedule remedies used inside one GAN update: instance noise.

Kept out of ``step.py`` so that the step still reads as the plain two-phase game; each helper
is a no-op (and draws no random numbers) when its setting is off.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import Tensor

if TYPE_CHECKING:
    from .step import GAN


def add_instance_noise(gan: "GAN", x: Tensor) -> Tensor:
    """x + N(0, sigma^2) with sigma = ``gan.instance_noise`` (set by the loop for each step).

    Instance noise (Sønderby et al. 2016; Arjovsky and Bottou 2017): noise on both the real
    and the fake inputs of D makes the two distributions overlap, so D cannot separate them
    perfectly and G's gradients stay informative early on; it is annealed to 0 so that the
    final game is the noiseless one. x (B, ...) in model units; drawn from the run's noise
    generator, so a run is reproducible and resumes exactly. sigma = 0 returns x itself.
    """
    sigma = gan.instance_noise
    if sigma <= 0:
        return x
    noise = torch.randn(x.shape, generator=gan.gen, device=gan.gen.device)  # (B, ...)
    return x + sigma * noise.to(x.device, x.dtype, non_blocking=True)
