"""Offline: what a causal filter cannot know after a gap, from the samples that follow it.

After a gap a filter's "up" is off by whatever the gap hid. Across a short gap the rate is taken as
linear (:mod:`.reanchor`): in a slow hinge that costs tenths of a degree, in a kettlebell swing a
0.3 s hole costs 17 deg (the rate turns within the hole; simulated, measured in tests/test_gap_repair.py).
After a long gap the filter restarts on the accelerometer of the returning sample (gravity plus the body's
acceleration) and its angles are held back until it settles: up to 4 s of reps with no pelvic or trunk
angle. Either error fades only as fast as the accelerometer correction lets it (time constant ``tau_s``,
seconds): live, nothing better is possible.

Offline the samples after the gap are there. The same filter run backwards in time (the motion
time-reversed: rate negated, bias taken off first) from a sample ``span_s`` after the gap (or the sample
before the next gap), started on the causal estimate there, reaches the gap having crossed no gap: the
error the causal estimate still had at its start (already faded for up to ``span_s``) fades again on the
way back. Right after the gap the two estimates differ by about the error the gap left; where that is
under ``harmless_deg`` the causal estimate is kept (the backward run has noise of its own), else the
backward one takes over while the causal error, fading from that size, is above the noise
(:func:`backward_weights`). Rows the causal filter held back get the backward estimate. Recordings
without gaps over ``min_gap_s`` are not touched (no span, not one sample changed).

Used by :meth:`imu_hinge.analysis.pipeline.HingePipeline.analyze` for the angles and reps it reports
(``repair=False``, or ``gap_repair.enabled = false`` in a config: the live pipeline's); its alerts stay
those of the causal pipeline, what a live session raises on the same samples (contracts.md).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Iterator

import numpy as np

from imu_hinge.fusion.gap_repair_params import GapRepairParams


def repair_spans(t: np.ndarray, params: GapRepairParams) -> list[tuple[int, int]]:
    """(first, stop) sample indices of each span to repair: from the sample ending a gap longer than
    ``min_gap_s`` until ``span_s`` after it or the next such gap, whichever comes first."""
    if not params.enabled:
        return []
    ends = (np.flatnonzero(np.diff(t) > params.min_gap_s) + 1).tolist()
    return [(a, min(int(np.searchsorted(t, t[a] + params.span_s, side="right")), until))
            for a, until in zip(ends, [*ends[1:], len(t)], strict=False)]  # until the next gap or the end


class SpanKeeper:
    """What the repair of ``spans`` needs from the causal run, kept as it passes (blocks cut at :meth:`cuts`): the
    forward "up" of each span's samples and the filter's gyro bias at its last sample (the backward run takes
    the bias off the rate as it stood there, not at the end of the recording)."""

    def __init__(self, spans: list[tuple[int, int]]) -> None:
        self.spans = spans
        self._firsts = [a for a, _ in spans]
        self._stops = [b for _, b in spans]
        self._ups = [np.full((b - a, 3), np.nan) for a, b in spans]
        self._bias: list[np.ndarray | None] = [None] * len(spans)

    def cuts(self) -> list[int]:
        """Sample indices at which the causal run's blocks must end."""
        return [b for _, b in self.spans]

    def add(self, first: int, ups: np.ndarray, gyr_bias_rad_s: np.ndarray) -> None:
        """The causal run's "up" (N, 3) of samples ``first..first+N``, and its filter's bias after them."""
        stop = first + len(ups)
        # spans are ordered and apart: from the first that ends after ``first`` to the last that starts before ``stop``
        for k in range(bisect.bisect_right(self._stops, first), bisect.bisect_left(self._firsts, stop)):
            a, b = self.spans[k]
            lo, hi = max(a, first), min(b, stop)  # lo < hi: the two overlap; hi is stop (blocks end at b)
            self._ups[k][lo - a:hi - a] = ups[lo - first:]
            if b == stop:
                self._bias[k] = np.array(gyr_bias_rad_s, dtype=float)

    def kept(self) -> Iterator[tuple[tuple[int, int], np.ndarray, np.ndarray]]:
        """((first, stop), forward "up" (stop - first, 3), gyro bias (3,) rad/s) of each span."""
        for span, ups, bias in zip(self.spans, self._ups, self._bias, strict=True):
            assert bias is not None, "the causal run did not end a block at the span's end"
            yield span, ups, bias


def backward_weights(t: np.ndarray, causal_ups: np.ndarray, backward_ups: np.ndarray,
                     params: GapRepairParams) -> np.ndarray | None:
    """Weight (N,) of the backward estimate over a span (times ``t`` (N,), the causal and backward "up" (N, 3, unit));
    None when the gap did the causal estimate no harm (keep it as it is).

    Where the causal estimate is NaN (held back while settling), 1. From its first finite sample on, the two differ
    by the error the gap left in the causal one, ``d`` deg, plus the noise of both; that error fades with the
    filter's accelerometer time constant ``tau_s`` while the backward estimate's stays at about ``noise_deg``:
    ``w = e^2 / (e^2 + noise^2)`` with ``e = d exp(-(t - t_first) / tau_s)``. Under ``harmless_deg`` (a gap in a slow
    motion or at rest, bridged well) the causal estimate is kept: the backward run has its own noise."""
    finite = np.isfinite(causal_ups).all(axis=1)
    if not finite.any():
        return np.ones(len(t))
    f0 = int(np.argmax(finite))
    c, b = causal_ups[f0], backward_ups[f0]
    d_deg = math.degrees(math.acos(min(1.0, float(c @ b))))  # both unit vectors: the dot only rounds past 1
    if f0 == 0 and d_deg < params.harmless_deg:
        return None
    e = d_deg * np.exp(-(t - t[f0]) / params.tau_s)
    w = e**2 / (e**2 + params.noise_deg**2)
    w[~finite] = 1.0
    return w


def repaired_ups(t: np.ndarray, causal_ups: np.ndarray, backward: Callable[[np.ndarray], np.ndarray],
                 fallback_up: np.ndarray, params: GapRepairParams) -> np.ndarray | None:
    """"up" (N, 3, unit) over one span (times ``t`` (N,), the causal "up" (N, 3), NaN rows where the causal filter
    held its angles back), or None to keep the causal estimate (:func:`backward_weights`). ``backward(up_last)``:
    the filter run back over the span from its last sample (where "up" is ``up_last``); it starts on the causal
    "up" there, or on ``fallback_up`` when the causal filter is still settling there (a sensor back for less than
    its settling time)."""
    back = backward(causal_ups[-1] if np.isfinite(causal_ups[-1]).all() else fallback_up)
    w = backward_weights(t, causal_ups, back, params)
    if w is None:
        return None
    mixed = w[:, None] * back + (1.0 - w[:, None]) * np.nan_to_num(causal_ups)
    return mixed / np.linalg.norm(mixed, axis=1, keepdims=True)


__all__ = ["GapRepairParams", "SpanKeeper", "backward_weights", "repair_spans", "repaired_ups"]
