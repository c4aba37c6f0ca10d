"""One GAN update: ``d_steps`` discriminator updates, then one generator update.

This file only computes: it draws noise and real batches from what it is given, updates the
weights, and returns detached scalar tensors. It knows nothing of files, logging or the
schedule of checkpoints; the loop (``loop.py``) does.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Callable, Iterator, Optional

import torch
from torch import Tensor, nn

from ..augment import Augment
from ..losses import AdversarialLoss, value
from ..priors import Prior
from ..regularizers import Penalty, extra_args
from .ema import EMA
from .remedies import add_instance_noise, restore_d, unroll_d
from .runtime import Runtime


@dataclass(frozen=True)
class PenaltyTerm:
    """A regulariser on D, applied every ``interval`` D updates with gain ``weight * interval``."""

    name: str
    fn: Penalty
    weight: float
    interval: int = 1
    state: dict = field(default_factory=dict, compare=False)  # tensors a stateful penalty keeps (lecam)

    def __call__(self, D: nn.Module, real: Tensor, fake: Tensor, gen: torch.Generator, y_real: Optional[Tensor],
                 y_fake: Optional[Tensor], real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        """The penalty's value, handing it the logits and its state if its signature asks for them."""
        given = {"real_logits": real_logits, "fake_logits": fake_logits, "state": self.state}
        return self.fn(D, real, fake, gen, y_real, y_fake, **{k: given[k] for k in extra_args(self.fn)})


@dataclass
class GAN:
    """Everything one update touches. ``gen`` is the run's noise generator."""

    G: nn.Module
    D: nn.Module
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    loss: AdversarialLoss
    prior: Prior
    gen: torch.Generator
    penalties: tuple[PenaltyTerm, ...] = ()
    clip: float = 0.0  # WGAN weight clipping of D; 0 = off
    ema: Optional[EMA] = None
    n_classes: int = 0  # > 0: a conditional GAN; fakes get labels drawn uniformly
    d_updates: int = 0  # D updates so far: the clock of lazy penalties
    aug: Optional[Augment] = None  # differentiable augmentation of D's inputs (augment.*); None = off
    d_lr_scale: float = 1.0  # lazy regularisation's c = N / (N + 1) on D's rate; the loop applies it

    def augment(self, x: Tensor) -> Tensor:
        """What D judges: ``x`` (B, C, H, W) augmented, differentiably, or ``x`` itself when off."""
        return x if self.aug is None else self.aug(x, self.gen)
    instance_noise: float = 0.0  # std of the noise on D's inputs for this step (the loop anneals it); 0 = off
    unroll_steps: int = 0  # unrolled GAN: look-ahead D updates before G's, undone afterwards; 0 = off
    runtime: Optional[Runtime] = None  # how the step calls G and D (AMP, compile, DDP); None: plainly
    shard: Optional[Callable[[Tensor], Tensor]] = None  # DDP: this rank's rows of a global batch

    def fake_labels(self, n: int) -> Optional[Tensor]:
        """Class labels (n,) for generated samples, or None for an unconditional GAN."""
        if not self.n_classes:
            return None
        y = torch.randint(self.n_classes, (n,), generator=self.gen, device=self.gen.device)
        return self.shard(y) if self.shard is not None else y  # DDP: drawn for the global batch


@contextlib.contextmanager
def _frozen(module: nn.Module) -> Iterator[None]:
    """Skip the weight gradients of ``module`` (G's update needs only d D / d input)."""
    flags = [p.requires_grad for p in module.parameters()]
    module.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in zip(module.parameters(), flags):
            p.requires_grad_(flag)


def grad_norm(module: nn.Module) -> Tensor:
    """The global L2 norm of ``module``'s gradients (0 when it has none)."""
    grads = [p.grad for p in module.parameters() if p.grad is not None]
    if not grads:
        return torch.zeros(())
    return torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))


