"""Builders: Config -> data source, models, penalties, augmentation and optimizers. The game
that trains them is built by its own class, registered where it lives (``train/games``).

Every named choice in the config is resolved here against its registry (:data:`NAMED`), so an
unknown name fails with a one-line error listing the valid ones before a run directory is
written (:func:`check_names`); what a model can build is asked of its spec
(:func:`check_compatible`), and a config whose model does not build its data's kind gets the
kind's default model (:func:`resolve_model`).
"""

from __future__ import annotations

from typing import Iterable, Optional

import torch
from torch import nn

from . import conditions
from .augment import OPS, Augment, initial_p, parse_policy
from .conditions import ConditionSpec
from .config import Config, OptimConfig, load_config, to_dict
from .data import DATASETS, DataSource, Finite, PartlyLabelled, Streamed
from .data.kinds import DataKind, dataset_kind
from .errors import GanforgeError
from .losses import LOSSES, AdversarialLoss
from .models import MODELS
from .models.base import ModelSpec
from .models.ensemble import DiscriminatorEnsemble
from .penalties import D_PENALTIES, G_PENALTIES, PenaltyTerm, penalty_player
from .priors import PRIORS
from .registry import Registry
from .train.runtime import PRECISIONS
from .train.schedule import SCHEDULES

OPTIMIZERS: Registry = Registry("optim.name")
OPTIMIZERS.add("adam", lambda params, o, lr, betas, impl: torch.optim.Adam(params, lr=lr, betas=tuple(betas), **impl))
OPTIMIZERS.add("sgd", lambda params, o, lr, betas, impl: torch.optim.SGD(params, lr=lr, momentum=o.momentum, **impl))
# optim.impl: foreach (multi-tensor kernels, the default), fused (one kernel per step; no host
# sync under an fp16 gradient scaler) or loop (one tensor at a time)
OPTIM_IMPLS: Registry = Registry("optim.impl")
OPTIM_IMPLS.add("foreach", {"foreach": True})
OPTIM_IMPLS.add("fused", {"fused": True})
OPTIM_IMPLS.add("loop", {"foreach": False})

# config key -> the registry of its allowed values (the registry's kind is the key itself)
NAMED = {r.kind: r for r in (DATASETS, MODELS, LOSSES, PRIORS, OPTIMIZERS, OPTIM_IMPLS, SCHEDULES, PRECISIONS)}


def _value(cfg: Config, key: str):
    section, name = key.split(".")
    return getattr(getattr(cfg, section), name)


def check_names(cfg: Config) -> None:
    """Raise a one-line GanforgeError for any unknown name in ``cfg``."""
    for key, registry in NAMED.items():
        registry.get(_value(cfg, key))
    lazy: dict[str, dict[str, int]] = {"D": {}, "G": {}}  # player -> penalty -> interval
    for name, p in cfg.reg.items():
        player = penalty_player(name)
        if p.weight > 0 and p.interval > 1:
            lazy[player][name] = p.interval
    for player, intervals in lazy.items():
        if len(set(intervals.values())) > 1:
            keys = " and ".join(f"reg.{n}.interval={i}" for n, i in sorted(intervals.items()))
            raise GanforgeError(f"{keys}: lazy penalties on {player} must share one interval, since {player}'s "
                                "learning rate and betas are rescaled for it (Karras et al. 2020); give them the "
                                "same interval")
    for op in parse_policy(cfg.augment.policy):
        OPS.get(op)


def model_spec(cfg: Config) -> ModelSpec:
    return MODELS.get(cfg.model.name)


def resolve_model(cfg: Config, named: bool, keys: Iterable[str] = ()) -> Config:
    """``cfg`` with the model its data's kind needs: when ``model.name`` does not build the kind
    of data that ``data.name`` gives and was not ``named`` together with (or after) the data,
    the kind's default model (``DataKind.default_model``) takes its place; a named model that
    does not build it is a one-line error naming the kind. D's normalisation, chosen for the
    model that gave way (the default job's spectral norm), goes back to none unless ``keys``
    (the overrides' dotted keys) name it; so do the augmentation ops the new kind does not take
    (the default job's rotation of digits), unless ``augment.policy`` is named."""
    kind = dataset_kind(cfg.data.name)
    spec = model_spec(cfg)
    if kind.name in spec.kinds:
        return cfg
    if named:
        spec.check_kind(cfg, kind)
    norm = [] if "model.d_norm" in keys else ["model.d_norm=none"]
    ops = parse_policy(cfg.augment.policy)
    kept = [op for op in ops if op in kind.augment_ops]
    aug = [] if "augment.policy" in keys or kept == list(ops) else [f'augment.policy="{",".join(kept)}"']
    return load_config(base=to_dict(cfg), overrides=[f"model.name={kind.default_model}", *norm, *aug])


