"""Configuration: frozen dataclasses, YAML presets and dotted overrides.

The dataclasses below are the single source of truth for every setting. OmegaConf merges, in
order, the dataclass defaults, a preset (a YAML file shipped in ``ganforge/presets`` or a user's
path) and ``key=value`` overrides, checks key names and types against the dataclasses, and
returns a frozen :class:`Config`. ``validate.py`` then checks ranges and combinations. Every
problem becomes a one-line :class:`GanforgeError` naming the key and what is allowed.

Names that refer to registries (``loss.name``, ``data.name``, ``model.prior``,
``optim.schedule``, ...) and what a model can build (``model.d_norm``, image sizes) are checked
by the builders (``ganforge.build``), which know the registries and the models' specs; the
config stays import-free and lists no allowed names of its own.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field, is_dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Dict, Optional, Sequence, Tuple, Union, get_args, get_origin, get_type_hints

import yaml
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from .errors import GanforgeError
from .validate import validate

DEFAULT_PRESET = "digits_conditional"  # `ganforge train` with no arguments: a conditional DCGAN on the bundled digits


@dataclass(frozen=True)
class DataConfig:
    name: str = "grid25"  # a dataset registry key (an unknown name lists them all); each declares its data kind
    path: Optional[str] = None  # the user's data: points (.csv/.npy), folder, npz, idx, cifar10, built (DATA.gfd)
    resolution: int = 32  # images: resized to R x R (a power of two the model builds: dcgan 8..256, stylegan2 8..1024)
    channels: int = 0  # images: 1 (grey) or 3 (RGB); 0 keeps the dataset's own
    limit: int = 0  # finite datasets: train on the first N items only (small-data studies); 0 = all
    columns: Dict[str, str] = field(default_factory=dict)  # table: column -> type (continuous, integer, categorical, boolean, datetime)
    target: Optional[str] = None  # table: the label column (stratified split, TSTR)
    # table: share of training-by-sampling's conditions drawn on the target column when it is categorical
    # (the rest spread evenly over the other discrete columns); 0 = every discrete column alike (CTGAN)
    target_share: float = 0.0
    workers: int = 0  # built: DataLoader worker processes reading batches from disk; 0 = in the training process
    window: int = 0  # sequences: steps per window cut from long series; 0 = the dataset's default (files: whole series)
    stride: int = 0  # sequences: steps between the starts of consecutive windows; 0 = the dataset's default (user files: 1)
    max_atoms: int = 0  # molecules: keep molecules of at most N heavy atoms; 0 = the dataset's default (all; chembl 30)
    encoding: str = "selfies"  # molecules: selfies (token strings: latentgan) or graph (atoms and bonds: molgan)
    sample_rate: int = 16000  # audio: clips are resampled to this many samples a second (Hz)
    seconds: float = 1.0  # audio: clips are cut or padded to this length
    labels_per_class: int = 0  # semi-supervised runs: keep K training labels per class, the rest unlabelled; 0 = all


@dataclass(frozen=True)
class ModelConfig:
    name: str = "mlp"  # a model registry key; left unset by a preset or override, the data kind's default model
    prior: str = "normal"  # p(z): normal (N(0, I)) or uniform (U[-1, 1]^z_dim)
    z_dim: int = 16  # size of the noise z
    g_width: int = 128  # G's width: mlp hidden units; dcgan channels next to the image (x2 per halving, up to 8x)
    g_depth: int = 3  # mlp: G's hidden layers
    d_width: int = 128  # D's width, as g_width
    d_depth: int = 3  # mlp: D's hidden layers
    pac: int = 1  # PacGAN packing (Lin et al. 2018): D judges pac samples at once
    conditional: bool = False  # condition G and D on the dataset's conditions (class labels, table categories)
    d_norm: str = "none"  # D's normalisation: none, batch, spectral, instance or layer, as the model offers
    g_norm: str = "default"  # G's normalisation: default (the architecture's own), or none/batch as the model offers
    g_cond: str = "default"  # conditional G: default (the model's measured best), concat (embedding to z) or cbn (conditional batch norm), as the model offers
    d_cond: str = "default"  # conditional D: default (the model's measured best), projection or concat, as the model offers
    g_spectral: bool = False  # spectral norm on G's layers too (SAGAN, Zhang et al. 2019)
    d_dropout: float = 0.0  # dropout after each of D's hidden layers (dcgan), against memorising a small set; 0 = off
    mbstd: int = 0  # minibatch std group (Karras et al. 2018): an extra feature before D's head; 0 = off (stylegan2: 4)
    d_ensemble: int = 1  # K independently initialised D's; G plays against their mean loss
    scale: int = 4  # super-resolution (srnet): upscaling factor 2 or 4; inputs are crops bicubic-downscaled by it
    w_dim: int = 0  # stylegan2: size of the intermediate latent w; 0 = model.z_dim
    mapping_depth: int = 8  # stylegan2: layers of the mapping network z -> w (0 = w is the normalised z)
    mixing_prob: float = 0.0  # stylegan2: chance per training batch that a second z's w drives the later layers


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

    policy: str = ""  # comma-separated subset of translation, cutout, color, rotation (+-12 degrees); empty = off
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
    ema_beta: float = 0.0  # EMA of G's weights (with ramp-up; batch-norm statistics re-estimated for its own weights); 0 = off
    d_ema_beta: float = 0.0  # EMA of D's weights, for a model whose D is the product (a classifier); 0 = off
    instance_noise: float = 0.0  # std of Gaussian noise on D's inputs, in model units (Sonderby et al. 2016); 0 = off
    instance_noise_steps: int = 0  # ... annealed linearly to 0 over this many steps; 0 = over train.steps
    # one G forward pass per iteration: D's fakes, detached, are G's too (the canonical DCGAN loop;
    # fresh noise each iteration); applies only with d_steps=1 and no unrolling, else two batches
    reuse_fakes: bool = True
    unroll_steps: int = 0  # unrolled GAN (Metz et al. 2016): G plays D after K look-ahead updates; 0 = off
    log_every: int = 50  # steps between log records (and doctor checks)
    ckpt_every: int = 1000  # steps between checkpoints; 0 = only at the end
    keep_ckpts: int = 3  # newest checkpoints kept on disk
    sample_every: int = 1000  # sample plots; 0 = only at the end
    keep_samples: int = 100  # sample plots kept in RUN/samples: the first and the newest; 0 = all
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
    overfit_auc: float = 0.57  # P(D ranks a training real above a held-out one) above this is overfitting (benchmarks/results/doctor.md)
    stop_after: int = 0  # stop a run (exit 3) whose mode collapse has lasted this many log steps; 0 = never
    max_retries: int = 3  # divergence: roll back to the last good state at most this often
    retry_lr_factor: float = 0.5  # ... multiplying both learning rates by this each time


@dataclass(frozen=True)
class I2IConfig:
    """The image-to-image games (pix2pix, CycleGAN, super-resolution; ``train/games``): the
    weights of their non-adversarial terms. The adversarial loss is ``loss.name``."""

    l1_weight: float = 100.0  # pix2pix: lambda of |G(a) - b|_1 (Isola et al. 2017); 0 = adversarial only
    adv_weight: float = 1.0  # every image-to-image game: weight of G's adversarial term; 0 = the L1-only baseline
    cycle_weight: float = 10.0  # CycleGAN: lambda of the cycle losses |F(G(a)) - a|_1 + |G(F(b)) - b|_1
    identity_weight: float = 0.5  # CycleGAN: identity loss |G(b) - b|_1, weight x cycle_weight
    pool_size: int = 50  # CycleGAN: past fakes kept for D (Shrivastava et al. 2017); 0 = off
    pixel_weight: float = 1.0  # super-resolution: weight of the L1 pixel loss
    content_weight: float = 0.1  # super-resolution: feature-space content loss (a fixed random conv net's features)
    sr_adv_weight: float = 5e-3  # super-resolution: weight of the adversarial term after pre-training
    relativistic: bool = True  # super-resolution: relativistic average D (ESRGAN) instead of loss.name
    pretrain_steps: int = 0  # super-resolution: steps of L1-only pre-training of G before the GAN starts; latentgan: autoencoder steps (0 = half of train.steps)


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
    i2i: I2IConfig = field(default_factory=I2IConfig)  # image-to-image games (pix2pix, CycleGAN, SR)


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


def preset_sets(preset: Optional[str], key: str) -> bool:
    """Whether the preset (a name or a YAML path; None: the default one) sets the dotted ``key``."""
    part: Any = _read_preset(preset or DEFAULT_PRESET)[0]
    for k in key.split("."):
        if not isinstance(part, dict) or k not in part:
            return False
        part = part[k]
    return True


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