def d_update(
    gan: GAN,
    next_real: Callable[[int], tuple[Tensor, Optional[Tensor]]],
    B: int,
    out: Optional[dict] = None,
    stats: bool = False,
    unrolled: bool = False,
) -> tuple[Tensor, Tensor, Tensor]:
    """One update of D on fresh reals and fresh fakes; returns (loss_d, real_logits (B,),
    fake_logits (B,)). Penalty values (and with ``stats`` D's gradient norm) go into ``out``.

    ``unrolled=True`` is a look-ahead update of the unrolled GAN: every penalty at its plain
    weight, and neither the lazy-penalty clock nor ADA sees it.
    """
    G, D = gan.G, gan.D
    rt = gan.runtime or Runtime.plain(G, D)  # G and D as each phase calls them; loss scaling
    device = next(G.parameters()).device
    real, y_real = next_real(B)  # (B, *shape), (B,) or None
    y_real = y_real if gan.n_classes else None
    y_fake = gan.fake_labels(B)  # (B,) or None
    z = gan.prior.sample(B, gan.gen, device)  # (B, z_dim)
    with torch.no_grad():
        fake = rt.g_fake(z, y_fake)  # (B, *shape); no graph back into G
    real, fake = gan.augment(real), gan.augment(fake)  # as D sees them, penalties included
    real, fake = add_instance_noise(gan, real), add_instance_noise(gan, fake)  # x itself at sigma 0
    real_logits, fake_logits = rt.d_train(real, y_real), rt.d_train(fake, y_fake)  # (B,), (B,)
    loss_d = gan.loss.d_loss(real_logits, fake_logits)
    for p in gan.penalties:
        if unrolled or gan.d_updates % p.interval == 0:  # lazy regularisation: gain = interval
            term = p(D, real, fake, gan.gen, y_real, y_fake, real_logits, fake_logits)
            loss_d = loss_d + (p.weight * (1 if unrolled else p.interval)) * term
            if out is not None:
                out[p.name] = term.detach()
    gan.opt_d.zero_grad(set_to_none=True)
    rt.backward(loss_d, "d")
    if stats and out is not None:
        out["grad_d"] = rt.grad_norm(D, gan.opt_d, "d")
    rt.step(gan.opt_d, "d")
    if gan.clip > 0:
        with torch.no_grad():
            torch._foreach_clamp_min_(list(D.parameters()), -gan.clip)
            torch._foreach_clamp_max_(list(D.parameters()), gan.clip)
    if not unrolled:
        gan.d_updates += 1
        if gan.aug is not None:  # ADA: D's confidence on reals steers p
            gan.aug.observe(real_logits, B, gan.d_updates)
    return loss_d, real_logits, fake_logits


def train_step(
    gan: GAN,
    next_real: Callable[[int], tuple[Tensor, Optional[Tensor]]],
    batch_size: int,
    d_steps: int = 1,
    stats: bool = False,
) -> dict[str, Tensor]:
    """One update of the game. ``next_real(n)`` returns a fresh batch of n real samples and
    their labels (or None). G is called as ``G(z, y)`` and D as ``D(x, y)``, y None unless the
    GAN is conditional.

    Returns detached 0-dim tensors (no host sync here): always ``loss_d`` and ``loss_g``;
    with ``stats=True`` also ``d_real``, ``d_fake``, ``value`` (from the last D step's batch),
    each active penalty, the gradient norms ``grad_d`` and ``grad_g``, and ``g_logit_grad``,
    the mean |d loss_g / d logit| per fake sample (the saturating minimax loss drives it to 0),
    and with augmentation on ``aug_p`` (and with ADA ``ada_rt``, see ``ganforge.augment``).
    """
    G, D, B = gan.G, gan.D, batch_size
    rt = gan.runtime or Runtime.plain(G, D)  # G and D as each phase calls them; loss scaling
    device = next(G.parameters()).device
    out: dict[str, Tensor] = {}

    ############################
    # (1) Update D: maximise log D(x) + log(1 - D(G(z))), k times, fresh reals and noise each
    ############################
    for _ in range(d_steps):
        loss_d, real_logits, fake_logits = d_update(gan, next_real, B, out, stats)

    ############################
    # (2) Update G: minimise the generator loss on a fresh batch of noise
    ############################
    # unrolled GAN: G plays against D k updates ahead (undone below); None when off
    snapshot = unroll_d(gan, lambda: d_update(gan, next_real, B, unrolled=True))
    z = gan.prior.sample(B, gan.gen, device)  # (B, z_dim)
    y_fake = gan.fake_labels(B)
    with _frozen(D):
        fake_logits_g = rt.d_judge(add_instance_noise(gan, gan.augment(rt.g_train(z, y_fake))), y_fake)  # (B,); G learns through both
        loss_g = gan.loss.g_loss(fake_logits_g, real_logits.detach())
    if stats:  # how much gradient the loss passes to each fake logit: ~0 when it saturates
        (dlogits,) = torch.autograd.grad(loss_g, fake_logits_g, retain_graph=True)  # (B,)
        out["g_logit_grad"] = dlogits.abs().mean() * fake_logits_g.numel()
    gan.opt_g.zero_grad(set_to_none=True)
    rt.backward(loss_g, "g")
    restore_d(gan, snapshot)  # undo the look-ahead: only the D phase above updates D for good
    if stats:
        out["grad_g"] = rt.grad_norm(G, gan.opt_g, "g")
    rt.step(gan.opt_g, "g")
    if gan.ema is not None:
        gan.ema.update(G)

    out["loss_d"], out["loss_g"] = loss_d.detach(), loss_g.detach()
    if stats:
        real_logits, fake_logits = real_logits.detach(), fake_logits.detach()
        out["d_real"] = torch.sigmoid(real_logits).mean()  # mean D(x)
        out["d_fake"] = torch.sigmoid(fake_logits).mean()  # mean D(G(z))
        out["value"] = value(real_logits, fake_logits)  # V(D, G); -log 4 at equilibrium
        if gan.aug is not None:
            out.update(gan.aug.stats())  # aug_p, ada_rt
    return out
