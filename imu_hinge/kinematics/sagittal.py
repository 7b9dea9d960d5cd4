"""Sagittal inclination of one body segment from its sensor's estimated "up" vector.

Heading is unobservable without a magnetometer, so each segment's angle is an
*inclination*: how far the segment has tipped, in the plane of the hinge, from its standing
posture. In the sensor frame, standing "up" is ``u0``; a forward tip moves "up" towards
``-f`` (``f`` = the segment's forward direction, orthogonal to ``u0``). The angle is
``atan2(-u . f, u . u0)``, forward positive; out-of-plane sway is ignored.

``f`` is learnt from the motion (sensors may be strapped on in any orientation): the first
tilt beyond ``provisional_deg`` sets it (a hinge tips the segment forward first), then the
tilt directions of the next ``refine_s`` seconds beyond that level and within ``refine_gate_deg``
of the direction so far are averaged and ``f`` is frozen: a side bend after a short first hinge
does not join in. A later tilt outside that gate and deeper by ``restart_deg`` than any that made
``f`` starts it over: the first movement was not a hinge (a back or side bend before the set;
hinges go deeper). A provisional ``f`` may be given (from the gyro at the onset of the first hinge, see
:class:`AxisSearch`); without one the angle is the unsigned tilt until the first tilt.
"""

from __future__ import annotations

import math

import numpy as np

from imu_hinge.kinematics import _kinematics_loops
from imu_hinge.kinematics.axis_params import AxisParams, AxisSearchParams

# SagittalAngle's state vector: running sum of tilt directions (3, from index 0: only the C loop
# reads it), forward (3), samples in the sum, forward known (0/1), samples to freeze at,
# cos(provisional_deg), cos(refine_gate_deg), the deepest tilt in the sum (deg; infinite: never starts
# over), restart_deg. THE loop is C (``sagittal_run`` in _kinematics_loops.c, the same indices).
_FWD, _N, _HAS_FWD, _REFINE_N, _COS_PROV, _COS_GATE, _PEAK_DEG, _RESTART_DEG, _STATE_LEN = 3, 6, 7, 8, 9, 10, 11, 12, 13



class SagittalAngle:
    """Per-segment state: standing up ``u0`` (3,), forward ``f`` (3,) once learnt.

    One loop (``sagittal_run``, C) over blocks of any length: :meth:`update` passes one sample,
    :meth:`update_batch` many."""

    def __init__(self, u0: np.ndarray, rate_hz: float, params: AxisParams | None = None,
                 forward: np.ndarray | None = None, refine: bool = True) -> None:
        self.params = params or AxisParams()
        u0 = np.asarray(u0, dtype=float)
        self.u0 = np.ascontiguousarray(u0 / np.linalg.norm(u0))
        self.refine_n = max(1, int(round(self.params.refine_s * rate_hz)))
        self._st = np.zeros(_STATE_LEN)
        self._st[_REFINE_N] = self.refine_n
        self._st[_COS_PROV] = math.cos(math.radians(self.params.provisional_deg))
        self._st[_COS_GATE] = math.cos(math.radians(self.params.refine_gate_deg))
        self._st[_RESTART_DEG] = self.params.restart_deg
        if forward is not None:  # a provisional direction (from the gyro), orthogonal to u0
            fw = np.asarray(forward, dtype=float)
            fw = fw - float(fw @ self.u0) * self.u0
            self._st[_FWD:_FWD + 3] = fw / np.linalg.norm(fw)
            self._st[_HAS_FWD] = 1.0
            if not refine:  # a direction from the whole recording: kept as it is
                self._st[_N] = self.refine_n
                self._st[_PEAK_DEG] = math.inf

    @property
    def forward(self) -> np.ndarray | None:
        """The segment's forward direction (3,) in the sensor frame, None while unknown."""
        return self._st[_FWD:_FWD + 3].copy() if self._st[_HAS_FWD] else None

    @property
    def frozen(self) -> bool:
        return self._st[_N] >= self.refine_n

    def update(self, up: np.ndarray) -> float:
        """One sample's "up" in the sensor frame (3,) -> sagittal angle (deg)."""
        x, y, z = up.tolist() if isinstance(up, np.ndarray) else up  # plain floats: numpy scalars cost more
        return _kinematics_loops.sagittal_one(float(x), float(y), float(z), self.u0, self._st)

    def update_batch(self, up: np.ndarray) -> np.ndarray:
        """(N, 3) -> (N,) deg: the same loop as :meth:`update`, over the block."""
        up = np.ascontiguousarray(up, dtype=np.float64).reshape(-1, 3)
        out = np.empty(up.shape[0])
        _kinematics_loops.sagittal_run(up, self.u0, self._st, out)
        return out




class AxisSearch:
    """The forward direction of a segment from the gyro at the start of its first hinge.

    A forward tip about the medio-lateral axis ``m`` turns "up" (sensor frame) as
    ``du/dt = u x w``, so the direction it moves away from, the forward direction, is
    ``f = normalize(w_perp x u0)``. The answer is accepted only once the smoothed
    accelerometer has tipped ``min_tilt_deg`` towards ``-f`` as well: walking, sway or a
    backward lean first never set the axis. Fed bias-corrected gyro and acc one sample at a time.
    """

    def __init__(self, up_m_s2: np.ndarray, rate_hz: float, params: AxisSearchParams | None = None) -> None:
        self.params = params or AxisSearchParams()
        u0 = np.asarray(up_m_s2, dtype=float)
        self.u0 = u0 / np.linalg.norm(u0)
        self.n_win = max(1, int(round(self.params.smooth_s * rate_hz)))
        self._sin_tilt = math.sin(math.radians(self.params.min_tilt_deg))
        self._win_w: list[np.ndarray] = []
        self._win_a: list[np.ndarray] = []
        self.forward: np.ndarray | None = None

    def push(self, gyr_unbiased_rad_s: np.ndarray, acc_m_s2: np.ndarray) -> np.ndarray | None:
        if self.forward is not None:
            return self.forward
        w = np.asarray(gyr_unbiased_rad_s, dtype=float)
        self._win_w.append(w - float(w @ self.u0) * self.u0)
        self._win_a.append(np.asarray(acc_m_s2, dtype=float))
        if len(self._win_w) > self.n_win:
            self._win_w.pop(0)
            self._win_a.pop(0)
        if len(self._win_w) < self.n_win:
            return None
        w_mean = np.mean(self._win_w, axis=0)
        if np.linalg.norm(w_mean) <= self.params.min_rate_rad_s:
            return None
        f = np.cross(w_mean, self.u0)
        f /= np.linalg.norm(f)
        a = np.mean(self._win_a, axis=0)
        if -float(a @ f) > self._sin_tilt * float(np.linalg.norm(a)):  # gravity tipped towards -f
            self.forward = f
        return self.forward
