"""The run around the step: data, seeding, logging, evaluation, samples, checkpoints, resume.

Statistics stay on the device between log steps; at a log step they are read once
(``.item()``), checked for NaN/Inf and handed to the sinks. Everything the run writes goes
into its run directory.
"""

from __future__ import annotations

import json
import math
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import torch

from ..build import build_data, build_gan, resolve_device
from ..config import Config, to_dict, to_yaml
from ..errors import GanforgeError
from ..evaluation import generate, sample_metrics
from ..report.plots import image_grid, scatter, synthetic_meta
from .checkpoint import load_checkpoint, save_checkpoint
from .schedule import lr_factor, set_lr
from .sinks import JsonlSink, TensorBoardSink
from .step import GAN, train_step


class TrainingDiverged(GanforgeError):
    """Losses or gradients became NaN or infinite."""


@dataclass
class RunResult:
    run_dir: Path
    step: int
    metrics: dict
    wall_s: float


def _state(gan: GAN, data, step: int, cfg: Config) -> dict:
    """Everything needed to continue exactly: weights, optimizers, every RNG, the config."""
    return {
        "config": to_dict(cfg),
        "G": gan.G.state_dict(),
        "D": gan.D.state_dict(),
        "G_ema": gan.ema.state_dict() if gan.ema is not None else None,
        "opt_g": gan.opt_g.state_dict(),
        "opt_d": gan.opt_d.state_dict(),
        "d_updates": gan.d_updates,
        "data_norm": {"loc": data.loc, "scale": data.scale},  # model space <-> data space
        "rng": {"noise": gan.gen.get_state(), "torch": torch.get_rng_state(), "data": data.state_dict()},
    }


def _restore(gan: GAN, data, ckpt: dict) -> None:
    gan.G.load_state_dict(ckpt["G"])
    gan.D.load_state_dict(ckpt["D"])
    if gan.ema is not None:
        if ckpt.get("G_ema") is None:
            raise GanforgeError("train.ema_beta > 0 but the checkpoint has no EMA weights to resume from")
        gan.ema.load_state_dict(ckpt["G_ema"])
    gan.opt_g.load_state_dict(ckpt["opt_g"])
    gan.opt_d.load_state_dict(ckpt["opt_d"])
    gan.d_updates = int(ckpt["d_updates"])
    gan.gen.set_state(ckpt["rng"]["noise"])
    torch.set_rng_state(ckpt["rng"]["torch"])
    data.load_state_dict(ckpt["rng"]["data"])


class _StopOnInterrupt:
    """Defer the first Ctrl-C to the end of the current step, so that the checkpoint written
    then is consistent; a second Ctrl-C interrupts at once."""

    def __init__(self) -> None:
        self.requested = False
        self._old = None

    def _handle(self, signum, frame) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __enter__(self) -> "_StopOnInterrupt":
        if threading.current_thread() is threading.main_thread():
            self._old = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        if self._old is not None:
            signal.signal(signal.SIGINT, self._old)


def _weights_finite(gan: GAN) -> bool:
    params = [p.detach() for m in (gan.G, gan.D) for p in m.parameters()]
    return bool(torch.stack([torch.isfinite(p).all() for p in params]).all())


def _due(step: int, every: int, last: int) -> bool:
    return step == last or (every > 0 and step % every == 0)


