"""``ganforge board [RUNS_DIR]``: a small local web page listing the runs of a folder.

Standard library only (``http.server``), bound to 127.0.0.1 by default. Pages (``board_pages.py``):

- ``/``: a card per run directly under the folder: its newest sample grid as a thumbnail
  (``/run/NAME/thumb.png``), a sparkline of its headline metric, status, step and the doctor's
  verdict; it refreshes itself every few seconds while a run trains;
- ``/run/NAME/``: the run's HTML report, rendered on request;
- ``/run/NAME/sampler``: a form (seed, class or one row per class, truncation where the model has
  the trick, number of samples) and the figure it draws, ``/run/NAME/sample.png?...``
  (``tryout.py``);
- ``/compare?run=A&run=B&metric=KEY``: the chosen runs' curves of one metric, overlaid.

Nothing else is served: a name is looked up among the folder's runs, never joined to a path,
so ``..`` or any other path gets 404.

Status, from the run's files: ``diverged`` (the loop stopped after its rollbacks), ``finished``
(``eval.json`` written at the end), ``running`` (its log changed within ``RUNNING_S``), else
``stopped``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Optional
from urllib.parse import parse_qs, unquote

from ..diagnostics.doctor import diagnose
from ..errors import GanforgeError
from ..files import encode_image
from ..rundir import is_run
from ..runlog import STOPPED, History, Kind, load_history, read_records, record_kind
from . import board_pages as pages
from . import tryout
from .html import render_report

RUNNING_S = 120.0  # a log written to this recently belongs to a run still training
REFRESH_S = 5  # the front page reloads itself this often while a run trains (else never: ticks stay)
THUMB_PX = 216  # a card's thumbnail fits this square


@dataclass(frozen=True)
class RunRow:
    name: str
    status: str
    step: int
    total: Optional[int]
    metrics: dict
    verdict: str


def _status(run: Path, records: list) -> str:
    if any(r.get("event") == STOPPED for r in records):
        return "diverged"
    if (run / "eval.json").is_file():
        return "finished"
    log = run / "metrics.jsonl"
    if log.is_file() and time.time() - log.stat().st_mtime < RUNNING_S:
        return "running"
    return "stopped"


def run_row(run: Path) -> RunRow:
    """What the board shows of one run (read from its files; never raises on a half-written run)."""
    log = run / "metrics.jsonl"
    records = read_records(log)[0] if log.is_file() else []
    step = max((r["step"] for r in records if isinstance(r.get("step"), int)), default=0)
    evals = [r for r in records if record_kind(r) is Kind.EVALUATION]
    metrics = {k: v for k, v in (evals[-1] if evals else {}).items()
               if k in ("fid", "kid", "coverage", "classes", "modes", "hq", "rev_kl", "energy")
               and isinstance(v, (int, float)) and math.isfinite(v)}
    try:
        d = diagnose(run)
        verdict, total = d.verdict, d.cfg.train.steps
    except GanforgeError:  # no config or log yet
        verdict, total = "no diagnosis yet", None
    return RunRow(run.name, _status(run, records), step, total, metrics, verdict)


def list_runs(root: Path) -> dict[str, Path]:
    """Name -> path of every run directly under ``root``."""
    return {p.name: p for p in sorted(root.iterdir()) if p.is_dir() and is_run(p)}


def newest_grid(run: Path) -> Optional[Path]:
    """The run's newest sample figure (``samples/step-NNNNNNN.png``), or None."""
    grids = sorted((run / "samples").glob("step-*.png")) if (run / "samples").is_dir() else []
    return grids[-1] if grids else None


def thumbnail(png: Path, side: int = THUMB_PX) -> bytes:
    """``png`` shrunk to fit ``side`` x ``side`` (never enlarged), as PNG bytes with its text kept."""
    from PIL import Image

    with Image.open(png) as im:
        im.load()
        meta = {k: v for k, v in im.info.items() if isinstance(v, str)}  # provenance text: synthetic, run, step
        im.thumbnail((side, side), Image.Resampling.LANCZOS)
        return encode_image(im, "PNG", meta)


