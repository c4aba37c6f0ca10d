"""Games: one GAN update each, driven by the loop. ``gan``: noise -> data; ``paired``:
pix2pix; ``cycle``: CycleGAN; ``superres``: SRGAN-style super-resolution; ``timegan``: TimeGAN's
three phases on sequences.

Each game module registers its class in :data:`GAMES` under the name a model's spec gives
(``ModelSpec.game``); importing this package imports them all, so the registry is complete.
"""

from __future__ import annotations

import torch

from ...build import model_spec
from ...config import Config
from ..callbacks import Callback
from .base import GAMES, Game, GameBase, NextReal, Player, Players, StepValues
from .gan import NoiseToData, Policy
from .cycle import Cycle
from .i2i import I2IPolicy
from .paired import Paired
from .superres import SuperRes
from .timegan import TimeGANGame
from .latentgan import LatentGANGame
from .text2image import TextToImage
from .semi_supervised import SemiSupervised


def game_class(cfg: Config) -> type[GameBase]:
    """The class of the game that trains ``cfg.model`` (its spec's ``game``)."""
    return GAMES.get(model_spec(cfg).game)


def build_game(cfg: Config, data, device: torch.device) -> GameBase:
    """The game that trains ``cfg.model``, built with its players on ``device``."""
    return game_class(cfg).build(cfg, data, device)


def default_callbacks(cfg: Config) -> list[Callback]:
    """What every run of ``cfg`` has, as its game declares: the doctor (unless
    ``doctor.enabled=false``), then the game's evaluation."""
    return game_class(cfg).callbacks(cfg)


__all__ = ["Cycle", "GAMES", "Game", "GameBase", "I2IPolicy", "NextReal", "NoiseToData", "Paired", "Player", "Players",
           "Policy", "SemiSupervised", "StepValues", "SuperRes", "TextToImage", "TimeGANGame", "build_game", "default_callbacks", "game_class"]
