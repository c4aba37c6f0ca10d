"""``ganforge board [RUNS_DIR]``: a small local web page listing the runs of a folder.

Standard library only (``http.server``), bound to 127.0.0.1 by default. ``/`` lists every run
directly under the folder with its status, step, latest metrics and the doctor's verdict, and
refreshes itself every few seconds while runs train; ``/run/NAME/`` is that run's HTML report,
rendered on request. Nothing else is served: a name is looked up among the folder's runs, never
joined to a path, so ``..`` or any other path gets 404.

Status, from the run's files: ``diverged`` (the loop stopped after its rollbacks), ``finished``
(``eval.json`` written at the end), ``running`` (its log changed within ``RUNNING_S``), else
``stopped``.
"""

from __future__ import annotations

import html
import math
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Optional
from urllib.parse import quote, unquote

from ..diagnostics.doctor import diagnose
from ..errors import GanforgeError
from ..rundir import is_run
from ..runlog import STOPPED, Kind, read_records, record_kind
from .html import render_report

RUNNING_S = 120.0  # a log written to this recently belongs to a run still training
REFRESH_S = 5


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


def render_index(root: Path) -> str:
    rows = []
    for name, path in list_runs(root).items():
        r = run_row(path)
        metrics = "  ".join(f"{k} {v:.4g}" for k, v in r.metrics.items()) or "-"
        step = f"{r.step} / {r.total}" if r.total else str(r.step)
        rows.append(f'<tr class="run"><td><a href="/run/{quote(name)}/">{html.escape(name)}</a></td>'
                    f'<td class="status {r.status}">{r.status}</td><td>{step}</td><td>{html.escape(metrics)}</td>'
                    f"<td>{html.escape(r.verdict)}</td></tr>")
    body = "\n".join(rows) or '<tr><td colspan="5">no runs yet</td></tr>'
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="{REFRESH_S}">
<title>ganforge board: {html.escape(root.name)}</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}td,th{{padding:.3em .8em;
border-bottom:1px solid #ddd;text-align:left}}.running{{color:#06c}}.finished{{color:#080}}.diverged{{color:#c00}}
.stopped{{color:#888}}</style></head>
<body><h1>ganforge runs in {html.escape(str(root))}</h1>
<p>Refreshes every {REFRESH_S} s. Every sample these runs generate is synthetic.</p>
<table id="runs"><tr><th>run</th><th>status</th><th>step</th><th>latest metrics</th><th>doctor</th></tr>
{body}
</table></body></html>
"""


def _handler(root: Path) -> type:
    class Handler(BaseHTTPRequestHandler):
        def _send(self, code: int, text: str) -> None:
            data = text.encode("utf-8")
            self.send_response(code)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
            path = self.path.split("?", 1)[0]
            if path in ("/", "/index.html"):
                return self._send(200, render_index(root))
            parts = path.split("/")  # ["", "run", NAME, ""]
            if len(parts) == 4 and parts[1] == "run" and parts[3] == "":
                run = list_runs(root).get(unquote(parts[2]))  # looked up by name, never joined to a path
                if run is not None:
                    return self._send(200, render_report(run))
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
        return ThreadingHTTPServer((host, port), _handler(root.resolve()))
    except OSError as e:
        raise GanforgeError(f"--port {port}: cannot listen on {host}:{port} ({e.strerror or e}); "
                            "choose another --port") from None


__all__ = ["RunRow", "list_runs", "make_server", "render_index", "run_row"]
