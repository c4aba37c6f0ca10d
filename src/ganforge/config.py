"""Configuration: frozen dataclasses, YAML presets and dotted overrides.

The dataclasses below are the single source of truth for every setting. OmegaConf merges, in
order, the dataclass defaults, a preset (a YAML file shipped in ``ganforge/presets`` or a user's
path) and ``key=value`` overrides, checks key names and types against the dataclasses, and
returns a frozen :class:`Config`. :func:`validate` then checks ranges and combinations. Every
problem becomes a one-line :class:`GanforgeError` naming the key and what is allowed.

Names that refer to registries (``loss.name``, ``data.name``, ``model.prior``,
``optim.schedule``, ...) and what a model can build (``model.d_norm``, image sizes) are checked
by the builders (``ganforge.build``), which know the registries and the models' specs; the
config stays import-free and lists no allowed names of its own.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass, field, fields, is_dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Dict, Optional, Sequence, Tuple, Union, get_args, get_origin, get_type_hints

import yaml
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from .errors import GanforgeError

DEFAULT_PRESET = "digits"  # `ganforge train` with no arguments: a DCGAN on the bundled digits


@dataclass(frozen=True)
class DataConfig:
    name: str = "grid25"  # a dataset registry key: ring8, grid25, spiral, points
    path: Optional[str] = None  # the user's data: points (.csv/.npy), folder, npz, idx, cifar10
    resolution: int = 32  # images: resized to resolution x resolution (a power of two, 8..128)
    channels: int = 0  # images: 1 (grey) or 3 (RGB); 0 keeps the dataset's own
    limit: int = 0  # finite datasets: train on the first N items only (small-data studies); 0 = all


@dataclass(frozen=True)
class ModelConfig:
    name: str = "mlp"  # a model registry key
    prior: str = "normal"  # p(z): normal (N(0, I)) or uniform (U[-1, 1]^z_dim)
    z_dim: int = 16  # size of the noise z
    g_width: int = 128  # G's width: mlp hidden units; dcgan channels next to the image (x2 per halving, up to 8x)
    g_depth: int = 3  # mlp: G's hidden layers
    d_width: int = 128  # D's width, as g_width
    d_depth: int = 3  # mlp: D's hidden layers
    pac: int = 1  # PacGAN packing (Lin et al. 2018): D judges pac samples at once
    conditional: bool = False  # condition G and D on the dataset's class labels
    d_norm: str = "none"  # D's normalisation: none, batch, spectral, instance or layer, as the model offers
    g_cond: str = "concat"  # conditional G: concat (embedding to z) or cbn (conditional batch norm), as the model offers
    d_cond: str = "projection"  # conditional D: projection or concat, as the model offers
    g_spectral: bool = False  # spectral norm on G's layers too (SAGAN, Zhang et al. 2019)
    mbstd: int = 0  # minibatch std group size (Karras et al. 2018): an extra feature before D's head; 0 = off
    d_ensemble: int = 1  # K independently initialised D's; G plays against their mean loss


@dataclass(frozen=True)
class LossConfig:
    name: str = "non_saturating"  # a loss registry key
    clip: float = 0.0  # wasserstein: clip D's weights to [-clip, clip] after each step; 0 = off
    gp_weight: float = 10.0  # wgan_gp: lambda of the gradient penalty (Gulrajani et al. 2017)
    label_smoothing: float = 0.0  # minimax, non_saturating: D's real target 1 - s (Salimans et al. 2016)


@dataclass(frozen=True)
class PenaltyConfig:
    """A regulariser on D: added to D's loss with ``weight``, every ``interval`` D steps.

    With ``interval > 1`` the penalty is lazy (Karras et al. 2020): it is applied with gain
    ``weight * interval`` so that its average strength is unchanged.
    """

    weight: float = 0.0  # gain of the penalty in its player's loss; 0 = off
    interval: int = 1  # apply it every N updates of its player (lazy, gain weight x N)


@dataclass(frozen=True)
class AugmentConfig:
    """Differentiable augmentation of everything D sees, reals and fakes, in both updates:
    DiffAugment (Zhao et al. 2020) with a fixed ``p``, or ADA (Karras et al. 2020) when
    ``ada_target > 0``. Images only. See ``ganforge.augment``."""

    policy: str = ""  # comma-separated subset of translation, cutout, color; empty = off
    p: Optional[float] = None  # chance that each operation hits a sample; unset: 1 (fixed) or 0 (ADA's start)
    ada_target: float = 0.0  # ADA: target of E[sign(D(real))], e.g. 0.6; 0 = p stays fixed
    ada_interval: int = 4  # ADA: D updates between adjustments of p
    ada_kimg: float = 100.0  # ADA: thousands of real images for p to cross [0, 1] (StyleGAN2-ADA: 500)


@dataclass(frozen=True)
class OptimConfig:
    name: str = "adam"  # adam or sgd
    g_lr: float = 2e-4  # G's learning rate
    d_lr: float = 2e-4  # D's learning rate
    g_betas: Tuple[float, float] = (0.5, 0.99)  # adam: G's betas
    d_betas: Tuple[float, float] = (0.5, 0.99)  # adam: D's betas
    momentum: float = 0.9  # sgd: momentum of both players
    schedule: str = "constant"  # learning rates over train.steps: constant, linear or cosine decay
    schedule_start: int = 0  # the decay runs over the steps after this one (set by --resume --extend)
    schedule_steps: int = 0  # ... for this many steps, then holds its final rate; 0 = up to train.steps
    impl: str = "foreach"  # optimizer kernels: foreach (multi-tensor), fused (one kernel per step) or loop


@dataclass(frozen=True)
class TrainConfig:
    steps: int = 5000  # generator updates
    batch_size: int = 256  # real samples per D step (and as many fake ones)
    d_steps: int = 1  # k: discriminator updates per generator update
    seed: int = 0  # seeds weights, noise and data order: same seed on CPU, same numbers
    device: str = "cpu"  # cpu, cuda, cuda:N or auto
    threads: int = 0  # torch CPU threads; 0 = torch's default
    ema_beta: float = 0.0  # EMA of G's weights (with ramp-up); 0 = off
    instance_noise: float = 0.0  # std of Gaussian noise on D's inputs, in model units (Sonderby et al. 2016); 0 = off
    instance_noise_steps: int = 0  # ... annealed linearly to 0 over this many steps; 0 = over train.steps
    unroll_steps: int = 0  # unrolled GAN (Metz et al. 2016): G plays D after K look-ahead updates; 0 = off
    log_every: int = 50  # steps between log records (and doctor checks)
    ckpt_every: int = 1000  # steps between checkpoints; 0 = only at the end
    keep_ckpts: int = 3  # newest checkpoints kept on disk
    sample_every: int = 1000  # sample plots; 0 = only at the end
    progress: bool = True  # progress bar on stderr
    tensorboard: bool = True  # TensorBoard event files in RUN/tb
    # speed and scale (README, "Speed and scale"); none of them changes the single-process fp32 defaults
    precision: str = "fp32"  # fp32; bf16 (autocast); fp16 (autocast and a gradient scaler per player)
    channels_last: bool = False  # NHWC memory format for the convolutions of image models
    compile: bool = False  # torch.compile G and D (penalties run the plain D: no double backward)
    data_on_device: str = "auto"  # hold a finite dataset on the device: auto (CUDA, up to 1 GiB), true, false
    sync_bn: bool = False  # torchrun: SyncBatchNorm, batch statistics over the global batch (CUDA)
    dist_backend: str = "auto"  # torchrun: auto (nccl on CUDA, gloo on CPU), nccl or gloo


@dataclass(frozen=True)
class EvalConfig:
    n_samples: int = 2500  # samples per evaluation
    every: int = 500  # quality metrics during training, on fixed noise; 0 = only at the end
    seed: int = 1234  # seed of the evaluation's fixed noise and real reference sample
    # images: a local Inception-v3 weights file (torch-fidelity's pt_inception-2015-12-05-*.pth)
    # for FID/KID in Inception's space; never downloaded. Unset: a classifier's feature space.
    inception_weights: Optional[str] = None
    inception: bool = False  # images: fetch torch-fidelity's Inception-v3 weights once (opt-in download) for FID/KID


@dataclass(frozen=True)
class DoctorConfig:
    """The training doctor: probes and failure detectors at every log step, and recovery
    from divergence (see ``ganforge.diagnostics``)."""

    enabled: bool = True  # probes and detectors at every log step; off: only NaN/Inf checks
    probe_n: int = 256  # samples per probe: fixed noise, training reals, held-out reals
    patience: int = 3  # consecutive log steps a condition must hold to raise or clear an alarm
    warmup: int = 10  # log steps before alarms about the state of the game can rise
    window: int = 20  # log steps over which oscillation and equilibrium are judged
    collapse_diversity: float = 0.5  # fake/real diversity below this is mode collapse
    overfit_gap: float = 0.15  # mean D(train reals) - D(held-out reals) above this is overfitting
    stop_after: int = 0  # stop a run (exit 3) whose mode collapse has lasted this many log steps; 0 = never
    max_retries: int = 3  # divergence: roll back to the last good state at most this often
    retry_lr_factor: float = 0.5  # ... multiplying both learning rates by this each time


@dataclass(frozen=True)
class Config:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    doctor: DoctorConfig = field(default_factory=DoctorConfig)
    reg: Dict[str, PenaltyConfig] = field(default_factory=dict)  # regulariser name -> weight
    augment: AugmentConfig = field(default_factory=AugmentConfig)


# ----------------------------------------------------------------------------- loading


def preset_names() -> list[str]:
    folder = resources.files("ganforge") / "presets"
    return sorted(p.name[: -len(".yaml")] for p in folder.iterdir() if p.name.endswith(".yaml"))


def _read_preset(preset: str) -> Any:
    """A preset is a name shipped with ganforge or the path of a user's YAML file."""
    shipped = resources.files("ganforge") / "presets" / f"{preset}.yaml"
    if shipped.is_file():
        text, where = shipped.read_text(), f"preset '{preset}'"
    elif preset.endswith((".yaml", ".yml")) and Path(preset).is_file():
        text, where = Path(preset).read_text(), preset
    else:
        raise GanforgeError(
            f"--preset: unknown preset '{preset}'; choose one of: {', '.join(preset_names())} "
            "or give the path of a .yaml file"
        )
    try:
        return yaml.safe_load(text) or {}, where
    except yaml.YAMLError as e:
        raise GanforgeError(f"{where}: not valid YAML ({_one_line(e)})") from None


