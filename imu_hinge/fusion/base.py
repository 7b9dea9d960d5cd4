"""The one interface every orientation filter implements.

A filter is built with its parameters (``rate_hz`` and method-specific gains), keeps
its state apart, and offers a per-sample :meth:`OrientationFilter.update` for live use
and :meth:`OrientationFilter.update_batch` for replay. Both give *identical* results on
the same samples: the batch form only loops faster.

Conventions: quaternions are ``(w, x, y, z)``, sensor-to-earth, earth z up (heading is
arbitrary: there is no magnetometer). Gyroscope in rad/s, accelerometer in m/s^2, both in
the sensor's own axes. ``dt_s`` is the time since the previous sample; when it exceeds
1.5 nominal periods the filter treats it as a gap (dropped samples): it integrates the
gyroscope across the real interval and never invents accelerometer corrections.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from imu_hinge.fusion import _fusion_loops

GAP_FACTOR = 1.5
"""An interval longer than this many nominal periods is a gap."""


def quat_from_gravity(acc_m_s2: np.ndarray) -> np.ndarray:
    """Sensor-to-earth quaternion (w, x, y, z) with zero heading whose earth z is along ``acc``.

    The rotation is the shortest one taking the measured "up" direction (sensor frame)
    to earth z.
    """
    a = np.asarray(acc_m_s2, dtype=float)
    u = a / np.linalg.norm(a)
    ez = np.array([0.0, 0.0, 1.0])
    c = float(np.dot(u, ez))
    if c < -0.999999:  # upside down: 180 deg about x
        return np.array([0.0, 1.0, 0.0, 0.0])
    axis = np.cross(u, ez)
    q = np.array([1.0 + c, axis[0], axis[1], axis[2]])
    return q / np.linalg.norm(q)


def up_in_sensor(q: np.ndarray) -> np.ndarray:
    """Earth "up" expressed in the sensor frame for sensor-to-earth quaternions (..., 4) -> (..., 3)."""
    q = np.asarray(q, dtype=np.float64)
    rows = np.ascontiguousarray(q.reshape(-1, 4))  # no copy of C-contiguous (N, 4) rows: a view of q
    out = np.empty((rows.shape[0], 3))
    _fusion_loops.up_rows(rows, out)  # THE loop, in C
    return out if q.ndim == 2 else out.reshape(q.shape[:-1] + (3,))


# quat_to_matrix, entry by entry (row-major): base + factor * (q_a q_b + sign * q_c q_d), indices a*4+b of q q^T
_M_FIRST = np.array([10, 6, 7, 6, 5, 11, 7, 11, 5])  # yy, xy, xz, xy, xx, yz, xz, yz, xx
_M_SECOND = np.array([15, 3, 2, 3, 15, 1, 2, 1, 10])  # zz, wz, wy, wz, zz, wx, wy, wx, yy
_M_SIGN = np.array([1.0, -1, 1, 1, 1, -1, -1, 1, 1])
_M_FACTOR = np.array([-2.0, 2, 2, 2, -2, 2, 2, 2, -2])
_M_BASE = np.array([1.0, 0, 0, 0, 1, 0, 0, 0, 1])


def quat_to_matrix(q: np.ndarray) -> np.ndarray:
    """Rotation matrices (N, 3, 3) of sensor-to-earth quaternions (N, 4): ``v_earth = M @ v_sensor``.

    ``M00 = 1 - 2 (y^2 + z^2)``, ``M01 = 2 (x y - w z)``, ... computed for all nine entries at once
    (a handful of numpy calls for any N; every entry by the same arithmetic for any N)."""
    q = np.asarray(q, dtype=np.float64)
    products = (q[:, :, None] * q[:, None, :]).reshape(-1, 16)
    pairs = products[:, _M_FIRST] + _M_SIGN * products[:, _M_SECOND]
    return (_M_BASE + _M_FACTOR * pairs).reshape(-1, 3, 3)


def quat_multiply(q1: np.ndarray, q2: np.ndarray) -> np.ndarray:
    """Hamilton product ``q1 * q2`` of two quaternions (4,) (w, x, y, z)."""
    w1, x1, y1, z1 = q1
    w2, x2, y2, z2 = q2
    return np.array([w1 * w2 - x1 * x2 - y1 * y2 - z1 * z2,
                     w1 * x2 + x1 * w2 + y1 * z2 - z1 * y2,
                     w1 * y2 - x1 * z2 + y1 * w2 + z1 * x2,
                     w1 * z2 + x1 * y2 - y1 * x2 + z1 * w2])


def quat_from_rate(gyr_rad_s: np.ndarray, dt_s: float) -> np.ndarray:
    """Rotation (4,) of a constant body rate ``gyr_rad_s`` (3,) held for ``dt_s`` seconds (exact)."""
    w = np.asarray(gyr_rad_s, dtype=float)
    rate = float(np.linalg.norm(w))
    if rate * abs(dt_s) < 1e-15:
        return np.array([1.0, 0.0, 0.0, 0.0])
    half = 0.5 * rate * dt_s
    s = np.sin(half) / rate
    return np.array([np.cos(half), s * w[0], s * w[1], s * w[2]])


def integrate_gyr(q: np.ndarray, gyr_rad_s: np.ndarray, dt_s: float) -> np.ndarray:
    """Sensor-to-earth ``q`` (4,) after turning at body rate ``gyr_rad_s`` (3,) for ``dt_s`` s; unit norm."""
    out = quat_multiply(np.asarray(q, dtype=float), quat_from_rate(gyr_rad_s, dt_s))
    return out / np.linalg.norm(out)


def gap_rate(last_gyr_rad_s: np.ndarray | None, gyr_rad_s: np.ndarray, dt_s: float, ts_s: float) -> np.ndarray:
    """Mean body rate (3,) rad/s over the missing part ``dt_s - ts_s`` of a gap.

    The rate is taken as linear from the previous sample ``last_gyr_rad_s`` (at the start of
    the gap) to ``gyr_rad_s``; the sample ending the gap covers the last ``ts_s`` itself (its own
    normal update). Without a previous sample the current rate is held.
    """
    gyr = np.asarray(gyr_rad_s, dtype=float)
    if last_gyr_rad_s is None:
        return gyr
    last = np.asarray(last_gyr_rad_s, dtype=float)
    end = last + (gyr - last) * ((dt_s - ts_s) / dt_s)  # rate where the missing part ends
    return 0.5 * (last + end)


def bridge_rate(last_gyr_rad_s: np.ndarray | None, gyr_rad_s: np.ndarray, dt_s: float, ts_s: float,
                given_rad_s: np.ndarray | None = None) -> np.ndarray:
    """Mean body rate (3,) rad/s over the missing part of a gap: ``given_rad_s`` where known and finite (offline,
    read from both sides of the gap: :mod:`.gap_bridge`), else linear as :func:`gap_rate` takes it."""
    if given_rad_s is not None and bool(np.isfinite(given_rad_s).all()):
        return np.asarray(given_rad_s, dtype=float)
    return gap_rate(last_gyr_rad_s, gyr_rad_s, dt_s, ts_s)


def gap_rows(gap_gyr_rad_s: np.ndarray | None, n: int) -> np.ndarray | None:
    """A batch's ``gap_gyr_rad_s`` (None stays None) as a float (n, 3) array, or a ValueError naming its shape."""
    if gap_gyr_rad_s is None:
        return None
    rows = np.asarray(gap_gyr_rad_s, dtype=np.float64)
    if rows.shape != (n, 3):
        raise ValueError(f"gap_gyr_rad_s must have shape ({n}, 3), got {rows.shape}")
    return rows


