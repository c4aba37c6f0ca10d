"""The run around the step: data, seeding, logging, evaluation, samples, checkpoints, resume.

Statistics stay on the device between log steps; at a log step they are read once
(``.item()``), checked for NaN/Inf and handed to the sinks. Everything the run writes goes
into its run directory.
"""

from __future__ import annotations

import copy
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
from ..diagnostics import Doctor, Probe
from ..errors import GanforgeError, TrainingDiverged
from ..evaluation import generate, sample_metrics
from ..io import image_grid, synthetic_meta
from ..report.plots import scatter
from ..runlog import Event, JsonlSink, read_records
from . import distributed
from .checkpoint import load_checkpoint, save_checkpoint
from .runtime import attach, check_precision, data_on_device
from .schedule import instance_noise_std, lr_factor, set_lr
from .sinks import TensorBoardSink
from .step import GAN, train_step


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
        "amp": gan.runtime.state_dict() if gan.runtime is not None else {},  # fp16 loss scales
        "data_norm": {"loc": data.loc, "scale": data.scale},  # model space <-> data space
        "rng": {"noise": gan.gen.get_state(), "torch": torch.get_rng_state(), "data": data.state_dict()},
        **_stabiliser_state(gan),
    }


def _stabiliser_state(gan: GAN) -> dict:
    """State of the stabilisers that a resume must carry: stateful penalties (lecam's moving
    averages) and ADA's probability and accumulators. Absent from older checkpoints."""
    return {
        "penalties": {p.name: dict(p.state) for p in gan.penalties if p.state},
        "augment": gan.aug.state_dict() if gan.aug is not None else None,
    }