def fit_to_data(cfg: Config, data, default_job: bool, overrides: Iterable[str] = ()) -> Config:
    """``cfg`` checked against the data it will train on (:func:`check_compatible`). The default
    job is conditional because its digits have labels; on data without labels (``ganforge train
    data.name=sines``), with ``model.conditional`` named in no override, it trains an
    unconditional GAN rather than refusing. A preset or override that asks for it is still refused."""
    keys = {o.split("=", 1)[0].strip() for o in overrides}
    if default_job and cfg.model.conditional and data.condition_spec is None and "model.conditional" not in keys:
        cfg = load_config(base=to_dict(cfg), overrides=["model.conditional=false"])
    check_compatible(cfg, data.shape, data.kind)
    return cfg


def check_compatible(cfg: Config, shape: tuple, kind: Optional[DataKind] = None) -> None:
    """What the data (samples of ``shape``, of ``kind``: by default the one ``data.name``
    declares) and the model allow: the model's spec, and augmentation and penalties that
    transform images only where the kind takes them. The CLI calls this right after reading
    the data, before a run directory is written."""
    kind = kind or dataset_kind(cfg.data.name)
    spec = model_spec(cfg)
    spec.check_kind(cfg, kind)
    spec.check(cfg, shape)
    if not kind.spatial:
        for name in IMAGES_ONLY:
            if name in cfg.reg and cfg.reg[name].weight > 0:
                raise GanforgeError(f"reg.{name}: it transforms images, and data.name={cfg.data.name} gives "
                                    f"{kind.name} samples of shape {tuple(shape)}; use it with image data")
    ops = [op for op in parse_policy(cfg.augment.policy) if op not in kind.augment_ops]
    if ops:
        raise GanforgeError(f"augment.policy={cfg.augment.policy}: augmentation applies to images, and data.name="
                            f"{cfg.data.name} gives {kind.name} samples of shape {tuple(shape)}; leave augment.policy "
                            "empty" + (f" or use {', '.join(kind.augment_ops)}" if kind.augment_ops else ""))


IMAGES_ONLY = ("bcr",)  # penalties that transform images


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
    if cfg.data.workers and not isinstance(data, Streamed):
        raise GanforgeError(f"data.workers={cfg.data.workers}: data.name={cfg.data.name} is held in memory and its "
                            "batches are cut there; worker processes read built datasets (data.name=built, made by "
                            "ganforge dataset build); leave data.workers=0")
    if cfg.data.limit:
        if not isinstance(data, (Finite, Streamed)):
            raise GanforgeError(f"data.limit: data.name={cfg.data.name} is an endless source of samples; "
                                "a limit applies to finite datasets (images, a points file)")
        data.keep_first(cfg.data.limit)
    if cfg.data.labels_per_class:
        spec = model_spec(cfg)
        if not spec.classifies:
            raise GanforgeError(f"data.labels_per_class={cfg.data.labels_per_class}: model.name={cfg.model.name} does "
                                "not learn from partly labelled data; use a semi-supervised model (model.name="
                                "ssl_dcgan, preset digits_ssl) or leave data.labels_per_class=0")
        if not isinstance(data, PartlyLabelled):
            raise GanforgeError(f"data.labels_per_class: data.name={cfg.data.name} has no labelled training set to "
                                "keep labels of; use labelled images (digits, a folder of class sub-folders, an .npz)")
        data.keep_labels(cfg.data.labels_per_class)
    return data


def condition(cfg: Config, data: DataSource) -> Optional[ConditionSpec]:
    """What G and D are conditioned on: the data's condition spec (``ganforge.conditions``) when
    ``model.conditional``, else None."""
    if not cfg.model.conditional:
        return None
    if data.condition_spec is None:
        raise GanforgeError(f"model.conditional=true needs a labelled dataset; data.name={cfg.data.name} has no labels")
    return data.condition_spec


