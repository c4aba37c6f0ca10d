"""Games: one GAN update each, driven by the loop. ``gan``: noise -> data."""

from .base import Game, NextReal, Players, StepValues
from .gan import NoiseToData, Policy

__all__ = ["Game", "NextReal", "NoiseToData", "Players", "Policy", "StepValues"]