def train(cfg: Config, run_dir: Path, resume: bool = False, sinks: Sequence = (), data=None) -> RunResult:
    """Train ``cfg`` in ``run_dir`` (created by the caller), from scratch or from its newest
    checkpoint. ``sinks`` receive every record as well as metrics.jsonl and TensorBoard.
    ``data`` is the source built from ``cfg`` if the caller has already built (and so checked) it."""
    t0 = time.perf_counter()
    run_dir = Path(run_dir)
    T = cfg.train
    if T.threads:
        torch.set_num_threads(T.threads)
    device = resolve_device(T.device)
    torch.manual_seed(T.seed)  # initial weights; the game's noise has its own generator
    data = build_data(cfg) if data is None else data
    gan = build_gan(cfg, data, device)

    start = 0
    if resume:
        ckpt = load_checkpoint(run_dir, map_location=device)
        _restore(gan, data, ckpt)
        start = int(ckpt["step"])
        if start >= T.steps:
            raise GanforgeError(f"{run_dir} is already at step {start}; set train.steps above it to continue")
    (run_dir / "config.yaml").write_text(to_yaml(cfg))

    def next_real(n: int) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
        x, y = data.sample(n)  # (n, *shape), (n,) or None
        return x.to(device, non_blocking=True), (y.to(device, non_blocking=True) if y is not None else None)

    def sampler():
        return gan.ema.model if gan.ema is not None else gan.G

    all_sinks = [JsonlSink(run_dir / "metrics.jsonl", start if resume else None)]
    if T.tensorboard:
        all_sinks.append(TensorBoardSink(run_dir / "tb", start if resume else None))
    all_sinks += list(sinks)

    def emit(record: dict) -> None:
        for s in all_sinks:
            s.log(record)

    def evaluate(step: int) -> dict:
        x = generate(sampler(), gan.prior, cfg.eval.n_samples, cfg.eval.seed, data, gan.n_classes)
        m = {"step": step, **sample_metrics(x, data, cfg.eval.seed)}
        emit(m)
        return m

    def plot(step: int) -> None:
        if len(data.shape) == 3:  # images: a grid of samples on fixed noise
            fake = generate(sampler(), gan.prior, 64, cfg.eval.seed, data, gan.n_classes)
            image_grid(fake, run_dir / "samples" / f"step-{step:07d}.png", meta=synthetic_meta(run_dir.name, step))
        elif math.prod(data.shape) == 2:
            fake = generate(sampler(), gan.prior, 2000, cfg.eval.seed, data, gan.n_classes)
            real = data.reference(2000, cfg.eval.seed)
            scatter(real, fake, run_dir / "samples" / f"step-{step:07d}.png", f"step {step}", data.centers)

    def finite_record(step: int, out: dict, weights: bool = False) -> dict:
        """Read the step's statistics; stop with TrainingDiverged on NaN or Inf."""
        record = {"step": step, **{k: v.item() for k, v in out.items()}}
        bad = [k for k, v in record.items() if not math.isfinite(v)]
        if weights and not bad and not _weights_finite(gan):
            bad = ["weights"]
        if bad:
            emit({"step": step, "event": "divergence", "message": f"non-finite {', '.join(bad)}"})
            raise TrainingDiverged(
                f"training diverged at step {step}: {', '.join(bad)} became NaN or infinite; "
                "the checkpoints before it are kept; try lower optim.d_lr and optim.g_lr"
            )
        return record

    step, metrics = start, {}
    try:
        with _StopOnInterrupt() as stop:
            for step in range(start + 1, T.steps + 1):
                log = _due(step, T.log_every, T.steps)
                if cfg.optim.schedule != "constant":
                    f = lr_factor(cfg.optim.schedule, step, T.steps)
                    set_lr(gan.opt_g, cfg.optim.g_lr, f)
                    set_lr(gan.opt_d, cfg.optim.d_lr, f)
                out = train_step(gan, next_real, T.batch_size, T.d_steps, stats=log)
                if log:  # the one host sync of a log step
                    emit(finite_record(step, out))
                if _due(step, cfg.eval.every, T.steps):
                    metrics = evaluate(step)
                if _due(step, T.sample_every, T.steps):
                    plot(step)
                if _due(step, T.ckpt_every, T.steps) or stop.requested:
                    finite_record(step, out, weights=True)  # never checkpoint NaN weights
                    save_checkpoint(run_dir, step, _state(gan, data, step, cfg), T.keep_ckpts)
                if stop.requested:  # Ctrl-C: stopped between two steps, nothing lost
                    raise KeyboardInterrupt
    finally:
        for s in all_sinks:
            s.close()
    wall_s = time.perf_counter() - t0
    (run_dir / "eval.json").write_text(json.dumps({**metrics, "wall_s": wall_s}, indent=2) + "\n")
    return RunResult(run_dir, step, metrics, wall_s)

