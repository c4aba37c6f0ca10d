"""One GAN update: ``d_steps`` discriminator updates, then one generator update.

This file only computes: it draws noise and real batches from what it is given, updates the
weights, and returns detached scalar tensors. It knows nothing of files, logging or the
schedule of checkpoints; the loop (``loop.py``) does.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Callable, Iterator, Optional

import torch
from torch import Tensor, nn

from ..losses import AdversarialLoss, value
from ..priors import Prior
from ..regularizers import Penalty
from .ema import EMA
from .runtime import Runtime


@dataclass(frozen=True)
class PenaltyTerm:
    """A regulariser on D, applied every ``interval`` D updates with gain ``weight * interval``."""

    name: str
    fn: Penalty
    weight: float
    interval: int = 1


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
    the mean |d loss_g / d logit| per fake sample (the saturating minimax loss drives it to 0).
    """
    G, D, B = gan.G, gan.D, batch_size
    rt = gan.runtime or Runtime.plain(G, D)  # G and D as each phase calls them; loss scaling
    device = next(G.parameters()).device
    out: dict[str, Tensor] = {}

    ############################
    # (1) Update D: maximise log D(x) + log(1 - D(G(z))), k times, fresh reals and noise each
    ############################
    for _ in range(d_steps):
        real, y_real = next_real(B)  # (B, *shape), (B,) or None
        y_real = y_real if gan.n_classes else None
        y_fake = gan.fake_labels(B)  # (B,) or None
        z = gan.prior.sample(B, gan.gen, device)  # (B, z_dim)
        with torch.no_grad():
            fake = rt.g_fake(z, y_fake)  # (B, *shape); no graph back into G
        real_logits, fake_logits = rt.d_train(real, y_real), rt.d_train(fake, y_fake)  # (B,), (B,)
        loss_d = gan.loss.d_loss(real_logits, fake_logits)
        for p in gan.penalties:
            if gan.d_updates % p.interval == 0:  # lazy regularisation: gain = interval
                term = p.fn(D, real, fake, gan.gen, y_real, y_fake)
                loss_d = loss_d + (p.weight * p.interval) * term
                out[p.name] = term.detach()
        gan.opt_d.zero_grad(set_to_none=True)
        rt.backward(loss_d, "d")
        if stats:
            out["grad_d"] = rt.grad_norm(D, gan.opt_d, "d")
        rt.step(gan.opt_d, "d")
        if gan.clip > 0:
            with torch.no_grad():
                torch._foreach_clamp_min_(list(D.parameters()), -gan.clip)
                torch._foreach_clamp_max_(list(D.parameters()), gan.clip)
        gan.d_updates += 1

    ############################
    # (2) Update G: minimise the generator loss on a fresh batch of noise
    ############################
    z = gan.prior.sample(B, gan.gen, device)  # (B, z_dim)
    y_fake = gan.fake_labels(B)
    with _frozen(D):
        fake_logits_g = rt.d_judge(rt.g_train(z, y_fake), y_fake)  # (B,)
        loss_g = gan.loss.g_loss(fake_logits_g, real_logits.detach())
    if stats:  # how much gradient the loss passes to each fake logit: ~0 when it saturates
        (dlogits,) = torch.autograd.grad(loss_g, fake_logits_g, retain_graph=True)  # (B,)
        out["g_logit_grad"] = dlogits.abs().mean() * fake_logits_g.numel()
    gan.opt_g.zero_grad(set_to_none=True)
    rt.backward(loss_g, "g")
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
    return out
