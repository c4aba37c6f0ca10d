"""The run around the game's step: data, seeding, logging, checkpoints, resume and the
recovery from divergence; evaluation, the doctor and sample plots are callbacks it calls.

Statistics stay on the device between log steps; at a log step they are read once
(``.item()``), checked for NaN/Inf and handed to the sinks. Everything the run writes goes
into its run directory.
"""

from __future__ import annotations

import contextlib
import copy
import errno
import json
import math
import platform
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import torch

from ..build import build_data, resolve_device
from ..config import Config, to_dict, to_yaml
from ..data.base import Streamed
from ..errors import GanforgeError, RunStopped, TrainingDiverged, WriteFailed, os_error_line
from ..metrics.inception import check_weights
from ..files import write_text_atomic
from ..rundir import hold_run
from ..runlog import Event, JsonlSink
from . import distributed
from .callbacks import Callback, RunState, due
from .checkpoint import list_checkpoints, load_checkpoint, save_checkpoint
from .games import Game, StepValues, build_game, default_callbacks
from .runtime import attach, check_precision, data_on_device
from .schedule import instance_noise_std, lr_factor
from .sinks import TensorBoardSink


@dataclass
class RunResult:
    run_dir: Path
    step: int
    metrics: dict
    wall_s: float


def _state(game: Game, data, step: int, cfg: Config) -> dict:
    """Everything needed to continue exactly: the game's state, every RNG, the config."""
    return {
        "config": to_dict(cfg),
        **game.state_dict(),
        "data_norm": {"loc": data.loc, "scale": data.scale},  # model space <-> data space
        "rng": {"noise": game.gen.get_state(), "torch": torch.get_rng_state(), "data": data.state_dict()},
    }


def _restore(game: Game, data, ckpt: dict) -> None:
    game.load_state_dict(ckpt)
    game.gen.set_state(ckpt["rng"]["noise"])
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


def _weights_finite(game: Game) -> bool:
    params = [p.detach() for m in (game.players.G, game.players.D) for p in m.parameters()]
    return bool(torch.stack([torch.isfinite(p).all() for p in params]).all())


def _hardware(device: torch.device, world: int) -> dict:
    """What the run trained on, for its model card: device, processes, torch, CPU threads."""
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or platform.machine()
    return {"device": str(device), "name": name, "processes": world, "torch": torch.__version__,
            "threads": torch.get_num_threads()}


def train(cfg: Config, run_dir: Path, resume: bool = False, sinks: Sequence = (), data=None,
          callbacks: Optional[Sequence[Callback]] = None, from_step: Optional[int] = None) -> RunResult:
    """Train ``cfg`` in ``run_dir`` (created by the caller), from scratch or from its newest
    checkpoint. ``sinks`` receive every record as well as metrics.jsonl and TensorBoard.
    ``data`` is the source built from ``cfg`` if the caller has already built (and so checked) it.
    ``callbacks``: the parts of the run the loop calls (default: the doctor and evaluation
    that its game declares, :func:`~ganforge.train.games.default_callbacks`); an application appends its own.
    ``from_step``: resume from the checkpoint at this step (default: the newest complete one).
    Under torchrun, every rank calls this; rank 0 alone writes ``run_dir`` (see distributed.py)
    and holds its lock (:func:`ganforge.rundir.hold_run`): a second training in the same
    directory is refused. A file that cannot be written (a full disk, a read-only directory)
    stops the run with :class:`WriteFailed`; its newest complete checkpoint stays loadable."""
    callbacks = default_callbacks(cfg) if callbacks is None else list(callbacks)
    with distributed.session(cfg.train.device, cfg.train.dist_backend) as d:
        with hold_run(Path(run_dir), fresh=not resume, enabled=d.main):
            try:
                return _train(cfg, run_dir, resume, sinks, data, callbacks, d, from_step)
            except OSError as e:
                if e.errno not in _WRITE_ERRORS:
                    raise
                raise WriteFailed(_write_failed_line(Path(run_dir), e)) from None


_WRITE_ERRORS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EFBIG, errno.EIO,
                 errno.ENOENT)


def _write_failed_line(run_dir: Path, e: OSError) -> str:
    found = list_checkpoints(run_dir)
    newest = f"its newest complete checkpoint is step {found[-1][0]}" if found else "it has no checkpoint yet"
    return (f"{run_dir}: cannot write ({os_error_line(e)}); the run stopped and {newest}. "
            f"Free space or fix the directory, then: ganforge train --resume {run_dir}")


