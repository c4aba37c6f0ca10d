"""A run's history as the report sees it: metrics.jsonl split into training records,
evaluation records and events, with the branches abandoned by a rollback cut out.

The loop writes three kinds of record to the same file (see ``train/sinks.py``): training
statistics carry ``loss_d``, events carry ``event``, and everything else is an evaluation.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Iterable, NamedTuple, Optional


class History(NamedTuple):
    """Training records, evaluation records and events, each a list of dicts in file order
    (training and evaluation records then sorted by step)."""

    train: list[dict]
    evals: list[dict]
    events: list[dict]


def number(v) -> Optional[float]:
    """``v`` as a float if it is a JSON number (NaN and infinities included), else None.
    Booleans are not numbers here, although Python says they are."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    return float(v)


def _on_axis(rec) -> bool:
    """Every record must sit on the step axis: a dict with a finite number ``step``."""
    step = number(rec.get("step")) if isinstance(rec, dict) else None
    return step is not None and math.isfinite(step)


def read_records(path: Path) -> tuple[list[dict], int]:
    """The JSON objects of a ``.jsonl`` file and how many lines were skipped: a run killed
    mid-write can leave a truncated last line, and a report should still be possible."""
    records, skipped = [], 0
    with open(path, encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            try:
                rec = json.loads(line)  # accepts the NaN / Infinity that json.dumps writes
            except ValueError:
                skipped += 1
                continue
            if not _on_axis(rec):
                skipped += 1
                continue
            records.append(rec)
    return records, skipped


def rollback_step(event: dict) -> Optional[float]:
    """The step a ``rollback`` event went back to (``evidence.to_step``), or None."""
    if event.get("event") != "rollback":
        return None
    evidence = event.get("evidence")
    return number(evidence.get("to_step")) if isinstance(evidence, dict) else None


def split_history(records: Iterable[dict]) -> History:
    """Sort records into training / evaluation / events, in file order.

    After a divergence the loop rolls back to a checkpoint at step S and logs a ``rollback``
    event with ``evidence.to_step = S``; the steps after S are then trained again and logged a
    second time. The curves must show the branch the run kept, so a rollback drops every
    training and evaluation record seen so far with step > S. Events are all kept: they are the
    story of the run, the abandoned branch included.
    """
    train: list[dict] = []
    evals: list[dict] = []
    events: list[dict] = []
    for rec in records:
        if not _on_axis(rec):
            continue
        if "event" in rec:
            events.append(rec)
            to_step = rollback_step(rec)
            if to_step is not None and not math.isnan(to_step):
                train = [r for r in train if r["step"] <= to_step]
                evals = [r for r in evals if r["step"] <= to_step]
        elif "loss_d" in rec:
            train.append(rec)
        else:
            evals.append(rec)
    by_step = lambda r: r["step"]  # noqa: E731  (stable: equal steps keep file order)
    return History(sorted(train, key=by_step), sorted(evals, key=by_step), events)


def load_history(run_dir: Path) -> History:
    """:func:`split_history` of ``run_dir/metrics.jsonl`` (unreadable lines skipped)."""
    records, _ = read_records(Path(run_dir) / "metrics.jsonl")
    return split_history(records)


def numeric_keys(records: Iterable[dict], exclude: Iterable[str] = ("step",)) -> list[str]:
    """Keys holding a number in at least one record, in order of first appearance."""
    skip, seen = set(exclude), {}
    for rec in records:
        for k, v in rec.items():
            if k not in skip and k not in seen and number(v) is not None:
                seen[k] = None
    return list(seen)


def series(records: list[dict], key: str) -> tuple[list[float], list[float]]:
    """``(steps, values)`` of ``key`` over the records that have it as a number; non-finite
    values become NaN so that plots show a gap where training produced NaN or inf."""
    steps, values = [], []
    for rec in records:
        v = number(rec.get(key))
        if v is not None:
            steps.append(float(rec["step"]))
            values.append(v if math.isfinite(v) else math.nan)
    return steps, values
