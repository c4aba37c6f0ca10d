"""Inline SVG for the board: a sparkline of one metric, and several runs' curves of one metric
overlaid on shared axes. Plain strings, no script and no external file, so a page stays one
response; every text in them (run names, keys) is escaped here."""

from __future__ import annotations

import html
import math
from typing import Sequence

# one colour per run, in the order they are listed (colour-blind friendly: Okabe and Ito 2008)
COLOURS = ("#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#000000", "#f0e442")


def _finite(steps: Sequence[float], values: Sequence[float]) -> list[tuple[float, float]]:
    return [(float(s), float(v)) for s, v in zip(steps, values)
            if isinstance(v, (int, float)) and math.isfinite(v) and isinstance(s, (int, float))]


def _fmt(v: float) -> str:
    return f"{v:.4g}"


def sparkline(steps: Sequence[float], values: Sequence[float], width: int = 140, height: int = 36,
              label: str = "") -> str:
    """A small line of ``values`` over ``steps`` with the last value marked; an empty string
    when fewer than one finite value is given. ``label`` becomes its accessible title."""
    pts = _finite(steps, values)
    if not pts:
        return ""
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    x0, x1 = min(xs), max(xs)
    y0, y1 = min(ys), max(ys)
    pad = 3

    def at(s: float, v: float) -> tuple[float, float]:
        x = pad + (width - 2 * pad) * ((s - x0) / (x1 - x0) if x1 > x0 else 0.5)
        y = pad + (height - 2 * pad) * (1 - ((v - y0) / (y1 - y0) if y1 > y0 else 0.5))
        return round(x, 1), round(y, 1)

    line = " ".join(f"{x},{y}" for x, y in (at(s, v) for s, v in pts))
    lx, ly = at(*pts[-1])
    title = html.escape(label)
    return (f'<svg class="spark" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
            f'aria-label="{title}"><title>{title}</title>'
            f'<polyline points="{line}" fill="none" stroke="#0072b2" stroke-width="1.5"/>'
            f'<circle cx="{lx}" cy="{ly}" r="2.5" fill="#d55e00"/></svg>')


def curves(series: Sequence[tuple[str, Sequence[float], Sequence[float]]], metric: str,
           width: int = 720, height: int = 360) -> str:
    """Each run's ``(name, steps, values)`` as one line on shared axes (step across, ``metric``
    up), with tick labels at both ends of each axis and a legend naming the runs by colour."""
    drawn = [(name, _finite(s, v)) for name, s, v in series]
    drawn = [(name, pts) for name, pts in drawn if pts]
    if not drawn:
        return '<p class="empty">none of these runs logged this metric</p>'
    left, right, top, bottom = 64, 16, 16, 40
    xs = [p[0] for _, pts in drawn for p in pts]
    ys = [p[1] for _, pts in drawn for p in pts]
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    if y1 == y0:
        y0, y1 = y0 - 0.5, y1 + 0.5
    if x1 == x0:
        x0, x1 = x0 - 0.5, x1 + 0.5
    w, h = width - left - right, height - top - bottom

    def at(s: float, v: float) -> str:
        return f"{left + w * (s - x0) / (x1 - x0):.1f},{top + h * (1 - (v - y0) / (y1 - y0)):.1f}"

    parts = [f'<svg class="curves" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
             f'aria-label="{html.escape(metric)} of {len(drawn)} runs">',
             f'<rect x="{left}" y="{top}" width="{w}" height="{h}" fill="#fafafa" stroke="#bbb"/>',
             f'<text x="{left - 6}" y="{top + 10}" text-anchor="end" font-size="11">{_fmt(y1)}</text>',
             f'<text x="{left - 6}" y="{top + h}" text-anchor="end" font-size="11">{_fmt(y0)}</text>',
             f'<text x="{left}" y="{top + h + 16}" font-size="11">{_fmt(x0)}</text>',
             f'<text x="{left + w}" y="{top + h + 16}" text-anchor="end" font-size="11">{_fmt(x1)}</text>',
             f'<text x="{left + w / 2}" y="{height - 6}" text-anchor="middle" font-size="12">step</text>',
             f'<text x="14" y="{top + h / 2}" text-anchor="middle" font-size="12" '
             f'transform="rotate(-90 14 {top + h / 2})">{html.escape(metric)}</text>']
    for i, (name, pts) in enumerate(drawn):
        colour = COLOURS[i % len(COLOURS)]
        line = " ".join(at(s, v) for s, v in pts)
        parts.append(f'<polyline class="curve" data-run="{html.escape(name)}" points="{line}" fill="none" '
                     f'stroke="{colour}" stroke-width="2"/>')
        parts += [f'<circle cx="{at(s, v).split(",")[0]}" cy="{at(s, v).split(",")[1]}" r="2.5" fill="{colour}"/>'
                  for s, v in pts]
        parts.append(f'<text x="{left + w - 8}" y="{top + 16 + 15 * i}" text-anchor="end" font-size="12" '
                     f'fill="{colour}">&#9632; {html.escape(name)}</text>')
    parts.append("</svg>")
    return "".join(parts)
