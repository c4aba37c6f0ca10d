"""Builders: Config -> data source, G, D, loss, penalties, optimizers.

Every registry name in the config is resolved here, so an unknown name fails before a run
directory is written (:func:`check_names`).
"""

from __future__ import annotations

from typing import Optional

import torch
from torch import nn

from .augment import Augment, initial_p, parse_policy
from .config import Config, OptimConfig
from .data import DATASETS, DataSource, Finite
from .errors import GanforgeError
from .losses import LOSSES, AdversarialLoss, build_loss, smooth_real_labels
from .models import MODELS
from .models.ensemble import DiscriminatorEnsemble
from .priors import Prior
from .regularizers import REGULARIZERS
from .train.ema import EMA
from .train.step import GAN, PenaltyTerm


def check_names(cfg: Config) -> None:
    """Raise a one-line GanforgeError for any unknown registry name in ``cfg``."""
    DATASETS.get(cfg.data.name)
    MODELS.get(cfg.model.name)
    LOSSES.get(cfg.loss.name)
    for name in cfg.reg:
        REGULARIZERS.get(name)


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise GanforgeError(f"train.device={name}: CUDA is not available on this machine; use train.device=cpu")
    if name == "mps" and not torch.backends.mps.is_available():
        raise GanforgeError("train.device=mps: MPS is not available on this machine; use train.device=cpu")
    return torch.device(name)


def build_data(cfg: Config) -> DataSource:
    data = DATASETS.get(cfg.data.name)(cfg.data, cfg.train.seed)
    if cfg.data.limit:
        if not isinstance(data, Finite):
            raise GanforgeError(f"data.limit: data.name={cfg.data.name} is an endless source of samples; "
                                "a limit applies to finite datasets (images, a points file)")
        data.keep_first(cfg.data.limit)
    return data


def n_classes(cfg: Config, data: DataSource) -> int:
    """The number of classes G and D are conditioned on: 0 for an unconditional GAN."""
    if not cfg.model.conditional:
        return 0
    if not data.n_classes:
        raise GanforgeError(f"model.conditional=true needs a labelled dataset; data.name={cfg.data.name} has no labels")
    return data.n_classes


def build_models(cfg: Config, shape: tuple, classes: int = 0) -> tuple[nn.Module, nn.Module]:
    G, D = MODELS.get(cfg.model.name)(cfg.model, tuple(shape), classes)
    if cfg.model.d_ensemble > 1:
        D = build_ensemble(cfg, shape, classes, D)
    return G, D


def build_ensemble(cfg: Config, shape: tuple, classes: int, D: nn.Module) -> DiscriminatorEnsemble:
    """``model.d_ensemble=K``: D and K - 1 more D's, each initialised independently (drawn
    after D, so member 0 is the D of a single-D run with the same seed). A model builder
    returns (G, D); the G's built alongside the extra members are discarded."""
    build = MODELS.get(cfg.model.name)
    return DiscriminatorEnsemble([D] + [build(cfg.model, tuple(shape), classes)[1] for _ in range(cfg.model.d_ensemble - 1)])


def build_penalties(cfg: Config, loss: AdversarialLoss) -> tuple[PenaltyTerm, ...]:
    """The configured regularisers, plus the one the loss implies (wgan_gp's penalty)."""
    weights = {name: (p.weight, p.interval) for name, p in cfg.reg.items()}
    if loss.penalty is not None and loss.penalty not in weights:
        weights[loss.penalty] = (cfg.loss.gp_weight, 1)
    return tuple(
        PenaltyTerm(name, REGULARIZERS.get(name), w, interval)
        for name, (w, interval) in sorted(weights.items())
        if w > 0
    )


IMAGES_ONLY = ("bcr",)  # penalties that transform images


def check_images_only(cfg: Config, shape: tuple) -> None:
    """Refuse augmentation and image-only penalties on vector data (samples of ``shape``); the
    CLI calls this right after reading the data, before a run directory is written."""
    if len(shape) == 3:
        return
    for name in IMAGES_ONLY:
        if name in cfg.reg and cfg.reg[name].weight > 0:
            raise GanforgeError(f"reg.{name}: it transforms images, and data.name={cfg.data.name} gives samples "
                                f"of shape {tuple(shape)}; use it with image data")
    if parse_policy(cfg.augment.policy):
        raise GanforgeError(f"augment.policy={cfg.augment.policy}: augmentation applies to images, and data.name="
                            f"{cfg.data.name} gives samples of shape {tuple(shape)}; leave augment.policy empty")


def build_augment(cfg: Config, shape: tuple, device: torch.device) -> Optional[Augment]:
    """The augmentation of D's inputs (``augment.*``), or None when ``augment.policy`` is empty."""
    check_images_only(cfg, shape)
    a = cfg.augment
    policy = parse_policy(a.policy)
    if not policy:
        return None
    return Augment(policy, initial_p(a.p, a.ada_target > 0), a.ada_target, a.ada_interval, a.ada_kimg, device)


def lazy_scale(penalties: tuple[PenaltyTerm, ...]) -> float:
    """Lazy regularisation (Karras et al. 2020, StyleGAN2): with a penalty every N D steps, D's
    optimizer takes lr x c and Adam betas ** c, c = N / (N + 1), as if the N plain steps and the
    penalty step were N + 1 steps of one optimizer. 1 without lazy penalties."""
    intervals = {p.interval for p in penalties if p.interval > 1}
    if len(intervals) > 1:
        raise GanforgeError(f"reg.*.interval: lazy penalties must share one interval, got {sorted(intervals)}")
    return next((n / (n + 1) for n in intervals), 1.0)


def _optimizer(params, o: OptimConfig, lr: float, betas: tuple) -> torch.optim.Optimizer:
    # optim.impl: foreach (multi-tensor kernels, the default), fused (one kernel per step; no host
    # sync under an fp16 gradient scaler) or loop (one tensor at a time)
    impl = {"foreach": {"foreach": True}, "fused": {"fused": True}, "loop": {"foreach": False}}[o.impl]
    if o.name == "adam":
        return torch.optim.Adam(params, lr=lr, betas=tuple(betas), **impl)
    return torch.optim.SGD(params, lr=lr, momentum=o.momentum, **impl)


def build_gan(cfg: Config, data, device: torch.device) -> GAN:
    """Models (initialised from torch's global RNG, which the caller seeds), optimizers, etc."""
    classes = n_classes(cfg, data)
    G, D = build_models(cfg, data.shape, classes)
    G, D = G.to(device), D.to(device)
    loss = smooth_real_labels(build_loss(cfg.loss.name), cfg.loss.label_smoothing)
    o = cfg.optim
    gen = torch.Generator(device=device).manual_seed(cfg.train.seed + 1)  # noise for the game
    penalties = build_penalties(cfg, loss)
    c = lazy_scale(penalties)
    d_betas = tuple(b ** c for b in o.d_betas)  # sgd ignores them (its lr still takes c)
    return GAN(
        G=G,
        D=D,
        opt_g=_optimizer(G.parameters(), o, o.g_lr, o.g_betas),
        opt_d=_optimizer(D.parameters(), o, o.d_lr * c, d_betas),
        loss=loss,
        prior=Prior(cfg.model.prior, cfg.model.z_dim),
        gen=gen,
        penalties=penalties,
        clip=cfg.loss.clip if loss.clip_weights else 0.0,
        ema=EMA(G, cfg.train.ema_beta) if cfg.train.ema_beta > 0 else None,
        n_classes=classes,
        aug=build_augment(cfg, data.shape, device),
        d_lr_scale=c,
        unroll_steps=cfg.train.unroll_steps,
    )
