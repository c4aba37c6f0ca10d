"""A run as loaded from a checkpoint: the one way in to a run directory (:func:`load_run`), for
the API's ``Run`` and every application (``ganforge.apps``); only the networks asked for are
loaded (G, D or both)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence, Union

from torch import Tensor, nn

from .build import build_data, build_models, built_classes, condition, model_spec, n_classes
from .conditions import ConditionSpec, as_condition, check_condition, rows_of
from .config import Config, load_config
from .watermark import mark_meta
from .data.base import DataSource
from .errors import GanforgeError
from .evaluation import generate, interpolate
from .files import provenance, synthetic_meta
from .priors import Prior
from .train.checkpoint import list_checkpoints, load_checkpoint

PathLike = Union[str, Path]


PARTS = ("G", "D")  # the networks load_run can load; the config, data source and prior come always


@dataclass
class TrainedRun:
    """A run directory's checkpoint, ready to use: G (G_ema when the run kept one) to sample,
    and D when asked for; a part not asked for is None."""

    cfg: Config
    G: Optional[nn.Module]
    prior: Prior
    data: DataSource
    step: int
    n_classes: int
    ckpt_path: Optional[Path] = None  # the checkpoint the weights came from
    ema: bool = False  # whether G holds the EMA weights
    D: Optional[nn.Module] = None  # the discriminator, when load_run was asked for it
    run_dir: Optional[Path] = None  # the run directory it was read from
    d_ema: bool = False  # whether D holds the EMA of D's weights (train.d_ema_beta)

    @property
    def condition(self) -> Optional[ConditionSpec]:
        """What G is conditioned on (``ganforge.conditions``: check a user's value with
        ``check_condition(run.condition, value)``); None for an unconditional run."""
        return condition(self.cfg, self.data)

    def _from_noise(self) -> None:
        """One-line error for an image-to-image run, whose G takes images, not noise."""
        from .train.games import GAMES

        game = model_spec(self.cfg).game
        if not GAMES.get(game).from_noise:
            use = "upscale" if game == "superres" else "translate"
            raise GanforgeError(f"this run (model.name={self.cfg.model.name}) maps images to images, not noise to "
                                f"samples; use ganforge {use} RUN --input ... --out DIR/")

    def generate(self, n: int, seed: int, label=None, truncation: Optional[float] = None,
                 prompt: Union[str, Sequence[str], None] = None) -> Tensor:
        """``n`` samples (n, *shape) in data space; ``label``: an int, a tensor (n,), or None (drawn);
        ``truncation``: psi of the truncation trick (style-based runs), None = off; ``prompt``: a
        caption or a list of captions (text-to-image runs), n samples of each, prompt-major."""
        self._from_noise()
        if prompt is not None:  # each caption checked against the run's vocabulary (one line each)
            texts = [prompt] if isinstance(prompt, str) else list(prompt)
            label = rows_of(check_condition(self.condition, texts, "prompt"), lambda t: t.repeat_interleave(n, 0))
            n = n * len(texts)
        G = truncated(self.G, truncation, self.cfg.model.name)
        return generate(G, self.prior, n, seed, self.data, self.condition, label)

    def interpolate(self, rows: int, steps: int, seed: int, label=None, ends=None,
                    truncation: Optional[float] = None) -> Tensor:
        """``rows`` latent paths of ``steps`` samples each, (rows * steps, *shape), in data space;
        ``ends``: (first, last) latents (rows, z_dim), else drawn from the prior."""
        self._from_noise()
        G = truncated(self.G, truncation, self.cfg.model.name)
        return interpolate(G, self.prior, self.data, self.condition, rows, steps, seed, label, ends)

    def meta(self, run_dir, truncation: Optional[float] = None, watermark: bool = True) -> dict:
        """PNG text metadata for what this run generates: it is synthetic, and whose it is (and
        the truncation psi it was drawn with, if any), with the run's watermark key for the
        image writers (``watermark=False``: unmarked, and said)."""
        meta = {**synthetic_meta(Path(run_dir).resolve().name, self.step), **mark_meta(Path(run_dir), watermark)}
        return meta if truncation is None else {**meta, "truncation": str(truncation)}

    def provenance(self, command: str, seed: Optional[int] = None, truncation: Optional[float] = None,
                   watermark: bool = True, **fields) -> dict:
        """The provenance of an output ``command`` generated from this run, for
        :func:`ganforge.files.write_output`: :func:`ganforge.files.provenance` with the PNG text
        of :meth:`meta` (and the run's mark key; ``watermark=False`` for unmarked images or numbers)."""
        return {**self.meta(self.run_dir, truncation, watermark),
                **provenance(command, self.run_dir, self.step, self.ckpt_path, seed, truncation=truncation, **fields)}


def check_class(label: Optional[int], classes: Union[int, ConditionSpec, None], flag: str = "--class") -> None:
    """The one check of a class the user names (``flag``: how they named it, for the message):
    None passes; else the run must be conditional and the label one of its conditions
    (``classes``: the run's condition spec, or its number of classes; 0 <= label < classes).
    It is ``conditions.check_condition``, the check of every kind of condition."""
    if label is not None:
        check_condition(as_condition(classes), label, flag)


def has_truncation(G: nn.Module) -> bool:
    """Whether ``G`` offers the truncation trick (``G.truncated(psi)``, see :func:`truncated`)."""
    return callable(getattr(G, "truncated", None))


def truncated(G: nn.Module, psi: Optional[float], model: str) -> nn.Module:
    """The truncation hook: a generator that supports the truncation trick (StyleGAN2:
    w = w_avg + psi (w - w_avg)) offers ``G.truncated(psi) -> nn.Module`` with G's (z, y)
    signature; the others refuse a psi with a one-line error. ``psi=None``: G itself."""
    if psi is None:
        return G
    if not 0 <= psi <= 1:
        raise GanforgeError(f"--truncation {psi}: psi must be in [0, 1] (1 = no truncation)")
    if not has_truncation(G):
        raise GanforgeError(f"--truncation: model.name={model} has no truncation trick (a style-based generator "
                            "with a mapping network has one); leave --truncation out")
    return G.truncated(psi)


def load_run(run_dir: PathLike, device: str = "cpu", step: Optional[int] = None, ema: Optional[bool] = None,
             parts: Sequence[str] = ("G",)) -> TrainedRun:
    """The run in ``run_dir`` as of its newest checkpoint (or the one at ``step``): its config,
    data source with the normalisation it was trained with, prior, and the networks in
    ``parts`` (``"G"``, ``"D"``; in eval mode on ``device``). ``ema``: None takes G_ema when the
    run kept one, else G; True requires G_ema; False takes G. D is D_ema when the run kept one
    (``train.d_ema_beta``, a semi-supervised classifier), else D."""
    unknown = [p for p in parts if p not in PARTS]
    if unknown or not parts:
        raise ValueError(f"parts={tuple(parts)}: choose from {PARTS}")
    ckpt = load_checkpoint(Path(run_dir), step, map_location=device)
    cfg = load_config(base=ckpt["config"])
    data = build_data(cfg)  # the models' shapes and classes come from the data
    data.loc, data.scale = ckpt["data_norm"]["loc"], ckpt["data_norm"]["scale"]  # as trained
    classes = n_classes(cfg, data)
    G, D = build_models(cfg, data.shape, built_classes(cfg, data), getattr(data, "layout", None), condition(cfg, data))
    state = ckpt.get("G_ema")
    if ema and state is None:
        raise GanforgeError(f"{run_dir}: --ema: this run kept no EMA of G (train.ema_beta=0); leave --ema out")
    use_ema = state is not None and ema is not False
    if "G" in parts:
        G.load_state_dict(state["model"] if use_ema else ckpt["G"])
        G = G.to(device).eval()
    d_state = ckpt.get("D_ema")  # absent in checkpoints older than the key, None when not kept
    if "D" in parts:
        D.load_state_dict(d_state["model"] if d_state is not None else ckpt["D"])
        D = D.to(device).eval()
    prior = Prior(cfg.model.prior, cfg.model.z_dim)
    path = dict(list_checkpoints(Path(run_dir))).get(int(ckpt["step"]))
    return TrainedRun(cfg, G if "G" in parts else None, prior, data, int(ckpt["step"]), classes, path,
                      use_ema and "G" in parts, D if "D" in parts else None, Path(run_dir),
                      d_state is not None and "D" in parts)
