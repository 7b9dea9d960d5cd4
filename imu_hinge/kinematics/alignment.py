"""Two unsynchronised sensor streams on one time base.

One output row per sample of the *base* stream (the faster sensor; the thoracic one on a
tie). The other segment's angle at that instant is extrapolated causally from its last two
samples (constant rate), and is NaN when its last sample is older than ``max_age_s``: gaps
stay gaps, nothing is zero-filled or invented. Live and batch give the same numbers.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit


@njit(cache=True)
def _push(st: np.ndarray, is_base: bool, time_s: float, angle_deg: float) -> float:  # pragma: no cover
    """THE combiner step. ``st`` = (t1, a1, t2, a2, max_age_s, max_slope_gap_s): the other stream's last
    two samples and the limits. An other sample shifts them in (returns NaN); a base sample returns the
    other angle extrapolated to it."""
    if not is_base:
        st[0], st[1], st[2], st[3] = st[2], st[3], time_s, angle_deg
        return math.nan
    t1, a1, t2, a2 = st[0], st[1], st[2], st[3]
    if math.isnan(t2) or time_s - t2 > st[4]:
        return math.nan
    if math.isnan(t1) or t2 - t1 > st[5]:
        return a2
    return a2 + (a2 - a1) / (t2 - t1) * (time_s - t2)


@njit(cache=True)
def _combine(base_t: np.ndarray, other_t: np.ndarray, other_angle: np.ndarray, other_first_on_tie: bool,
             max_age_s: float, max_slope_gap_s: float) -> np.ndarray:  # pragma: no cover
    """Both streams merged in arrival order through :func:`_push`; the other angle at every base time."""
    out = np.empty(base_t.shape[0])
    st = np.array([np.nan, np.nan, np.nan, np.nan, max_age_s, max_slope_gap_s])
    if base_t.shape[0] == 0:
        return out
    if other_first_on_tie:
        j = np.searchsorted(other_t, base_t[0], side="right")
    else:
        j = np.searchsorted(other_t, base_t[0], side="left")
    j = max(0, j - 2)  # the two other samples before the first base sample set the state
    m = other_t.shape[0]
    for i in range(base_t.shape[0]):
        tb = base_t[i]
        while j < m and (other_t[j] < tb or (other_first_on_tie and other_t[j] == tb)):
            _push(st, False, other_t[j], other_angle[j])
            j += 1
        out[i] = _push(st, True, tb, 0.0)
    return out


class RowCombiner:
    """Per-sample combiner. ``push`` returns ``(time_s, base_angle, other_angle)`` on base samples."""

    def __init__(self, base: str, max_age_s: float, max_slope_gap_s: float) -> None:
        self.base = base
        self.max_age_s = max_age_s
        self.max_slope_gap_s = max_slope_gap_s
        self._st = np.array([np.nan, np.nan, np.nan, np.nan, max_age_s, max_slope_gap_s])

    def push(self, role: str, time_s: float, angle_deg: float) -> tuple[float, float, float] | None:
        is_base = role == self.base
        other = _push(self._st, is_base, time_s, angle_deg)
        return (time_s, angle_deg, other) if is_base else None


def combine_batch(base_t: np.ndarray, other_t: np.ndarray, other_angle: np.ndarray, *, other_first_on_tie: bool,
                  max_age_s: float, max_slope_gap_s: float) -> np.ndarray:
    """The other segment's angle at every base time (N,): :class:`RowCombiner`'s step over both
    streams in arrival order (the other first on equal times when ``other_first_on_tie``)."""
    return _combine(np.ascontiguousarray(base_t, dtype=np.float64), np.ascontiguousarray(other_t, dtype=np.float64),
                    np.ascontiguousarray(other_angle, dtype=np.float64), bool(other_first_on_tie),
                    float(max_age_s), float(max_slope_gap_s))
