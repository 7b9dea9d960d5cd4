"""A few inline-SVG charts for the report, with no plotting dependency.

:func:`line_chart` draws series (lines broken at NaN, decimated min/max per pixel so peaks stay),
shaded x-bands (flagged reps), horizontal reference lines (thresholds), markers (alerts) and
labelled axes. Coordinates are in data units; the chart maps them to pixels.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from html import escape

import numpy as np

PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 52, 46, 22, 34


@dataclass
class Series:
    label: str
    x: np.ndarray
    y: np.ndarray
    color: str
    width: float = 1.6
    dash: str = ""


@dataclass
class Band:
    x0: float
    x1: float
    color: str
    label: str = ""
    css_class: str = ""


@dataclass
class Chart:
    width: int
    height: int
    x_range: tuple[float, float]
    y_range: tuple[float, float]
    x_label: str = ""
    y_label: str = ""
    series: list[Series] = field(default_factory=list)
    bands: list[Band] = field(default_factory=list)
    hlines: list[tuple[float, str, str]] = field(default_factory=list)
    """(y, colour, label)."""
    markers: list[tuple[float, float, str, str]] = field(default_factory=list)
    """(x, y, colour, tooltip)."""
    x_ticks: list[tuple[float, str]] | None = None
    """Labelled x ticks (x, text); None: evenly spaced numbers."""


def nice_ticks(lo: float, hi: float, target: int = 6) -> list[float]:
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [lo]
    raw = (hi - lo) / max(target, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step) * step
    return [round(first + i * step, 10) for i in range(int((hi - first) / step + 1e-9) + 1)]


def decimate(x: np.ndarray, y: np.ndarray, buckets: int) -> tuple[np.ndarray, np.ndarray]:
    """Keep each bucket's first, min and max points (in order): the shape and every peak survive."""
    n = len(x)
    if n <= 3 * buckets:
        return x, y
    edges = np.linspace(0, n, buckets + 1).astype(int)
    keep: list[int] = []
    for a, b in zip(edges[:-1], edges[1:], strict=True):
        seg = y[a:b]
        if b <= a:
            continue
        if np.isnan(seg).all():
            keep.append(a)
            continue
        keep.extend(sorted({a, a + int(np.nanargmin(seg)), a + int(np.nanargmax(seg))}))
    idx = np.asarray(keep)
    return x[idx], y[idx]


def deg_text(v: float) -> str:
    """An angle as the report writes it everywhere: one decimal, never "-0.0"."""
    text = f"{v:.1f}"
    return ("0.0" if text in ("-0.0", "0.0") else text.replace("-", "−")) + "°"


def _fmt(v: float) -> str:
    return f"{v:.1f}".rstrip("0").rstrip(".")


