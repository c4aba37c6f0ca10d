"""``ganforge report RUN``: one self-contained HTML page about a run directory.

Everything is embedded (figures and samples as base64 PNG, inline CSS, no script, no link out
of the page), so the file can be mailed, attached to an issue or opened offline. Every string
that comes from the run (names, messages, config) goes through ``html.escape``: an event
message is free text and must never become markup.
"""

from __future__ import annotations

import base64
import html
import io
import math
import os
import re
from collections import Counter
from pathlib import Path
from typing import Optional

from ..errors import GanforgeError
from . import figures
from ..runlog import History, number, read_records, split_history
from .figures import Curve, numeric_keys, series, timeline

__all__ = ["write_report", "render_report"]

MAX_SAMPLES = 8  # sample images shown, spread from the first to the last
SAMPLE_MAX_PX = 420  # larger sample images are downscaled to keep the page small

# Training statistics with a plot of their own; every other number in a training record
# (penalties such as r1, gradient_penalty) is drawn under "other statistics".
_TRAIN_PLOTTED = {
    "step", "loss_d", "loss_g", "d_real", "d_fake", "value", "grad_d", "grad_g",
    "diversity", "d_train", "d_holdout", "modes_probe",
}
# Evaluation numbers that annotate another metric instead of getting a plot: the sample size,
# the number of modes (the ceiling of `modes`) and KID's standard deviation (its band).
_EVAL_CONTEXT = {"step", "n", "n_modes", "kid_std"}
_SAMPLE_NAME = re.compile(r"^step-(\d+)\.png$")

_CSS = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 1.5em auto; max-width: 1180px; color: #222;
       padding: 0 1em; }