def _one_line(e: BaseException) -> str:
    return str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__


_TYPE_NAMES = {int: "an integer", float: "a number", bool: "true or false", str: "a string"}


def _describe(tp: Any) -> str:
    """How a field's type reads in an error message."""
    if get_origin(tp) is Union:  # Optional[X]
        inner = [a for a in get_args(tp) if a is not type(None)]
        return f"{_describe(inner[0])} or null" if len(inner) == 1 else "a value"
    if get_origin(tp) in (tuple, Tuple):
        return f"a list of {len(get_args(tp))} numbers, e.g. [0.5, 0.99]"
    return _TYPE_NAMES.get(tp, getattr(tp, "__name__", str(tp)))


def _field_type(key: str) -> Any:
    """The declared type of a dotted config key, e.g. 'train.steps' -> int (None if unknown)."""
    tp: Any = Config
    for part in key.split("."):
        if is_dataclass(tp):
            tp = get_type_hints(tp).get(part)
        elif get_origin(tp) in (dict, Dict):
            tp = get_args(tp)[1]
        else:
            return None
    return tp


def _check_keys(part: Any, tp: Any, prefix: str, where: str) -> None:
    """Walk a user's part (plain containers) against the dataclasses: unknown keys, a value where a
    section belongs, a list of the wrong length. Scalar types are left to OmegaConf's conversion."""
    key = prefix.rstrip(".")
    if is_dataclass(tp) or get_origin(tp) in (dict, Dict):
        if not isinstance(part, dict):
            raise GanforgeError(f"{where}: {key or 'the config'}: expected a section of keys, not a single value")
        for k, v in part.items():
            if is_dataclass(tp):
                hints = get_type_hints(tp)
                if k not in hints:
                    near = difflib.get_close_matches(str(k), list(hints), n=2)
                    hint = f"; did you mean {' or '.join(prefix + n for n in near)}?" if near else \
                        f"; {key or 'the config'} has: {', '.join(hints)}"
                    raise GanforgeError(f"{where}: unknown key {prefix}{k}{hint}")
                _check_keys(v, hints[k], f"{prefix}{k}.", where)
            else:
                _check_keys(v, get_args(tp)[1], f"{prefix}{k}.", where)
    elif get_origin(tp) in (tuple, Tuple) and not (isinstance(part, (list, tuple)) and len(part) == len(get_args(tp))):
        raise GanforgeError(f"{where}: {key}={part!r}: expected {_describe(tp)}")


