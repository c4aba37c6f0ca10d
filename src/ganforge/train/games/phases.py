"""The noise -> data update as phases, and the scheduler that says which run at an update.

As in stylegan2-ada-pytorch (``training/loss.py``, ``accumulate_gradients(phase)``), one
update of the GAN is made of phases: D's main loss, D's regularisers, G's main loss, G's
regularisers. Here a phase is a small typed object, not a string: :class:`Main` and
:class:`Regularisers`, each naming its :class:`Player`. Lazy regularisation (Karras et al.
2020, StyleGAN2) is data: a penalty with interval N is due at every N-th update of its player,
with gain N, so that its mean strength is its weight.

The :class:`Scheduler` decides, from the players' update counters alone, which penalties each
update carries and with what gain, how many D updates come before G's, whether D's fakes are
kept for G (``train.reuse_fakes``), and how many look-ahead D updates the unrolled GAN (Metz
et al. 2016) plays before G's. It knows no loss term, and the game's step knows no interval.

Unlike stylegan2-ada, a player's regularisers are added to its main loss and backed up with it
in one optimizer step (so the lazy rescaling of the optimizer, ``build.lazy_scale``, counts N
plain steps and the regularised one as N + 1).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

from ...penalties import PenaltyTerm
from .base import Player


@dataclass(frozen=True)
class Main:
    """A player's main phase: its adversarial loss on a fresh batch."""

    player: Player


@dataclass(frozen=True)
class Regularisers:
    """A player's regulariser phase at one update: the penalties due, each with its gain."""

    player: Player
    due: tuple[PenaltyTerm, ...] = ()
    gains: tuple[int, ...] = ()  # one per penalty: its interval (lazy), or 1 in a look-ahead

    def weighted(self) -> Iterator[tuple[PenaltyTerm, float]]:
        """(penalty, weight x gain) for each penalty due; nothing when none is."""
        return ((p, p.weight * gain) for p, gain in zip(self.due, self.gains))

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.due)


@dataclass(frozen=True)
class Update:
    """One optimizer update of one player: its main phase, then its regularisers."""

    main: Main
    reg: Regularisers
    counted: bool = True  # False: an unrolled look-ahead, which no clock, ADA or log sees
    keep_fakes: bool = False  # D's update makes G's fakes with their graph and keeps them for G's


@dataclass(frozen=True)
class Plan:
    """What one step of the game runs, in order: ``d`` (k D updates), then G's update against
    D ``unroll_steps`` look-ahead updates (each ``ahead``) further, undone afterwards."""

    d: tuple[Update, ...]
    g: Update
    unroll_steps: int = 0
    ahead: Update = Update(Main(Player.D), Regularisers(Player.D), counted=False)


class Scheduler:
    """Which phases run at an update: a pure function of the update counters, so a resumed run
    (which restores the counters) follows the same plan."""

    def __init__(self, d_penalties: tuple[PenaltyTerm, ...] = (), g_penalties: tuple[PenaltyTerm, ...] = (),
                 d_steps: int = 1, unroll_steps: int = 0, reuse_fakes: bool = False):
        self.d_penalties, self.g_penalties = tuple(d_penalties), tuple(g_penalties)
        self.d_steps, self.unroll_steps, self.reuse_fakes = d_steps, unroll_steps, reuse_fakes
        # a look-ahead update carries every D penalty at its plain weight, and is not counted
        self.ahead = Update(Main(Player.D), Regularisers(Player.D, self.d_penalties, (1,) * len(self.d_penalties)),
                            counted=False)

    @staticmethod
    def regularisers(player: Player, penalties: tuple[PenaltyTerm, ...], updates: int) -> Regularisers:
        """The penalties due at the update after ``updates`` earlier ones of ``player``, gain = interval."""
        due = tuple(p for p in penalties if p.due(updates))
        return Regularisers(player, due, tuple(p.interval for p in due))

    def plan(self, d_updates: int, g_updates: int) -> Plan:
        """The plan of the step that follows ``d_updates`` D and ``g_updates`` G updates."""
        d = tuple(Update(Main(Player.D), self.regularisers(Player.D, self.d_penalties, d_updates + i),
                         keep_fakes=self.reuse_fakes)
                  for i in range(self.d_steps))
        g = Update(Main(Player.G), self.regularisers(Player.G, self.g_penalties, g_updates))
        return Plan(d, g, self.unroll_steps, self.ahead)
