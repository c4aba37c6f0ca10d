"""Adversarial losses: pure functions of D's logits.

Sign convention: both players *minimise* what they are given. ``d_loss(real_logits,
fake_logits)`` is minimised by D, ``g_loss(fake_logits, real_logits=None)`` by G. Logits are
shaped ``(B,)`` or ``(B, 1)``; every loss returns a scalar mean over the batch. D's output
probability is ``sigmoid(logit)``; ``log D = -softplus(-logit)`` and ``log(1 - D) =
-softplus(logit)`` are the numerically stable forms used throughout.

A registered loss is a function (named as its registry key) returning an
:class:`AdversarialLoss`; the contract tests in ``tests/test_losses.py`` run over all of them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable, Optional

import torch.nn.functional as F
from torch import Tensor

from .errors import GanforgeError
from .registry import Registry

DLoss = Callable[[Tensor, Tensor], Tensor]
GLoss = Callable[..., Tensor]


@dataclass(frozen=True)
class AdversarialLoss:
    d_loss: DLoss
    g_loss: GLoss
    penalty: Optional[str] = None  # a regulariser the loss implies (wgan_gp -> gradient_penalty)
    clip_weights: bool = False  # whether loss.clip applies (the original WGAN)


LOSSES: Registry[Callable[[], AdversarialLoss]] = Registry("loss.name")


def value(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """V(D, G) = E[log D(x)] + E[log(1 - D(G(z)))] (Goodfellow et al. 2014), from logits.

    Its equilibrium value, at p_g = p_data and D = 1/2 everywhere, is -log 4.
    """
    return -F.softplus(-real_logits).mean() - F.softplus(fake_logits).mean()


def _bce_d(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    # -V(D, G): D ascends V by descending this.
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


@LOSSES.register
def minimax() -> AdversarialLoss:
    """The original saturating game: G descends E[log(1 - D(G(z)))] (Goodfellow et al. 2014)."""

    def g_loss(fake_logits: Tensor, real_logits: Optional[Tensor] = None) -> Tensor:
        return -F.softplus(fake_logits).mean()  # = E[log(1 - D(G(z)))]

    return AdversarialLoss(_bce_d, g_loss)


@LOSSES.register
def non_saturating() -> AdversarialLoss:
    """G maximises log D(G(z)): binary cross-entropy with 'real' labels for the fakes."""

    def g_loss(fake_logits: Tensor, real_logits: Optional[Tensor] = None) -> Tensor:
        return F.softplus(-fake_logits).mean()  # = -E[log D(G(z))]

    return AdversarialLoss(_bce_d, g_loss)


def _critic_d(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    return fake_logits.mean() - real_logits.mean()


def _critic_g(fake_logits: Tensor, real_logits: Optional[Tensor] = None) -> Tensor:
    return -fake_logits.mean()


@LOSSES.register
def wasserstein() -> AdversarialLoss:
    """WGAN (Arjovsky et al. 2017): D is a critic; ``loss.clip`` > 0 clips its weights."""
    return AdversarialLoss(_critic_d, _critic_g, clip_weights=True)


@LOSSES.register
def wgan_gp() -> AdversarialLoss:
    """WGAN-GP (Gulrajani et al. 2017): the critic loss plus a gradient penalty on D."""
    return AdversarialLoss(_critic_d, _critic_g, penalty="gradient_penalty")


@LOSSES.register
def hinge() -> AdversarialLoss:
    """Hinge loss (Lim and Ye 2017; Miyato et al. 2018): D margins at +-1, G as the critic."""

    def d_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        return F.relu(1 - real_logits).mean() + F.relu(1 + fake_logits).mean()

    return AdversarialLoss(d_loss, _critic_g)


@LOSSES.register
def least_squares() -> AdversarialLoss:
    """LSGAN (Mao et al. 2017) with targets a=0 (fake), b=1 (real), c=1 (G's target)."""

    def d_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        return 0.5 * (real_logits - 1).pow(2).mean() + 0.5 * fake_logits.pow(2).mean()

    def g_loss(fake_logits: Tensor, real_logits: Optional[Tensor] = None) -> Tensor:
        return 0.5 * (fake_logits - 1).pow(2).mean()

    return AdversarialLoss(d_loss, g_loss)


def build_loss(name: str) -> AdversarialLoss:
    return LOSSES.get(name)()


def smooth_real_labels(loss: AdversarialLoss, s: float) -> AdversarialLoss:
    """One-sided label smoothing (Salimans et al. 2016): D's cross-entropy on reals aims at
    1 - s instead of 1, so D is not rewarded for ever more confident real logits; the fake
    target stays 0 (smoothing it too would let fakes near data keep their mistakes) and G's
    loss is unchanged. For the cross-entropy losses only (minimax, non_saturating):

        d_loss = (1 - s) * E[-log D(x)] + s * E[-log(1 - D(x))] + E[-log(1 - D(G(z)))]
    """
    if s == 0:
        return loss
    if loss.d_loss is not _bce_d:
        raise GanforgeError("loss.label_smoothing applies to the cross-entropy losses (minimax, non_saturating) only")

    def d_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        real = (1 - s) * F.softplus(-real_logits).mean() + s * F.softplus(real_logits).mean()
        return real + F.softplus(fake_logits).mean()

    return replace(loss, d_loss=d_loss)


__all__ = ["AdversarialLoss", "LOSSES", "build_loss", "smooth_real_labels", "value"]
