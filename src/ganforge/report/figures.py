"""Timeline figures for the HTML report: curves over training steps, with the run's events as
vertical markers and the doctor's phases as background bands, rendered to PNG bytes.

Figures are small (dpi 80) because the report embeds every one of them as base64. They are
drawn on matplotlib's Agg canvas directly (no pyplot), so the report never changes the backend
of the program that makes it.
"""

from __future__ import annotations

import io
import itertools
import math
from dataclasses import dataclass
from typing import Iterable, Optional, Sequence

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ..runlog import number

DPI = 80
WIDE = (7.0, 2.6)  # one timeline across the page: 560 x 208 px at DPI
SMALL = (3.6, 2.3)  # small multiples (one quality metric each): 288 x 184 px

# Shared with the HTML legend, so that a colour means the same thing in the CSS and the plots.
SEVERITY_COLOURS = {"info": "#7f7f7f", "warning": "#ff9f1c", "error": "#d62728"}
OTHER_SEVERITY = "#9467bd"
PHASE_COLOURS = {
    "both_weak": "#e0e0e0", "d_ahead": "#cfe3f5", "g_catching_up": "#e6dcf5", "d_cannot_tell": "#d3efcc",
    "collapsed": "#fde0c0", "diverged": "#fcc9bb",
}
_SPARE_PHASE_COLOURS = ("#efe3f7", "#f7f3c6", "#d9f2f2", "#f2d9e6")
# Curves: blue, near-black, brown; none of them an event colour (orange, red, grey, purple).
_CURVE_COLOURS = ("#1f77b4", "#222222", "#8c564b", "#17becf")


def severity_colour(severity) -> str:
    return SEVERITY_COLOURS.get(severity, OTHER_SEVERITY) if isinstance(severity, str) else OTHER_SEVERITY


def phase_colour(name, index: int = 0) -> str:
    """A light colour per phase name; unknown names take a spare colour by position."""
    if isinstance(name, str) and name in PHASE_COLOURS:
        return PHASE_COLOURS[name]
    return _SPARE_PHASE_COLOURS[index % len(_SPARE_PHASE_COLOURS)]


@dataclass(frozen=True)
class Curve:
    """One line: ``values[i]`` at ``steps[i]`` (NaN = gap); ``spread`` draws values +- spread."""

    label: str
    steps: Sequence[float]
    values: Sequence[float]
    spread: Optional[Sequence[float]] = None


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


def _finite(values: Sequence[float]) -> list[float]:
    return [v for v in values if not math.isnan(v) and not math.isinf(v)]


def timeline(
    curves: Sequence[Curve],
    title: str = "",
    events: Sequence[dict] = (),
    phases: Sequence[tuple] = (),
    hline: Optional[tuple[float, str]] = None,
    logy: bool = False,
    size: tuple[float, float] = WIDE,
) -> bytes:
    """Curves against the training step as PNG bytes.

    ``events`` are metrics.jsonl event records: a vertical line at each ``step``, coloured by
    ``severity``, solid when raised and dotted when cleared. ``phases`` are ``(name,
    first_step, last_step)``, drawn as bands behind the curves. ``hline = (y, label)`` is a
    reference level (D = 1/2, V = -log 4). With ``logy`` values <= 0 are left out, since a
    log axis cannot show them.
    """
    fig = Figure(figsize=size, dpi=DPI)
    FigureCanvasAgg(fig)  # attaches itself to fig: savefig renders with Agg
    ax = fig.subplots()
    for i, (name, first, last) in enumerate(phases):
        # A phase lasts until the next one starts: logged steps are spaced, the run is not.
        end = max(last, phases[i + 1][1]) if i + 1 < len(phases) else last
        ax.axvspan(first, end, color=phase_colour(name, i), zorder=0, linewidth=0)
    # Errors drawn last, so that a rollback at the step of a divergence does not hide it.
    rank = {"info": 0, "warning": 1, "error": 2}
    for ev in sorted(events, key=lambda e: rank.get(e.get("severity"), 0)):
        step = number(ev.get("step"))
        if step is None or not math.isfinite(step):
            continue
        ls = ":" if ev.get("state") == "cleared" else "-"
        ax.axvline(step, color=severity_colour(ev.get("severity")), ls=ls, lw=1.3, alpha=0.9, zorder=1)

    drawn = False
    for c, colour in zip(curves, itertools.cycle(_CURVE_COLOURS)):
        values = [v if (not logy or v > 0) else math.nan for v in c.values]
        drawn |= bool(_finite(values))
        ax.plot(c.steps, values, lw=1.2, label=c.label, color=colour, zorder=3)
        if c.spread is not None:
            lo = [v - s for v, s in zip(values, c.spread)]
            hi = [v + s for v, s in zip(values, c.spread)]
            ax.fill_between(c.steps, lo, hi, color=colour, alpha=0.2, lw=0, zorder=2)
    if hline is not None:
        ax.axhline(hline[0], color="0.3", ls="--", lw=0.9, label=hline[1], zorder=2)
    if logy and drawn:
        ax.set_yscale("log")
    if not drawn:  # only NaN / inf (or, on a log axis, nothing positive): say so, not a blank box
        ax.text(0.5, 0.5, "no finite values", transform=ax.transAxes, ha="center", va="center", color="0.4")

    if title:
        ax.set_title(title, fontsize=9)
    ax.set_xlabel("step", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.grid(alpha=0.3, lw=0.5)
    if len(curves) > 1 or hline is not None:
        ax.legend(fontsize=7, loc="best", framealpha=0.8)
    fig.tight_layout()
    buf = io.BytesIO()
    # No "Software" text chunk: matplotlib's names a URL, and the report holds none.
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    return buf.getvalue()