def render_index(root: Path, shown: Optional[str] = None) -> str:
    """The front page: a card per run (thumbnail, sparkline, status, verdict); ``shown``: the
    folder's name on the page (default: ``root``)."""
    cards, running = [], False
    for name, path in list_runs(root).items():
        r = run_row(path)
        running |= r.status == "running"
        cards.append(pages.card(name, path, r, newest_grid(path) is not None))
    return pages.index(shown or str(root), cards, running, REFRESH_S)


def render_compare(root: Path, query: dict) -> str:
    runs = list_runs(root)
    chosen = [n for n in query.get("run", []) if n in runs] or list(runs)
    histories = {n: load_history(runs[n]) if (runs[n] / "metrics.jsonl").is_file() else History() for n in chosen}
    metric = (query.get("metric") or [None])[0]
    if metric is None and chosen:
        metric = next((k for k in (pages.headline_key(histories[n]) for n in chosen) if k), None)
    return pages.compare(list(runs), chosen, histories, metric)


def _handler(root: Path, shown: str) -> type:
    loaded = tryout.Runs()

    class Handler(BaseHTTPRequestHandler):
        def _send(self, code: int, body, kind: str = "text/html; charset=utf-8") -> None:
            data = body.encode("utf-8") if isinstance(body, str) else body
            self.send_response(code)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(data)

        def _sampler(self, name: str, run: Path, query: dict, png: bool) -> None:
            """The sampler page of ``run`` (its form, and the figure the query asks for), or with
            ``png`` that figure itself; a bad field or a run that cannot sample is one line, 400."""
            trained, opts = None, tryout.NO_OPTIONS
            try:
                trained = loaded.get(run)
                opts = tryout.options(trained)
                query = query or tryout.default_query(opts)  # a bare sampler page draws something at once
                req = tryout.check(trained, tryout.parse_request(query))
                if png:
                    return self._send(200, tryout.sample_png(trained, req), "image/png")
                return self._send(200, pages.sampler(name, trained.step, opts, query, req, None))
            except GanforgeError as e:
                if png:
                    return self._send(400, str(e), "text/plain; charset=utf-8")
                return self._send(400, pages.sampler(name, trained.step if trained else 0, opts, query, None, str(e)))

        def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
            path, _, qs = self.path.partition("?")
            query = parse_qs(qs)
            if path in ("/", "/index.html"):
                return self._send(200, render_index(root, shown))
            if path == "/compare":
                return self._send(200, render_compare(root, query))
            parts = path.split("/")  # ["", "run", NAME, PAGE]
            if len(parts) == 4 and parts[1] == "run":
                name = unquote(parts[2])
                run = list_runs(root).get(name)  # looked up by name, never joined to a path
                if run is not None and parts[3] == "":
                    return self._send(200, render_report(run))
                if run is not None and parts[3] in ("sampler", "sample.png"):
                    return self._sampler(name, run, query, parts[3] == "sample.png")
                grid = newest_grid(run) if run is not None and parts[3] == "thumb.png" else None
                if grid is not None:
                    return self._send(200, thumbnail(grid), "image/png")
            self._send(404, "<!doctype html><title>not found</title><p>not found</p>")

        def log_message(self, *args) -> None:  # quiet: the board is a page, not a log
            pass

    return Handler


def make_server(runs_dir: Path, port: int = 8765, host: str = "127.0.0.1") -> ThreadingHTTPServer:
    """The board's server for ``runs_dir`` (not started: call ``serve_forever``)."""
    root = Path(runs_dir)
    if not root.is_dir():
        raise GanforgeError(f"board: {runs_dir}: no such folder of runs")
    if not 0 <= port <= 65535:
        raise GanforgeError(f"--port {port}: choose 1..65535")
    try:
        return ThreadingHTTPServer((host, port), _handler(root.resolve(), str(runs_dir)))
    except OSError as e:
        raise GanforgeError(f"--port {port}: cannot listen on {host}:{port} ({e.strerror or e}); "
                            "choose another --port") from None


__all__ = ["RunRow", "list_runs", "make_server", "newest_grid", "render_compare", "render_index", "run_row", "thumbnail"]
