"""Penalties on D: functions ``penalty(D, real, fake, gen, y_real, y_fake) -> scalar Tensor``.

Each is registered under its function name and enabled by config as
``reg.<name>.weight=W`` (and ``reg.<name>.interval=N`` for lazy evaluation). They are added to
D's loss, so a positive value is a cost that D pays. ``real`` and ``fake`` are detached
batches of the same shape ``(B, ...)``; ``gen`` is the run's noise generator, for penalties
that draw random numbers; ``y_real`` and ``y_fake`` are their class labels (B,) for a
conditional D, else None. D is called as ``D(x, y)``.
"""

from __future__ import annotations

from typing import Callable, Optional

import torch
from torch import Tensor, nn

from .registry import Registry

Penalty = Callable[..., Tensor]
Labels = Optional[Tensor]
REGULARIZERS: Registry[Penalty] = Registry("reg")


def _grad_sq_norm(D: nn.Module, x: Tensor, y: Labels) -> Tensor:
    """||d D(x, y) / dx||^2 per sample, shape (B,), kept in the graph so D can descend it.

    For an ensemble of K D's (a D with ``members``), shape (K, B): one norm per member, so
    that a penalty's mean is the mean of the members' own penalties (the gradient of the
    members' summed logits would penalise their sum, not each of them)."""
    members = getattr(D, "members", None)
    if members is not None:
        return torch.stack([_grad_sq_norm(m, x, y) for m in members])  # (K, B)
    x = x.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(D(x, y).sum(), x, create_graph=True)
    return grad.flatten(1).pow(2).sum(1)


@REGULARIZERS.register
def gradient_penalty(D: nn.Module, real: Tensor, fake: Tensor, gen: Optional[torch.Generator] = None,
                     y_real: Labels = None, y_fake: Labels = None) -> Tensor:
    """WGAN-GP (Gulrajani et al. 2017): E[(||grad D(x_hat)|| - 1)^2] on random interpolates
    (judged under the real samples' labels)."""
    eps = torch.rand((real.shape[0],) + (1,) * (real.dim() - 1), generator=gen, device=real.device)
    x_hat = eps * real.detach() + (1 - eps) * fake.detach()  # (B, ...)
    return (_grad_sq_norm(D, x_hat, y_real).add(1e-12).sqrt() - 1).pow(2).mean()


@REGULARIZERS.register
def r1(D: nn.Module, real: Tensor, fake: Tensor, gen: Optional[torch.Generator] = None,
       y_real: Labels = None, y_fake: Labels = None) -> Tensor:
    """R1 (Mescheder et al. 2018): 1/2 E_real[||grad D(x)||^2]; ``weight`` is their gamma."""
    return 0.5 * _grad_sq_norm(D, real, y_real).mean()


@REGULARIZERS.register
def r2(D: nn.Module, real: Tensor, fake: Tensor, gen: Optional[torch.Generator] = None,
       y_real: Labels = None, y_fake: Labels = None) -> Tensor:
    """R2 (Mescheder et al. 2018): 1/2 E_fake[||grad D(x)||^2]."""
    return 0.5 * _grad_sq_norm(D, fake, y_fake).mean()
