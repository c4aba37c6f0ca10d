"""What every game shares: the trained players, the per-step values, and the protocol the loop drives.

A *game* is one kind of GAN update (noise -> data today; paired and cycle image-to-image games
later). The loop knows none of their phases: it draws per-step values from the schedule,
calls ``game.step(...)`` and logs what comes back. A game only computes: it knows nothing of
files, logging or checkpoints' schedule.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Callable, Iterator, Optional, Protocol

import torch
from torch import Tensor, nn

from ..ema import EMA

# next_real(n) -> (x (n, *shape) in model space, labels (n,) or None): a fresh real batch
NextReal = Callable[[int], tuple[Tensor, Optional[Tensor]]]


@dataclass
class Players:
    """The trained things: both networks, their optimizers, and the EMA of G (or None)."""

    G: nn.Module
    D: nn.Module
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    ema: Optional[EMA] = None

    @property
    def sampler(self) -> nn.Module:
        """The generator to sample from: G_ema when kept, else G."""
        return self.ema.model if self.ema is not None else self.G


@dataclass(frozen=True)
class StepValues:
    """Values of one step that the loop derives from the schedule and hands over explicitly."""

    lr_factor: float = 1.0  # learning rates are base x lazy-regularisation scale x this
    instance_noise: float = 0.0  # std of the noise on D's inputs for this step; 0 = off


class Game(Protocol):
    """The protocol the loop drives."""

    players: Players
    gen: torch.Generator  # the game's noise: fakes, labels, augmentation, penalties

    def step(self, next_real: NextReal, batch_size: int, values: StepValues, stats: bool = False) -> dict[str, Tensor]:
        """One update of the game; detached 0-dim tensors, always ``loss_d`` and ``loss_g``."""

    def state_dict(self) -> dict:
        """What a resume must restore, beyond the noise generator and the data stream."""

    def load_state_dict(self, state: dict) -> None: ...


@contextlib.contextmanager
def frozen(module: nn.Module) -> Iterator[None]:
    """Skip the weight gradients of ``module`` (G's update needs only d D / d input)."""
    flags = [p.requires_grad for p in module.parameters()]
    module.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in zip(module.parameters(), flags):
            p.requires_grad_(flag)

