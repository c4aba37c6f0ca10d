"""The board's pages as HTML strings: the front page (a card per run: its newest sample grid as a
thumbnail, a sparkline of its headline metric, status, step and the doctor's verdict), a run's
sampler (a form and the figure it draws) and the comparison of several runs' curves.

Everything read from a run (names, metric keys, messages) is escaped here; the pages load
nothing from outside the board (inline CSS and SVG, images from the board itself).
"""

from __future__ import annotations

import html
import math
from pathlib import Path
from typing import Optional, Sequence
from urllib.parse import quote, urlencode

from ..runlog import History, load_history
from . import svg

# The headline metric of a run's evaluations, the first of these it logged (as the evaluators'
# headlines lead: metrics/evaluators.py), and the metrics for which lower is better.
HEADLINE_KEYS = ("fid", "modes", "quality", "discriminative", "energy", "l1_test", "psnr_test")
LOWER_IS_BETTER = {"fid", "kid", "energy", "rev_kl", "mode_kl", "class_kl", "discriminative", "predictive",
                   "acf_distance", "marginal_w1", "l1_test", "exact_copies", "loss_g"}
_CONTEXT = {"step", "n", "n_modes", "kid_std"}  # numbers that annotate a metric, never plotted alone

CSS = """body{font-family:system-ui,sans-serif;margin:1.5em 2em;color:#222}a{color:#0a58a8}
h1{font-size:1.5em;margin:.2em 0 .6em}.runs{display:flex;flex-wrap:wrap;gap:1em}
.run{border:1px solid #ccc;border-radius:6px;padding:.7em;width:232px;background:#fff}
.run h2{font-size:1.05em;margin:.4em 0;word-break:break-all}.run p{margin:.3em 0;font-size:.9em}
.thumb{display:block;width:216px;height:216px;object-fit:contain;image-rendering:pixelated;background:#f4f4f4}
.nothumb{width:216px;height:216px;display:flex;align-items:center;justify-content:center;background:#f4f4f4;
color:#888;font-size:.9em}.metric{display:flex;align-items:center;gap:.5em;font-size:.9em}
.running{color:#06c}.finished{color:#080}.diverged{color:#c00}.stopped{color:#888}.verdict{color:#555}
nav{margin-bottom:1em}nav a{margin-right:1em}form{margin:.8em 0}label{margin-right:1em}
#grid{image-rendering:pixelated;max-width:100%;border:1px solid #ddd}.error{color:#c00}
input[type=number]{width:6em}"""


def page(title: str, body: str, refresh_s: int = 0) -> str:
    meta = f'<meta http-equiv="refresh" content="{refresh_s}">' if refresh_s else ""
    return (f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">{meta}<title>{html.escape(title)}</title>'
            f"<style>{CSS}</style></head>\n<body><nav><a href=\"/\">all runs</a><a href=\"/compare\">compare runs</a>"
            f"</nav>\n{body}\n</body></html>\n")


# ----------------------------------------------------------------------------- metrics


def _numbers(records: list, exclude=_CONTEXT) -> list[str]:
    keys: dict[str, None] = {}
    for r in records:
        for k, v in r.items():
            if k not in exclude and isinstance(v, (int, float)) and not isinstance(v, bool):
                keys.setdefault(k, None)
    return list(keys)


def headline_key(history: History) -> Optional[str]:
    """The metric a run's card shows: the first of :data:`HEADLINE_KEYS` its evaluations hold,
    else their first number, else None (no evaluation yet)."""
    keys = _numbers(history.evals)
    return next((k for k in HEADLINE_KEYS if k in keys), keys[0] if keys else None)


def metric_keys(history: History) -> list[str]:
    """Every metric a run logged: its evaluations' numbers, then its training statistics'."""
    ev = _numbers(history.evals)
    return ev + [k for k in _numbers(history.train) if k not in ev]


def series(history: History, key: str) -> tuple[list, list]:
    """(steps, values) of ``key``, from the evaluations when they hold it, else the step records."""
    recs = history.evals if any(key in r for r in history.evals) else history.train
    pts = [(r["step"], r[key]) for r in recs if isinstance(r.get(key), (int, float)) and isinstance(r.get("step"), int)]
    return [s for s, _ in pts], [v for _, v in pts]


def _value(v: float) -> str:
    return f"{v:.4g}" if math.isfinite(v) else str(v)


# ----------------------------------------------------------------------------- the front page


def card(name: str, path: Path, row, has_thumb: bool) -> str:
    """One run's card (``row``: its :class:`~ganforge.report.board.RunRow`)."""
    q, e = quote(name), html.escape(name)
    history = load_history(path) if (path / "metrics.jsonl").is_file() else History()
    key = headline_key(history)
    thumb = (f'<a href="/run/{q}/sampler"><img class="thumb" src="/run/{q}/thumb.png?step={row.step}" '
             f'alt="newest samples of {e}"></a>' if has_thumb else '<div class="nothumb">no sample grid yet</div>')
    metric = '<p class="metric">no evaluation yet</p>'
    if key is not None:
        steps, values = series(history, key)
        better = "lower is better" if key in LOWER_IS_BETTER else "higher is better"
        metric = (f'<p class="metric" title="{html.escape(key)} over training ({better})"><b>{html.escape(key)}</b> '
                  f'{_value(values[-1])} {svg.sparkline(steps, values, label=f"{key} over training of {name}")}</p>')
    step = f"{row.step} / {row.total}" if row.total else str(row.step)
    return (f'<article class="run" id="run-{e}">{thumb}<h2><a href="/run/{q}/">{e}</a></h2>'
            f'<p><span class="status {row.status}">{row.status}</span> &middot; step {step}</p>{metric}'
            f'<p class="verdict">doctor: {html.escape(row.verdict)}</p>'
            f'<p><a href="/run/{q}/">report</a> &middot; <a href="/run/{q}/sampler">sampler</a> &middot; '
            f'<label><input type="checkbox" name="run" value="{e}" form="pick"> compare</label></p></article>')


