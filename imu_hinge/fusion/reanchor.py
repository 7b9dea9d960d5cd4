"""A sensor back after a long gap: its orientation is re-anchored on gravity before its angles count.

Short gaps (a few dropped samples) are bridged inside the filter: the body rate is taken as
linear across them. Over a long gap (a link lost and back, an outage in a file) the motion is
unknown: bridging a rate over seconds turns the estimate by tens of degrees when the sensor
comes back mid-movement. So after a gap longer than ``gap_s`` the filter restarts from the
accelerometer at the returning sample (gravity, plus whatever the body accelerates), keeping its
gyro bias, and the segment's angles are held back (NaN) while it settles: until the sensor has
been still for ``quiet_s`` (then the filter restarts once more from the mean accelerometer over
that stillness: exact gravity), or ``max_settle_s`` have passed (the filter has converged on the
accelerometer by then). Nothing is alerted or cued from a settling filter: its rows are gaps.

:class:`Reanchor` is the per-sensor state; it drives the filter over any block of samples
(one sample live, arrays in replay) with the same arithmetic, so live and replay agree.
"""

from __future__ import annotations

import math

import numpy as np

from imu_hinge.fusion.base import OrientationFilter, rows_between, up_in_sensor
from imu_hinge.fusion.reanchor_params import ReanchorParams
from imu_hinge.samples import STANDARD_GRAVITY_M_S2


class Reanchor:
    """Per-sensor gap handling around an :class:`~.base.OrientationFilter` (see the module docstring)."""

    def __init__(self, flt: OrientationFilter, rate_hz: float, params: ReanchorParams | None = None) -> None:
        self.params = params or ReanchorParams()
        self.filter = flt
        self.rate_hz = rate_hz
        self._n_quiet = int(round(self.params.quiet_s * rate_hz))  # 0 acts as 1: a still run is counted, then compared
        self.last_t = math.nan
        """Time (s) of the last sample seen."""
        self.settle_since_s = math.nan
        """Time of the sample that ended the last long gap while the filter settles; NaN otherwise."""
        self._new_run()
        self.returns_s: list[float] = []
        """Times at which the sensor came back from a long gap."""

    def _new_run(self) -> None:
        self._run = 0  # consecutive still samples while settling
        self._run_acc = np.zeros(3)  # their accelerometer sum

    @property
    def settling(self) -> bool:
        return not math.isnan(self.settle_since_s)

    def up_batch(self, t: np.ndarray, acc: np.ndarray, gyr: np.ndarray,
                 gap_gyr: np.ndarray | None = None) -> np.ndarray:
        """"up" in the sensor frame (N, 3) for samples ``t`` (N,) s, ``acc`` (N, 3), ``gyr`` (N, 3);
        NaN rows where the filter is settling after a long gap. ``gap_gyr`` (N, 3) rad/s: the bridged gaps' rates
        where known (:meth:`~.base.OrientationFilter.update`)."""
        n = len(t)
        if n == 0:
            return np.zeros((0, 3))
        prev = self.last_t
        dt = np.empty(n)
        dt0 = 1.0 / self.rate_hz if math.isnan(prev) else float(t[0]) - prev
        dt[0] = dt0
        if n > 1:
            np.subtract(t[1:], t[:-1], out=dt[1:])
        self.last_t = float(t[-1])
        i = 0
        # the long gaps (plain floats on a block of one: numpy calls cost microseconds each)
        gaps = np.flatnonzero(dt > self.params.gap_s).tolist() if n > 1 else [0] if dt0 > self.params.gap_s else []
        if not gaps and not self.settling:  # the common case (every live sample): one filter run
            return up_in_sensor(self._filter(gyr, acc, dt, gap_gyr))
        out = np.empty((n, 3))
        next_gap = 0  # index into gaps of the next gap at or after i
        while i < n:
            if self.settling:
                j = self._settled_at(t, acc, gyr, i)
                stop = n if j is None else j + 1
                out[i:stop] = np.nan
                self._filter(gyr[i:stop], acc[i:stop], dt[i:stop], rows_between(gap_gyr, i, stop))
                if j is not None:  # still at last: restart on exact gravity, angles count from the next sample
                    if self._run:
                        self.filter.reset(self._run_acc / self._run, self.filter.gyr_bias_rad_s)
                    self.settle_since_s = math.nan
                i = stop
                continue
            while next_gap < len(gaps) and gaps[next_gap] < i:
                next_gap += 1
            g = gaps[next_gap] if next_gap < len(gaps) else n
            if g > i:
                out[i:g] = up_in_sensor(self._filter(gyr[i:g], acc[i:g], dt[i:g], rows_between(gap_gyr, i, g)))
                i = g
                continue
            # the sample ending a long gap: restart on its accelerometer, keep the bias, settle
            self.filter.reset(acc[i], self.filter.gyr_bias_rad_s)
            self.settle_since_s = float(t[i])
            self.returns_s.append(float(t[i]))
            self._new_run()
            out[i] = np.nan
            i += 1
        return out

    def _filter(self, gyr: np.ndarray, acc: np.ndarray, dt: np.ndarray, gap_gyr: np.ndarray | None) -> np.ndarray:
        """The filter over a batch; without gap rates called as a filter written before they existed takes it."""
        if gap_gyr is None:
            return self.filter.update_batch(gyr, acc, dt)
        return self.filter.update_batch(gyr, acc, dt, gap_gyr)

    def _settled_at(self, t: np.ndarray, acc: np.ndarray, gyr: np.ndarray, i: int) -> int | None:
        """Index in ``i..`` of the sample at which the settling ends (updating the still run), or None."""
        p = self.params
        bias = self.filter.gyr_bias_rad_s
        still = ((np.linalg.norm(gyr[i:] - bias, axis=1) < p.quiet_gyr_rad_s)
                 & (np.abs(np.linalg.norm(acc[i:], axis=1) - STANDARD_GRAVITY_M_S2) < p.quiet_acc_m_s2))
        timeout = np.flatnonzero(t[i:] - self.settle_since_s >= p.max_settle_s)
        end = int(timeout[0]) if len(timeout) else len(still)
        for k in range(end):
            if still[k]:
                self._run += 1
                self._run_acc = self._run_acc + acc[i + k]
                if self._run >= self._n_quiet:
                    return i + k
            else:
                self._new_run()
        if len(timeout):
            self._new_run()  # converged on the accelerometer: no restart
            return i + end
        return None


__all__ = ["Reanchor", "ReanchorParams"]