def _restore_stabilisers(gan: GAN, ckpt: dict) -> None:
    saved = ckpt.get("penalties") or {}
    for p in gan.penalties:
        p.state.clear()
        p.state.update({k: v.clone() for k, v in saved.get(p.name, {}).items()})
    if gan.aug is not None and ckpt.get("augment") is not None:
        gan.aug.load_state_dict(ckpt["augment"])


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
    if gan.runtime is not None:
        gan.runtime.load_state_dict(ckpt.get("amp"))
    gan.gen.set_state(ckpt["rng"]["noise"])
    torch.set_rng_state(ckpt["rng"]["torch"])
    data.load_state_dict(ckpt["rng"]["data"])
    _restore_stabilisers(gan, ckpt)


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
    ``data`` is the source built from ``cfg`` if the caller has already built (and so checked) it.
    Under torchrun, every rank calls this; rank 0 alone writes ``run_dir`` (see distributed.py)."""
    with distributed.session(cfg.train.device, cfg.train.dist_backend) as d:
        return _train(cfg, run_dir, resume, sinks, data, d)


def _train(cfg: Config, run_dir: Path, resume: bool, sinks: Sequence, data, d: distributed.Dist) -> RunResult:
    t0 = time.perf_counter()
    run_dir = Path(run_dir)
    T = cfg.train
    if T.threads:
        torch.set_num_threads(T.threads)
    device = resolve_device(distributed.device_for(T.device, d))
    check_precision(T.precision, device)
    distributed.check_batch(T.batch_size, cfg.model.pac, d)
    torch.manual_seed(T.seed)  # initial weights; the game's noise has its own generator
    data = build_data(cfg) if data is None else data
    gan = build_gan(cfg, data, device)
    if cfg.eval.inception_weights:  # a bad path fails now, not at the first evaluation
        from ..metrics.inception import check_weights

        check_weights(cfg.eval.inception_weights)

    start = 0
    recovery = {"retries": 0, "lr_scale": 1.0}  # divergence rollbacks so far; they persist across resumes
    if resume:
        ckpt = load_checkpoint(run_dir, map_location=device)
        _restore(gan, data, ckpt)
        start = int(ckpt["step"])
        recovery.update(ckpt.get("recovery") or {})
        if start >= T.steps:
            raise GanforgeError(f"{run_dir} is already at step {start}; set train.steps above it to continue")
    prior = gan.prior  # for evaluation and probes: under DDP the step's prior draws this rank's rows
    attach(gan, cfg, device, d)  # precision, channels_last, compile, DDP
    if resume:
        gan.runtime.load_state_dict(ckpt.get("amp"))
    if data_on_device(T.data_on_device, data, device):
        data.hold_on(device)
    if d.main:
        (run_dir / "config.yaml").write_text(to_yaml(cfg))

    def next_real(n: int) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
        x, y = data.sample(n)  # (n, *shape), (n,) or None; under DDP the global batch, alike on every rank
        x, y = d.shard(x), (d.shard(y) if y is not None else None)  # ... of which this rank keeps its rows
        return x.to(device, non_blocking=True), (y.to(device, non_blocking=True) if y is not None else None)

    def sampler():
        return gan.ema.model if gan.ema is not None else gan.G

    all_sinks = [JsonlSink(run_dir / "metrics.jsonl", start if resume else None)] if d.main else []
    if T.tensorboard and d.main:
        all_sinks.append(TensorBoardSink(run_dir / "tb", start if resume else None))
    all_sinks += list(sinks) if d.main else []

    doctor = Doctor(cfg) if cfg.doctor.enabled and d.main else None  # rank 0 diagnoses; all ranks roll back
    if doctor is not None and resume:  # continue the diagnosis where the run stopped
        for record in read_records(run_dir / "metrics.jsonl")[0]:
            doctor.observe(record)  # its events were logged the first time
    probe = Probe(data, prior, gan.n_classes, cfg.doctor.probe_n, cfg.eval.seed, device) if doctor else None

    def emit(record: dict) -> None:
        """To every sink; the doctor's events follow the record that triggered them."""
        for rec in [record, *(doctor.observe(record) if doctor is not None else ())]:
            for s in all_sinks:
                s.log(rec)

    def recover(step: int, err: TrainingDiverged, good: tuple[int, dict]) -> int:
        """Divergence: roll back to the last good state with lower learning rates, at most
        doctor.max_retries times over the whole run; then stop. Returns the step to go on from."""
        n, limit = recovery["retries"], cfg.doctor.max_retries
        if n >= limit:
            emit(Event.stopped(step, n, [
                f"optim.d_lr={cfg.optim.d_lr * recovery['lr_scale'] * cfg.doctor.retry_lr_factor:.3g}",
                f"optim.g_lr={cfg.optim.g_lr * recovery['lr_scale'] * cfg.doctor.retry_lr_factor:.3g}"]).record())
            tried = f" after {n} rollback(s) with learning rates x{recovery['lr_scale']:.3g}" if n else ""
            raise TrainingDiverged(f"{err}{tried}; stopped") from None
        recovery["retries"] = n + 1
        recovery["lr_scale"] *= cfg.doctor.retry_lr_factor
        to_step, snapshot = good
        _restore(gan, data, copy.deepcopy(snapshot))  # a copy: the optimizers adopt its tensors
        emit(Event.rollback(step, to_step, n + 1, limit, recovery["lr_scale"]).record())
        return to_step

    def evaluate(step: int) -> dict:
        x = generate(sampler(), prior, cfg.eval.n_samples, cfg.eval.seed, data, gan.n_classes)
        m = {"step": step, **sample_metrics(x, data, cfg.eval.seed, inception_weights=cfg.eval.inception_weights)}
        emit(m)
        return m

    def plot(step: int) -> None:
        if len(data.shape) == 3:  # images: a grid of samples on fixed noise
            fake = generate(sampler(), prior, 64, cfg.eval.seed, data, gan.n_classes)
            image_grid(fake, run_dir / "samples" / f"step-{step:07d}.png", meta=synthetic_meta(run_dir.name, step))
        elif math.prod(data.shape) == 2:
            fake = generate(sampler(), prior, 2000, cfg.eval.seed, data, gan.n_classes)
            real = data.reference(2000, cfg.eval.seed)
            scatter(real, fake, run_dir / "samples" / f"step-{step:07d}.png", f"step {step}", data.centers)

    def finite_record(step: int, out: dict, weights: bool = False) -> dict:
        """Read the step's statistics (averaged over ranks); stop with TrainingDiverged on NaN or
        Inf, on every rank alike."""
        out = distributed.mean_stats(out, d)
        record = {"step": step, **{k: v.item() for k, v in out.items()}}
        bad = [k for k, v in record.items() if not math.isfinite(v)]
        if weights and not bad and not distributed.all_true(_weights_finite(gan), d, device):
            bad = ["weights"]
        if bad:
            emit(Event.divergence(step, bad, {k: record[k] for k in bad if k in record}).record())
            raise TrainingDiverged(f"training diverged at step {step}: {', '.join(bad)} became NaN or infinite")
        return record

    step, metrics = start, {}
    good = (start, copy.deepcopy(_state(gan, data, start, cfg)))  # where a divergence rolls back to
    try:
        with _StopOnInterrupt() as stop:
            while step < T.steps:
                step += 1
                log = _due(step, T.log_every, T.steps)
                factor = lr_factor(cfg.optim.schedule, step, T.steps) * recovery["lr_scale"]
                set_lr(gan.opt_g, cfg.optim.g_lr, factor)
                set_lr(gan.opt_d, cfg.optim.d_lr * gan.d_lr_scale, factor)  # lazy regularisation's c
                gan.instance_noise = instance_noise_std(T.instance_noise, step, T.instance_noise_steps or T.steps)
                try:
                    out = train_step(gan, next_real, T.batch_size, T.d_steps, stats=log)
                    if log:  # the one host sync of a log step
                        record = finite_record(step, out)
                        if probe is not None:
                            record.update(probe.measure(gan.G, gan.D))
                        emit(record)
                    if d.main and _due(step, cfg.eval.every, T.steps):
                        metrics = evaluate(step)
                    if d.main and _due(step, T.sample_every, T.steps):
                        plot(step)
                    # Ctrl-C: under torchrun, the ranks agree at a log step to stop together
                    stopping = stop.requested if not d.enabled else \
                        log and not distributed.all_true(not stop.requested, d, device)
                    if _due(step, T.ckpt_every, T.steps) or stopping:
                        finite_record(step, out, weights=True)  # never checkpoint NaN weights
                        state = _state(gan, data, step, cfg)
                        if d.main:
                            save_checkpoint(run_dir, step, {**state, "recovery": dict(recovery)}, T.keep_ckpts)
                        good = (step, copy.deepcopy(state))
                except TrainingDiverged as e:
                    step = recover(step, e, good)
                    continue
                if stopping:  # Ctrl-C: stopped between two steps, nothing lost
                    raise KeyboardInterrupt
    finally:
        for s in all_sinks:
            s.close()
    wall_s = time.perf_counter() - t0
    if d.main:
        (run_dir / "eval.json").write_text(json.dumps({**metrics, "wall_s": wall_s}, indent=2) + "\n")
    distributed.barrier(d)  # every rank returns once the run directory is complete
    return RunResult(run_dir, step, metrics, wall_s)

