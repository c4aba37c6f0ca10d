"""The run log, ``metrics.jsonl``: what a record is, how it is written and read, and the rollback rule.

One JSON object per line, each with a ``step``, of three kinds (:func:`record_kind`):

- a *step* record: the training statistics of a log step (``loss_d``, ``loss_g``, ``d_real``, ...
  and the doctor's probes);
- an *evaluation* record: sample metrics (``fid``, ``modes``, ``hq``, ...);
- an *event*: something that happened at a step (``event`` names it; see :class:`Event`), from the
  loop (divergence, rollback, stopped) or from the doctor's detectors.

The rollback rule (:func:`rollback_to`, :func:`keep_branch`, :meth:`History.cut`): after a divergence
the loop restores the checkpoint at step S, logs a ``rollback`` event with ``evidence.to_step = S``
and trains the steps after S again, logging them a second time. Readers must see the branch the run
kept, so a rollback abandons every step and evaluation record logged before it with step > S.
Events are never abandoned: they tell the story of the run, the abandoned branch included. The
report, the live doctor and ``ganforge doctor``'s replay all apply the rule through this module.

This module writes and reads; it never changes a number. The writer's bytes are
``json.dumps(record, allow_nan=True)`` plus a newline, so NaN and infinities appear as the
``NaN`` / ``Infinity`` that ``json.loads`` reads back.
"""

from __future__ import annotations

import enum
import json
import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Optional, Sequence, TypeVar

from .errors import GanforgeWarning
from .files import write_text_atomic

T = TypeVar("T")

# ----------------------------------------------------------------------------- record kinds


class Kind(enum.Enum):
    STEP = "step"  # training statistics of a log step
    EVALUATION = "evaluation"  # sample metrics
    EVENT = "event"  # divergence, rollback, stopped, or a detector's alarm


def record_kind(record: dict) -> Kind:
    """The kind of a ``metrics.jsonl`` record. Events carry ``event``; step records carry
    ``loss_d`` (every game logs it); anything else with a step is an evaluation."""
    if "event" in record:
        return Kind.EVENT
    if "loss_d" in record:
        return Kind.STEP
    return Kind.EVALUATION


def number(v) -> Optional[float]:
    """``v`` as a float if it is a JSON number (NaN and infinities included), else None.
    Booleans are not numbers here, although Python says they are."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    return float(v)


def _on_axis(record) -> bool:
    """Every record must sit on the step axis: a dict with a finite number ``step``."""
    step = number(record.get("step")) if isinstance(record, dict) else None
    return step is not None and math.isfinite(step)


# ----------------------------------------------------------------------------- events

DIVERGENCE, ROLLBACK, STOPPED = "divergence", "rollback", "stopped"
LOOP_EVENTS = (DIVERGENCE, ROLLBACK, STOPPED)  # found by the loop itself; the doctor never replays them


@dataclass
class Event:
    """Something that happened at ``step``. Its :meth:`record` is the line in metrics.jsonl;
    the key order there is part of the file format (``step, event, state, severity, message,
    evidence, remedy``)."""

    step: int
    kind: str  # mode_collapse, vanishing_gradients, ..., or one of LOOP_EVENTS
    state: str  # raised or cleared
    severity: str  # info (good news), warning, error
    message: str
    evidence: dict = field(default_factory=dict)  # the numbers that show it
    remedy: list = field(default_factory=list)  # "key=value" settings to try

    def record(self) -> dict:
        return {"step": self.step, "event": self.kind, "state": self.state, "severity": self.severity,
                "message": self.message, "evidence": self.evidence, "remedy": self.remedy}

    # The loop's own events. Their evidence is what readers rely on (a rollback's ``to_step`` is
    # the rollback rule's input), so it is built here, next to the rule, and nowhere else.

    @classmethod
    def divergence(cls, step: int, bad: Sequence[str], evidence: dict) -> "Event":
        """Training statistics (or, with ``bad = ["weights"]``, the weights) became NaN or inf;
        ``evidence`` holds the offending values."""
        return cls(step, DIVERGENCE, "raised", "error", f"{', '.join(bad)} became NaN or infinite", evidence, [])

    @classmethod
    def rollback(cls, step: int, to_step: int, retry: int, max_retries: int, lr_scale: float) -> "Event":
        """The loop went back from ``step`` to its last good state at ``to_step`` and goes on with
        learning rates scaled by ``lr_scale``; ``retry`` counts rollbacks over the whole run."""
        return cls(step, ROLLBACK, "raised", "warning",
                   f"rolled back to step {to_step}, learning rates x{lr_scale:.3g} (retry {retry} of {max_retries})",
                   {"to_step": to_step, "from_step": step, "retry": retry, "lr_scale": lr_scale}, [])

    @classmethod
    def stopped(cls, step: int, retries: int, remedy: list) -> "Event":
        """The run diverged again after ``retries`` rollbacks (the limit) and stops here."""
        return cls(step, STOPPED, "raised", "error", f"diverged again after {retries} rollback(s); stopping",
                   {"retries": retries}, remedy)


# ----------------------------------------------------------------------------- the rollback rule


def rollback_to(record: dict) -> Optional[float]:
    """S when ``record`` is a rollback event with a finite ``evidence.to_step = S``, else None
    (any other record, or a rollback that does not say where it went: nothing is cut)."""
    if record.get("event") != ROLLBACK:
        return None
    evidence = record.get("evidence")
    to_step = number(evidence.get("to_step")) if isinstance(evidence, dict) else None
    return to_step if to_step is not None and math.isfinite(to_step) else None


def _step(record: dict) -> float:
    return record["step"]


def keep_branch(items: Sequence[T], to_step: float, step: Callable[[T], float] = _step) -> list[T]:
    """The rollback rule: of ``items`` logged before a rollback to ``to_step``, those the run kept
    (``step(item) <= to_step``), in their order. ``step`` reads an item's step (records: ``["step"]``)."""
    return [x for x in items if step(x) <= to_step]


