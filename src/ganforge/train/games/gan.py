"""The noise -> data game (Goodfellow et al. 2014): G maps noise to samples, D tells them from data.

One update is ``d_steps`` D updates on fresh reals and fresh fakes, then one G update on fresh
noise, as in the PyTorch DCGAN example. Each player's update is its phases (``phases.py``):
its main loss, then its regularisers; a :class:`Scheduler` says which regularisers an update
carries (lazy ones every N updates, gain N), how many D updates there are and whether G plays
against an unrolled D. The trained things (:class:`Players`) are kept apart from the policy
(:class:`Policy`: losses, penalties, how many D steps), and the per-step values
(learning-rate factor, instance noise) come in explicitly (:class:`StepValues`). Everything
that transforms D's inputs is one :class:`DInput`; the hardware (precision, compile, DDP) is
behind a :class:`Runtime`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, partial
from typing import NamedTuple, Optional

import torch
from torch import Tensor

from ...build import build_augment, build_models, build_optimizer, build_penalties, condition, lazy_scale
from ...conditions import ConditionSpec, draw, n_classes, rows_of
from ...config import Config
from ...losses import AdversarialLoss, build_loss, smooth_real_labels, value
from ...penalties import PenaltyTerm
from ...priors import Prior
from ..d_input import DInput
from ..ema import EMA
from ..unroll import lookahead
from ..runtime import Runtime
from ..schedule import set_lr
from .base import GAMES, GameBase, NextReal, Player, Players, StepValues, frozen
from .phases import Regularisers, Scheduler, Update


@dataclass(frozen=True)
class Policy:
    """How the game is played: set from the config, never changed by training."""

    loss: AdversarialLoss
    d_lr: float  # base rates; D's (and G's) already carry lazy regularisation's c = N / (N + 1)
    g_lr: float
    d_steps: int = 1  # k D updates per G update
    d_penalties: tuple[PenaltyTerm, ...] = ()
    g_penalties: tuple[PenaltyTerm, ...] = ()
    clip: float = 0.0  # WGAN weight clipping of D; 0 = off
    unroll_steps: int = 0  # unrolled GAN: look-ahead D updates before G's, undone afterwards
    condition: Optional[ConditionSpec] = None  # a conditional GAN: the data's conditions, which G's are drawn from
    # generate each iteration's fakes once: D learns on them detached, G through them (the
    # canonical DCGAN loop); only where that is the same game, one D step and no unrolling
    reuse_fakes: bool = False

    @property
    def n_classes(self) -> int:  # > 0: a conditional GAN on ids (classes, table categories)
        return n_classes(self.condition)

    @property
    def reusing(self) -> bool:
        return self.reuse_fakes and self.d_steps == 1 and self.unroll_steps == 0


class Judged(NamedTuple):
    """What one D update leaves: D's loss (main + regularisers, 0-dim) and its logits (B,)."""

    loss: Tensor
    real_logits: Tensor
    fake_logits: Tensor


@dataclass
class DBatch:
    """One batch of D's update as D and its penalties see it (after augmentation and noise)."""

    real: Tensor  # (B, *shape)
    fake: Tensor  # (B, *shape), no graph back into G
    y_real: Optional[Tensor]  # (B,) or None unless the GAN is conditional
    y_fake: Optional[Tensor]
    gen: torch.Generator  # this update's per-row draws (the penalties' random points)


