"""Madgwick, Mahony and EKF from the ``ahrs`` package behind :class:`OrientationFilter`.

Conventions checked against BROAD optical ground truth (tests/test_fusion.py): with the
accelerometer reading +g up, ahrs Madgwick and Mahony return sensor-to-earth quaternions
(w, x, y, z) with earth z up, as this package uses. The ahrs EKF works only with
``frame='NED'`` (``'ENU'`` converges upside down); its reference vector ``a_ref=[0, 0, 1]``
is then matched to the measured +g "up", so its quaternion is sensor-to-earth with z up as
well and needs no conversion.

Wrapped quirks: ``updateIMU`` of Madgwick/Mahony returns early when the gyro sample is
exactly zero (the accelerometer correction is skipped); such a sample is passed as the
rate of 1e-150 rad/s (numerically no rotation, but a non-zero norm) so the correction still runs.
A gap (``dt_s`` > 1.5 nominal periods) is bridged by exact integration of the
bias-corrected gyro over the missing time (rate linear across the gap, as for vqf), then the
normal update with the nominal period;
no accelerometer sample is invented. These filters are pure Python (30-100 us/sample);
``update_batch`` loops over :meth:`update` and so is identical to it.
"""

from __future__ import annotations

import numpy as np

from imu_hinge.fusion.base import (
    GAP_FACTOR,
    OrientationFilter,
    bridge_rate,
    integrate_gyr,
    quat_from_gravity,
    quat_from_rate,
    step_interval,
)

_TINY_RATE = np.array([1e-150, 0.0, 0.0])
"""Stands in for an exactly-zero gyro sample (see module docstring)."""


def _vec3(x: np.ndarray | None, name: str) -> np.ndarray | None:
    if x is None:
        return None
    v = np.asarray(x, dtype=float).reshape(-1)
    if v.shape != (3,) or not np.all(np.isfinite(v)):
        raise ValueError(f"{name} must be 3 finite numbers, got {x!r}")
    return v


