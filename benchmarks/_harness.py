"""What every benchmark script shares: training in a temporary directory, mean ± standard error,
the machine footer, the markdown writer, a process pool, and the Stacked-digits mode count.

A script imports it as ``import _harness as H`` (``benchmarks/`` is on ``sys.path`` when a script
runs, and in the processes a spawned pool starts). Nothing of ganforge is imported here at module
level: a script may first put ``src/`` on ``sys.path``, and ``ctgan_fit.py`` runs in an
environment without ganforge.

    with H.trained("grid25", ["train.steps=200"], seed=0, threads=1) as t:
        t.metrics["modes"], t.wall_s, t.records(), t.load().generate(64, seed=1)
    H.pm([0.1, 0.2, 0.3])                         # '0.2 ± 0.0577'
    H.write_results(lines, H.RESULTS / "x.md", threads=1)   # printed, saved, machine footer last
"""

from __future__ import annotations

import datetime
import json
import math
import multiprocessing
import os
import platform
import statistics
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Optional, Sequence, Union

RESULTS = Path(__file__).resolve().parent / "results"
ROOT = RESULTS.parents[1]  # the repository: ROOT / "src" is the library

# The common overrides of a benchmark run: no progress bar, no TensorBoard files, no sample grids.
QUIET = ("train.progress=false", "train.tensorboard=false", "train.sample_every=0")


# ----------------------------------------------------------------------------- training


def config(preset: str, overrides: Sequence[str] = (), *, seed: Optional[int] = None,
           threads: Optional[int] = None, quiet: Sequence[str] = QUIET):
    """The Config of ``preset`` with ``quiet``, ``train.seed``, ``train.threads`` (when given),
    then ``overrides`` applied in that order (a script's own overrides win)."""
    from ganforge.config import load_config

    head = [*quiet, *([f"train.seed={seed}"] if seed is not None else []),
            *([f"train.threads={threads}"] if threads is not None else [])]
    return load_config(preset, [*head, *overrides])


@dataclass
class Trained:
    """One finished (or stopped) training run: its config, directory, the trainer's return value
    (``RunResult`` of the loop, or ``api.Run``), its wall seconds, and the exception that stopped it
    early when the caller allowed one (``stop_ok``)."""

    cfg: Any
    run_dir: Path
    result: Any
    wall_s: float
    stopped: Optional[BaseException] = None

    @property
    def metrics(self) -> dict:
        """The final evaluation's metrics (a copy)."""
        return dict(self.result.metrics)

    def records(self) -> list[dict]:
        """The run's ``metrics.jsonl`` records."""
        from ganforge.runlog import read_records

        return read_records(self.run_dir / "metrics.jsonl")[0]

    def load(self):
        """The newest checkpoint's generator (``api.load_run``), to sample from."""
        from ganforge.api import load_run

        return load_run(self.run_dir)


def train(cfg, run_dir: Path, *, callbacks: Optional[Sequence] = None, via_api: bool = False,
          resume: bool = False, stop_ok: tuple = ()) -> Trained:
    """Train ``cfg`` in ``run_dir`` through ganforge's own loop (``ganforge.train.loop.train``,
    with ``callbacks`` or the default ones: doctor and evaluation), or with ``via_api`` as
    ``ganforge train`` does (``api.train``: the data checked first, sample plots, ``callbacks``
    added). An exception of a type in ``stop_ok`` ends the run quietly (``Trained.stopped``)."""
    run_dir = Path(run_dir)
    result, stopped = None, None
    t0 = time.perf_counter()
    try:
        if via_api:
            from ganforge import api

            result = api.train(cfg, out=run_dir, callbacks=callbacks or ())
        else:
            from ganforge.train.loop import train as train_loop

            result = train_loop(cfg, run_dir, resume=resume, callbacks=callbacks)
    except stop_ok as e:  # an empty tuple catches nothing
        stopped = e
    return Trained(cfg, run_dir, result, time.perf_counter() - t0, stopped)


