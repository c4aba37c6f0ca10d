"""Penalties: regularisers added to a player's loss, with a weight and a lazy interval each.

**On D**: functions ``penalty(D, real, fake, gen, y_real, y_fake) -> scalar Tensor``,
registered in :data:`D_PENALTIES`. ``real`` and ``fake`` are detached batches of the same
shape ``(B, ...)`` as D sees them; ``gen`` is the run's noise generator, for penalties that
draw random numbers; ``y_real`` and ``y_fake`` are their class labels (B,) for a conditional
D, else None. D is called as ``D(x, y)``. A penalty may also take, as keyword arguments,
``real_logits`` and ``fake_logits`` (D's outputs on ``real`` and ``fake``, in the graph, so a
penalty on logits costs no extra forward pass).

**On G**: functions ``penalty(G, z, y, gen) -> scalar Tensor`` registered in
:data:`G_PENALTIES`: ``z`` (B, z_dim) is fresh noise of the G phase and ``y`` its labels or
None. Path-length regularisation (StyleGAN2) is one.

Either kind may take ``state``, a dict of tensors it owns across steps (LeCam's and the path
length's moving averages; saved in checkpoints). A penalty receives only the keyword arguments
its signature names (:func:`extra_args`). Both are enabled by config as ``reg.<name>.weight=W``
and ``reg.<name>.interval=N``: a name belongs to one registry, which says whose loss it joins.
A positive value is a cost that player pays. The step wraps each enabled one in a
:class:`PenaltyTerm`: applied every ``interval`` updates of its player with gain
``weight * interval`` (lazy regularisation, Karras et al. 2020).
"""

from __future__ import annotations

import functools
import inspect
import math
from dataclasses import dataclass, field
from typing import Callable, Optional

import torch
from torch import Tensor, nn

from .augment import flip_translate
from .errors import GanforgeError
from .priors import mean_over_ranks, randn_rows
from .registry import Registry

Penalty = Callable[..., Tensor]
Labels = Optional[Tensor]
D_PENALTIES: Registry[Penalty] = Registry("reg")
G_PENALTIES: Registry[Penalty] = Registry("reg")
EXTRA_ARGS = ("real_logits", "fake_logits", "state")  # keyword arguments a penalty may ask for


@functools.lru_cache(maxsize=None)
def extra_args(fn: Penalty) -> frozenset[str]:
    """Which of :data:`EXTRA_ARGS` ``fn`` takes (read once from its signature)."""
    return frozenset(n for n in inspect.signature(fn).parameters if n in EXTRA_ARGS)


def penalty_player(name: str) -> str:
    """``"D"`` or ``"G"``: whose loss the penalty ``name`` joins; unknown names list every valid one."""
    if name in D_PENALTIES:
        return "D"
    if name in G_PENALTIES:
        return "G"
    valid = ", ".join(sorted(D_PENALTIES.names() + G_PENALTIES.names()))
    raise GanforgeError(f"reg: unknown name '{name}'; choose one of: {valid}")


@dataclass(frozen=True)
class PenaltyTerm:
    """A penalty as the step applies it: every ``interval`` updates of its player, with gain
    ``weight * interval`` so that its average strength is ``weight``."""

    name: str
    fn: Penalty
    weight: float
    interval: int = 1
    state: dict = field(default_factory=dict, compare=False)  # tensors a stateful penalty keeps

    def due(self, updates: int) -> bool:
        """Whether the update after ``updates`` earlier ones of its player carries this penalty."""
        return updates % self.interval == 0

    def __call__(self, *args, **given) -> Tensor:
        """The penalty's value; ``given`` offers keyword arguments, of which it receives those its
        signature names (and its ``state``)."""
        given["state"] = self.state
        return self.fn(*args, **{k: given[k] for k in extra_args(self.fn) if k in given})


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