def index(folder: str, cards: Sequence[str], running: bool, refresh_s: int) -> str:
    body = "\n".join(cards) or "<p>no runs yet</p>"
    note = f"Refreshes every {refresh_s} s while a run trains. " if running else ""
    return page(f"ganforge board: {Path(folder).name}", f"""<h1>ganforge runs in {html.escape(folder)}</h1>
<p>{note}Every sample these runs generate is synthetic. Click a grid to draw your own.</p>
<form id="pick" action="/compare" method="get"><button type="submit">compare the ticked runs</button></form>
<div class="runs" id="runs">
{body}
</div>""", refresh_s if running else 0)


# ----------------------------------------------------------------------------- the sampler


def sampler(name: str, step: int, opts: dict, query: dict, req, error: Optional[str]) -> str:
    """The sampler of run ``name``: its form (``opts``: :func:`ganforge.report.tryout.options`)
    filled from ``query``, and the figure ``req`` asks for (``error`` instead when it cannot)."""
    q, e = quote(name), html.escape(name)

    def val(key: str, default: str = "") -> str:
        return html.escape((query.get(key) or [default])[0])

    chosen = (query.get("class") or [""])[0]
    fields = [f'<label>seed <input type="number" name="seed" min="0" value="{val("seed", "0")}"></label>']
    if opts["classes"] is not None:
        choices = [("", "any (drawn at random)"), ("rows", "one row per class")] + \
                  [(str(i), f"{i}: {c}" if c != str(i) else c) for i, c in opts["classes"]]
        fields.append('<label>class <select name="class">' + "".join(
            f'<option value="{v}"{" selected" if v == chosen else ""}>{html.escape(t)}</option>' for v, t in choices)
            + "</select></label>")
    elif opts["n_classes"]:
        fields.append(f'<label>class <input type="number" name="class" min="0" max="{opts["n_classes"] - 1}" '
                      f'value="{val("class")}" placeholder="any"></label>')
    if opts["truncation"]:
        fields.append(f'<label>truncation &psi; <input type="number" name="truncation" min="0" max="1" step="0.05" '
                      f'value="{val("truncation")}" placeholder="off"></label>')
    if opts.get("prompt"):
        fields.append(f'<label>prompts (one a line) <textarea name="prompt" rows="3" cols="40" '
                      f'placeholder="a small red 3 on the left">{val("prompt")}</textarea></label>')
    fields.append(f'<label>samples <input type="number" name="n" min="1" max="256" value="{val("n", "16")}"></label>')
    form = (f'<form id="sampler" action="/run/{q}/sampler" method="get">{"".join(fields)}'
            '<button type="submit">draw</button></form>')
    if error:
        shown = f'<p class="error">{html.escape(error)}</p>'
    else:
        args = {"seed": req.seed, "n": req.n, "class": "rows" if req.rows else ("" if req.label is None else req.label)}
        if req.truncation is not None:
            args["truncation"] = req.truncation
        if req.prompts:
            args["prompt"] = "\n".join(req.prompts)
        what = "one row per class" if req.rows else ("classes drawn at random" if req.label is None
                                                     else f"class {req.label}")
        if req.prompts:
            what = "one row per prompt: " + "; ".join(req.prompts)
        psi = f", truncation {req.truncation:g}" if req.truncation is not None else ""
        shown = (f'<figure><img id="grid" src="/run/{q}/sample.png?{html.escape(urlencode(args))}" '
                 f'alt="{req.n} samples of {e}"><figcaption>{req.n} samples, seed {req.seed}, {what}{psi}; '
                 "synthetic, drawn by the run's newest checkpoint</figcaption></figure>")
    return page(f"sampler: {name}", f'<h1>Sampler: <a href="/run/{q}/">{e}</a></h1>'
                                    f"<p>The generator of step {step}. The same seed draws the same samples.</p>"
                                    f"{form}{shown}")


# ----------------------------------------------------------------------------- comparison


def compare(names: Sequence[str], chosen: Sequence[str], histories: dict, metric: Optional[str]) -> str:
    """Curves of ``metric`` for the ``chosen`` runs (of ``names``), overlaid; the form picks them."""
    keys: dict[str, None] = {}
    for n in chosen:
        keys.update(dict.fromkeys(metric_keys(histories[n])))
    boxes = "".join(f'<label><input type="checkbox" name="run" value="{html.escape(n)}"'
                    f'{" checked" if n in chosen else ""}> {html.escape(n)}</label>' for n in names)
    select = '<label>metric <select name="metric">' + "".join(
        f'<option{" selected" if k == metric else ""}>{html.escape(k)}</option>' for k in keys) + "</select></label>"
    form = f'<form id="compare" action="/compare" method="get">{boxes}<br>{select}<button type="submit">show</button></form>'
    if metric is None or not chosen:
        plot = "<p>Tick two runs or more and pick a metric.</p>"
    else:
        better = " (lower is better)" if metric in LOWER_IS_BETTER else ""
        plot = (f"<h2>{html.escape(metric)}{better}</h2>"
                + svg.curves([(n, *series(histories[n], metric)) for n in chosen], metric))
    return page("compare runs", f"<h1>Compare runs</h1>{form}{plot}")
