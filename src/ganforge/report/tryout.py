"""The board's sampler: a run's newest generator drawn on request, with a seed, a class (or one
row per class), a truncation psi where the model has the trick, and a number of samples, as the
figure its data kind draws (a grid of images, a scatter of points, traces of sequences).

Each run is loaded once per checkpoint (:class:`Runs`) and kept while its newest checkpoint
stays the same. The picture carries what ``ganforge sample --out grid.png`` writes into its
PNG: that it is synthetic, the run and step, and, for images, the run's invisible mark.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import torch

from ..errors import GanforgeError
from ..evaluation import condition_rows
from ..files import encode_image
from ..train.checkpoint import list_checkpoints
from ..trained import TrainedRun, check_class, has_truncation, load_run, truncated

MAX_N = 256  # samples one request may ask for
DEFAULT_N = 16
ROWS = "rows"  # the class field's value for "one row per class"


@dataclass(frozen=True)
class Request:
    """What the sampler's form asks for: ``label`` an id, or None (drawn; ``rows``: one row
    per class); ``truncation`` psi or None."""

    seed: int = 0
    label: Optional[int] = None
    rows: bool = False
    truncation: Optional[float] = None
    n: int = DEFAULT_N


def _one(query: dict, key: str) -> str:
    return (query.get(key) or [""])[0].strip()


def parse_request(query: dict) -> Request:
    """The form's fields (``urllib.parse.parse_qs`` of the query) -> a :class:`Request`; a bad
    field is one line naming it."""
    try:
        seed = int(_one(query, "seed") or 0)
        n = int(_one(query, "n") or DEFAULT_N)
    except ValueError:
        raise GanforgeError("seed and n must be whole numbers") from None
    if not 0 <= seed < 2 ** 63 or not 1 <= n <= MAX_N:
        raise GanforgeError(f"seed must be >= 0 and n in 1..{MAX_N}")
    cls, psi = _one(query, "class"), _one(query, "truncation")
    try:
        label = int(cls) if cls not in ("", ROWS) else None
        truncation = float(psi) if psi else None
    except ValueError:
        raise GanforgeError(f"class {cls!r} / truncation {psi!r}: expected a class id and a number in [0, 1]") from None
    return Request(seed, label, cls == ROWS, truncation, n)


class Runs:
    """Loaded runs, one per run directory, reloaded when a newer checkpoint appears."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._runs: dict[Path, TrainedRun] = {}

    def get(self, run_dir: Path) -> TrainedRun:
        found = list_checkpoints(run_dir)
        if not found:
            raise GanforgeError(f"{run_dir.name}: no checkpoint yet; the sampler opens after the first one")
        with self._lock:
            run = self._runs.get(run_dir)
            if run is None or run.step != found[-1][0]:
                run = self._runs[run_dir] = load_run(run_dir)
            return run


NO_OPTIONS = {"classes": None, "n_classes": 0, "truncation": False}  # the form of a run that cannot sample


def check(run: TrainedRun, req: Request) -> Request:
    """``req`` when ``run`` can draw it (its class exists, its model has a truncation trick if
    a psi is asked for, it samples from noise); else one line."""
    check_class(req.label, run.condition if run.condition is not None else run.n_classes, "class")
    truncated(run.G, req.truncation, run.cfg.model.name)
    if req.rows and condition_rows(run.condition, 1)[0] is None:
        raise GanforgeError("one row per class: this run has no classes to lay out in rows")
    return req


def options(run: TrainedRun) -> dict:
    """What the sampler's form offers for ``run``: ``classes`` [(id, name)] when a row per class
    can be drawn, ``n_classes`` (0 unconditional), ``truncation`` (the model has the trick)."""
    spec = run.condition
    rows = spec.rows() if spec is not None else None
    classes = [(int(v), str(name)) for v, name in zip(rows[0].tolist(), rows[1])] if rows is not None else None
    return {"classes": classes, "n_classes": run.n_classes, "truncation": has_truncation(run.G)}


def default_query(opts: dict) -> dict:
    """What a bare sampler page draws: seed 0, and one row of 8 per class where rows exist."""
    if opts["classes"]:
        return {"seed": ["0"], "class": [ROWS], "n": [str(min(MAX_N, 8 * len(opts["classes"])))]}
    return {"seed": ["0"], "n": [str(DEFAULT_N)]}


def sample_png(run: TrainedRun, req: Request) -> bytes:
    """The figure of ``req.n`` samples of ``run`` as PNG bytes, with the provenance text (and
    for images the run's mark) that ``ganforge sample`` writes."""
    check(run, req)
    kind = run.data.kind
    labels, names = condition_rows(run.condition, req.n) if req.rows else (None, None)
    with torch.no_grad():
        x = run.generate(req.n, req.seed, labels if labels is not None else req.label, req.truncation)
    img = kind.figure(x, run.data, req.seed, rows=names)
    if img is None:
        raise GanforgeError(f"{kind.name} samples of shape {tuple(run.data.shape)} have no picture")
    meta = run.meta(run.run_dir, req.truncation, watermark=kind.pixels)
    meta.update({"seed": str(req.seed), "n": str(req.n), "class": "rows" if req.rows else str(req.label)})
    return encode_image(img, "PNG", meta)
