"""Parts of a run that the loop calls at fixed points: evaluation, the doctor, and whatever an
application adds (sample plots, its own measurements) without editing the loop.

A callback subclasses :class:`Callback` and overrides what it needs. Callbacks run on the
process that writes the run directory (rank 0 under torchrun), in the order given; they may
read the run through :class:`RunState` and log records with ``run.emit``. Each game declares
which of these a run of it has (``GameBase.callbacks``; ``train.games.default_callbacks``), so
this module knows no game.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import torch
from torch import nn

from ..config import Config
from ..diagnostics import Doctor, Probe
from ..evaluation import generate, sample_metrics
from ..priors import Prior
from ..runlog import read_records


def due(step: int, every: int, last: int) -> bool:
    """Whether something that happens every ``every`` steps (0: only at the end) happens at ``step``."""
    return step == last or (every > 0 and step % every == 0)


@dataclass
class RunState:
    """What the loop shares with its callbacks."""

    cfg: Config
    run_dir: Path
    data: object  # the data source (``ganforge.data``)
    game: Any  # the game being trained (``train.games``: its players, step and evaluation)
    prior: Prior  # p(z) for sampling and probes (under DDP the game's prior draws this rank's rows)
    device: torch.device
    emit: Callable[[dict], None]  # log a record to metrics.jsonl, TensorBoard and the sinks
    resumed_at: int = 0  # the step a resumed run continues from; 0 for a fresh run
    metrics: dict = field(default_factory=dict)  # the latest evaluation record
    stop_reason: Optional[str] = None  # set by a callback to stop the run (exit 3), e.g. the doctor

    @property
    def sampler(self) -> nn.Module:
        """The generator to sample from: G_ema when the run keeps one (its batch-norm statistics
        made its own first: ``GameBase.ready_sampler``), else G."""
        self.game.ready_sampler(self.prior)
        return self.game.players.sampler

    @property
    def n_classes(self) -> int:
        return self.game.policy.n_classes

    @property
    def condition(self):
        """The game's condition spec (``ganforge.conditions``), None when unconditional."""
        return self.game.policy.condition

    def due(self, step: int, every: int) -> bool:
        return due(step, every, self.cfg.train.steps)


class Callback:
    """Hooks of the loop; each default does nothing."""

    def on_start(self, run: RunState) -> None:
        """Before the first step (after a resume's restore)."""

    def on_log(self, run: RunState, record: dict) -> None:
        """A training record about to be logged (at a log step): add measurements to it."""

    def observe(self, run: RunState, record: dict) -> Sequence[dict]:
        """Every record as it is logged; return the records to log right after it (events)."""
        return ()

    def on_step_end(self, run: RunState, step: int) -> None:
        """After every step (and its logging)."""


class EvaluationCallback(Callback):
    """Quality metrics on fixed noise every ``eval.every`` steps and at the end (``run.metrics``)."""

    def on_step_end(self, run: RunState, step: int) -> None:
        cfg = run.cfg
        if not run.due(step, cfg.eval.every):
            return
        x = generate(run.sampler, run.prior, cfg.eval.n_samples, cfg.eval.seed, run.data, run.condition)
        m = {"step": step, **sample_metrics(x, run.data, cfg.eval.seed, inception_weights=cfg.eval.inception_weights)}
        run.emit(m)
        run.metrics = m


class DoctorCallback(Callback):
    """The training doctor: probes at log steps, detectors over every record, events in the log.

    The probe draws from its own seeded generator, so a run's weights are the same with the
    doctor on or off. On resume the doctor replays the log, to continue where the run stopped.
    """

    def __init__(self) -> None:
        self.doctor: Doctor | None = None
        self.probe: Probe | None = None

    def on_start(self, run: RunState) -> None:
        cfg = run.cfg
        self.doctor = Doctor(cfg)
        self.probe = Probe(run.data, run.prior, run.n_classes, cfg.doctor.probe_n, cfg.eval.seed, run.device)
        if run.resumed_at:
            for record in read_records(run.run_dir / "metrics.jsonl")[0]:
                self.doctor.observe(record)  # its events were logged the first time

    def on_log(self, run: RunState, record: dict) -> None:
        record.update(self.probe.measure(run.game.G, run.game.D))

    def observe(self, run: RunState, record: dict) -> Sequence[dict]:
        events = self.doctor.observe(record)
        run.stop_reason = run.stop_reason or self.doctor.stop  # doctor.stop_after
        return events


class ImageToImageEvaluationCallback(Callback):
    """Held-out quality of an image-to-image game (``game.evaluate``: L1, PSNR, ...) every
    ``eval.every`` steps and at the end; noise-based metrics do not apply."""

    def on_step_end(self, run: RunState, step: int) -> None:
        cfg = run.cfg
        if not run.due(step, cfg.eval.every):
            return
        m = {"step": step, **run.game.evaluate(run.data, cfg.eval.n_samples, cfg.eval.seed)}
        run.emit(m)
        run.metrics = m


class ImageToImageDoctorCallback(DoctorCallback):
    """The doctor without its probe: the probe draws noise for G and measures sample diversity
    (mode collapse), which means nothing for a G whose input is an image. The detectors still
    read every step record (divergence, oscillation of d_real - d_fake); those that need the
    probe's keys stay silent."""

    def on_start(self, run: RunState) -> None:
        self.doctor = Doctor(run.cfg)
        if run.resumed_at:
            for record in read_records(run.run_dir / "metrics.jsonl")[0]:
                self.doctor.observe(record)

    def on_log(self, run: RunState, record: dict) -> None:
        pass