def n_classes(cfg: Config, data: DataSource) -> int:
    """The number of classes (ids) G and D are conditioned on: 0 for an unconditional GAN, and 0
    for a model that takes its data's text or attributes itself (``build_models``' ``condition``)."""
    spec = condition(cfg, data)
    if spec is not None and spec.kind not in conditions.IDS and spec.kind in model_spec(cfg).condition_kinds:
        return 0
    return conditions.n_classes(spec)


def built_classes(cfg: Config, data: DataSource) -> int:
    """The class count a model's builder gets: the data's classes for a model whose D classifies
    them (``ModelSpec.classifies``: a semi-supervised GAN, G unconditional), else :func:`n_classes`."""
    return data.n_classes if model_spec(cfg).classifies else n_classes(cfg, data)


def build_models(cfg: Config, shape: tuple, classes: int = 0, layout: Optional[dict] = None,
                 cond: Optional[ConditionSpec] = None) -> tuple[nn.Module, nn.Module]:
    """``layout``: a table's column layout (``data.layout``), passed only to models that take it;
    ``cond``: the run's condition spec, passed as ``condition=`` to a model that takes its kind
    (text, attributes: ``ModelSpec.condition_kinds``)."""
    spec = model_spec(cfg)
    spec.check(cfg, tuple(shape))
    extra = {"layout": layout} if layout is not None else {}
    if cond is not None and cond.kind not in conditions.IDS and cond.kind in spec.condition_kinds:
        extra["condition"] = cond
    G, D = spec.build(cfg.model, tuple(shape), classes, **extra)
    if cfg.model.d_ensemble > 1:
        # K - 1 more D's, each initialised independently (drawn after D, so member 0 is the D of a
        # single-D run with the same seed); the G's built alongside them are discarded
        more = [spec.build(cfg.model, tuple(shape), classes, **extra)[1] for _ in range(cfg.model.d_ensemble - 1)]
        D = DiscriminatorEnsemble([D] + more)
    return G, D


def build_penalties(cfg: Config, loss: AdversarialLoss) -> tuple[tuple[PenaltyTerm, ...], tuple[PenaltyTerm, ...]]:
    """(penalties on D, penalties on G): the configured ones with a weight, plus the one the loss
    implies (wgan_gp's gradient penalty on D)."""
    weights = {name: (p.weight, p.interval) for name, p in cfg.reg.items()}
    if loss.penalty is not None and loss.penalty not in weights:
        weights[loss.penalty] = (cfg.loss.gp_weight, 1)
    terms = {"D": [], "G": []}
    for name, (w, interval) in sorted(weights.items()):
        if w > 0:
            player = penalty_player(name)
            fn = (D_PENALTIES if player == "D" else G_PENALTIES).get(name)
            terms[player].append(PenaltyTerm(name, fn, w, interval))
    return tuple(terms["D"]), tuple(terms["G"])


def build_augment(cfg: Config, shape: tuple, device: torch.device) -> Optional[Augment]:
    """The augmentation of D's inputs (``augment.*``), or None when ``augment.policy`` is empty."""
    check_compatible(cfg, shape)
    a = cfg.augment
    policy = parse_policy(a.policy)
    if not policy:
        return None
    return Augment(policy, initial_p(a.p, a.ada_target > 0), a.ada_target, a.ada_interval, a.ada_kimg, device)


def lazy_scale(penalties: tuple[PenaltyTerm, ...]) -> float:
    """Lazy regularisation (Karras et al. 2020, StyleGAN2): with a penalty every N updates of a
    player, its optimizer takes lr x c and Adam betas ** c, c = N / (N + 1), as if the N plain
    steps and the penalty step were N + 1 steps of one optimizer. 1 without lazy penalties."""
    intervals = {p.interval for p in penalties if p.interval > 1}
    if len(intervals) > 1:
        raise GanforgeError(f"reg.*.interval: lazy penalties on one player must share one interval, got {sorted(intervals)}")
    return next((n / (n + 1) for n in intervals), 1.0)


def build_optimizer(params, o: OptimConfig, lr: float, betas: tuple) -> torch.optim.Optimizer:
    """``optim.name`` over ``params`` at ``lr`` and ``betas`` (Adam's; SGD takes ``optim.momentum``)."""
    return OPTIMIZERS.get(o.name)(params, o, lr, betas, OPTIM_IMPLS.get(o.impl))

