"""``ganforge report RUN``: one self-contained HTML page about a run directory.

Everything is embedded (figures and samples as base64 PNG, inline CSS, no script, no link out
of the page), so the file can be mailed, attached to an issue or opened offline.

This module gathers what the page shows as plain data (strings, numbers, data URIs), in
:class:`Section` objects; the markup lives in ``templates/report.html.j2``, rendered by Jinja2
with autoescaping on. Every string that comes from the run (names, messages, config) is text
there, never markup: an event message is free text and must never become HTML.
"""

from __future__ import annotations

import base64
import io
import json
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import jinja2
import yaml
from PIL import Image, UnidentifiedImageError
from PIL.PngImagePlugin import PngInfo

from ..diagnostics.doctor import diagnose
from ..errors import GanforgeError
from ..files import write_text_atomic
from ..runlog import History, number, read_records, split_history
from . import figures
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


def _cell(v) -> str:
    """A value as the text of a table cell (the template escapes it): integral floats without
    ``.0``, others to 4 significant digits, NaN and infinities as Python spells them."""
    if isinstance(v, float) and math.isfinite(v):
        return str(int(v)) if v.is_integer() and abs(v) < 1e15 else f"{v:.4g}"
    return str(v)


_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("ganforge.report", "templates"),
    autoescape=True,  # every value is text unless the template says otherwise; it never does
    undefined=jinja2.StrictUndefined,  # a misspelt name in the template fails, not renders empty
    trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
)
_ENV.filters["cell"] = _cell


@dataclass(frozen=True)
class Img:
    """An embedded PNG: ``src`` is a ``data:`` URI; width and height in pixels."""

    src: str
    alt: str
    width: int
    height: int


@dataclass(frozen=True)
class Section:
    """One ``<section>`` of the page and one entry of its navigation. ``kind`` picks the
    template's macro (summary, phases, plot_key, figure, figures, events, samples, config,
    note); ``data`` is what that macro shows."""

    id: str
    title: str
    kind: str
    data: dict = field(default_factory=dict)


def _note(sid: str, title: str, text: str) -> Section:
    return Section(sid, title, "note", {"text": text})


def write_report(run_dir: Path, out: Optional[Path] = None) -> Path:
    """Write the HTML report of ``run_dir`` to ``out`` (default ``run_dir/report.html``) and
    return its path. Raises :class:`GanforgeError` when ``run_dir`` is not a directory or
    holds no ``metrics.jsonl``. The file is written whole or not at all (see
    :mod:`ganforge.files`), so a reader never sees half a report."""
    run_dir = Path(run_dir)
    out = Path(out) if out is not None else run_dir / "report.html"
    if out.is_dir():
        raise GanforgeError(f"{out}: is a directory; give the report's file name, e.g. {out / 'report.html'}")
    page = render_report(run_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out, page)
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
        records, skipped = read_records(metrics, warn=True)
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
    sections = [s for s in sections if s is not None]
    return _ENV.get_template("report.html.j2").render(title=f"ganforge report: {name}", sections=sections)


# ---------------------------------------------------------------------------------------------
# Inputs other than metrics.jsonl: each is optional, and a broken one costs its section only.


def _read_config(path: Path) -> tuple[Optional[str], dict]:
    """The config's text (shown as is) and its parsed mapping ({} if absent or malformed)."""
    if not path.is_file():
        return None, {}
    text = path.read_text(encoding="utf-8", errors="replace")
    try:
        cfg = yaml.safe_load(text)
    except yaml.YAMLError:
        cfg = None
    return text, cfg if isinstance(cfg, dict) else {}


def _read_eval_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _phases(run_dir: Path) -> tuple[list[tuple[str, float, float]], Optional[str]]:
    """The doctor's phases as ``(name, first_step, last_step)``, and a note when it could not
    give them (a run directory the doctor cannot read)."""
    try:
        diagnosis = diagnose(run_dir)
    except GanforgeError as e:
        return [], f"no phases: {e}"
    return [(name, float(first), float(last)) for name, first, last in diagnosis.phases], None