def rows_between(rows: np.ndarray | None, start: int | None, stop: int | None) -> np.ndarray | None:
    """``rows[start:stop]`` of optional per-sample rows (gap rates), None for None: one batch's share of them."""
    return None if rows is None else rows[start:stop]


def batch_intervals(dt_s: np.ndarray | None, n: int, n_acc: int) -> np.ndarray | None:
    """A batch's checked lengths (``n`` gyro and ``n_acc`` accelerometer samples) and its ``dt_s`` as a flat float
    array (None stays None): one entry per sample, none negative, or a ValueError naming the counts or the entry."""
    if n_acc != n:
        raise ValueError(f"gyr_rad_s and acc_m_s2 differ in length: {n} vs {n_acc}")
    if dt_s is None:
        return None
    dt = np.asarray(dt_s, dtype=np.float64)
    if dt.ndim != 1:  # the live driver's blocks of one sample are 1-d already: no reshape per sample
        dt = dt.reshape(-1)
    if dt.shape[0] != n:
        raise ValueError(f"dt_s must have {n} entries, got {dt.shape[0]}")
    if (float(dt[0]) < 0.0) if n == 1 else (n > 1 and float(dt.min()) < 0.0):  # one sample: no numpy reduction
        i = int(np.argmax(dt < 0.0))
        raise negative_interval(i, float(dt[i]))
    return dt