@D_PENALTIES.register
def gradient_penalty(D: nn.Module, real: Tensor, fake: Tensor, gen: Optional[torch.Generator] = None,
                     y_real: Labels = None, y_fake: Labels = None) -> Tensor:
    """WGAN-GP (Gulrajani et al. 2017): E[(||grad D(x_hat)|| - 1)^2] on random interpolates
    (judged under the real samples' labels).

    A packed D (PacGAN, ``D.pac`` > 1) judges each pack of ``pac`` consecutive samples as one
    input, so the norm is the pack's (over its samples' gradients together) and each pack is
    mixed with one weight, as in CTGAN. Per-sample norms of 1 would let the pack's gradient
    grow to sqrt(pac): on the tabular model (pac 10) the per-pack penalty raised quality on
    breast_cancer from 0.828 to 0.850 at 3,000 steps (with the two transform fixes of the same
    change; benchmarks/results/tabular.md)."""
    pac = _pac(D)
    eps = torch.rand((real.shape[0] // pac,) + (1,) * (real.dim() - 1), generator=gen, device=real.device)
    eps = eps.repeat_interleave(pac, dim=0)  # one weight per pack, (B, 1, ...)
    x_hat = eps * real.detach() + (1 - eps) * fake.detach()  # (B, ...)
    sq = _grad_sq_norm(D, x_hat, y_real)  # (B,), or (K, B) for an ensemble
    sq = sq.reshape(*sq.shape[:-1], -1, pac).sum(-1)  # per pack: (B // pac,) or (K, B // pac)
    return (sq.add(1e-12).sqrt() - 1).pow(2).mean()


def _pac(D: nn.Module) -> int:
    """Samples per pack that D judges together (an ensemble: its members')."""
    members = getattr(D, "members", None)
    if members is not None:
        return int(getattr(members[0], "pac", 1))
    return int(getattr(D, "pac", 1))


@D_PENALTIES.register
def r1(D: nn.Module, real: Tensor, fake: Tensor, gen: Optional[torch.Generator] = None,
       y_real: Labels = None, y_fake: Labels = None) -> Tensor:
    """R1 (Mescheder et al. 2018): 1/2 E_real[||grad D(x)||^2]; ``weight`` is their gamma."""
    return 0.5 * _grad_sq_norm(D, real, y_real).mean()


@D_PENALTIES.register
def r2(D: nn.Module, real: Tensor, fake: Tensor, gen: Optional[torch.Generator] = None,
       y_real: Labels = None, y_fake: Labels = None) -> Tensor:
    """R2 (Mescheder et al. 2018): 1/2 E_fake[||grad D(x)||^2]."""
    return 0.5 * _grad_sq_norm(D, fake, y_fake).mean()


@D_PENALTIES.register
def dragan(D: nn.Module, real: Tensor, fake: Tensor, gen: Optional[torch.Generator] = None,
           y_real: Labels = None, y_fake: Labels = None) -> Tensor:
    """DRAGAN (Kodali et al. 2017): E[(||grad D(x_p)|| - 1)^2] at perturbed reals
    x_p = x + 0.5 std(x) U[0, 1), std over the whole batch as in the paper's code."""
    real = real.detach()
    noise = torch.rand(real.shape, generator=gen, device=real.device, dtype=real.dtype)  # (B, ...)
    x_p = real + 0.5 * real.std() * noise
    return (_grad_sq_norm(D, x_p, y_real).add(1e-12).sqrt() - 1).pow(2).mean()


LECAM_DECAY = 0.99  # of the moving averages of D's mean logits (Tseng et al. 2021)


@D_PENALTIES.register
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


@D_PENALTIES.register
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


PL_DECAY = 0.01  # step of the moving average of path lengths towards each batch's mean (StyleGAN2)


@G_PENALTIES.register
def path_length(G: nn.Module, z: Tensor, y: Labels = None, gen: Optional[torch.Generator] = None, *,
                state: Optional[dict] = None) -> Tensor:
    """Path-length regularisation (Karras et al. 2020, StyleGAN2, section 3.2):
    E[(||J_w^T u||_2 - a)^2], u ~ N(0, I) / sqrt(H W) a random image-space direction, J_w the
    Jacobian of G's output with respect to its latent w, and a a moving average of the lengths
    (``state['pl_mean']``, moved by 0.01 of the gap each call, as in the authors' code).

    It asks that a fixed-size step in w changes the image by a fixed amount, whatever the
    direction and the place: a smoother, better-conditioned generator. w is what G's
    ``synthesis`` takes when G is style-based (``G.mapping(z, y)``, (B, L, w_dim) or (B, w_dim));
    for any other G it is z itself. Vectors (B, d) count as 1x1 images.
    """
    state = {} if state is None else state
    mapping = getattr(G, "mapping", None)  # style-based G: penalise the synthesis network in w
    if mapping is not None:
        with torch.no_grad():
            w = mapping(z, y)
        w = w.detach().requires_grad_(True)
        fake = G.synthesis(w, y)
    else:
        w = z.detach().requires_grad_(True)
        fake = G(w, y)  # (B, *shape)
    spatial = math.prod(fake.shape[2:]) if fake.dim() > 2 else 1
    rows = getattr(G, "rows", (0, 1))  # (rank, world) under data parallelism: this rank's rows of a global draw
    u = randn_rows(rows, fake.shape, generator=gen, device=gen.device if gen is not None else fake.device)
    u = u.to(fake.device, fake.dtype) / math.sqrt(spatial)
    (grad,) = torch.autograd.grad((fake * u).sum(), w, create_graph=True)  # (B, [L,] w_dim)
    lengths = grad.pow(2).sum(-1)  # (B,) or (B, L)
    lengths = (lengths.mean(1) if lengths.dim() > 1 else lengths).sqrt()  # (B,)
    mean = state.get("pl_mean", torch.zeros((), device=lengths.device))
    state["pl_mean"] = mean.lerp(mean_over_ranks(lengths.detach().to(mean.dtype).mean(), rows), PL_DECAY)
    return (lengths - state["pl_mean"]).pow(2).mean()


@G_PENALTIES.register
def cond_ce(G: nn.Module, z: Tensor, y: Labels = None, gen: Optional[torch.Generator] = None) -> Tensor:
    """The tabular generator's conditional loss (Xu et al. 2019): cross-entropy between the
    category G was asked for and its logits on that column (``G.cond_loss``); 0 for other G's."""
    fn = getattr(G, "cond_loss", None)
    if fn is None or y is None:
        return z.new_zeros(())
    return fn(z, y)