@contextmanager
def temp_dir(prefix: str = "ganforge-bench-") -> Iterator[Path]:
    """A temporary folder, removed with everything in it when the block ends."""
    with tempfile.TemporaryDirectory(prefix=prefix) as d:
        yield Path(d)


@contextmanager
def trained(preset: Union[str, Any], overrides: Sequence[str] = (), *, seed: Optional[int] = None,
            threads: Optional[int] = None, quiet: Sequence[str] = QUIET, out: Optional[Path] = None,
            **train_kw) -> Iterator[Trained]:
    """Train ``preset`` (a name, with :func:`config`'s overrides; or a Config as it is) in a
    temporary directory, or in ``out`` when given (kept), and yield the :class:`Trained` run;
    the temporary directory goes when the block ends. ``threads`` also sets this process's torch
    threads. ``train_kw``: :func:`train`'s (callbacks, via_api, stop_ok)."""
    if threads is not None:
        import torch

        torch.set_num_threads(threads)
    cfg = config(preset, overrides, seed=seed, threads=threads, quiet=quiet) if isinstance(preset, str) else preset
    with temp_dir() as d:
        yield train(cfg, Path(out) if out is not None else d, **train_kw)


def budgeted(seconds: Optional[float]) -> dict:
    """:func:`trained`'s keywords for a run that stops once its training has taken ``seconds``
    (none: no limit): a callback that asks the loop to stop at the end of the step past the
    budget, and the stop it raises taken as a quiet end. The run keeps its last checkpoint, so
    a budgeted run is measured there; a script checkpoints often enough for that to be near.

        with H.trained(preset, over, seed=0, **H.budgeted(600)) as t: ..."""
    from ganforge.train.callbacks import Callback
    from ganforge.train.loop import RunStopped

    class Budget(Callback):
        def on_start(self, run) -> None:
            self.t0 = time.perf_counter()

        def on_step_end(self, run, step: int) -> None:
            if seconds and time.perf_counter() - self.t0 > seconds:
                run.stop_reason = f"time budget {seconds:g} s"

    return {"callbacks": [Budget()], "stop_ok": (RunStopped,)}