def _train(cfg: Config, run_dir: Path, resume: bool, sinks: Sequence, data, callbacks: list,
           d: distributed.Dist, from_step: Optional[int] = None) -> RunResult:
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
    game = build_game(cfg, data, device)
    if cfg.eval.inception_weights:  # a bad path fails now, not at the first evaluation
        check_weights(cfg.eval.inception_weights)

    start = 0
    recovery = {"retries": 0, "lr_scale": 1.0}  # divergence rollbacks so far; they persist across resumes
    if resume:
        ckpt = load_checkpoint(run_dir, from_step, map_location=device)
        _restore(game, data, ckpt)
        start = int(ckpt["step"])
        recovery.update(ckpt.get("recovery") or {})
        if start >= T.steps:
            raise GanforgeError(f"{run_dir} is already at step {start}; set train.steps above it to continue")
        if d.main:  # newer files were passed over as damaged: set them aside, the run writes its own
            for s, p in list_checkpoints(run_dir):
                if s > start:
                    p.rename(p.with_name(p.name + ".damaged"))
    prior = game.prior  # for evaluation and probes: under DDP the game's prior draws this rank's rows
    attach(game, cfg, device, d)  # precision, channels_last, compile, DDP
    if resume:
        game.runtime.load_state_dict(ckpt.get("amp"))
    if data_on_device(T.data_on_device, data, device):
        data.hold_on(device)
    streamed = isinstance(data, Streamed)  # read from disk by a DataLoader (a built dataset)
    if streamed:  # its batches come as this rank's rows, on the device
        data.stream(device, d.rank, d.world)
    if d.main:
        write_text_atomic(run_dir / "config.yaml", to_yaml(cfg))

    def next_real(n: int) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
        x, y = data.sample(n)  # (n, *shape), (n,) or None; under DDP the global batch, alike on every rank
        if not streamed:  # ... of which this rank keeps its rows (a streamed source read only those)
            x, y = d.shard(x), (d.shard(y) if y is not None else None)
        return x.to(device, non_blocking=True), (y.to(device, non_blocking=True) if y is not None else None)

    all_sinks = [JsonlSink(run_dir / "metrics.jsonl", start if resume else None)] if d.main else []
    if T.tensorboard and d.main:
        all_sinks.append(TensorBoardSink(run_dir / "tb", start if resume else None))
    all_sinks += list(sinks) if d.main else []
    callbacks = callbacks if d.main else []  # rank 0 evaluates and diagnoses; all ranks roll back

    def emit(record: dict) -> None:
        """To every sink; what the callbacks make of it (the doctor's events) follows it."""
        follow = [r for cb in callbacks for r in cb.observe(run, record)]
        for rec in [record, *follow]:
            for s in all_sinks:
                s.log(rec)

    run = RunState(cfg, run_dir, data, game, prior, device, emit, resumed_at=start)
    for cb in callbacks:
        cb.on_start(run)

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
        _restore(game, data, copy.deepcopy(snapshot))  # a copy: the optimizers adopt its tensors
        emit(Event.rollback(step, to_step, n + 1, limit, recovery["lr_scale"]).record())
        return to_step

    def finite_record(step: int, out: dict, weights: bool = False) -> dict:
        """Read the step's statistics (averaged over ranks); stop with TrainingDiverged on NaN or
        Inf, on every rank alike."""
        out = distributed.mean_stats(out, d)
        record = {"step": step, **{k: v.item() for k, v in out.items()}}
        bad = [k for k, v in record.items() if not math.isfinite(v)]
        if weights and not bad and not distributed.all_true(_weights_finite(game), d, device):
            bad = ["weights"]
        if bad:
            emit(Event.divergence(step, bad, {k: record[k] for k in bad if k in record}).record())
            raise TrainingDiverged(f"training diverged at step {step}: {', '.join(bad)} became NaN or infinite")
        return record

    step = start
    good = (start, copy.deepcopy(_state(game, data, start, cfg)))  # where a divergence rolls back to
    try:
        with _StopOnInterrupt() as stop:
            while step < T.steps:
                step += 1
                log = due(step, T.log_every, T.steps)
                values = StepValues(
                    lr_factor=lr_factor(cfg.optim.schedule, step, T.steps, cfg.optim.schedule_start,
                                        cfg.optim.schedule_steps) * recovery["lr_scale"],
                    instance_noise=instance_noise_std(T.instance_noise, step, T.instance_noise_steps or T.steps),
                )
                try:
                    out = game.step(next_real, T.batch_size, values, stats=log)
                    if log:  # the one host sync of a log step
                        record = finite_record(step, out)
                        for cb in callbacks:
                            cb.on_log(run, record)  # the doctor's probes
                        emit(record)
                    for cb in callbacks:
                        cb.on_step_end(run, step)  # evaluation, sample plots, an application's own
                    if run.stop_reason is not None if not d.enabled else \
                            log and not distributed.all_true(run.stop_reason is None, d, device):
                        raise RunStopped(run.stop_reason or "stopped on rank 0's request")  # every rank alike
                    # Ctrl-C: under torchrun, the ranks agree at a log step to stop together
                    stopping = stop.requested if not d.enabled else \
                        log and not distributed.all_true(not stop.requested, d, device)
                    if due(step, T.ckpt_every, T.steps) or stopping:
                        finite_record(step, out, weights=True)  # never checkpoint NaN weights
                        game.ready_sampler(run.prior)  # G_ema saved with its own norm statistics
                        state = _state(game, data, step, cfg)
                        if d.main:
                            save_checkpoint(run_dir, step, {**state, "recovery": dict(recovery)}, T.keep_ckpts)
                        good = (step, copy.deepcopy(state))
                except TrainingDiverged as e:
                    step = recover(step, e, good)
                    continue
                if stopping:  # Ctrl-C: stopped between two steps, nothing lost
                    raise KeyboardInterrupt
    except BaseException:
        for s in all_sinks:  # a full disk may fail these too: the first error is the one to tell
            with contextlib.suppress(Exception):
                s.close()
        if streamed:
            data.close()
        raise
    for s in all_sinks:
        s.close()
    if streamed:
        data.close()  # the loader's worker processes
    wall_s = time.perf_counter() - t0
    if d.main:
        eval_json = {**run.metrics, "wall_s": wall_s, "hardware": _hardware(device, d.world)}
        write_text_atomic(run_dir / "eval.json", json.dumps(eval_json, indent=2) + "\n")
    distributed.barrier(d)  # every rank returns once the run directory is complete
    return RunResult(run_dir, step, run.metrics, wall_s)