class History:
    """The records of the branch a run kept: step records (``train``) and evaluation records
    (``evals``) in arrival order with those abandoned by rollbacks cut out, and every event.

    The live doctor's detectors read it as records arrive; the report reads it from a file
    (:func:`split_history`)."""

    def __init__(self, keep: Optional[int] = None) -> None:
        # keep: hold at most this many newest step records (a long run's live doctor would
        # otherwise grow by every record for its whole life); None keeps them all.
        # ``n_train`` still counts every step record on the kept branch.
        self.keep = keep
        self.train: list[dict] = []
        self.evals: list[dict] = []
        self.events: list[dict] = []
        self.n_train = 0

    def add(self, record: dict) -> Kind:
        """File ``record`` by its kind; a rollback event cuts the abandoned branch."""
        kind = record_kind(record)
        if kind is Kind.EVENT:
            self.events.append(record)
            to_step = rollback_to(record)
            if to_step is not None:
                self.cut(to_step)
        elif kind is Kind.STEP:
            self.train.append(record)
            self.n_train += 1
            if self.keep is not None and len(self.train) > self.keep:
                del self.train[: len(self.train) - self.keep]
        else:
            self.evals.append(record)
        return kind

    def cut(self, to_step: float) -> None:
        """Forget the step and evaluation records after ``to_step`` (a rollback abandoned them)."""
        kept = keep_branch(self.train, to_step)
        self.n_train -= len(self.train) - len(kept)
        self.train = kept
        self.evals = keep_branch(self.evals, to_step)

    def series(self, key: str, last: Optional[int] = None) -> list:
        """``key`` of the last ``last`` step records (all if None); None where a record lacks it."""
        recs = self.train if last is None else self.train[-last:]
        return [r.get(key) for r in recs]


def split_history(records: Iterable[dict]) -> History:
    """The :class:`History` of ``records`` (rollback rule applied; records off the step axis
    skipped), its step and evaluation records then sorted by step (stable: equal steps keep
    file order)."""
    history = History()
    for rec in records:
        if _on_axis(rec):
            history.add(rec)
    history.train.sort(key=_step)
    history.evals.sort(key=_step)
    return history


def load_history(run_dir: Path) -> History:
    """:func:`split_history` of ``run_dir/metrics.jsonl`` (unreadable lines skipped)."""
    records, _ = read_records(Path(run_dir) / "metrics.jsonl", warn=True)
    return split_history(records)


# ----------------------------------------------------------------------------- reading


def _parse(line: str) -> Optional[dict]:
    """The record on ``line``, or None if it is not a JSON object on the step axis (a line torn
    by a run killed mid-write, or not ours)."""
    try:
        rec = json.loads(line)  # accepts the NaN / Infinity that json.dumps writes
    except ValueError:
        return None
    return rec if _on_axis(rec) else None


def read_records(path: Path, warn: bool = False) -> tuple[list[dict], int]:
    """The records of a ``metrics.jsonl`` file and how many lines were skipped: a run killed
    mid-write can leave a truncated last line, and a report or a diagnosis should still be possible.
    ``warn``: say so with a :class:`~ganforge.errors.GanforgeWarning` (one line) when any was."""
    records, skipped = _read(path)
    if warn and skipped:
        warnings.warn(f"{path}: skipped {skipped} unreadable line(s) (torn by a run killed mid-write, or not "
                      f"a ganforge record)", GanforgeWarning)
    return records, skipped


def _read(path: Path) -> tuple[list[dict], int]:
    records, skipped = [], 0
    with open(path, encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            rec = _parse(line)
            if rec is None:
                skipped += 1
            else:
                records.append(rec)
    return records, skipped


# ----------------------------------------------------------------------------- writing


class JsonlSink:
    """The writer of ``metrics.jsonl``, a sink of the loop (``log(record)``, ``close()``): one
    JSON object per line, line-buffered so that each record reaches the file when it is logged
    (``ganforge doctor`` can read a live run).

    On resume (``resume_step`` = the checkpoint's step) the records after that step are dropped
    first, so that the file reads as if the run had never stopped; the kept lines are copied as
    they are, and a line torn by the kill that ended the run is dropped with them."""

    def __init__(self, path: Path, resume_step: Optional[int] = None):
        self.path = Path(path)
        if resume_step is not None and self.path.exists():
            kept = [line for line in self.path.read_text().splitlines() if _kept_on_resume(line, resume_step)]
            write_text_atomic(self.path, "".join(line + "\n" for line in kept))
        self._f = open(self.path, "a", buffering=1)

    def log(self, record: dict) -> None:
        self._f.write(json.dumps(record, allow_nan=True) + "\n")

    def close(self) -> None:
        self._f.close()


def _kept_on_resume(line: str, resume_step: int) -> bool:
    if not line.strip():
        return False
    try:
        rec = json.loads(line)
    except ValueError:
        return False  # torn by the kill that stopped the run
    return isinstance(rec, dict) and rec.get("step", 0) <= resume_step  # a record without a step counts as step 0