def _merge(cfg: DictConfig, part: Any, where: str) -> DictConfig:
    """``part`` (plain containers) merged over ``cfg``; every problem is one line naming the key."""
    _check_keys(part, Config, "", where)
    try:
        return OmegaConf.merge(cfg, OmegaConf.create(part))
    except OmegaConfBaseException as e:  # a scalar of the wrong type: say what the key takes
        key = getattr(e, "full_key", None)
        if not key:
            raise GanforgeError(f"{where}: {_one_line(e)}") from None
        value = OmegaConf.select(OmegaConf.create(part), key, default=None)
        raise GanforgeError(f"{where}: {key}={value!r}: expected {_describe(_field_type(key))}") from None


def load_config(
    preset: Optional[str] = None,
    overrides: Sequence[str] = (),
    base: Optional[dict] = None,
) -> Config:
    """Resolve defaults <- (``base`` or preset) <- ``overrides`` into a validated Config.

    ``base`` is a plain dict, e.g. a run directory's stored ``config.yaml`` when resuming.
    """
    schema = OmegaConf.structured(Config)
    OmegaConf.set_readonly(schema, False)  # frozen dataclasses give a read-only schema
    if base is not None:
        cfg = _merge(schema, base, "stored config")
    else:
        part, where = _read_preset(preset or DEFAULT_PRESET)
        cfg = _merge(schema, part, where)
    for item in overrides:
        if "=" not in item or item.startswith("="):
            raise GanforgeError(f"override '{item}': expected key=value, e.g. train.steps=1000")
        try:
            dot = OmegaConf.to_container(OmegaConf.from_dotlist([item]))
        except OmegaConfBaseException as e:
            raise GanforgeError(f"override '{item}': {_one_line(e)}") from None
        cfg = _merge(cfg, dot, f"override '{item}'")
    try:
        resolved = OmegaConf.to_object(cfg)
    except OmegaConfBaseException as e:
        key = getattr(e, "full_key", None)
        raise GanforgeError(f"config: {key + ': ' if key else ''}{_one_line(e)}") from None
    validate(resolved)
    return resolved


