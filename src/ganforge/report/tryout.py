"""The board's sampler: a run's newest generator drawn on request, with a seed, a class (or one
row per class), a truncation psi where the model has the trick, typed prompts (one row each) for
a text-to-image run, and a number of samples, as the figure its data kind draws (a grid of
images, a scatter of points, traces of sequences).

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
MAX_PROMPTS = 8  # prompts one request may type (one per line, or separated by ";")


@dataclass(frozen=True)
class Request:
    """What the sampler's form asks for: ``label`` an id, or None (drawn; ``rows``: one row
    per class); ``truncation`` psi or None; ``prompts``: captions, ``n`` images of each."""

    seed: int = 0
    label: Optional[int] = None
    rows: bool = False
    truncation: Optional[float] = None
    n: int = DEFAULT_N
    prompts: tuple = ()


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
    text = _one(query, "prompt").replace(";", "\n")
    prompts = tuple(p.strip() for p in text.splitlines() if p.strip())
    if len(prompts) > MAX_PROMPTS or len(prompts) * n > MAX_N:
        raise GanforgeError(f"at most {MAX_PROMPTS} prompts and {MAX_N} samples in all (prompts x n)")
    return Request(seed, label, cls == ROWS, truncation, n, prompts)


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


NO_OPTIONS = {"classes": None, "n_classes": 0, "truncation": False, "prompt": False, "examples": []}  # the form of a run that cannot sample


def check(run: TrainedRun, req: Request) -> Request:
    """``req`` when ``run`` can draw it (its class exists, its model has a truncation trick if
    a psi is asked for, it samples from noise); else one line."""
    if req.prompts:
        from ..apps.prompts import text_condition

        text_condition(run, "prompt").check(list(req.prompts), "prompt")  # a word it never saw: one line
        if req.label is not None or req.rows:
            raise GanforgeError("give prompts or a class, not both")
    check_class(req.label, run.condition if run.condition is not None else run.n_classes, "class")
    truncated(run.G, req.truncation, run.cfg.model.name)
    if req.rows and condition_rows(run.condition, 1)[0] is None:
        raise GanforgeError("one row per class: this run has no classes to lay out in rows")
    return req


def options(run: TrainedRun) -> dict:
    """What the sampler's form offers for ``run``: ``classes`` [(id, name)] when a row per class
    can be drawn, ``n_classes`` (0 unconditional), ``truncation`` (the model has the trick),
    ``prompt`` (it draws from typed captions)."""
    spec = run.condition
    text = getattr(spec, "kind", None) == "text"
    rows = spec.rows() if spec is not None else None  # text: the run's own example prompts
    classes = [(int(v), str(name)) for v, name in zip(rows[0].tolist(), rows[1])] \
        if rows is not None and not text else None
    return {"classes": classes, "n_classes": run.n_classes, "truncation": has_truncation(run.G), "prompt": text,
            "examples": list(rows[1])[:4] if rows is not None and text else []}


def default_query(opts: dict) -> dict:
    """What a bare sampler page draws: seed 0, and one row of 8 per class where rows exist (a
    text run: one row per example prompt of its own)."""
    if opts.get("examples"):
        return {"seed": ["0"], "prompt": ["\n".join(opts["examples"])], "n": ["8"]}
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
        if req.prompts:  # one row of n images per prompt, the prompt under it (as sample --prompts draws)
            from ..apps.prompts import caption_grid

            x = run.generate(req.n, req.seed, prompt=list(req.prompts))
            img = caption_grid(x, req.prompts)
        else:
            x = run.generate(req.n, req.seed, labels if labels is not None else req.label, req.truncation)
            img = kind.figure(x, run.data, req.seed, rows=names)
    if img is None:
        raise GanforgeError(f"{kind.name} samples of shape {tuple(run.data.shape)} have no picture")
    meta = run.meta(run.run_dir, req.truncation, watermark=kind.pixels)
    meta.update({"seed": str(req.seed), "n": str(req.n), "class": "rows" if req.rows else str(req.label)})
    if req.prompts:
        meta["prompts"] = "\n".join(req.prompts)
    return encode_image(img, "PNG", meta)
