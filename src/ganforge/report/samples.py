"""Sample plots during training, as a loop callback: image grids or scatter plots on fixed noise.

Every ``train.sample_every`` steps and at the end, ``samples/step-NNNNNNN.png`` shows 64
samples of an image run (written with the synthetic-image metadata) or 2,000 points of a 2-D
run against as many real ones; other data gets no plot. ``train.keep_samples`` bounds the
folder of a long run: the first plot (where the run started from) and the newest ones stay.
"""

from __future__ import annotations

import math
from pathlib import Path

from ..data import KnownModes
from ..evaluation import generate
from ..train.callbacks import Callback, RunState
from ..files import image_grid, synthetic_meta
from .plots import scatter


class SamplePlots(Callback):
    def on_step_end(self, run: RunState, step: int) -> None:
        cfg, data = run.cfg, run.data
        if not run.due(step, cfg.train.sample_every):
            return
        path = run.run_dir / "samples" / f"step-{step:07d}.png"
        if run.game.visuals is not None:  # image-to-image: rows of inputs, outputs, targets (held out)
            image_grid(run.game.visuals(data, 8, cfg.eval.seed), path, nrow=8,
                       meta=synthetic_meta(run.run_dir.name, step))
        elif len(data.shape) == 3:  # images: a grid of samples on fixed noise
            fake = generate(run.sampler, run.prior, 64, cfg.eval.seed, data, run.n_classes)
            image_grid(fake, path, meta=synthetic_meta(run.run_dir.name, step))
        elif math.prod(data.shape) == 2:
            fake = generate(run.sampler, run.prior, 2000, cfg.eval.seed, data, run.n_classes)
            real = data.reference(2000, cfg.eval.seed)
            scatter(real, fake, path, f"step {step}", data.centers if isinstance(data, KnownModes) else None)
        else:
            return
        _rotate(path.parent, cfg.train.keep_samples)


def _rotate(folder: Path, keep: int) -> None:
    """Delete the oldest plots but the first, so that ``keep`` remain (0: keep all)."""
    plots = sorted(folder.glob("step-*.png"))
    if keep and len(plots) > keep:
        for old in plots[1: len(plots) - keep + 1]:
            old.unlink(missing_ok=True)