def to_dict(cfg: Config) -> dict:
    """A plain, YAML-safe dict of the config (tuples become lists)."""
    return OmegaConf.to_container(OmegaConf.structured(cfg), resolve=True)


def to_yaml(cfg: Config) -> str:
    return yaml.safe_dump(to_dict(cfg), sort_keys=False)


# ----------------------------------------------------------------------------- validation


def _check(ok: bool, key: str, allowed: str, value: Any) -> None:
    if not ok:
        raise GanforgeError(f"config: {key}={value!r} is not allowed; {allowed}")


def _all_finite(obj: Any, prefix: str = "") -> None:
    """NaN or infinite numbers are never meaningful in a config."""
    if is_dataclass(obj):
        for f in fields(obj):
            _all_finite(getattr(obj, f.name), f"{prefix}{f.name}.")
    elif isinstance(obj, dict):
        for k, v in obj.items():
            _all_finite(v, f"{prefix}{k}.")
    elif isinstance(obj, (tuple, list)):
        for v in obj:
            _all_finite(v, prefix)
    elif isinstance(obj, float) and not math.isfinite(obj):
        raise GanforgeError(f"config: {prefix[:-1]}={obj} is not allowed; it must be a finite number")


def _has_penalty(cfg: Config) -> bool:
    """Whether D's loss holds a gradient penalty (a weighted regulariser or wgan_gp's own)."""
    return cfg.loss.name == "wgan_gp" and cfg.loss.gp_weight > 0 or any(p.weight > 0 for p in cfg.reg.values())


