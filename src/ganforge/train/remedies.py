"""Training-schedule remedies used inside one GAN update: instance noise and unrolled D.

Kept out of ``step.py`` so that the step still reads as the plain two-phase game; each helper
is a no-op (and draws no random numbers) when its setting is off.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Callable, Optional

import torch
from torch import Tensor

if TYPE_CHECKING:
    from .step import GAN

Snapshot = tuple[dict, dict]  # D's state_dict, D's optimizer state_dict


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


def unroll_d(gan: "GAN", d_update: Callable[[], object]) -> Optional[Snapshot]:
    """Unrolled GAN (Metz et al. 2016): before G's update, update D ``gan.unroll_steps`` more
    times on fresh batches (``d_update()`` does one), so that G is scored by the D that would
    answer its current samples; return the pre-unroll state for :func:`restore_d`, or None
    when unrolling is off.

    Simplification: G's loss is taken against the unrolled weights as constants; Metz et al.
    also back-propagate through the K D updates (a second-order term, d theta_D^K / d theta_G),
    which is left out here. Each unrolled update is a full D update (augmentation, instance
    noise, every penalty at its plain weight, WGAN clipping) that leaves no trace in D: its
    weights, buffers and optimizer state are restored afterwards, and the lazy-penalty clock
    and ADA do not see it. The extra batches do advance the run's noise and data streams
    (and a stateful penalty's averages), which are checkpointed, so resume stays exact.
    """
    if gan.unroll_steps <= 0:
        return None
    snapshot = (copy.deepcopy(gan.D.state_dict()), copy.deepcopy(gan.opt_d.state_dict()))
    for _ in range(gan.unroll_steps):
        d_update()
    return snapshot


def restore_d(gan: "GAN", snapshot: Optional[Snapshot]) -> None:
    """Put D and its optimizer back as :func:`unroll_d` found them (no-op for None)."""
    if snapshot is None:
        return
    weights, opt_state = snapshot
    gan.D.load_state_dict(weights)  # copies into the same parameters, which the optimizer holds
    gan.opt_d.load_state_dict(opt_state)
    gan.opt_d.zero_grad(set_to_none=True)  # the unrolled gradients belong to no real update
