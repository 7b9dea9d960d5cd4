"""Small trend helpers for text output: a sparkline and a least-squares slope per week."""

from __future__ import annotations

import math
from collections.abc import Sequence

BARS = "▁▂▃▄▅▆▇█"
ASCII_BARS = "_.-:=+*#"
SECONDS_PER_WEEK = 7 * 24 * 3600.0


def bucket(values: Sequence[float | None], width: int) -> list[float | None]:
    """At most ``width`` values: consecutive means over equal groups (None ignored; all-None group -> None)."""
    n = len(values)
    if n <= width:
        return list(values)
    out: list[float | None] = []
    for k in range(width):
        group = [v for v in values[k * n // width:(k + 1) * n // width] if v is not None]
        out.append(sum(group) / len(group) if group else None)
    return out


def sparkline(values: Sequence[float | None], width: int = 40, ascii_only: bool = False,
              lo: float | None = None, hi: float | None = None) -> str:
    """One character per value (bucketed to ``width``), scaled between ``lo`` and ``hi`` (default min/max)."""
    bars = ASCII_BARS if ascii_only else BARS
    vals = bucket(values, width)
    finite = [v for v in vals if v is not None and math.isfinite(v)]
    if not finite:
        return " " * len(vals)
    lo = min(finite) if lo is None else lo
    hi = max(finite) if hi is None else hi
    span = hi - lo
    out = []
    for v in vals:
        if v is None or not math.isfinite(v):
            out.append(" ")
        else:
            k = 0 if span <= 0 else int(round((v - lo) / span * (len(bars) - 1)))
            out.append(bars[min(max(k, 0), len(bars) - 1)])
    return "".join(out)


def slope_per_week(times_s: Sequence[float], values: Sequence[float | None]) -> float | None:
    """Least-squares slope of ``values`` against time, in value units per week (None: spans less than a day)."""
    xs, ys = [], []
    for t, v in zip(times_s, values, strict=True):
        if v is not None and math.isfinite(v):
            xs.append(t / SECONDS_PER_WEEK)
            ys.append(v)
    if len(xs) < 2 or max(xs) - min(xs) < 1.0 / 7.0:
        return None
    xm, ym = math.fsum(xs) / len(xs), math.fsum(ys) / len(ys)
    sxx = math.fsum((x - xm) ** 2 for x in xs)
    return math.fsum((x - xm) * (y - ym) for x, y in zip(xs, ys, strict=True)) / sxx