def validate(cfg: Config) -> None:
    """Range and combination checks that the type system cannot express."""
    _all_finite(cfg)
    m, o, t, e = cfg.model, cfg.optim, cfg.train, cfg.eval
    for key in ("z_dim", "g_width", "d_width"):
        _check(getattr(m, key) >= 1, f"model.{key}", "it must be >= 1", getattr(m, key))
    for key in ("g_depth", "d_depth"):
        _check(getattr(m, key) >= 0, f"model.{key}", "it must be >= 0", getattr(m, key))
    _check(cfg.data.limit >= 0, "data.limit", "it must be >= 0 (0 = all items)", cfg.data.limit)
    _check(cfg.data.channels in (0, 1, 3), "data.channels", "use 1, 3 or 0 (as stored)", cfg.data.channels)
    _check(cfg.data.resolution >= 1, "data.resolution", "it must be >= 1 (each model says which sizes it builds)",
           cfg.data.resolution)
    _check(m.pac >= 1, "model.pac", "it must be >= 1 (1 = no packing)", m.pac)
    _check(t.batch_size % m.pac == 0, "train.batch_size", f"it must be a multiple of model.pac={m.pac}", t.batch_size)
    _validate_remedies(cfg)
    _check(cfg.loss.clip >= 0, "loss.clip", "it must be >= 0 (0 turns clipping off)", cfg.loss.clip)
    _check(cfg.loss.gp_weight >= 0, "loss.gp_weight", "it must be >= 0", cfg.loss.gp_weight)
    for key in ("g_lr", "d_lr"):
        _check(getattr(o, key) > 0, f"optim.{key}", "it must be > 0", getattr(o, key))
    for key in ("g_betas", "d_betas"):
        b = getattr(o, key)
        _check(all(0 <= x < 1 for x in b), f"optim.{key}", "both betas must be in [0, 1)", list(b))
    _check(0 <= o.momentum < 1, "optim.momentum", "it must be in [0, 1)", o.momentum)
    for key in ("steps", "batch_size", "d_steps", "log_every", "keep_ckpts"):
        _check(getattr(t, key) >= 1, f"train.{key}", "it must be >= 1", getattr(t, key))
    _check(0 <= o.schedule_start < t.steps, "optim.schedule_start", f"it must be in [0, train.steps={t.steps})",
           o.schedule_start)
    _check(o.schedule_steps >= 0, "optim.schedule_steps", "it must be >= 0 (0 = up to train.steps)", o.schedule_steps)
    for key in ("ckpt_every", "sample_every", "threads"):
        _check(getattr(t, key) >= 0, f"train.{key}", "it must be >= 0", getattr(t, key))
    _check(0 <= t.ema_beta < 1, "train.ema_beta", "it must be in [0, 1); 0 turns EMA off", t.ema_beta)
    dev = t.device
    _check(
        dev in ("cpu", "cuda", "auto", "mps") or dev.startswith("cuda:"),
        "train.device", "use cpu, cuda, cuda:N, mps or auto", dev,
    )
    _check(t.data_on_device.lower() in ("auto", "true", "false"), "train.data_on_device", "use auto, true or false",
           t.data_on_device)
    _check(t.dist_backend in ("auto", "nccl", "gloo"), "train.dist_backend", "use auto, nccl or gloo", t.dist_backend)
    _check(not (t.sync_bn and m.d_norm == "batch" and _has_penalty(cfg)), "train.sync_bn",
           "SyncBatchNorm has no double backward, so it cannot run under a gradient penalty with model.d_norm=batch; "
           "use model.d_norm=spectral or none", t.sync_bn)
    _check(e.n_samples >= 1, "eval.n_samples", "it must be >= 1", e.n_samples)
    _check(e.every >= 0, "eval.every", "it must be >= 0 (0 = only at the end)", e.every)
    dr = cfg.doctor
    _check(dr.probe_n >= 2, "doctor.probe_n", "it must be >= 2", dr.probe_n)
    for key in ("patience", "window"):
        _check(getattr(dr, key) >= 1, f"doctor.{key}", "it must be >= 1", getattr(dr, key))
    for key in ("warmup", "max_retries", "stop_after"):
        _check(getattr(dr, key) >= 0, f"doctor.{key}", "it must be >= 0", getattr(dr, key))
    _check(0 < dr.collapse_diversity < 1, "doctor.collapse_diversity", "it must be in (0, 1)", dr.collapse_diversity)
    _check(0 < dr.overfit_gap < 1, "doctor.overfit_gap", "it must be in (0, 1)", dr.overfit_gap)
    _check(0 < dr.retry_lr_factor < 1, "doctor.retry_lr_factor", "it must be in (0, 1)", dr.retry_lr_factor)
    for name, p in cfg.reg.items():
        _check(p.weight >= 0, f"reg.{name}.weight", "it must be >= 0", p.weight)
        _check(p.interval >= 1, f"reg.{name}.interval", "it must be >= 1", p.interval)
    _validate_stabilisers(cfg)


