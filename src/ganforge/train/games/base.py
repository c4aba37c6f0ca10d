"""What every game shares: the players, the per-step values, the registry, and the base class.

A *game* is one kind of GAN update: noise -> data (``gan.py``), paired translation
(``paired.py``, pix2pix), unpaired translation (``cycle.py``, CycleGAN) and super-resolution
(``superres.py``). The loop knows none of their phases: it draws per-step values from the
schedule, calls ``game.step(...)`` and logs what comes back. A game only computes: it knows
nothing of files, logging or the checkpoints' schedule.

Each game module registers its class in :data:`GAMES` under the name a model's spec gives
(``ModelSpec.game``); ``games/__init__.py`` builds a game from the config through it. A game
class declares what a run of it has besides its step: its callbacks (the doctor and its
evaluation) and its visuals (rows of held-out inputs and outputs for the sample plots, or
none). :class:`GameBase` gives the defaults, the shared checkpointed state of the players
and one player's optimizer update.
"""

from __future__ import annotations

import contextlib
import enum
from dataclasses import dataclass
from typing import Callable, ClassVar, Iterator, Optional, Protocol

import torch
from torch import Tensor, nn

from ...conditions import draw
from ...config import Config
from ...errors import GanforgeError
from ...registry import Registry
from ..callbacks import Callback, DoctorCallback, EvaluationCallback
from ..ema import EMA
from ..runtime import Runtime

# next_real(n) -> (x (n, *shape) in model space, labels (n,) or None): a fresh real batch
NextReal = Callable[[int], tuple[Tensor, Optional[Tensor]]]

# G_ema's batch-norm statistics (EMA.refresh_stats) come from this many batches of this many noise
# vectors, drawn from a generator of their own with this seed: the run's random streams are untouched
STAT_BATCHES, STAT_BATCH, STAT_SEED = 32, 64, 1234

# ModelSpec.game -> the game's class (a subclass of GameBase); each game module adds its own
GAMES: Registry = Registry("game")


class Player(enum.Enum):
    """Whose update a phase belongs to; the value keys the runtime's loss scalers and the stats."""

    D = "d"
    G = "g"


@dataclass
class Players:
    """The trained things: both networks, their optimizers, the EMA of G (or None) and, in a game
    whose D is the product (the semi-supervised classifier), the EMA of D (or None)."""

    G: nn.Module
    D: nn.Module
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    ema: Optional[EMA] = None
    d_ema: Optional[EMA] = None

    @property
    def sampler(self) -> nn.Module:
        """The generator to sample from: G_ema when kept, else G."""
        return self.ema.model if self.ema is not None else self.G

    def of(self, player: Player) -> tuple[nn.Module, torch.optim.Optimizer]:
        """(network, optimizer) of ``player``."""
        return (self.D, self.opt_d) if player is Player.D else (self.G, self.opt_g)

    def update_ema(self) -> None:
        """G_ema follows G after a G update (nothing without an EMA)."""
        if self.ema is not None:
            self.ema.update(self.G)

    def update_d_ema(self) -> None:
        """D_ema follows D after a D update (nothing without one)."""
        if self.d_ema is not None:
            self.d_ema.update(self.D)

    def state_dict(self) -> dict:
        """Weights, optimizer moments and the EMA, under the checkpoint's keys."""
        state = {
            "G": self.G.state_dict(),
            "D": self.D.state_dict(),
            "G_ema": self.ema.state_dict() if self.ema is not None else None,
            "opt_g": self.opt_g.state_dict(),
            "opt_d": self.opt_d.state_dict(),
        }
        if self.d_ema is not None:  # only where kept: every other checkpoint keeps its layout
            state["D_ema"] = self.d_ema.state_dict()
        return state

    def load_state_dict(self, state: dict) -> None:
        self.G.load_state_dict(state["G"])
        self.D.load_state_dict(state["D"])
        if self.ema is not None:
            if state.get("G_ema") is None:
                raise GanforgeError("train.ema_beta > 0 but the checkpoint has no EMA weights to resume from")
            self.ema.load_state_dict(state["G_ema"])
        if self.d_ema is not None:
            if state.get("D_ema") is None:
                raise GanforgeError("train.d_ema_beta > 0 but the checkpoint has no EMA of D to resume from")
            self.d_ema.load_state_dict(state["D_ema"])
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])


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


