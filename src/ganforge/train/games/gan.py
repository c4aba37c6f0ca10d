"""The noise -> data game (Goodfellow et al. 2014): G maps noise to samples, D tells them from data.

One update is ``d_steps`` D updates on fresh reals and fresh fakes, then one G update on fresh
noise, as in the PyTorch DCGAN example. The trained things (:class:`Players`) are kept apart
from the policy (:class:`Policy`: losses, penalties, how many D steps), and the per-step
values (learning-rate factor, instance noise) come in explicitly (:class:`StepValues`).
Everything that transforms D's inputs is one :class:`DInput`; the hardware (precision,
compile, DDP) is behind a :class:`Runtime`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import torch
from torch import Tensor

from ...errors import GanforgeError
from ...losses import AdversarialLoss, value
from ...penalties import PenaltyTerm
from ...priors import Prior
from ..d_input import DInput
from ..remedies import lookahead
from ..runtime import Runtime
from ..schedule import set_lr
from .base import NextReal, Players, StepValues, frozen


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
    n_classes: int = 0  # > 0: a conditional GAN; fakes get labels drawn uniformly
    # generate each iteration's fakes once: D learns on them detached, G through them (the
    # canonical DCGAN loop); only where that is the same game, one D step and no unrolling
    reuse_fakes: bool = False

    @property
    def reusing(self) -> bool:
        return self.reuse_fakes and self.d_steps == 1 and self.unroll_steps == 0


class NoiseToData:
    """The GAN game. ``gen`` is the run's noise generator; ``prior`` draws z from it."""

    def __init__(self, players: Players, policy: Policy, prior: Prior, gen: torch.Generator,
                 d_input: Optional[DInput] = None):
        self.players, self.policy, self.prior, self.gen = players, policy, prior, gen
        self.d_input = d_input or DInput()
        self.d_updates = 0  # D updates so far: the clock of lazy D penalties and ADA
        self.g_updates = 0  # G updates so far: the clock of lazy G penalties
        self._kept: Optional[tuple] = None  # reuse_fakes: this iteration's fakes with their graph
        self.runtime: Optional[Runtime] = None  # how G and D are called (AMP, compile, DDP); None: plainly
        self.shard: Optional[Callable[[Tensor], Tensor]] = None  # DDP: this rank's rows of a global batch
        self._own: Optional[torch.Generator] = None  # DDP: this rank's generator for per-sample draws
        self._calls = 0  # sample_gen calls in this step
        self._last_terms: dict[str, Tensor] = {}  # each penalty's latest value: a lazy one is logged even off its step

    @property
    def G(self):
        return self.players.G

    @property
    def D(self):
        return self.players.D

    def fake_labels(self, n: int) -> Optional[Tensor]:
        """Class labels (n,) for generated samples, or None for an unconditional GAN."""
        if not self.policy.n_classes:
            return None
        draw = getattr(self.players.G, "draw_labels", None)  # a G with its own condition sampler (tabular)
        y = draw(n, self.gen) if draw is not None else \
            torch.randint(self.policy.n_classes, (n,), generator=self.gen, device=self.gen.device)
        return self.shard(y) if self.shard is not None else y  # DDP: drawn for the global batch

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
        P, B = self.policy, batch_size
        self._calls = 0
        rt = self.runtime or Runtime.plain(self.G, self.D)  # G and D as each phase calls them
        set_lr(self.players.opt_g, P.g_lr, values.lr_factor)
        set_lr(self.players.opt_d, P.d_lr, values.lr_factor)
        out: dict[str, Tensor] = {}

        ############################
        # (1) Update D: maximise log D(x) + log(1 - D(G(z))), k times, fresh reals and noise each
        ############################
        self._kept = None  # with reuse_fakes: (fake with its graph into G, its labels) from D's update
        for _ in range(P.d_steps):
            loss_d, real_logits, fake_logits = self.d_update(next_real, B, values, rt, out, stats)

        ############################
        # (2) Update G: minimise the generator loss on a fresh batch of noise
        ############################
        # unrolled GAN: G plays against D k updates ahead, undone at the end of the block
        with lookahead(self.D, self.players.opt_d, P.unroll_steps,
                       lambda: self.d_update(next_real, B, values, rt, ahead=True)):
            loss_g = self.g_update(B, values, rt, real_logits, out, stats)
        if stats:
            out["grad_g"] = rt.grad_norm(self.G, self.players.opt_g, "g")
        rt.step(self.players.opt_g, "g")
        self.g_updates += 1
        if self.players.ema is not None:
            self.players.ema.update(self.G)

        out["loss_d"], out["loss_g"] = loss_d.detach(), loss_g.detach()
        if stats:
            real_logits, fake_logits = real_logits.detach(), fake_logits.detach()
            out["d_real"] = torch.sigmoid(real_logits).mean()  # mean D(x)
            out["d_fake"] = torch.sigmoid(fake_logits).mean()  # mean D(G(z))
            out["value"] = value(real_logits, fake_logits)  # V(D, G); -log 4 at equilibrium
            if self.d_input.aug is not None:
                out.update(self.d_input.aug.stats())  # aug_p, ada_rt
            for name, term in self._last_terms.items():  # lazy penalties due on other steps: their latest value
                out.setdefault(name, term)
        return out

    def d_update(self, next_real: NextReal, B: int, values: StepValues, rt: Runtime, out: Optional[dict] = None,
                 stats: bool = False, ahead: bool = False) -> tuple[Tensor, Tensor, Tensor]:
        """One update of D on fresh reals and fresh fakes; returns (loss_d, real_logits (B,),
        fake_logits (B,)). Penalty values (and with ``stats`` D's gradient norm) go into ``out``.

        ``ahead=True`` is an update of the unrolled GAN's look-ahead: every penalty at its
        plain weight, and neither the lazy-penalty clock nor ADA sees it.
        """
        P, D = self.policy, self.D
        device = next(self.G.parameters()).device
        real, y_real = next_real(B)  # (B, *shape), (B,) or None
        y_real = y_real if P.n_classes else None
        y_fake = self.fake_labels(B)  # (B,) or None
        z = self.prior.sample(B, self.gen, device)  # (B, z_dim)
        if P.reusing and not ahead:  # G's forward pass of this iteration, kept for G's update
            fake = rt.g_train(z, y_fake)  # (B, *shape), with its graph into G
            self._kept = (fake, y_fake)
            fake = fake.detach()  # D's update does not reach G
        else:
            with torch.no_grad():
                fake = rt.g_fake(z, y_fake)  # (B, *shape); no graph back into G
        gen = self.sample_gen()  # per-row draws: augmentation, instance noise, penalties' random points
        real, fake = self.d_input.pair(real, fake, gen, values.instance_noise)  # as D (and penalties) see them
        real_logits, fake_logits = rt.d_train(real, y_real), rt.d_train(fake, y_fake)  # (B,), (B,)
        loss_d = P.loss.d_loss(real_logits, fake_logits)
        for p in P.d_penalties:
            if ahead or p.due(self.d_updates):  # lazy regularisation: gain = interval
                term = p(D, real, fake, gen, y_real, y_fake, real_logits=real_logits, fake_logits=fake_logits)
                loss_d = loss_d + (p.weight * (1 if ahead else p.interval)) * term
                if out is not None:
                    out[p.name] = self._last_terms[p.name] = term.detach()
        opt_d = self.players.opt_d
        opt_d.zero_grad(set_to_none=True)
        rt.backward(loss_d, "d")
        if stats and out is not None:
            out["grad_d"] = rt.grad_norm(D, opt_d, "d")
        rt.step(opt_d, "d")
        if P.clip > 0:  # the original WGAN's weight clipping
            with torch.no_grad():
                torch._foreach_clamp_min_(list(D.parameters()), -P.clip)
                torch._foreach_clamp_max_(list(D.parameters()), P.clip)
        if not ahead:
            self.d_updates += 1
            if self.d_input.aug is not None:  # ADA: D's confidence on reals steers p
                self.d_input.aug.observe(real_logits, B, self.d_updates)
        return loss_d, real_logits, fake_logits

    def g_update(self, B: int, values: StepValues, rt: Runtime, real_logits: Tensor, out: dict,
                 stats: bool) -> Tensor:
        """G's loss on fresh noise (or, with reuse_fakes, on the fakes D was just updated on),
        backed up into G's gradients (D frozen); returns loss_g."""
        P, G = self.policy, self.G
        device = next(G.parameters()).device
        kept, self._kept = self._kept, None
        if kept is not None:
            fake, y_fake = kept  # (B, *shape) with its graph, (B,) or None
        else:
            z = self.prior.sample(B, self.gen, device)  # (B, z_dim)
            y_fake = self.fake_labels(B)
            fake = rt.g_train(z, y_fake)
        with frozen(self.D):
            fake = self.d_input(fake, self.sample_gen(), values.instance_noise)  # G learns through both
            fake_logits = rt.d_judge(fake, y_fake)  # (B,)
            loss_g = P.loss.g_loss(fake_logits, real_logits.detach())
        if stats:  # how much gradient the loss passes to each fake logit: ~0 when it saturates
            (dlogits,) = torch.autograd.grad(loss_g, fake_logits, retain_graph=True)  # (B,)
            out["g_logit_grad"] = dlogits.abs().mean() * fake_logits.numel()
        for p in P.g_penalties:  # on G, e.g. path length: every interval G updates, gain = interval
            if p.due(self.g_updates):
                term = p(G, self.prior.sample(B, self.gen, device), self.fake_labels(B), self.gen)
                loss_g = loss_g + (p.weight * p.interval) * term
                out[p.name] = self._last_terms[p.name] = term.detach()
        self.players.opt_g.zero_grad(set_to_none=True)
        rt.backward(loss_g, "g")
        return loss_g

    # ------------------------------------------------------------------ checkpointed state

    def state_dict(self) -> dict:
        """Weights, optimizer moments, EMA, clocks, loss scales and the stabilisers' state, under
        the checkpoint's keys (the noise generator and the data stream are the loop's)."""
        pl = self.players
        return {
            "G": pl.G.state_dict(),
            "D": pl.D.state_dict(),
            "G_ema": pl.ema.state_dict() if pl.ema is not None else None,
            "opt_g": pl.opt_g.state_dict(),
            "opt_d": pl.opt_d.state_dict(),
            "d_updates": self.d_updates,
            "g_updates": self.g_updates,
            "amp": self.runtime.state_dict() if self.runtime is not None else {},  # fp16 loss scales
            # stateful penalties (LeCam's, path length's moving averages) and ADA's p and accumulators
            "penalties": {p.name: dict(p.state) for p in self._penalties() if p.state},
            "augment": self.d_input.aug.state_dict() if self.d_input.aug is not None else None,
            "last_terms": dict(self._last_terms),  # so a resumed run logs lazy penalties as the whole run does
        }

    def load_state_dict(self, state: dict) -> None:
        pl = self.players
        pl.G.load_state_dict(state["G"])
        pl.D.load_state_dict(state["D"])
        if pl.ema is not None:
            if state.get("G_ema") is None:
                raise GanforgeError("train.ema_beta > 0 but the checkpoint has no EMA weights to resume from")
            pl.ema.load_state_dict(state["G_ema"])
        pl.opt_g.load_state_dict(state["opt_g"])
        pl.opt_d.load_state_dict(state["opt_d"])
        self.d_updates = int(state["d_updates"])
        self.g_updates = int(state.get("g_updates", 0))  # absent before G penalties existed
        self._last_terms = dict(state.get("last_terms") or {})  # absent from older checkpoints
        if self.runtime is not None:
            self.runtime.load_state_dict(state.get("amp"))
        saved = state.get("penalties") or {}  # absent from older checkpoints
        for p in self._penalties():
            p.state.clear()
            p.state.update({k: v.clone() for k, v in saved.get(p.name, {}).items()})
        if self.d_input.aug is not None and state.get("augment") is not None:
            self.d_input.aug.load_state_dict(state["augment"])

    def _penalties(self) -> tuple[PenaltyTerm, ...]:
        return self.policy.d_penalties + self.policy.g_penalties
