"""The public Python API; the command line calls it, so both take one code path.

    import ganforge
    result = ganforge.train(ganforge.load_config("digits", ["train.steps=500"]), "runs/x")

Below the API, nothing parses arguments or prints.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Sequence

import yaml

from torch import Tensor, nn

from .build import build_data, build_models, n_classes
from .config import Config, load_config, to_dict as _as_dict
from .errors import GanforgeError, GanforgeWarning
from .data.base import DataSource
from .evaluation import generate, interpolate
from .io import synthetic_meta
from .priors import Prior
from .report.samples import SamplePlots
from .rundir import check_free
from .train.checkpoint import load_checkpoint
from .train.callbacks import Callback, default_callbacks
from .train.loop import RunResult
from .train.loop import train as _train_loop
from .train.schedule import EXTEND_MODES, plan_extension


def callbacks_for(cfg: Config, extra: Sequence[Callback] = ()) -> list[Callback]:
    """A run's callbacks: the doctor, evaluation, sample plots, then ``extra`` (an application's own)."""
    return default_callbacks(cfg) + [SamplePlots(), *extra]


def train(cfg: Config, run_dir: Path | str, resume: bool = False, sinks: Sequence = (), data=None,
          callbacks: Optional[Sequence[Callback]] = None, from_step: Optional[int] = None) -> RunResult:
    """Train ``cfg`` in ``run_dir`` (which must exist), or continue it from its newest complete
    checkpoint (or the one at ``from_step``) with ``resume=True``. ``callbacks`` are added to
    the standard ones (:func:`callbacks_for`). Returns the final step, metrics and wall time."""
    return _train_loop(cfg, Path(run_dir), resume, sinks, data, callbacks_for(cfg, callbacks or ()), from_step)


def resume_config(run_dir: Path | str, overrides: Sequence[str] = (), extend: Optional[str] = None
                  ) -> tuple[Config, int]:
    """The config to continue ``run_dir`` with, and the step of the checkpoint it continues from,
    checked before anything is written: the newest complete checkpoint (a damaged newer one is
    passed over with a warning; one holding pickled code is refused), its stored config with
    ``overrides`` on top.

    ``config.yaml`` must agree with that checkpoint's config, except on keys that ``overrides``
    set: an edited file is refused with what differs; a missing one is noted and the
    checkpoint's config used. A decaying learning-rate schedule whose ``train.steps`` changes
    continues as ``extend`` says (``restart``, the default; ``continue``; ``rescale``: see
    :func:`ganforge.train.schedule.plan_extension`), with a warning that shows the old and
    the new rates."""
    run_dir = Path(run_dir)
    check_free(run_dir)  # another process training here: refused before anything is said
    ckpt = load_checkpoint(run_dir)
    step, name = int(ckpt["step"]), f"ckpt-{int(ckpt['step']):07d}.pt"
    stored = load_config(base=ckpt["config"])
    cfg = load_config(base=ckpt["config"], overrides=overrides)
    path = run_dir / "config.yaml"
    if not path.exists():
        warnings.warn(f"{path}: missing; using the config stored in {name}", GanforgeWarning)
    else:
        try:
            on_disk = load_config(base=yaml.safe_load(path.read_text()) or {})
        except (yaml.YAMLError, GanforgeError) as e:
            raise GanforgeError(f"{path}: unreadable ({str(e).splitlines()[0][:160]}); delete it to resume with "
                                f"the config stored in {name}") from None
        given = {item.split("=", 1)[0].strip() for item in overrides}
        differs = [(k, a, b) for k, a, b in config_diff(on_disk, stored) if k not in given]
        if differs:
            shown = ", ".join(f"{k}={a!r} ({name}: {b!r})" for k, a, b in differs[:4])
            more = f" and {len(differs) - 4} more" if len(differs) > 4 else ""
            raise GanforgeError(f"{path} differs from the config in {name}: {shown}{more}; pass changes as "
                                f"key=value overrides to --resume (or delete config.yaml to use the checkpoint's)")
    if step >= cfg.train.steps:
        raise GanforgeError(f"{run_dir} is already at step {step}; set train.steps above it to continue")
    return _extend_schedule(stored, cfg, step, extend, overrides), step


def _flat(d: Any, prefix: str = "") -> dict:
    if not isinstance(d, dict):
        return {prefix[:-1]: d}
    return {k: v for key, sub in d.items() for k, v in _flat(sub, f"{prefix}{key}.").items()}


def config_diff(a: Config, b: Config) -> list[tuple[str, Any, Any]]:
    """``(key, value in a, value in b)`` for every dotted key where the two configs differ."""
    fa, fb = _flat(_as_dict(a)), _flat(_as_dict(b))
    return [(k, fa.get(k), fb.get(k)) for k in sorted(set(fa) | set(fb)) if fa.get(k) != fb.get(k)]


def _extend_schedule(stored: Config, cfg: Config, step: int, extend: Optional[str], overrides: Sequence[str]) -> Config:
    o, old_total = stored.optim, stored.train.steps
    explicit = any(item.startswith(("optim.schedule_start=", "optim.schedule_steps=")) for item in overrides)
    if extend is not None and extend not in EXTEND_MODES:
        raise GanforgeError(f"--extend {extend}: choose one of {', '.join(EXTEND_MODES)}")
    if cfg.optim.schedule == "constant" or cfg.train.steps == old_total or explicit:
        return cfg
    new, line = plan_extension(cfg.optim.schedule, o.schedule_start, o.schedule_steps, old_total, step,
                               cfg.train.steps, extend or "restart")
    warnings.warn(line + ("" if extend else f" (the default; see --extend {'|'.join(EXTEND_MODES)})"), GanforgeWarning)
    return load_config(base={**_as_dict(cfg), "optim": {**_as_dict(cfg)["optim"], **new}})


@dataclass
class TrainedRun:
    """A run directory's generator, ready to sample: G_ema when the run kept one."""

    cfg: Config
    G: nn.Module
    prior: Prior
    data: DataSource
    step: int
    n_classes: int

    def generate(self, n: int, seed: int, label=None) -> Tensor:
        """``n`` samples (n, *shape) in data space; ``label``: an int, a tensor (n,), or None (drawn)."""
        return generate(self.G, self.prior, n, seed, self.data, self.n_classes, label)

    def interpolate(self, rows: int, steps: int, seed: int, label=None) -> Tensor:
        """``rows`` latent paths of ``steps`` samples each, (rows * steps, *shape), in data space."""
        return interpolate(self.G, self.prior, self.data, self.n_classes, rows, steps, seed, label)

    def meta(self, run_dir) -> dict:
        """PNG text metadata for what this run generates: it is synthetic, and whose it is."""
        return synthetic_meta(Path(run_dir).resolve().name, self.step)


def load_run(run_dir: Path | str, device: str = "cpu", step: Optional[int] = None) -> TrainedRun:
    """The generator of ``run_dir``'s newest checkpoint (or the one at ``step``), with its data
    source and the normalisation it was trained with."""
    ckpt = load_checkpoint(Path(run_dir), step, map_location=device)
    cfg = load_config(base=ckpt["config"])
    data = build_data(cfg)
    data.loc, data.scale = ckpt["data_norm"]["loc"], ckpt["data_norm"]["scale"]  # as trained
    classes = n_classes(cfg, data)
    G, _ = build_models(cfg, data.shape, classes)
    ema = ckpt.get("G_ema")
    G.load_state_dict(ema["model"] if ema is not None else ckpt["G"])
    prior = Prior(cfg.model.prior, cfg.model.z_dim)
    return TrainedRun(cfg, G.to(device).eval(), prior, data, int(ckpt["step"]), classes)