class GameBase:
    """Defaults of every game: the players and their clocks, the runtime, the checkpointed
    state, one player's optimizer update, and what a run of the game has (callbacks, visuals).

    A subclass implements ``step`` and ``build(cfg, data, device)``, and adds its own
    resumable state through ``own_state`` / ``load_own_state``."""

    prior = None  # p(z) of a game that draws noise for G; None: G's input is data (image-to-image)
    # G maps noise to samples (noise_to_data, timegan): the run samples, synthesises and is measured by
    # its data's evaluator; False: G maps data to data (image-to-image), measured by the game itself
    from_noise: ClassVar[bool] = True
    # the doctor and the evaluation of a run of this game (the doctor unless doctor.enabled=false)
    diagnosis: ClassVar[type[Callback]] = DoctorCallback
    evaluation: ClassVar[type[Callback]] = EvaluationCallback
    # visuals(data, n, seed) -> (k * n, C, H, W) in [0, 1]: rows of held-out inputs and outputs
    # for the sample plots; None: the plots show samples of G on fixed noise
    visuals: ClassVar[Optional[Callable]] = None

    def __init__(self, players: Players, gen: torch.Generator):
        self.players, self.gen = players, gen
        self.d_updates = 0  # D updates so far: the clock of lazy D penalties and ADA
        self.g_updates = 0  # G updates so far: the clock of lazy G penalties and pre-training
        self.runtime: Optional[Runtime] = None  # set by the loop's attach(); None: G and D called plainly
        self.shard: Optional[Callable[[Tensor], Tensor]] = None  # DDP: this rank's rows of a global batch

    @classmethod
    def build(cls, cfg: Config, data, device: torch.device) -> "GameBase":
        """The game for ``cfg`` with its players on ``device`` (weights from torch's global RNG)."""
        raise NotImplementedError

    @classmethod
    def callbacks(cls, cfg: Config) -> list[Callback]:
        """What a run of this game has: the doctor (unless ``doctor.enabled=false``), then evaluation."""
        return ([cls.diagnosis()] if cfg.doctor.enabled else []) + [cls.evaluation()]

    @property
    def G(self):
        return self.players.G

    @property
    def D(self):
        return self.players.D

    @property
    def rt(self) -> Runtime:
        """How this step calls G and D (plain calls before attach(); a ModuleDict indexes alike)."""
        return self.runtime or Runtime.plain(self.G, self.D)

    def descend(self, player: Player, loss: Tensor, rt: Runtime, out: Optional[dict] = None,
                stats: bool = False) -> None:
        """One optimizer step of ``player`` on ``loss``: gradients zeroed, ``loss`` backed up
        through the player's loss scale under fp16, the step (skipped by the scaler on an fp16
        overflow). With ``stats``, the gradient norm goes into ``out`` as ``grad_d`` / ``grad_g``."""
        net, opt = self.players.of(player)
        opt.zero_grad(set_to_none=True)
        rt.backward(loss, player.value)
        if stats and out is not None:
            out[f"grad_{player.value}"] = rt.grad_norm(net, opt, player.value)
        rt.step(opt, player.value)

    def ready_sampler(self, prior) -> None:
        """Before G_ema is sampled, evaluated or saved: its batch-norm statistics re-estimated for
        its own weights (``EMA.refresh_stats``) from :data:`STAT_BATCHES` batches of noise from
        ``prior`` and conditions drawn as the data's (the game's condition spec, if any).
        Nothing for a run without an EMA, a G without batch norm, fresh statistics, or a game
        whose G takes data rather than noise (image-to-image: its statistics stay G's)."""
        ema = self.players.ema
        if ema is None or not self.from_noise or prior is None:
            return
        condition = getattr(getattr(self, "policy", None), "condition", None)
        device = next(ema.model.parameters()).device
        gen = torch.Generator().manual_seed(STAT_SEED)

        def batches() -> Iterator[tuple]:
            for _ in range(STAT_BATCHES):
                z = prior.sample(STAT_BATCH, gen, device)  # (STAT_BATCH, z_dim)
                y = draw(condition, STAT_BATCH, gen, empirical=True)
                yield z, (y.to(device) if y is not None else None)

        ema.refresh_stats(batches())

    # ------------------------------------------------------------------ checkpointed state

    def own_state(self) -> dict:
        """A game's state beyond the players', clocks and loss scales, as top-level checkpoint keys."""
        return {}

    def load_own_state(self, state: dict) -> None:
        pass

    def state_dict(self) -> dict:
        """Weights, optimizer moments, EMA, clocks, loss scales and the game's own state, under
        the checkpoint's keys (the noise generator and the data stream are the loop's)."""
        return {
            **self.players.state_dict(),
            "d_updates": self.d_updates,
            "g_updates": self.g_updates,
            "amp": self.runtime.state_dict() if self.runtime is not None else {},  # fp16 loss scales
            **self.own_state(),
        }

    def load_state_dict(self, state: dict) -> None:
        self.players.load_state_dict(state)
        self.d_updates = int(state["d_updates"])
        self.g_updates = int(state.get("g_updates", 0))  # absent before G penalties existed
        if self.runtime is not None:  # a rollback restores the loss scales too
            self.runtime.load_state_dict(state.get("amp"))
        self.load_own_state(state)


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
