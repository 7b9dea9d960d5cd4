"""Two unsynchronised sensor streams on one time base.

One output row per sample of the *base* stream (the faster sensor; the thoracic one on a
tie). The other segment's angle at that instant is extrapolated causally from its last two
samples (constant rate), and is NaN when its last sample is older than ``max_age_s``: gaps
stay gaps, nothing is zero-filled or invented. Live and batch give the same numbers.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np


class RowCombiner:
    """Per-sample combiner. ``push`` returns ``(time_s, base_angle, other_angle)`` on base samples."""

    def __init__(self, base: str, max_age_s: float, max_slope_gap_s: float) -> None:
        self.base = base
        self.max_age_s = max_age_s
        self.max_slope_gap_s = max_slope_gap_s
        self._t1 = math.nan
        self._a1 = math.nan
        self._t2 = math.nan
        self._a2 = math.nan

    def push(self, role: str, time_s: float, angle_deg: float) -> tuple[float, float, float] | None:
        if role != self.base:
            self._t1, self._a1 = self._t2, self._a2
            self._t2, self._a2 = time_s, angle_deg
            return None
        return time_s, angle_deg, self._other_at(time_s)

    def _other_at(self, t: float) -> float:
        if math.isnan(self._t2) or t - self._t2 > self.max_age_s:
            return math.nan
        if math.isnan(self._t1) or self._t2 - self._t1 > self.max_slope_gap_s:
            return self._a2
        return self._a2 + (self._a2 - self._a1) / (self._t2 - self._t1) * (t - self._t2)


def combine_batch(base_t: np.ndarray, other_t: np.ndarray, other_angle: np.ndarray, *, other_first_on_tie: bool,
                  max_age_s: float, max_slope_gap_s: float) -> np.ndarray:
    """The other segment's angle at every base time (N,), as :class:`RowCombiner` gives it."""
    side: Literal["left", "right"] = "right" if other_first_on_tie else "left"
    k = np.searchsorted(other_t, base_t, side=side) - 1  # index of the last other sample available
    out = np.full(base_t.shape, np.nan)
    ok = k >= 0
    k2 = k[ok]
    t2, a2 = other_t[k2], other_angle[k2]
    val = a2.copy()
    has1 = k2 >= 1
    k1 = np.where(has1, k2 - 1, 0)
    t1, a1 = other_t[k1], other_angle[k1]
    slope_ok = has1 & (t2 - t1 <= max_slope_gap_s)
    bt = base_t[ok]
    val[slope_ok] = a2[slope_ok] + (a2[slope_ok] - a1[slope_ok]) / (t2[slope_ok] - t1[slope_ok]) * (
        bt[slope_ok] - t2[slope_ok])
    val[bt - t2 > max_age_s] = np.nan
    out[ok] = val
    return out
