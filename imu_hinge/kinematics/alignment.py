"""Two unsynchronised sensor streams on one time base.

One output row per sample of the *base* stream (the faster sensor; the thoracic one on a
tie). The other segment's angle at that instant is extrapolated causally from its last two
samples (constant rate; held when they are more than ``max_slope_gap_s`` or less than 1 ms apart, where
the difference of two angles is noise, not a rate), and is NaN when its last sample is older than
``max_age_s``: gaps stay gaps, nothing is zero-filled or invented. Live and batch give the same numbers.
"""

from __future__ import annotations

import numpy as np

from imu_hinge.kinematics import _kinematics_loops

# THE combiner step and its loop over both streams are C (``combine_push`` and ``combine`` in
# _kinematics_loops.c). The step's state ``st`` = (t1, a1, t2, a2, max_age_s, max_slope_gap_s): the other
# stream's last two samples and the limits. An other sample shifts them in; a base sample gets the other
# angle extrapolated to its time (NaN when the other's last sample is older than max_age_s; held when its
# last two are more than max_slope_gap_s apart).


class RowCombiner:
    """Per-sample combiner. ``push`` returns ``(time_s, base_angle, other_angle)`` on base samples."""

    def __init__(self, base: str, max_age_s: float, max_slope_gap_s: float) -> None:
        self.base = base
        self.max_age_s = max_age_s
        self.max_slope_gap_s = max_slope_gap_s
        self._st = np.array([np.nan, np.nan, np.nan, np.nan, max_age_s, max_slope_gap_s])

    def push(self, role: str, time_s: float, angle_deg: float) -> tuple[float, float, float] | None:
        is_base = role == self.base
        other = _kinematics_loops.combine_push(self._st, is_base, time_s, angle_deg)
        return (time_s, angle_deg, other) if is_base else None


def combine_batch(base_t: np.ndarray, other_t: np.ndarray, other_angle: np.ndarray, *, other_first_on_tie: bool,
                  max_age_s: float, max_slope_gap_s: float) -> np.ndarray:
    """The other segment's angle at every base time (N,): :class:`RowCombiner`'s step over both
    streams in arrival order (the other first on equal times when ``other_first_on_tie``)."""
    base_t = np.ascontiguousarray(base_t, dtype=np.float64)
    out = np.empty(base_t.shape[0])
    _kinematics_loops.combine(base_t, np.ascontiguousarray(other_t, dtype=np.float64),
                              np.ascontiguousarray(other_angle, dtype=np.float64), bool(other_first_on_tie),
                              float(max_age_s), float(max_slope_gap_s), out)
    return out