def negative_interval(index: int, dt_s: float) -> ValueError:
    """The error for a step back in time (entry ``index`` of a block's ``dt_s``)."""
    return ValueError(f"dt_s must not be negative (time runs forward): entry {index} is {dt_s:g} s; "
                      "give the samples in time order")


def step_interval(dt_s: float | None) -> float | None:
    """One sample's ``dt_s`` (None stays None), checked as :func:`batch_intervals` checks a block's."""
    if dt_s is not None and dt_s < 0.0:
        raise negative_interval(0, float(dt_s))
    return dt_s


class OrientationFilter(ABC):
    """Causal 6-axis orientation filter. Parameters in ``__init__``, state in the object."""

    name: str = ""

    def __init__(self, rate_hz: float) -> None:
        if not (rate_hz > 0 and np.isfinite(rate_hz)):
            raise ValueError(f"rate_hz must be positive, got {rate_hz!r}")
        self.rate_hz = float(rate_hz)
        self.ts_s = 1.0 / self.rate_hz

    @abstractmethod
    def reset(self, acc_m_s2: np.ndarray | None = None, gyr_bias_rad_s: np.ndarray | None = None) -> None:
        """Start over; optionally from a known gravity direction (mean acc at rest) and gyro bias."""

    @abstractmethod
    def update(self, gyr_rad_s: np.ndarray, acc_m_s2: np.ndarray, dt_s: float | None = None,
               gap_gyr_rad_s: np.ndarray | None = None) -> np.ndarray:
        """Process one sample; return the orientation (4,) after it. ``gap_gyr_rad_s`` (3,): where this sample ends
        a gap, the mean rate over its missing part when known (offline: :mod:`.gap_bridge`); None or NaN: the
        rate taken as linear from the sample before (:func:`gap_rate`)."""

    def update_batch(self, gyr_rad_s: np.ndarray, acc_m_s2: np.ndarray,
                     dt_s: np.ndarray | None = None, gap_gyr_rad_s: np.ndarray | None = None) -> np.ndarray:
        """Process N samples in order; return (N, 4). Same result as N calls of :meth:`update` (``gap_gyr_rad_s``
        (N, 3): each sample's, as there)."""
        gyr = np.ascontiguousarray(gyr_rad_s, dtype=float)
        acc = np.ascontiguousarray(acc_m_s2, dtype=float)
        dt = batch_intervals(dt_s, gyr.shape[0], acc.shape[0])
        gap = gap_rows(gap_gyr_rad_s, gyr.shape[0])
        out = np.empty((gyr.shape[0], 4))
        for i in range(gyr.shape[0]):
            step = None if dt is None else float(dt[i])
            # without gap rates, update() as a filter written before they existed takes it
            out[i] = self.update(gyr[i], acc[i], step) if gap is None else self.update(gyr[i], acc[i], step, gap[i])
        return out

    @property
    @abstractmethod
    def gyr_bias_rad_s(self) -> np.ndarray:
        """Current gyroscope bias estimate (3,), zeros where the method has none."""
