"""Games: one GAN update each, driven by the loop. ``gan``: noise -> data; ``paired``:
pix2pix; ``cycle``: CycleGAN; ``superres``: SRGAN-style super-resolution."""

from .base import Game, NextReal, Players, StepValues
from .gan import NoiseToData, Policy
from .cycle import Cycle
from .paired import Paired
from .superres import SuperRes

__all__ = ["Cycle", "Game", "NextReal", "NoiseToData", "Paired", "Players", "Policy", "StepValues", "SuperRes"]