# ---------------------------------------------------------------------------------------------
# Sections: plain data for the template


def _img(png: bytes, alt: str) -> Img:
    w, h = Image.open(io.BytesIO(png)).size  # reads the header only
    return Img("data:image/png;base64," + base64.b64encode(png).decode("ascii"), alt, w, h)


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


def _summary(name: str, cfg: dict, hist: History, skipped: int, eval_json: dict) -> Section:
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
    data: dict = {"facts": facts, "final": None, "eval_json": _flat(eval_json) if eval_json else None,
                  "event_counts": []}

    if hist.evals:
        last = hist.evals[-1]
        prov = last.get("provenance")
        data["final"] = {
            "step": last["step"],
            "rows": [(k, number(v)) for k, v in last.items() if k != "step" and number(v) is not None],
            "provenance": _flat(prov) if isinstance(prov, dict) and prov else None,
        }
    if hist.events:
        counts = Counter((str(e.get("event")), str(e.get("state", "-"))) for e in hist.events)
        kinds = list(dict.fromkeys(str(e.get("event")) for e in hist.events))
        data["event_counts"] = [
            (k, sum(n for (kk, _), n in counts.items() if kk == k), counts[(k, "raised")], counts[(k, "cleared")])
            for k in kinds
        ]
    return Section("summary", "Summary", "summary", data)


def _phases_section(phases: list[tuple[str, float, float]], note: Optional[str]) -> Optional[Section]:
    if note:
        return _note("phases", "Phases", note)
    if not phases:
        return None
    rows = [(n, figures.phase_colour(n, i), a, b, b - a) for i, (n, a, b) in enumerate(phases)]
    return Section("phases", "Phases", "phases", {"rows": rows})


def _plot_sections(hist: History, phases: list) -> list[Optional[Section]]:
    """One section per group of curves that the run has; a group with no data is left out."""
    tr, ev = hist.train, hist.evals
    draw = dict(events=hist.events, phases=phases)

    def curves(records, *keys):
        return [Curve(k, *series(records, k)) for k in keys if series(records, k)[0]]

    def wide(sid, title, cs, **kw):
        if not cs:
            return None
        return Section(sid, title, "figure", {"img": _img(timeline(cs, **draw, **kw), title)})  # the h2 is its title

    def row(sid, title, imgs):
        return Section(sid, title, "figures", {"imgs": imgs}) if imgs else None

    out = [
        wide("losses", "Losses", curves(tr, "loss_d", "loss_g")),
        wide("d-outputs", "Mean D on real and generated samples", curves(tr, "d_real", "d_fake"),
             hline=(0.5, "D = 1/2")),
        wide("value", "Value V(D, G)", curves(tr, "value"), hline=(-math.log(4), "-log 4")),
        wide("gradients", "Gradient norms", curves(tr, "grad_d", "grad_g"), logy=True),
    ]
    if not tr:
        out[0] = _note("losses", "Losses", "no training records in metrics.jsonl")
    key = {"severities": list(figures.SEVERITY_COLOURS.items()), "other": figures.OTHER_SEVERITY}
    out.insert(0, Section("plots-key", "Reading the plots", "plot_key", key) if tr or ev else None)

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
    out.append(row("quality", "Quality metrics over training", quality))

    probes = [
        _img(timeline(cs, title, **draw, hline=hline, size=figures.SMALL), "diagnostic probe")
        for cs, title, hline in (
            (curves(tr, "diversity"), "diversity (generated / real)", (1.0, "as diverse as data")),
            (curves(tr, "d_train", "d_holdout"), "mean D: training vs held-out reals", None),
            (curves(tr, "modes_probe"), "modes (probe)", None),
        )
        if cs
    ]
    out.append(row("diversity", "Diversity and overfitting probes", probes))

    others = [
        _img(timeline(curves(tr, k), k, **draw, size=figures.SMALL), k)
        for k in numeric_keys(tr, exclude=_TRAIN_PLOTTED)
    ]
    out.append(row("other-stats", "Penalties and other statistics", others))
    return out


