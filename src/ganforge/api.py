"""The public Python API; the command line calls it, so both take one code path.

    import ganforge
    result = ganforge.train(ganforge.load_config("digits", ["train.steps=500"]), "runs/x")

Below the API, nothing parses arguments or prints.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

from torch import Tensor, nn

from .build import build_data, build_models, n_classes
from .config import Config, load_config
from .data.base import DataSource
from .diagnostics.settings import review_settings
from .errors import GanforgeWarning
from .evaluation import generate, interpolate
from .io import synthetic_meta
from .priors import Prior
from .report.samples import SamplePlots
from .train.checkpoint import load_checkpoint
from .train.callbacks import Callback, default_callbacks
from .train.loop import RunResult
from .train.loop import train as _train_loop


def callbacks_for(cfg: Config, extra: Sequence[Callback] = ()) -> list[Callback]:
    """A run's callbacks: the doctor, evaluation, sample plots, then ``extra`` (an application's own)."""
    return default_callbacks(cfg) + [SamplePlots(), *extra]


def train(cfg: Config, run_dir: Path | str, resume: bool = False, sinks: Sequence = (), data=None,
          callbacks: Optional[Sequence[Callback]] = None) -> RunResult:
    """Train ``cfg`` in ``run_dir`` (which must exist), or continue it from its newest checkpoint
    with ``resume=True``. ``callbacks`` are added to the standard ones (:func:`callbacks_for`).
    Returns the final step, metrics and wall time. Settings far outside what works are warned
    about first (:func:`~ganforge.diagnostics.settings.review_settings`)."""
    for finding in review_settings(cfg):
        warnings.warn(finding.line(), GanforgeWarning, stacklevel=2)
    return _train_loop(cfg, Path(run_dir), resume, sinks, data, callbacks_for(cfg, callbacks or ()))


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
