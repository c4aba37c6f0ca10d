"""Penalties on D: functions ``penalty(D, real, fake, gen, y_real, y_fake) -> scalar Tensor``.

Each is registered under its function name and enabled by config as
``reg.<name>.weight=W`` (and ``reg.<name>.interval=N`` for lazy evaluation). They are added to
D's loss, so a positive value is a cost that D pays. ``real`` and ``fake`` are detached
batches of the same shape ``(B, ...)``; ``gen`` is the run's noise generator, for penalties
that draw random numbers; ``y_real`` and ``y_fake`` are their class labels (B,) for a
conditional D, else None. D is called as ``D(x, y)``.

A penalty may also take, as keyword arguments, what the step has already computed or keeps
for it: ``real_logits`` and ``fake_logits`` (D's outputs on ``real`` and ``fake``, in the graph,
so a penalty on logits costs no extra forward pass) and ``state``, a dict of tensors the
penalty owns across steps (LeCam's moving averages; saved in checkpoints). It receives only
those its signature names (:func:`extra_args`).
"""

from __future__ import annotations

import functools
import inspect
from typing import Callable, Optional

import torch
from torch import Tensor, nn

from .augment import flip_translate
from .errors import GanforgeError
from .registry import Registry

Penalty = Callable[..., Tensor]
Labels = Optional[Tensor]
REGULARIZERS: Registry[Penalty] = Registry("reg")
EXTRA_ARGS = ("real_logits", "fake_logits", "state")  # keyword arguments a penalty may ask for


@functools.lru_cache(maxsize=None)
def extra_args(fn: Penalty) -> frozenset[str]:
    """Which of :data:`EXTRA_ARGS` ``fn`` takes (read once from its signature)."""
    return frozenset(n for n in inspect.signature(fn).parameters if n in EXTRA_ARGS)


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


@REGULARIZERS.register
def dragan(D: nn.Module, real: Tensor, fake: Tensor, gen: Optional[torch.Generator] = None,
           y_real: Labels = None, y_fake: Labels = None) -> Tensor:
    """DRAGAN (Kodali et al. 2017): E[(||grad D(x_p)|| - 1)^2] at perturbed reals
    x_p = x + 0.5 std(x) U[0, 1), std over the whole batch as in the paper's code."""
    real = real.detach()
    noise = torch.rand(real.shape, generator=gen, device=real.device, dtype=real.dtype)  # (B, ...)
    x_p = real + 0.5 * real.std() * noise
    return (_grad_sq_norm(D, x_p, y_real).add(1e-12).sqrt() - 1).pow(2).mean()


LECAM_DECAY = 0.99  # of the moving averages of D's mean logits (Tseng et al. 2021)


@REGULARIZERS.register
def lecam(D: nn.Module, real: Tensor, fake: Tensor, gen: Optional[torch.Generator] = None,
          y_real: Labels = None, y_fake: Labels = None, *, real_logits: Optional[Tensor] = None,
          fake_logits: Optional[Tensor] = None, state: Optional[dict] = None) -> Tensor:
    """LeCam regularisation (Tseng et al. 2021): E[(D(x) - a_F)^2] + E[(D(G(z)) - a_R)^2].

    a_R and a_F are moving averages (decay 0.99, from 0) of D's mean logit on reals and fakes,
    updated with this batch before the penalty is taken, as in the authors' code (which also
    clips each term with a ReLU; we follow the paper's formula). It pulls D's real logits
    towards its recent fake level and vice versa, which bounds how far D can separate them on
    small data. ``state`` holds ``alpha_real`` and ``alpha_fake``, 0-dim tensors, between calls.
    """
    real_logits = D(real, y_real) if real_logits is None else real_logits  # (B,)
    fake_logits = D(fake, y_fake) if fake_logits is None else fake_logits  # (B,)
    state = {} if state is None else state
    for key, logits in (("alpha_real", real_logits), ("alpha_fake", fake_logits)):
        ema = state.get(key, torch.zeros((), device=logits.device))
        state[key] = LECAM_DECAY * ema + (1 - LECAM_DECAY) * logits.detach().float().mean()
    return ((real_logits - state["alpha_fake"]).pow(2).mean()
            + (fake_logits - state["alpha_real"]).pow(2).mean())


@REGULARIZERS.register
def bcr(D: nn.Module, real: Tensor, fake: Tensor, gen: Optional[torch.Generator] = None,
        y_real: Labels = None, y_fake: Labels = None, *, real_logits: Optional[Tensor] = None,
        fake_logits: Optional[Tensor] = None) -> Tensor:
    """Balanced consistency regularisation (Zhao et al. 2020, "Improved consistency
    regularization for GANs"): E[(D(x) - D(T(x)))^2] + E[(D(G(z)) - D(T(G(z))))^2], T a random
    horizontal flip and translation. D learns to judge an image and its shifted copy alike.
    Images (B, C, H, W) only; one weight for both terms (the paper's lambda_real = lambda_fake)."""
    if real.dim() != 4:
        raise GanforgeError(f"reg.bcr: consistency regularisation augments images; this data has samples of "
                            f"shape {tuple(real.shape[1:])}")
    real_logits = D(real, y_real) if real_logits is None else real_logits  # (B,)
    fake_logits = D(fake, y_fake) if fake_logits is None else fake_logits  # (B,)
    real_t = D(flip_translate(real.detach(), gen), y_real)  # (B,)
    fake_t = D(flip_translate(fake.detach(), gen), y_fake)
    return (real_logits - real_t).pow(2).mean() + (fake_logits - fake_t).pow(2).mean()