def _validate_stabilisers(cfg: Config) -> None:
    """The augment section. (Registry names, the augment operations among them, and lazy
    intervals, which need to know whose penalty each is, are checked by ``build``.)"""
    a = cfg.augment
    ops = [s.strip() for s in a.policy.split(",") if s.strip()]
    _check(len(set(ops)) == len(ops), "augment.policy", "name each operation once", a.policy)
    _check(a.p is None or 0 <= a.p <= 1, "augment.p", "it must be in [0, 1]", a.p)
    _check(0 <= a.ada_target < 1, "augment.ada_target", "it must be in [0, 1); 0 keeps p fixed, ADA uses 0.6",
           a.ada_target)
    _check(a.ada_interval >= 1, "augment.ada_interval", "it must be >= 1", a.ada_interval)
    _check(a.ada_kimg > 0, "augment.ada_kimg", "it must be > 0", a.ada_kimg)
    _check(bool(ops) or a.ada_target == 0, "augment.ada_target",
           "ADA needs augmentations to adapt: set augment.policy too, e.g. augment.policy=translation,color",
           a.ada_target)


def _validate_remedies(cfg: Config) -> None:
    """The stabilisation remedies: minibatch std, ensembles, label smoothing, instance noise, unrolling."""
    m, t = cfg.model, cfg.train
    _check(m.mbstd == 0 or m.mbstd >= 2, "model.mbstd", "use 0 (off) or a group size >= 2", m.mbstd)
    if m.mbstd:  # D sees n // pac samples and splits them into groups of min(mbstd, n // pac)
        sizes = [("train.batch_size", t.batch_size)] + ([("doctor.probe_n", cfg.doctor.probe_n)] if cfg.doctor.enabled else [])
        for key, n in sizes:
            per_d = n // m.pac
            g = min(m.mbstd, per_d)
            _check(per_d % g == 0, key, f"{key} / model.pac = {per_d} samples reach D, which must be a multiple of "
                   f"the minibatch-std group min(model.mbstd, {per_d}) = {g}", n)
    _check(m.d_ensemble >= 1, "model.d_ensemble", "it must be >= 1 (1 = a single D)", m.d_ensemble)
    s = cfg.loss.label_smoothing
    _check(0 <= s < 0.5, "loss.label_smoothing", "it must be in [0, 0.5): the real target 1 - s stays above 1/2", s)
    _check(s == 0 or cfg.loss.name in ("minimax", "non_saturating"), "loss.label_smoothing",
           f"it smooths the real target of the cross-entropy losses (minimax, non_saturating); "
           f"loss.name={cfg.loss.name} has no target to smooth, so use 0", s)
    _check(t.instance_noise >= 0, "train.instance_noise", "it must be >= 0 (0 turns instance noise off)", t.instance_noise)
    _check(t.instance_noise_steps >= 0, "train.instance_noise_steps",
           "it must be >= 0 (0 anneals over train.steps)", t.instance_noise_steps)
    _check(t.unroll_steps >= 0, "train.unroll_steps", "it must be >= 0 (0 turns unrolling off)", t.unroll_steps)
