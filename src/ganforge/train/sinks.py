"""Where the loop's records go besides metrics.jsonl: TensorBoard, the progress bar, stderr.

A sink has ``log(record)`` (a dict with at least ``step``) and ``close()``. A record is a step
record, an evaluation or an event (:func:`ganforge.runlog.record_kind`); metrics.jsonl itself is
written by :class:`ganforge.runlog.JsonlSink`. Sinks never change training.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Optional

from ..runlog import Kind, record_kind


class TensorBoardSink:
    """Scalars to TensorBoard event files under ``run_dir/tb``."""

    def __init__(self, log_dir: Path, resume_step: Optional[int] = None):
        from torch.utils.tensorboard import SummaryWriter  # imported lazily: it is slow

        self.writer = SummaryWriter(log_dir=str(log_dir), purge_step=resume_step)

    def log(self, record: dict) -> None:
        kind = record_kind(record)
        if kind is Kind.EVENT:
            return  # an event holds no scalar (its numbers sit in evidence)
        step = record["step"]
        group = "train" if kind is Kind.STEP else "eval"
        for key, v in record.items():
            if key != "step" and isinstance(v, (int, float)) and not isinstance(v, bool):
                self.writer.add_scalar(f"{group}/{key}", v, step)

    def close(self) -> None:
        self.writer.close()


def _fmt(v: float) -> str:
    return "nan" if isinstance(v, float) and math.isnan(v) else f"{v:.3g}"


def event_line(record: dict) -> str:
    """One readable console line for an event record."""
    state = "" if record.get("state", "raised") == "raised" else f" {record['state']}"
    line = f"[doctor] step {record['step']}: {record['event']}{state}: {record.get('message', '')}"
    if record.get("remedy"):
        line += f"; try {' '.join(record['remedy'])}"
    return line


class EventPrinter:
    """Events, one line each, on stderr: for runs without a progress bar."""

    def log(self, record: dict) -> None:
        if record_kind(record) is Kind.EVENT:
            print(event_line(record), file=sys.stderr, flush=True)

    def close(self) -> None:
        pass


class ProgressSink:
    """A tqdm bar on stderr: step, it/s, ETA, and the latest losses, d_real and d_fake."""

    KEYS = ("loss_d", "loss_g", "d_real", "d_fake")

    def __init__(self, total: int, start: int = 0):
        self.total, self.start = total, start
        self._bar = None  # drawn at the first record: a run refused before it starts prints nothing
        self.last = start

    @property
    def bar(self):
        if self._bar is None:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=self.total, initial=self.start, desc="train", unit="step", dynamic_ncols=True)
        return self._bar

    def log(self, record: dict) -> None:
        kind = record_kind(record)
        if kind is Kind.STEP:
            step = record["step"]
            self.bar.set_postfix({k: _fmt(record[k]) for k in self.KEYS if k in record}, refresh=False)
            self.bar.update(step - self.last)
            self.last = step
        elif kind is Kind.EVENT:
            self.bar.write(event_line(record))

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