class _AhrsFilter(OrientationFilter):
    """Shared state handling: quaternion ``q``, a known gyro bias, gap bridging."""

    def __init__(self, rate_hz: float) -> None:
        super().__init__(rate_hz)
        self._gap_dt_s = GAP_FACTOR * self.ts_s
        # set by reset(), which every filter's __init__ calls
        self.q: np.ndarray
        self._bias_rad_s: np.ndarray
        self._started: bool

    def reset(self, acc_m_s2: np.ndarray | None = None, gyr_bias_rad_s: np.ndarray | None = None) -> None:
        """Start over: orientation from gravity ``acc_m_s2`` (3,) m/s^2 (else from the first sample);
        ``gyr_bias_rad_s`` (3,) rad/s, a known bias subtracted from every gyro sample."""
        acc0 = _vec3(acc_m_s2, "acc_m_s2")
        bias = _vec3(gyr_bias_rad_s, "gyr_bias_rad_s")
        self._bias_rad_s = np.zeros(3) if bias is None else bias
        self._started = acc0 is not None
        self._last_gyr: np.ndarray | None = None
        self.q = quat_from_gravity(acc0) if acc0 is not None else np.array([1.0, 0.0, 0.0, 0.0])
        self._reset_state()

    def _reset_state(self) -> None:
        """Reset method-specific state (bias integrators, covariances)."""

    def _own_bias_rad_s(self) -> np.ndarray:
        """Bias the method estimates itself, on top of the known one, rad/s (3,)."""
        return np.zeros(3)

    @property
    def gyr_bias_rad_s(self) -> np.ndarray:
        """Known plus estimated gyro bias (3,), rad/s."""
        return self._bias_rad_s + self._own_bias_rad_s()

    def _bridge_gap(self, gyr: np.ndarray, gap_s: float) -> None:
        """Turn ``q`` by the bias-corrected rate ``gyr`` (3,) rad/s for ``gap_s`` s."""
        self.q = integrate_gyr(self.q, gyr - self._own_bias_rad_s(), gap_s)

    def _step(self, gyr: np.ndarray, acc: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def update(self, gyr_rad_s: np.ndarray, acc_m_s2: np.ndarray, dt_s: float | None = None,
               gap_gyr_rad_s: np.ndarray | None = None) -> np.ndarray:
        """One sample: gyro (3,) rad/s, acc (3,) m/s^2, ``dt_s`` since the previous one (s) -> quat (4,)
        (``gap_gyr_rad_s``: as :meth:`OrientationFilter.update`)."""
        dt_s = step_interval(dt_s)
        gyr = np.asarray(gyr_rad_s, dtype=float).reshape(3) - self._bias_rad_s
        acc = np.asarray(acc_m_s2, dtype=float).reshape(3)
        if not self._started:  # no gravity given to reset(): start from the first sample
            self._started = True
            if np.linalg.norm(acc) > 0:
                self.q = quat_from_gravity(acc)
        if dt_s is not None and dt_s > self._gap_dt_s:
            given = None if gap_gyr_rad_s is None else np.asarray(gap_gyr_rad_s, dtype=float) - self._bias_rad_s
            self._bridge_gap(bridge_rate(self._last_gyr, gyr, float(dt_s), self.ts_s, given), float(dt_s) - self.ts_s)
        self._last_gyr = gyr
        self.q = self._step(gyr if np.any(gyr) else _TINY_RATE, acc)
        return self.q.copy()


class MadgwickFilter(_AhrsFilter):
    """ahrs Madgwick (gradient descent), IMU mode.

    ``gain`` (beta, rad/s). Madgwick has no bias estimation: the default assumes a static
    calibration bias passed to :meth:`reset` (as the stance calibration does). Sweep on the six
    BROAD trials, started from the first 0.5 s at rest (gravity + gyro bias), inclination RMSE
    mean over trials: gain 0.003 -> 1.15 deg, 0.006 -> 0.90, **0.01 -> 0.87**, 0.02 -> 1.02,
    0.033 (ahrs default) -> 1.25, 0.1 -> 2.24; higher gains follow linear acceleration (fast
    translation trial: 0.78 deg at 0.003, 2.94 at 0.033). Without a bias calibration the ahrs
    default 0.033 is better (mean 2.08 vs 4.0 deg at 0.01): pass ``gain=0.033`` then.
    """

    name = "madgwick"

    def __init__(self, rate_hz: float, gain: float = 0.01) -> None:
        super().__init__(rate_hz)
        if not gain > 0:
            raise ValueError(f"gain must be positive, got {gain!r}")
        self.gain = float(gain)
        from ahrs.filters import Madgwick  # imported when used: ahrs costs 40 ms of every start-up

        self._ahrs = Madgwick(frequency=self.rate_hz, gain=self.gain)
        self.reset()

    def _step(self, gyr: np.ndarray, acc: np.ndarray) -> np.ndarray:
        return np.asarray(self._ahrs.updateIMU(self.q, gyr, acc, dt=self.ts_s), dtype=float)


class MahonyFilter(_AhrsFilter):
    """ahrs Mahony (explicit complementary filter with an integral bias term), IMU mode.

    ``k_p`` (1/s) and ``k_i`` (1/s^2). The default assumes a static calibration bias passed to
    :meth:`reset`. docs/fusion.md found kP 0.3 / kI 0.03 best on synthetic data with a constant
    bias, but on BROAD the integral term winds up under large linear acceleration: on the fast
    translation trial (|acc| swings ~1 g, like a kettlebell swing) inclination RMSE is 20.6 deg
    with kI 0.03, 8.7 with 0.003, 4.3 with 0 (kP 0.3; ahrs defaults 1.0 / 0.3: 22 deg). Sweep with
    kI = 0, started from the first 0.5 s at rest, mean over the six trials: kP 0.05 -> 1.29 deg,
    **0.1 -> 1.23**, 0.15 -> 1.28, 0.2 -> 1.34, 0.3 -> 1.50, 0.5 -> 1.85. Hence kP 0.1, kI 0
    (the bias integral is off; :attr:`gyr_bias_rad_s` is then the calibration bias). Without a
    bias calibration pass e.g. ``k_p=0.3, k_i=0.03`` and avoid strong linear acceleration.
    """

    name = "mahony"

    def __init__(self, rate_hz: float, k_p: float = 0.1, k_i: float = 0.0) -> None:
        super().__init__(rate_hz)
        if not (k_p > 0 and k_i >= 0):
            raise ValueError(f"k_p must be positive and k_i non-negative, got {k_p!r}, {k_i!r}")
        self.k_p, self.k_i = float(k_p), float(k_i)
        from ahrs.filters import Mahony  # imported when used

        self._ahrs = Mahony(frequency=self.rate_hz, k_P=self.k_p)  # ahrs refuses k_I = 0 here: set it after
        self._ahrs.k_I = self.k_i
        self.reset()

    def _reset_state(self) -> None:
        self._ahrs.b = np.zeros(3)

    def _own_bias_rad_s(self) -> np.ndarray:
        return np.array(self._ahrs.b, dtype=float)

    def _step(self, gyr: np.ndarray, acc: np.ndarray) -> np.ndarray:
        return np.asarray(self._ahrs.updateIMU(self.q, gyr, acc, dt=self.ts_s), dtype=float)


class EkfFilter(_AhrsFilter):
    """ahrs EKF (quaternion state), IMU mode, ``frame='NED'`` (see module docstring).

    ``var_gyr`` ((rad/s)^2, ahrs default 0.3^2) and ``var_acc`` (noise variance of the
    normalised accelerometer, dimensionless). No bias estimation: the default assumes a static
    calibration bias passed to :meth:`reset`. Sweep of ``var_acc`` on the six BROAD trials,
    started from the first 0.5 s at rest, inclination RMSE mean over trials: 0.25 (ahrs default)
    -> 2.04 deg, 1 -> 1.54, **4 -> 1.30**, 10 -> 1.25, 30 -> 1.27 (fast translation trial: 5.9,
    4.4, 3.2, 2.6, 1.9). 4 is kept rather than 10: nearly as good, and less exposed to an
    uncalibrated or drifting bias. ``p0``: initial state covariance (identity times this).
    """

    name = "ekf"

    def __init__(self, rate_hz: float, var_gyr: float = 0.3 ** 2, var_acc: float = 4.0,
                 p0: float = 1.0) -> None:
        super().__init__(rate_hz)
        if not (var_gyr > 0 and var_acc > 0 and p0 > 0):
            raise ValueError(f"var_gyr, var_acc, p0 must be positive, got {var_gyr!r}, {var_acc!r}, {p0!r}")
        self.var_gyr, self.var_acc, self.p0 = float(var_gyr), float(var_acc), float(p0)
        from ahrs.filters import EKF  # imported when used

        self._ahrs = EKF(frequency=self.rate_hz, frame="NED", var_gyr=self.var_gyr, var_acc=self.var_acc,
                         magnetic_ref=0.0)
        self.reset()

    def _reset_state(self) -> None:
        self._ahrs.P = self.p0 * np.identity(4)

    def _bridge_gap(self, gyr: np.ndarray, gap_s: float) -> None:
        # rotate the state and propagate its covariance over the gap with the exact transition
        dq = quat_from_rate(gyr, gap_s)
        w, x, y, z = dq
        f = np.array([[w, -x, -y, -z], [x, w, z, -y], [y, -z, w, x], [z, y, -x, w]])  # q -> q * dq
        # gyro noise: var_gyr * W W^T with W = (gap/2) [q * e_x, q * e_y, q * e_z], whose columns
        # (unit q) are orthonormal and orthogonal to q, so W W^T = (gap/2)^2 (I - q q^T)
        q = self.q
        noise = 0.25 * gap_s ** 2 * (np.identity(4) - np.outer(q, q))
        self._ahrs.P = f @ self._ahrs.P @ f.T + self.var_gyr * noise
        super()._bridge_gap(gyr, gap_s)

    def _step(self, gyr: np.ndarray, acc: np.ndarray) -> np.ndarray:
        return np.asarray(self._ahrs.update(self.q, gyr, acc, dt=self.ts_s), dtype=float)

