"""Calibration from the data itself: the quiet stance at the start of a recording.

While the lifter stands still the detector learns, per sensor, the gyroscope bias and the
gravity direction (the standing reference). The stance ends at the first motion of either
sensor (or after ``max_stand_s``). Quiet standing still sways by a few degrees, so the plain
mean of the gyroscope is corrected by the net rotation the accelerometer saw over the window
(gravity at the start vs the end): a sway that ends off-centre is not taken for bias.

:class:`StanceDetector` is fed sample by sample (live and batch alike) and reports once.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from imu_hinge.analysis.stance_params import StanceParams
from imu_hinge.errors import CalibrationError
from imu_hinge.samples import SENSOR_ROLES


@dataclass(frozen=True)
class StanceEstimate:
    """Per-sensor result: mean acc (m/s^2) and gyro bias (rad/s) over the stance, sensor frame."""

    sensor: str
    acc_mean_m_s2: np.ndarray
    gyr_bias_rad_s: np.ndarray
    acc_first_m_s2: np.ndarray
    """Mean acc over the first ``edge_s`` of the data: where a filter starting at sample 0 must start."""
    n_samples: int
    rate_hz: float


@dataclass(frozen=True)
class StanceResult:
    start_s: float
    end_s: float
    finalized_at_s: float
    sensors: dict[str, StanceEstimate]


def _turned(t: np.ndarray, gyr: np.ndarray) -> np.ndarray:
    """The gyro integrated from the first sample (N, 3) rad: each sample's rate over the interval ending at it,
    zero at the first."""
    dt = np.diff(t, prepend=t[:1])
    return np.cumsum(gyr * dt[:, None], axis=0)


def sway_corrected_bias(t: np.ndarray, acc: np.ndarray, gyr: np.ndarray) -> np.ndarray:
    """Gyro bias (3,) rad/s over a still stretch: the mean gyro, less the rotation the accelerometer saw.

    ``t`` (N,) s, ``acc`` (N, 3) m/s^2, ``gyr`` (N, 3) rad/s. Quiet standing sways; a sway that
    drifts turns gravity in the sensor frame, and that turn is not bias. In the sensor frame
    gravity ``u`` obeys du/dt = u x w, so with the integrated gyro theta(t) (bias b included),
    u(t) - u0 x theta(t) = u0 - (u0 x b) t: the slope of a straight-line fit over every sample
    gives the bias across gravity (the sway's own accelerations average out over the stretch,
    where two end windows would keep them). Along gravity the accelerometer sees nothing: the
    plain mean stays.
    """
    mean = gyr.mean(axis=0)
    if len(t) < 3 or float(t[-1] - t[0]) <= 0:
        return mean
    u = acc / np.linalg.norm(acc, axis=1)[:, None]
    u0 = u.mean(axis=0)
    u0 /= np.linalg.norm(u0)
    theta = _turned(t, gyr)  # (any constant would do: the fit below takes slopes only)
    y = u - np.cross(u0, theta)
    tc = t - t.mean()
    slope = (tc[:, None] * (y - y.mean(axis=0))).sum(axis=0) / float((tc * tc).sum())
    across = np.cross(u0, slope)
    return across + u0 * float(u0 @ mean)


def gravity_at_first_sample(t: np.ndarray, acc: np.ndarray, gyr: np.ndarray, gyr_bias_rad_s: np.ndarray) -> np.ndarray:
    """Gravity (3,) m/s^2 in the sensor frame at the first of a still stretch's samples.

    Every accelerometer sample turned back by the gyro's turn since the first (``gyr_bias_rad_s`` removed; to first
    order: du/dt = u x w as in :func:`sway_corrected_bias`, so u0 = u(t) + theta(t) x u(t)), then averaged: exact for
    a stretch that sways or drifts a few degrees, whose own accelerations average out, where the first moments'
    accelerometer alone carries them (a stand settling from a back bend: 3 deg off over its first 0.2 s).
    """
    theta = _turned(t, gyr - gyr_bias_rad_s)
    return (acc + np.cross(theta, acc)).mean(axis=0)


class _SensorBuffer:
    def __init__(self) -> None:
        self.t: list[float] = []
        self.acc: list[np.ndarray] = []
        self.gyr: list[np.ndarray] = []
        self.ref_gyr: np.ndarray | None = None
        self.ref_acc_norm = 0.0
        self.win: deque[tuple[np.ndarray, float]] = deque()
        self.win_sum_gyr = np.zeros(3)
        self.win_sum_accn = 0.0
        self.start = 0
        """Index of the first sample of the current stance attempt."""


class StanceDetector:
    """Finds the initial quiet stance, one sample at a time."""

    def __init__(self, params: StanceParams | None = None) -> None:
        self.params = params or StanceParams()
        self._buf = {role: _SensorBuffer() for role in SENSOR_ROLES}
        self.result: StanceResult | None = None
        self.restarts = 0
        """How often a motion came before ``min_stand_s`` of quiet and the stance started over."""
        self.longest_still_s = 0.0
        """The longest quiet stretch that a motion cut short (started over), s: what a refusal reports."""

    def push(self, sensor: str, time_s: float, acc_m_s2: np.ndarray, gyr_rad_s: np.ndarray) -> StanceResult | None:
        """Add one sample; return the result once the stance is over (then stop calling)."""
        p = self.params
        b = self._buf[sensor]
        acc = np.asarray(acc_m_s2, dtype=float)
        gyr = np.asarray(gyr_rad_s, dtype=float)
        b.t.append(time_s)
        b.acc.append(acc)
        b.gyr.append(gyr)
        t0 = b.t[b.start]
        if b.ref_gyr is None:
            if time_s - t0 >= p.ref_s:
                t_ref, acc_ref, gyr_ref = (np.asarray(x[b.start:], dtype=float) for x in (b.t, b.acc, b.gyr))
                b.ref_gyr = gyr_ref.mean(axis=0)
                b.ref_acc_norm = float(np.mean(np.linalg.norm(acc_ref, axis=1)))
                dev = gyr_ref - b.ref_gyr
                # the turn the accelerometer saw: the mean gyro less the bias it allows (a bias turns nothing)
                turn = b.ref_gyr - sway_corrected_bias(t_ref, acc_ref, gyr_ref)
                if (np.linalg.norm(turn) > p.max_ref_gyr_rad_s or np.linalg.norm(b.ref_gyr) > p.max_gyro_bias_rad_s
                        or float(np.sqrt(np.mean(np.sum(dev * dev, axis=1)))) > p.max_ref_rms_rad_s):
                    self._start_over()  # the reference was taken in a motion: compared with it, its end would pass
            return None
        accn = float(np.linalg.norm(acc))
        b.win.append((gyr, accn))
        b.win_sum_gyr = b.win_sum_gyr + gyr
        b.win_sum_accn += accn
        n_win = max(1, int(round(p.smooth_s * self._rate(b))))
        while len(b.win) > n_win:
            g_old, a_old = b.win.popleft()
            b.win_sum_gyr = b.win_sum_gyr - g_old
            b.win_sum_accn -= a_old
        moving = (np.linalg.norm(b.win_sum_gyr / len(b.win) - b.ref_gyr) > p.motion_gyr_rad_s
                  or abs(b.win_sum_accn / len(b.win) - b.ref_acc_norm) > p.motion_acc_m_s2)
        start = max(bb.t[bb.start] for bb in self._buf.values() if len(bb.t) > bb.start)
        if moving:
            if time_s - p.margin_s - start < p.min_stand_s or not all(bb.t for bb in self._buf.values()):
                self.longest_still_s = max(self.longest_still_s, time_s - start)
                self._start_over()  # moved too early: a new stance attempt from the next sample
                return None
            return self._finalize(start, time_s - p.margin_s, time_s)
        if all(bb.t for bb in self._buf.values()) and time_s - start >= p.max_stand_s:
            return self._finalize(start, time_s, time_s)
        return None

    def _start_over(self) -> None:
        self.restarts += 1
        for b in self._buf.values():
            b.start = len(b.t)
            b.ref_gyr = None
            b.win.clear()
            b.win_sum_gyr = np.zeros(3)
            b.win_sum_accn = 0.0

    @staticmethod
    def _rate(b: _SensorBuffer) -> float:
        """Nominal rate from the median interval: dropped samples must not bias it. Called with two
        samples or more (after the reference, which ends the call that took it; in the finish, with 5)."""
        dt = float(np.median(np.diff(b.t[-256:])))
        return 1.0 / dt if dt > 0 else 100.0

    def _finalize(self, start_s: float, end_s: float, now_s: float) -> StanceResult:
        p = self.params
        if end_s - start_s < p.min_stand_s or any(not b.t for b in self._buf.values()):
            still_s = max(0.0, end_s - start_s, self.longest_still_s)  # not only the attempt the data ended in
            raise CalibrationError(
                f"no quiet standing at the start (still for {still_s:.1f} s at the longest; a stance needs "
                f"{p.min_stand_s:.1f} s still, and {p.margin_s:.1f} s more before a movement): begin each recording "
                "standing still for 2-5 s")
        sensors = {}
        for role, b in self._buf.items():
            t = np.asarray(b.t)
            m = (t >= start_s) & (t <= end_s)
            if m.sum() < 5:
                raise CalibrationError(f"the {role} sensor has too few samples in the standing phase")
            acc = np.asarray(b.acc)[m]
            gyr = np.asarray(b.gyr)[m]
            tt = t[m]
            all_t = np.asarray(b.t)
            first = np.asarray(b.acc)[all_t <= all_t[0] + p.edge_s].mean(axis=0)
            sensors[role] = StanceEstimate(role, acc.mean(axis=0), sway_corrected_bias(tt, acc, gyr), first,
                                           int(m.sum()), self._rate(b))
        self.result = StanceResult(start_s, end_s, now_s, sensors)
        return self.result

    def append(self, sensor: str, time_s: float, acc_m_s2: np.ndarray, gyr_rad_s: np.ndarray) -> None:
        """Keep buffering after the stance (while the first hinge reveals the sagittal axis)."""
        b = self._buf[sensor]
        b.t.append(time_s)
        b.acc.append(np.asarray(acc_m_s2, dtype=float))
        b.gyr.append(np.asarray(gyr_rad_s, dtype=float))

    def buffered(self, sensor: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """All samples seen so far for ``sensor``: time_s (N,), acc (N,3), gyr (N,3)."""
        b = self._buf[sensor]
        return np.asarray(b.t), np.asarray(b.acc).reshape(-1, 3), np.asarray(b.gyr).reshape(-1, 3)

    def finalize_now(self) -> StanceResult:
        """Close the stance at the end of the data (a recording shorter than ``max_stand_s``)."""
        ends = [b.t[-1] for b in self._buf.values() if b.t]
        starts = [b.t[min(b.start, len(b.t) - 1)] for b in self._buf.values() if b.t]
        if len(ends) < len(self._buf):
            raise CalibrationError("a sensor has no samples at all")
        return self._finalize(max(starts), min(ends), min(ends))