class NoiseToData(GameBase):
    """The GAN game. ``gen`` is the run's noise generator; ``prior`` draws z from it."""

    def __init__(self, players: Players, policy: Policy, prior: Prior, gen: torch.Generator,
                 d_input: Optional[DInput] = None):
        super().__init__(players, gen)
        self.policy, self.prior = policy, prior
        self.d_input = d_input or DInput()
        self._kept: Optional[tuple] = None  # reuse_fakes: this iteration's fakes with their graph
        self._own: Optional[torch.Generator] = None  # DDP: this rank's generator for per-sample draws
        self._calls = 0  # sample_gen calls in this step
        self._last_terms: dict[str, Tensor] = {}  # each penalty's latest value: a lazy one is logged even off its step

    @cached_property
    def scheduler(self) -> Scheduler:
        """Which phases each update runs (lazy intervals, D steps, unrolling, reused fakes)."""
        P = self.policy
        return Scheduler(P.d_penalties, P.g_penalties, P.d_steps, P.unroll_steps, P.reusing)

    def fake_labels(self, n: int) -> Optional[Tensor]:
        """Conditions (n,) for generated samples, drawn as the data's are, or None for an unconditional GAN."""
        y = draw(self.policy.condition, n, self.gen)
        return rows_of(y, self.shard)  # DDP: drawn for the global batch, this rank's rows kept

    def sample_gen(self) -> torch.Generator:
        """The generator for per-sample draws of this process's rows inside an update
        (augmentation, instance noise, the random points of gradient_penalty and dragan).

        In one process: the run's noise generator. Under DDP every rank holds the same copy of
        that generator (the global batch's noise needs it), so per-row draws from it would repeat
        on every rank. Each call instead seeds a rank-own generator from the run's seed, the
        update counters, the call within the step and the rank: distinct per rank, the shared
        generator untouched (updates still equal one process's where nothing draws per row), and
        resume exact (the counters are checkpointed; a step starts at call 0)."""
        d = self.runtime.dist if self.runtime is not None else None
        if d is None or not d.enabled:
            return self.gen
        self._calls += 1
        key = (self.gen.initial_seed(), self.d_updates, self.g_updates, self._calls, d.rank)
        if self._own is None:
            self._own = torch.Generator(self.gen.device)
        return self._own.manual_seed(hash(key) & (2**63 - 1))  # a tuple of ints hashes alike in every process

    # ------------------------------------------------------------------ the step

    def step(self, next_real: NextReal, batch_size: int, values: StepValues = StepValues(),
             stats: bool = False) -> dict[str, Tensor]:
        """One update of the game. G is called as ``G(z, y)`` and D as ``D(x, y)``, y None
        unless the GAN is conditional.

        Returns detached 0-dim tensors (no host sync here): always ``loss_d`` and ``loss_g``;
        with ``stats=True`` also ``d_real``, ``d_fake``, ``value`` (from the last D step's
        batch), each active penalty (a lazy one's latest value when this update did not carry
        it), the gradient norms ``grad_d`` and ``grad_g``, ``g_logit_grad``, the mean
        |d loss_g / d logit| per fake sample (the saturating minimax loss drives it to 0), and
        with augmentation on ``aug_p`` (with ADA ``ada_rt``).
        """
        plan = self.scheduler.plan(self.d_updates, self.g_updates)
        rt = self.begin(values)  # this step's learning rates; G and D as each phase calls them
        out: dict[str, Tensor] = {}

        ############################
        # (1) Update D: maximize log D(x) + log(1 - D(G(z))), k times, fresh reals and noise each
        ############################
        for update in plan.d:
            seen = self.d_update(update, next_real, batch_size, values, rt, out, stats)

        ############################
        # (2) Update G: minimise G's loss (non-saturating: maximize log D(G(z))) on fresh noise, or
        # on the fakes D just saw; unrolled GAN: against D k look-ahead updates further, undone after
        ############################
        ahead = partial(self.d_update, plan.ahead, next_real, batch_size, values, rt)
        with lookahead(self.D, self.players.opt_d, plan.unroll_steps, ahead):
            loss_g = self.g_update(plan.g, batch_size, values, rt, seen, out, stats)

        out["loss_d"], out["loss_g"] = seen.loss.detach(), loss_g.detach()
        if stats:
            self.add_stats(out, seen)
        return out

    def d_update(self, update: Update, next_real: NextReal, B: int, values: StepValues, rt: Runtime,
                 out: Optional[dict] = None, stats: bool = False) -> Judged:
        """One update of D on fresh reals and fresh fakes: D main, then D's regularisers, one
        optimizer step. Penalty values (and with ``stats`` D's gradient norm) go into ``out``;
        a look-ahead update (``update.counted`` False) is given none."""
        batch = self.d_batch(next_real, B, values, rt, update.keep_fakes)
        judged = self.d_main(batch, rt)
        loss_d = self.d_regularisers(update.reg, batch, judged, out)
        self.descend(Player.D, loss_d, rt, out, stats)
        self.after_d(update, judged.real_logits, B)
        return judged._replace(loss=loss_d)

    def g_update(self, update: Update, B: int, values: StepValues, rt: Runtime, seen: Judged, out: dict,
                 stats: bool) -> Tensor:
        """One update of G: G main (D frozen), then G's regularisers, one optimizer step, the
        EMA; returns loss_g. ``seen``: D's last update, whose real logits a relativistic loss reads."""
        loss_g, fake_logits = self.g_main(B, values, rt, seen.real_logits)
        if stats:  # how much gradient the loss passes to each fake logit: ~0 when it saturates
            (dlogits,) = torch.autograd.grad(loss_g, fake_logits, retain_graph=True)  # (B,)
            out["g_logit_grad"] = dlogits.abs().mean() * fake_logits.numel()
        loss_g = self.g_regularisers(update.reg, B, loss_g, out)
        self.descend(Player.G, loss_g, rt, out, stats)
        self.g_updates += 1
        self.players.update_ema()
        return loss_g

    # ------------------------------------------------------------------ the phases

    def d_main(self, b: DBatch, rt: Runtime) -> Judged:
        """D main: D's adversarial loss on the batch's reals and fakes."""
        real_logits, fake_logits = rt.d_train(b.real, b.y_real), rt.d_train(b.fake, b.y_fake)  # (B,), (B,)
        return Judged(self.policy.loss.d_loss(real_logits, fake_logits), real_logits, fake_logits)

    def d_regularisers(self, phase: Regularisers, b: DBatch, judged: Judged, out: Optional[dict]) -> Tensor:
        """D's regularisers due at this update, each at weight x gain, added to D's loss in turn."""
        loss_d = judged.loss
        for p, gain in phase.weighted():
            term = p(self.D, b.real, b.fake, b.gen, b.y_real, b.y_fake,
                     real_logits=judged.real_logits, fake_logits=judged.fake_logits)
            loss_d = loss_d + gain * term
            self.log_term(out, p.name, term)
        return loss_d

    def g_main(self, B: int, values: StepValues, rt: Runtime, real_logits: Tensor) -> tuple[Tensor, Tensor]:
        """G main: G's loss on its fakes as the frozen D judges them (through D's input
        transform); returns (loss_g, fake_logits (B,))."""
        fake, y_fake = self.g_fakes(B, rt)  # (B, *shape) with its graph into G, (B,) or None
        with frozen(self.D):
            fake = self.d_input(fake, self.sample_gen(), values.instance_noise)  # G learns through both
            fake_logits = rt.d_judge(fake, y_fake)  # (B,)
            loss_g = self.policy.loss.g_loss(fake_logits, real_logits.detach())
        return loss_g, fake_logits

    def g_regularisers(self, phase: Regularisers, B: int, loss_g: Tensor, out: dict) -> Tensor:
        """G's regularisers due at this update (e.g. path length), each on fresh noise at weight x gain."""
        device = next(self.G.parameters()).device
        for p, gain in phase.weighted():
            term = p(self.G, self.prior.sample(B, self.gen, device), self.fake_labels(B), self.gen)
            loss_g = loss_g + gain * term
            self.log_term(out, p.name, term)
        return loss_g

    # ------------------------------------------------------------------ helpers of the phases

    def begin(self, values: StepValues) -> Runtime:
        """Start a step: its learning rates, no fakes kept yet; returns how G and D are called."""
        P = self.policy
        self._calls = 0
        self._kept = None  # with reuse_fakes: (fake with its graph into G, its labels) from D's update
        set_lr(self.players.opt_g, P.g_lr, values.lr_factor)
        set_lr(self.players.opt_d, P.d_lr, values.lr_factor)
        return self.rt

    def d_batch(self, next_real: NextReal, B: int, values: StepValues, rt: Runtime, keep: bool) -> DBatch:
        """Fresh reals and fresh fakes, transformed as D sees them (augmentation, instance noise)."""
        real, y_real = next_real(B)  # (B, *shape), (B,) or None
        y_real = y_real if self.policy.condition is not None else None
        y_fake = self.fake_labels(B)  # (B,) or None
        z = self.prior.sample(B, self.gen, next(self.G.parameters()).device)  # (B, z_dim)
        fake = self.d_fakes(z, y_fake, rt, keep)
        gen = self.sample_gen()  # per-row draws: augmentation, instance noise, penalties' random points
        real, fake = self.d_input.pair(real, fake, gen, values.instance_noise)  # as D (and penalties) see them
        return DBatch(real, fake, y_real, y_fake, gen)

    def d_fakes(self, z: Tensor, y: Optional[Tensor], rt: Runtime, keep: bool) -> Tensor:
        """G(z, y) (B, *shape) for D, with no graph into G. ``keep`` (reuse_fakes): G's forward
        pass of this iteration is made with its graph and kept for G's update."""
        if keep:
            fake = rt.g_train(z, y)  # (B, *shape), with its graph into G
            self._kept = (fake, y)
            return fake.detach()  # D's update does not reach G
        with torch.no_grad():
            return rt.g_fake(z, y)

    def g_fakes(self, B: int, rt: Runtime) -> tuple[Tensor, Optional[Tensor]]:
        """G's fakes for its update: those kept from D's update, else G(z, y) on fresh noise."""
        kept, self._kept = self._kept, None
        if kept is not None:
            return kept
        z = self.prior.sample(B, self.gen, next(self.G.parameters()).device)  # (B, z_dim)
        y_fake = self.fake_labels(B)
        return rt.g_train(z, y_fake), y_fake

    def after_d(self, update: Update, real_logits: Tensor, B: int) -> None:
        """After D's optimizer step: WGAN weight clipping; a counted update also advances D's
        clock and lets ADA read D's confidence on reals (a look-ahead leaves both alone)."""
        if self.policy.clip > 0:  # the original WGAN's weight clipping
            with torch.no_grad():
                torch._foreach_clamp_min_(list(self.D.parameters()), -self.policy.clip)
                torch._foreach_clamp_max_(list(self.D.parameters()), self.policy.clip)
        if update.counted:
            self.d_updates += 1
            self.d_input.observe(real_logits, B, self.d_updates)

    def log_term(self, out: Optional[dict], name: str, term: Tensor) -> None:
        """A penalty's value for the log, kept as its latest; a look-ahead (``out`` None) logs none."""
        if out is not None:
            out[name] = self._last_terms[name] = term.detach()

    def add_stats(self, out: dict, seen: Judged) -> None:
        """D's view of its last batch, the augmentation's state, and the lazy penalties' latest
        values where this update did not carry them."""
        real_logits, fake_logits = seen.real_logits.detach(), seen.fake_logits.detach()
        out["d_real"] = torch.sigmoid(real_logits).mean()  # mean D(x)
        out["d_fake"] = torch.sigmoid(fake_logits).mean()  # mean D(G(z))
        out["value"] = value(real_logits, fake_logits)  # V(D, G); -log 4 at equilibrium
        out.update(self.d_input.stats())  # aug_p, ada_rt
        for name, term in self._last_terms.items():
            out.setdefault(name, term)

    # ------------------------------------------------------------------ building and checkpoints

    @classmethod
    def build(cls, cfg: Config, data, device: torch.device) -> "NoiseToData":
        """Models (initialised from torch's global RNG, which the caller seeds), optimizers, the
        policy and the noise generator of the noise -> data game."""
        cond = condition(cfg, data)
        G, D = build_models(cfg, data.shape, n_classes(cond), getattr(data, "layout", None))
        G, D = G.to(device), D.to(device)
        loss = smooth_real_labels(build_loss(cfg.loss.name), cfg.loss.label_smoothing)
        o = cfg.optim
        gen = torch.Generator(device=device).manual_seed(cfg.train.seed + 1)  # noise for the game
        d_penalties, g_penalties = build_penalties(cfg, loss)
        c_d, c_g = lazy_scale(d_penalties), lazy_scale(g_penalties)
        # lazy rescale of each player's betas (c = 1 leaves them exact); sgd ignores them (its lr still takes c)
        d_betas, g_betas = tuple(b ** c_d for b in o.d_betas), tuple(b ** c_g for b in o.g_betas)
        players = Players(
            G=G,
            D=D,
            opt_g=build_optimizer(G.parameters(), o, o.g_lr * c_g, g_betas),
            opt_d=build_optimizer(D.parameters(), o, o.d_lr * c_d, d_betas),
            ema=EMA(G, cfg.train.ema_beta) if cfg.train.ema_beta > 0 else None,
        )
        policy = Policy(
            loss=loss,
            d_lr=o.d_lr * c_d,
            g_lr=o.g_lr * c_g,
            d_steps=cfg.train.d_steps,
            d_penalties=d_penalties,
            g_penalties=g_penalties,
            clip=cfg.loss.clip if loss.clip_weights else 0.0,
            unroll_steps=cfg.train.unroll_steps,
            condition=cond,
            reuse_fakes=cfg.train.reuse_fakes,
        )
        prior = Prior(cfg.model.prior, cfg.model.z_dim)
        return cls(players, policy, prior, gen, DInput(build_augment(cfg, data.shape, device)))

    def own_state(self) -> dict:
        """The stabilisers' state and the penalties' latest values, beyond the shared state."""
        return {
            # stateful penalties (LeCam's, path length's moving averages) and ADA's p and accumulators
            "penalties": {p.name: dict(p.state) for p in self._penalties() if p.state},
            "augment": self.d_input.aug.state_dict() if self.d_input.aug is not None else None,
            "last_terms": dict(self._last_terms),  # so a resumed run logs lazy penalties as the whole run does
        }

    def load_own_state(self, state: dict) -> None:
        self._last_terms = dict(state.get("last_terms") or {})  # absent from older checkpoints
        saved = state.get("penalties") or {}  # absent from older checkpoints
        for p in self._penalties():
            p.state.clear()
            p.state.update({k: v.clone() for k, v in saved.get(p.name, {}).items()})
        if self.d_input.aug is not None and state.get("augment") is not None:
            self.d_input.aug.load_state_dict(state["augment"])

    def _penalties(self) -> tuple[PenaltyTerm, ...]:
        return self.policy.d_penalties + self.policy.g_penalties


GAMES.add("noise_to_data", NoiseToData)
