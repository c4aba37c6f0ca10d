"""The public Python API; the command line calls it, so both take one code path.

    import ganforge
    result = ganforge.train(ganforge.load_config("digits", ["train.steps=500"]), "runs/x")

Below the API, nothing parses arguments or prints.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

from .config import Config
from .report.samples import SamplePlots
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
    Returns the final step, metrics and wall time."""
    return _train_loop(cfg, Path(run_dir), resume, sinks, data, callbacks_for(cfg, callbacks or ()))