h1 { font-size: 1.5em; margin-bottom: .2em; }
h2 { font-size: 1.15em; border-bottom: 1px solid #ddd; margin-top: 1.6em; }
nav a { margin-right: .8em; } table { border-collapse: collapse; margin: .5em 0; }
td, th { border: 1px solid #ddd; padding: 2px 8px; text-align: left; vertical-align: top; font-size: 13px; }
th { background: #f4f4f4; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.row { display: flex; flex-wrap: wrap; gap: 8px; align-items: flex-start; }
figure { margin: 0; } figcaption { font-size: 12px; color: #555; text-align: center; }
.swatch { display: inline-block; width: .9em; height: .9em; border: 1px solid #999; vertical-align: middle;
          margin-right: .3em; }
.key { font-size: 12px; color: #444; } .note { color: #666; font-style: italic; }
pre { background: #f7f7f7; border: 1px solid #ddd; padding: .6em; overflow-x: auto; font-size: 12px; }
code { background: #f2f2f2; padding: 0 3px; }
"""


def write_report(run_dir: Path, out: Optional[Path] = None) -> Path:
    """Write the HTML report of ``run_dir`` to ``out`` (default ``run_dir/report.html``) and
    return its path. Raises :class:`GanforgeError` when ``run_dir`` is not a directory or
    holds no ``metrics.jsonl``. The file is written whole or not at all (temporary file, then
    rename), so a reader never sees half a report."""
    run_dir = Path(run_dir)
    out = Path(out) if out is not None else run_dir / "report.html"
    if out.is_dir():
        raise GanforgeError(f"{out}: is a directory; give the report's file name, e.g. {out / 'report.html'}")
    page = render_report(run_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(page, encoding="utf-8")
    os.replace(tmp, out)
    return out


def render_report(run_dir: Path) -> str:
    """The report of ``run_dir`` as an HTML string (see :func:`write_report`)."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise GanforgeError(f"{run_dir}: no such run directory")
    metrics = run_dir / "metrics.jsonl"
    if not metrics.is_file():
        raise GanforgeError(f"{run_dir}: no metrics.jsonl; not a ganforge run, or it stopped before logging")
    try:
        records, skipped = read_records(metrics)
    except (OSError, UnicodeDecodeError) as e:
        raise GanforgeError(f"{metrics}: cannot read ({e})") from None
    hist = split_history(records)
    cfg_text, cfg = _read_config(run_dir / "config.yaml")
    phases, phase_note = _phases(run_dir)
    name = run_dir.resolve().name

    sections = [
        _summary(name, cfg, hist, skipped, _read_eval_json(run_dir / "eval.json")),
        _phases_section(phases, phase_note),
        *_plot_sections(hist, phases),
        _events_section(hist.events),
        _samples_section(run_dir / "samples"),
        _config_section(cfg_text),
    ]
    sections = [s for s in sections if s]
    heads = re.findall(r'<section id="([^"]+)"><h2>([^<]*)</h2>', "".join(sections))  # titles already escaped
    nav = " ".join(f'<a href="#{sid}">{title}</a>' for sid, title in heads)
    title = html.escape(f"ganforge report: {name}")
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="en"><head><meta charset="utf-8"><title>{title}</title><style>{_CSS}</style></head>\n'
        f"<body><h1>{title}</h1><nav>{nav}</nav>\n" + "\n".join(sections) + "\n</body></html>\n"
    )


# ---------------------------------------------------------------------------------------------
# Inputs other than metrics.jsonl: each is optional, and a broken one costs its section only.


def _read_config(path: Path) -> tuple[Optional[str], dict]:
    """The config's text (shown as is) and its parsed mapping ({} if absent or malformed)."""
    import yaml

    if not path.is_file():
        return None, {}
    text = path.read_text(encoding="utf-8", errors="replace")
    try:
        cfg = yaml.safe_load(text)
    except yaml.YAMLError:
        cfg = None
    return text, cfg if isinstance(cfg, dict) else {}


def _read_eval_json(path: Path) -> dict:
    import json

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _phases(run_dir: Path) -> tuple[list[tuple[str, float, float]], Optional[str]]:
    """The doctor's phases as ``(name, first_step, last_step)``, and a note when it could not
    give them. The doctor is optional: without ``ganforge.diagnostics`` the report has no
    phases. Only its absence is forgiven; a doctor that fails to import for another reason is a
    bug and keeps its traceback."""
    try:
        from ..diagnostics.doctor import diagnose
    except ModuleNotFoundError as e:
        if e.name in ("ganforge.diagnostics", "ganforge.diagnostics.doctor"):
            return [], None
        raise
    try:
        diagnosis = diagnose(run_dir)
    except GanforgeError as e:
        return [], f"no phases: {e}"
    rows = []
    for p in getattr(diagnosis, "phases", None) or ():
        if isinstance(p, (tuple, list)) and len(p) == 3:
            name, first, last = p
        else:  # a small object with named fields
            name, first, last = (getattr(p, k, None) for k in ("name", "first_step", "last_step"))
        first, last = number(first), number(last)
        if first is not None and last is not None:
            rows.append((str(name), first, last))
    return rows, None


# ---------------------------------------------------------------------------------------------
# HTML pieces


def _fmt(v) -> str:
    """A value for a table cell, already escaped."""
    if isinstance(v, bool) or v is None:
        return html.escape(str(v))
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v) or math.isinf(v):
            return str(v)
        return str(int(v)) if v.is_integer() and abs(v) < 1e15 else f"{v:.4g}"
    return html.escape(str(v))


def _section(sid: str, title: str, body: str) -> str:
    return f'<section id="{sid}"><h2>{html.escape(title)}</h2>\n{body}\n</section>'


def _table(header: Optional[list[str]], rows: list[list[str]], cls: str = "") -> str:
    """``rows`` hold cells already escaped (see :func:`_fmt`); no ``header``, no head row."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header or ())
    head = f"<thead><tr>{head}</tr></thead>" if header else ""
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>\n" for row in rows)
    return f'<table class="{cls}">{head}<tbody>\n{body}</tbody></table>'


def _img(png: bytes, alt: str) -> str:
    from PIL import Image

    w, h = Image.open(io.BytesIO(png)).size  # reads the header only
    data = base64.b64encode(png).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" alt="{html.escape(alt)}" width="{w}" height="{h}">'


def _get(cfg: dict, dotted: str):
    for part in dotted.split("."):
        if not isinstance(cfg, dict):
            return None
        cfg = cfg.get(part)
    return cfg


def _flat(d: dict, prefix: str = "") -> list[tuple[str, object]]:
    """``{"a": {"b": 1}}`` -> ``[("a.b", 1)]``; lists are left out."""
    out = []
    for k, v in d.items():
        if isinstance(v, dict):
            out += _flat(v, f"{prefix}{k}.")
        elif not isinstance(v, list):
            out.append((f"{prefix}{k}", v))
    return out


def _summary(name: str, cfg: dict, hist: History, skipped: int, eval_json: dict) -> str:
    last_step = max((r["step"] for r in (*hist.train, *hist.evals)), default=None)
    rollbacks = sum(1 for e in hist.events if e.get("event") == "rollback")
    facts = [
        ("run", name), ("data", _get(cfg, "data.name")), ("loss", _get(cfg, "loss.name")),
        ("planned steps (train.steps)", _get(cfg, "train.steps")), ("last logged step", last_step),
        ("training records", len(hist.train)), ("evaluation records", len(hist.evals)),
        ("events", len(hist.events)), ("rollbacks", rollbacks),
    ]
    if skipped:
        facts.append(("unreadable lines skipped in metrics.jsonl", skipped))
    parts = [_table(None, [[html.escape(k), _fmt(v)] for k, v in facts], "facts")]

    if hist.evals:
        last = hist.evals[-1]
        rows = [[html.escape(k), _fmt(number(v))] for k, v in last.items() if k != "step" and number(v) is not None]
        parts.append(f"<h3>Final metrics (evaluation at step {_fmt(last['step'])})</h3>")
        parts.append(_table(["metric", "value"], rows, "final-metrics"))
        prov = last.get("provenance")
        if isinstance(prov, dict) and prov:
            items = ", ".join(f"{html.escape(str(k))}={_fmt(v)}" for k, v in _flat(prov))
            parts.append(f'<p class="key">provenance: {items}</p>')
    if eval_json:
        rows = [[html.escape(k), _fmt(v)] for k, v in _flat(eval_json)]
        parts.append("<h3>eval.json</h3>" + _table(["key", "value"], rows, "eval-json"))

    if hist.events:
        counts = Counter((str(e.get("event")), str(e.get("state", "-"))) for e in hist.events)
        kinds = list(dict.fromkeys(str(e.get("event")) for e in hist.events))
        rows = [
            [html.escape(k), str(sum(n for (kk, _), n in counts.items() if kk == k)),
             str(counts[(k, "raised")]), str(counts[(k, "cleared")])]
            for k in kinds
        ]
        parts.append("<h3>Event counts</h3>" + _table(["kind", "events", "raised", "cleared"], rows, "event-counts"))
    return _section("summary", "Summary", "\n".join(parts))


def _phases_section(phases: list[tuple[str, float, float]], note: Optional[str]) -> str:
    if note:
        return _section("phases", "Phases", f'<p class="note">{html.escape(note)}</p>')
    if not phases:
        return ""
    rows = [
        [f'<span class="swatch" style="background:{figures.phase_colour(n, i)}"></span>{html.escape(n)}',
         _fmt(a), _fmt(b), _fmt(b - a)]
        for i, (n, a, b) in enumerate(phases)
    ]
    body = ('<p class="key">As judged by <code>ganforge doctor</code>; drawn as bands behind every timeline.</p>'
            + _table(["phase", "first step", "last step", "steps"], rows, "phases"))
    return _section("phases", "Phases", body)


def _event_key() -> str:
    swatches = "".join(
        f'<span class="swatch" style="background:{c}"></span>{s} ' for s, c in figures.SEVERITY_COLOURS.items()
    )
    other = f'<span class="swatch" style="background:{figures.OTHER_SEVERITY}"></span>other'
    return f'<p class="key">Event markers: {swatches}{other} (solid: raised, dotted: cleared)</p>'


def _plot_sections(hist: History, phases: list) -> list[str]:
    """One section per group of curves that the run has; a group with no data is left out."""
    tr, ev = hist.train, hist.evals
    draw = dict(events=hist.events, phases=phases)

    def curves(records, *keys):
        return [Curve(k, *series(records, k)) for k in keys if series(records, k)[0]]

    def wide(sid, title, cs, **kw):
        if not cs:
            return ""
        return _section(sid, title, _img(timeline(cs, **draw, **kw), title))  # the h2 is its title

    out = [
        wide("losses", "Losses", curves(tr, "loss_d", "loss_g")),
        wide("d-outputs", "Mean D on real and generated samples", curves(tr, "d_real", "d_fake"),
             hline=(0.5, "D = 1/2")),
        wide("value", "Value V(D, G)", curves(tr, "value"), hline=(-math.log(4), "-log 4")),
        wide("gradients", "Gradient norms", curves(tr, "grad_d", "grad_g"), logy=True),
    ]
    if not tr:
        out[0] = _section("losses", "Losses", '<p class="note">no training records in metrics.jsonl</p>')
    out.insert(0, _section("plots-key", "Reading the plots", _event_key()) if tr or ev else "")

    quality = []
    n_modes = [v for v in series(ev, "n_modes")[1] if not math.isnan(v)]
    for k in numeric_keys(ev, exclude=_EVAL_CONTEXT):
        steps, values = series(ev, k)
        spread = None
        if k == "kid" and len(series(ev, "kid_std")[0]) == len(steps):
            spread = series(ev, "kid_std")[1]
        hline = (n_modes[-1], "n_modes") if k == "modes" and n_modes else None
        png = timeline([Curve(k, steps, values, spread)], k, **draw, hline=hline, size=figures.SMALL)
        quality.append(_img(png, f"{k} over training"))
    if quality:
        out.append(_section("quality", "Quality metrics over training", f'<div class="row">{"".join(quality)}</div>'))

    probes = [
        timeline(cs, title, **draw, hline=hline, size=figures.SMALL)
        for cs, title, hline in (
            (curves(tr, "diversity"), "diversity (generated / real)", (1.0, "as diverse as data")),
            (curves(tr, "d_train", "d_holdout"), "mean D: training vs held-out reals", None),
            (curves(tr, "modes_probe"), "modes (probe)", None),
        )
        if cs
    ]
    if probes:
        imgs = "".join(_img(p, "diagnostic probe") for p in probes)
        out.append(_section("diversity", "Diversity and overfitting probes", f'<div class="row">{imgs}</div>'))

    others = [
        _img(timeline(curves(tr, k), k, **draw, size=figures.SMALL), k)
        for k in numeric_keys(tr, exclude=_TRAIN_PLOTTED)
    ]
    if others:
        row = f'<div class="row">{"".join(others)}</div>'
        out.append(_section("other-stats", "Penalties and other statistics", row))
    return out


def _evidence(evidence) -> str:
    """``{"d_real": 0.99, "window": 200}`` -> ``d_real=0.99, window=200`` (escaped)."""
    if isinstance(evidence, dict):
        return ", ".join(f"{html.escape(str(k))}={_fmt(v)}" for k, v in evidence.items())
    return "" if evidence is None else _fmt(evidence)


def _events_section(events: list[dict]) -> str:
    if not events:
        return _section("events", "Events", '<p class="note">no events</p>')
    rows = []
    for e in events:
        sev = e.get("severity")
        colour = figures.severity_colour(sev)
        remedy = e.get("remedy") or []
        remedy = remedy if isinstance(remedy, list) else [remedy]
        rows.append([
            _fmt(number(e.get("step"))), _fmt(e.get("event")), _fmt(e.get("state", "")),
            f'<span class="swatch" style="background:{colour}"></span>{_fmt(sev or "")}',
            _fmt(e.get("message", "")), _evidence(e.get("evidence")),
            " ".join(f"<code>{html.escape(str(r))}</code>" for r in remedy),
        ])
    header = ["step", "kind", "state", "severity", "message", "evidence", "remedy"]
    return _section("events", "Events", _table(header, rows, "events"))


def _sample_png(path: Path) -> Optional[bytes]:
    """The PNG's bytes, downscaled above SAMPLE_MAX_PX; None if it is not a readable image.
    A downscaled copy keeps the text chunks, among them the mark that the image is synthetic."""
    from PIL import Image, UnidentifiedImageError
    from PIL.PngImagePlugin import PngInfo

    try:
        raw = path.read_bytes()
        img = Image.open(io.BytesIO(raw))
        img.load()
    except (OSError, UnidentifiedImageError):
        return None
    if img.format == "PNG" and max(img.size) <= SAMPLE_MAX_PX:
        return raw
    info = PngInfo()
    for k, v in getattr(img, "text", {}).items():
        info.add_text(k, v)
    img.thumbnail((SAMPLE_MAX_PX, SAMPLE_MAX_PX), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=True, pnginfo=info)
    return buf.getvalue()


def _spread(n: int, k: int) -> list[int]:
    """``k`` indices from 0 to n - 1, evenly spread, first and last included."""
    if n <= k:
        return list(range(n))
    return sorted({round(i * (n - 1) / (k - 1)) for i in range(k)})


def _samples_section(folder: Path) -> str:
    found = sorted(
        (int(m.group(1)), p) for p in (folder.iterdir() if folder.is_dir() else ()) if (m := _SAMPLE_NAME.match(p.name))
    )
    figs = []
    for i in _spread(len(found), MAX_SAMPLES):
        step, path = found[i]
        png = _sample_png(path)
        if png is not None:
            figs.append(f"<figure>{_img(png, f'samples at step {step}')}<figcaption>step {step}</figcaption></figure>")
    if not figs:
        return _section("samples", "Samples", '<p class="note">no sample images in samples/</p>')
    note = f'<p class="key">{len(figs)} of {len(found)} sample images (synthetic), spread across training.</p>'
    return _section("samples", "Samples", note + f'<div class="row">{"".join(figs)}</div>')


def _config_section(text: Optional[str]) -> str:
    body = f"<pre>{html.escape(text)}</pre>" if text is not None else '<p class="note">no config.yaml</p>'
    return _section("config", "Config", body)
