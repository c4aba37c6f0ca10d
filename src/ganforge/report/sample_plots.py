"""Sample plots during training, as a loop callback: image grids or scatter plots on fixed noise.

Every ``train.sample_every`` steps and at the end, ``samples/step-NNNNNNN.png`` shows the
figure the data's kind draws (``data/kinds``), written with the synthetic-image metadata: 64
images in a grid (a class-conditional run: 8 of each class, one row per class, named), 2,000
points of a 2-D run against as many real ones, a table's first columns against the real ones;
points of other dimensions get no plot; audio clips' spectrograms, and beside them
``step-NNNNNNN.wav``, one clip per class (or 8), which the report plays. ``train.keep_samples`` bounds the
folder of a long run: the first plot (where the run started from) and the newest ones stay.
"""

from __future__ import annotations

from pathlib import Path

from ..evaluation import sample_figure, sample_sound
from ..train.callbacks import Callback, RunState
from ..files import image_grid, save_image, synthetic_meta


class SamplePlots(Callback):
    def on_step_end(self, run: RunState, step: int) -> None:
        cfg, data = run.cfg, run.data
        if not run.due(step, cfg.train.sample_every):
            return
        path = run.run_dir / "samples" / f"step-{step:07d}.png"
        if run.game.visuals is not None:  # image-to-image: rows of inputs, outputs, targets (held out)
            image_grid(run.game.visuals(data, 8, cfg.eval.seed), path, nrow=8,
                       meta=synthetic_meta(run.run_dir.name, step))
        else:  # the data kind's figure on fixed noise: a grid of images (a row per class), 2-D points, ...
            img = sample_figure(run.sampler, run.prior, data, run.condition, cfg.eval.seed, f"step {step}")
            if img is None:  # nothing to draw for this data (points of more than 2 dimensions)
                return
            save_image(img, path, synthetic_meta(run.run_dir.name, step))
            sound, names = sample_sound(run.sampler, run.prior, data, run.condition, cfg.eval.seed)
            if sound is not None:  # audio: step-NNNNNNN.wav beside it, the report's players
                from ..files import write_bytes_atomic
                from ..wav import wav_bytes

                write_bytes_atomic(path.with_suffix(".wav"),
                                   wav_bytes(sound, {**synthetic_meta(run.run_dir.name, step), "names": names}))
        _rotate(path.parent, cfg.train.keep_samples)


def _rotate(folder: Path, keep: int) -> None:
    """Delete the oldest plots but the first, so that ``keep`` remain (0: keep all)."""
    plots = sorted(folder.glob("step-*.png"))
    if keep and len(plots) > keep:
        for old in plots[1: len(plots) - keep + 1]:
            old.unlink(missing_ok=True)
            old.with_suffix(".wav").unlink(missing_ok=True)