def peak_mb() -> float:
    """This process's peak resident memory in MiB (Linux reports ru_maxrss in KiB)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ----------------------------------------------------------------------------- statistics


def mean(xs: Iterable[float]) -> float:
    """The mean, summed exactly (``math.fsum``); inf when a value is."""
    xs = list(xs)
    return math.fsum(xs) / len(xs)


def sd(xs: Iterable[float], ddof: int = 1) -> float:
    """The standard deviation: of a sample (``ddof=1``, 0.0 for one value) or of the values
    themselves (``ddof=0``); nan when a value is not finite."""
    xs = list(xs)
    if len(xs) <= ddof:
        return 0.0
    if not all(math.isfinite(x) for x in xs):
        return math.nan
    return statistics.stdev(xs) if ddof == 1 else statistics.pstdev(xs)


def se(xs: Iterable[float], alone: float = 0.0) -> float:
    """The standard error of the mean, sd / sqrt(n); ``alone`` for fewer than two values; nan
    when a value is not finite."""
    xs = list(xs)
    if len(xs) < 2:
        return alone
    return sd(xs) / math.sqrt(len(xs))


def pm(xs: Iterable[float], fmt: str = "{:.3g}", *, spread: Callable = se, scale: float = 1.0,
       alone: Optional[float] = 0.0, center: Callable = mean) -> str:
    """'mean ± spread' of ``xs`` times ``scale``, both in ``fmt``. ``spread``: :func:`se` (default)
    or e.g. :func:`sd`. With one value, ``alone`` is its spread; ``alone=None`` drops the '± ...'.
    ``center``: the mean (a script whose published tables used ``statistics.mean`` or ``np.mean``
    keeps it, so that a value on a rounding boundary prints as before, to the last digit)."""
    xs = list(xs)
    m = fmt.format(scale * center(xs))
    if len(xs) < 2:
        return m if alone is None else f"{m} ± {fmt.format(scale * alone)}"
    return f"{m} ± {fmt.format(scale * spread(xs))}"


# ----------------------------------------------------------------------------- results


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux), else what ``platform`` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine(threads: Optional[int] = None) -> str:
    """One line: CPU model, cores, torch version, torch threads (this process's when not given), date."""
    import torch

    threads = torch.get_num_threads() if threads is None else threads
    today = datetime.datetime.now(datetime.timezone.utc).date().isoformat()
    return (f"Machine: {cpu_model()} ({platform.machine()}), {os.cpu_count()} cores, torch {torch.__version__}, "
            f"{threads} torch thread(s) per run; {today}.")


def emit_row(row: dict, rows_file: Optional[Union[str, Path]] = None) -> None:
    """Print a benchmark row as one JSON line (floats to 4 decimals), and append it to
    ``rows_file`` when given: a long run stopped early keeps every row it finished."""
    line = json.dumps({k: (round(v, 4) if isinstance(v, float) else v) for k, v in row.items()})
    print(line, flush=True)
    if rows_file:
        with open(rows_file, "a") as f:
            f.write(line + "\n")


def write_results(lines: Union[str, Sequence[str]], out: Union[str, Path], *, threads: Optional[int] = None,
                  keep: Optional[str] = None, footer: bool = True, echo: bool = True) -> str:
    """Write a markdown result to ``out`` (folders made), with :func:`machine`'s footer last, and
    print it. ``keep``: a marker line; the old file's text from it on (a written reading) is kept
    after the new tables. Returns the text written."""
    text = (lines if isinstance(lines, str) else "\n".join(lines)).rstrip("\n") + "\n"
    if footer:
        text += "\n" + machine(threads) + "\n"
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if keep:
        old = out.read_text() if out.exists() else ""
        if keep in old:
            text += "\n" + old[old.index(keep):]
    out.write_text(text)
    if echo:
        print(text, flush=True)
    return text


def kept_reading(out: Union[str, Path], marker: str) -> str:
    """The hand-written reading of a results file: its text after ``marker`` up to the machine
    footer, stripped; '' when the file or the marker is not there. A script writes it back after
    the new tables, so a rebuilt table keeps what was written about it."""
    out = Path(out)
    text = out.read_text() if out.exists() else ""
    return text.split(marker, 1)[1].split("\nMachine: ")[0].strip() if marker in text else ""


def save_grid(rows: Sequence, path: Union[str, Path], scale: int = 3) -> None:
    """A PNG of grey tiles: ``rows`` of (h, w) arrays in [0, 1], each tile framed by a 1 px white
    border, tiles side by side within a row, enlarged ``scale`` times (nearest neighbour)."""
    import numpy as np
    from PIL import Image

    grid = np.concatenate([np.concatenate([np.pad(t, 1, constant_values=1) for t in r], 1) for r in rows], 0)
    Image.fromarray((grid * 255).round().astype(np.uint8)).resize((grid.shape[1] * scale, grid.shape[0] * scale),
                                                                  Image.NEAREST).save(path)


# ----------------------------------------------------------------------------- processes


def pool_map(fn: Callable, jobs: Sequence, workers: int = 1) -> Iterator:
    """``fn(job)`` for every job in ``workers`` spawned processes, results in the jobs' order as
    they finish. Spawn, not fork: a forked child of a process that has touched torch's OpenMP
    pool can run single-threaded or deadlock. ``fn`` must be importable (a module-level function)."""
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        yield from pool.map(fn, jobs)


# ----------------------------------------------------------------------------- Stacked digits


def stacked_modes(x) -> tuple[int, float]:
    """Stacked digits, the Stacked-MNIST protocol: images (N, 3, H, W) in [0, 1] -> (modes covered
    of 1,000, KL(mode histogram || uniform)), each channel read by the digit classifier."""
    from ganforge.metrics.features import digit_classifier
    from ganforge.metrics.image import stacked_modes as modes_of

    digits = digit_classifier().logits(x).argmax(1).view(len(x), 3)  # (N, 3) the class of each channel
    return modes_of(digits)