def _events_section(events: list[dict]) -> Section:
    if not events:
        return _note("events", "Events", "no events")
    rows = []
    for e in events:
        sev = e.get("severity")
        evidence = e.get("evidence")
        remedy = e.get("remedy") or []
        rows.append({
            "step": number(e.get("step")), "kind": e.get("event"), "state": e.get("state", ""),
            "colour": figures.severity_colour(sev), "severity": sev or "", "message": e.get("message", ""),
            # a dict as key=value pairs; anything else as one value (None: nothing)
            "evidence": _flat_evidence(evidence),
            "remedy": [str(r) for r in (remedy if isinstance(remedy, list) else [remedy])],
        })
    return Section("events", "Events", "events", {"rows": rows})


def _flat_evidence(evidence) -> list[tuple[Optional[str], object]]:
    """``{"d_real": 0.99}`` -> ``[("d_real", 0.99)]``; a bare value -> ``[(None, value)]``."""
    if isinstance(evidence, dict):
        return [(str(k), v) for k, v in evidence.items()]
    return [] if evidence is None else [(None, evidence)]


def _sample_png(path: Path) -> Optional[bytes]:
    """The PNG's bytes, downscaled above SAMPLE_MAX_PX; None if it is not a readable image.
    A downscaled copy keeps the text chunks, among them the mark that the image is synthetic."""
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


def _samples_section(folder: Path) -> Section:
    found = sorted(
        (int(m.group(1)), p) for p in (folder.iterdir() if folder.is_dir() else ()) if (m := _SAMPLE_NAME.match(p.name))
    )
    shown = []
    for i in _spread(len(found), MAX_SAMPLES):
        step, path = found[i]
        png = _sample_png(path)
        if png is not None:
            shown.append((step, _img(png, f"samples at step {step}")))
    if not shown:
        return _note("samples", "Samples", "no sample images in samples/")
    sounds = _sounds(found[-1][1].with_suffix(".wav"))
    return Section("samples", "Samples", "samples", {"shown": shown, "total": len(found), "sounds": sounds,
                                                     "sound_step": found[-1][0]})


def _sounds(path: Path) -> list:
    """Audio runs: the newest samples' clips (``step-NNNNNNN.wav``, report/sample_plots.py), each
    as (name, its spectrogram, a WAV data URI) for an ``<audio>`` player; [] without that file."""
    from ..data.kinds.audio import spectrogram_grid
    from ..wav import Wave, read_wav, wav_bytes

    try:
        samples, rate, info = read_wav(path)
    except (OSError, ValueError):
        return []
    prov = info.get("provenance", {})
    clips = max(1, int(prov.get("clips", 1)))
    names = prov.get("names") or [f"sample {i}" for i in range(clips)]
    out = []
    for name, clip in zip(names, samples[: len(samples) // clips * clips].reshape(clips, -1)):
        png = io.BytesIO()
        spectrogram_grid(torch_clip(clip), rate).save(png, format="PNG")
        uri = "data:audio/wav;base64," + base64.b64encode(wav_bytes(Wave(clip, rate), prov)).decode("ascii")
        out.append((str(name), _img(png.getvalue(), f"spectrogram of {name}"), uri))
    return out


def torch_clip(clip):
    """One clip (L,) as the audio kind's batch (1, L, 1)."""
    import torch

    return torch.from_numpy(clip.copy()).reshape(1, -1, 1)


def _config_section(text: Optional[str]) -> Section:
    if text is None:
        return _note("config", "Config", "no config.yaml")
    return Section("config", "Config", "config", {"text": text})