def line_chart(chart: Chart, css_class: str = "chart", uid: str = "0") -> str:
    """The chart as an ``<svg>`` element (text)."""
    w, h = chart.width, chart.height
    x0, x1 = chart.x_range
    y0, y1 = chart.y_range
    pw, ph = w - PAD_LEFT - PAD_RIGHT, h - PAD_TOP - PAD_BOTTOM
    sx = pw / (x1 - x0) if x1 > x0 else 1.0
    sy = ph / (y1 - y0) if y1 > y0 else 1.0

    def px(x: float) -> float:
        return PAD_LEFT + (x - x0) * sx

    def py(y: float) -> float:
        return PAD_TOP + (y1 - y) * sy

    out = [f'<svg class="{css_class}" xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
           f'viewBox="0 0 {w} {h}" style="max-width:100%;height:auto" role="img">',
           f'<rect class="plot-area" x="{PAD_LEFT}" y="{PAD_TOP}" width="{pw}" height="{ph}" fill="#ffffff" '
           'stroke="#999999" stroke-width="1"/>']
    for b in chart.bands:
        a, c = max(b.x0, x0), min(b.x1, x1)
        if c > a:
            out.append(f'<rect class="{b.css_class or "band"}" x="{px(a):.1f}" y="{PAD_TOP}" '
                       f'width="{(c - a) * sx:.1f}" height="{ph}" fill="{b.color}"/>')
            if b.label:
                out.append(f'<text x="{px((a + c) / 2):.1f}" y="{PAD_TOP - 6}" font-size="11" text-anchor="middle" '
                           f'fill="#444444">{escape(b.label)}</text>')
    for t in nice_ticks(y0, y1):
        out.append(f'<line x1="{PAD_LEFT}" x2="{PAD_LEFT + pw}" y1="{py(t):.1f}" y2="{py(t):.1f}" stroke="#e4e4e4"/>'
                   f'<text x="{PAD_LEFT - 6}" y="{py(t) + 4:.1f}" font-size="11" text-anchor="end" fill="#444444">'
                   f'{_fmt(t)}</text>')
    xticks = chart.x_ticks if chart.x_ticks is not None else [(t, _fmt(t)) for t in nice_ticks(x0, x1, 10)]
    for t, text in xticks:
        out.append(f'<line x1="{px(t):.1f}" x2="{px(t):.1f}" y1="{PAD_TOP + ph}" y2="{PAD_TOP + ph + 4}" '
                   f'stroke="#666666"/><text x="{px(t):.1f}" y="{PAD_TOP + ph + 16}" font-size="11" '
                   f'text-anchor="middle" fill="#444444">{escape(text)}</text>')
    for y, color, label in chart.hlines:  # the value in the right margin, the full label in the legend
        if y0 <= y <= y1:
            out.append(f'<line class="hline" x1="{PAD_LEFT}" x2="{PAD_LEFT + pw}" y1="{py(y):.1f}" y2="{py(y):.1f}" '
                       f'stroke="{color}" stroke-dasharray="6 4" stroke-width="1.2"><title>{escape(label)}</title>'
                       f'</line><text class="hline-label" x="{PAD_LEFT + pw + 3}" y="{py(y) + 4:.1f}" font-size="11" '
                       f'text-anchor="start" fill="{color}">{escape(deg_text(y))}</text>')
    out.append(f'<clipPath id="clip-{css_class}-{uid}"><rect x="{PAD_LEFT}" y="{PAD_TOP}" width="{pw}" '
               f'height="{ph}"/></clipPath><g clip-path="url(#clip-{css_class}-{uid})">')
    for s in chart.series:
        out.extend(_polylines(s, px, py, pw))
    for x, y, color, tip in chart.markers:
        if x0 <= x <= x1:
            cx, cy = px(x), py(min(max(y, y0), y1))
            # a downward triangle whose tip is the point itself
            out.append(f'<path class="marker" d="M{cx:.1f},{cy:.1f} L{cx - 5:.1f},{cy - 9:.1f} '
                       f'L{cx + 5:.1f},{cy - 9:.1f} Z" fill="{color}"><title>{escape(tip)}</title></path>')
    out.append("</g>")
    out.append(f'<text x="{PAD_LEFT + pw / 2:.1f}" y="{h - 4}" font-size="12" text-anchor="middle" fill="#222222">'
               f'{escape(chart.x_label)}</text><text x="12" y="{PAD_TOP + ph / 2:.1f}" font-size="12" '
               f'text-anchor="middle" fill="#222222" transform="rotate(-90 12 {PAD_TOP + ph / 2:.1f})">'
               f'{escape(chart.y_label)}</text></svg>')
    return "".join(out)


def _polylines(s: Series, px: Callable[[float], float], py: Callable[[float], float], pw: float) -> list[str]:
    x, y = decimate(np.asarray(s.x, float), np.asarray(s.y, float), max(int(pw), 50))
    finite = np.isfinite(y) & np.isfinite(x)
    out = []
    breaks = np.flatnonzero(np.diff(finite.astype(int)) != 0) + 1
    dash = f' stroke-dasharray="{s.dash}"' if s.dash else ""
    for seg in np.split(np.arange(len(x)), breaks):
        if seg.size < 2 or not finite[seg[0]]:
            continue
        pts = " ".join(f"{px(float(a)):.1f},{py(float(b)):.1f}"
                       for a, b in zip(x[seg], y[seg], strict=True))
        out.append(f'<polyline class="trace" data-series="{escape(s.label)}" fill="none" stroke="{s.color}" '
                   f'stroke-width="{s.width}" stroke-linejoin="round"{dash} points="{pts}"/>')
    return out


def legend(items: list[tuple[str, str]], hlines: Sequence[tuple[float, str, str]] = (),
           marker: tuple[str, str] | None = None) -> str:
    """A row of coloured keys as HTML: (colour, label) swatches, dashed reference lines, the marker triangle."""
    keys = "".join(f'<span class="key"><span class="swatch" style="background:{c}"></span>{escape(label)}</span>'
                   for c, label in items)
    keys += "".join(f'<span class="key hline-key"><span class="swatch" style="background:repeating-linear-gradient('
                    f'90deg,{c} 0 6px,transparent 6px 10px)"></span>{escape(label)}</span>' for _, c, label in hlines)
    if marker is not None:
        keys += (f'<span class="key marker-key"><span style="color:{marker[0]};margin-right:6px">▼</span>'
                 f'{escape(marker[1])}</span>')
    return f'<div class="legend">{keys}</div>'
