"""Sagittal inclination of one body segment from its sensor's estimated "up" vector.

Heading is unobservable without a magnetometer, so each segment's angle is an
*inclination*: how far the segment has tipped, in the plane of the hinge, from its standing
posture. In the sensor frame, standing "up" is ``u0``; a forward tip moves "up" towards
``-f`` (``f`` = the segment's forward direction, orthogonal to ``u0``). The angle is
``atan2(-u . f, u . u0)``, forward positive; out-of-plane sway is ignored.

``f`` is learnt from the motion (sensors may be strapped on in any orientation): the first
tilt beyond ``provisional_deg`` sets it (a hinge tips the segment forward first), then the
tilt directions of the next ``refine_s`` seconds beyond that level are averaged and ``f`` is
frozen. A provisional ``f`` may be given (from the gyro at the onset of the first hinge, see
:class:`AxisSearch`); without one the angle is the unsigned tilt until the first tilt.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class AxisParams:
    provisional_deg: float = 15.0
    refine_s: float = 2.0


class SagittalAngle:
    """Per-segment state: standing up ``u0`` (3,), forward ``f`` (3,) once learnt."""

    def __init__(self, u0: np.ndarray, rate_hz: float, params: AxisParams | None = None,
                 forward: np.ndarray | None = None, refine: bool = True) -> None:
        self.params = params or AxisParams()
        u0 = np.asarray(u0, dtype=float)
        self.u0 = u0 / np.linalg.norm(u0)
        self.refine_n = max(1, int(round(self.params.refine_s * rate_hz)))
        self._cos_prov = math.cos(math.radians(self.params.provisional_deg))
        self._sum = np.zeros(3)
        self._n = 0
        self.forward: np.ndarray | None = None
        if forward is not None:  # a provisional direction (from the gyro), orthogonal to u0
            fw = np.asarray(forward, dtype=float)
            fw = fw - float(fw @ self.u0) * self.u0
            self.forward = fw / np.linalg.norm(fw)
            if not refine:  # a direction from the whole recording: kept as it is
                self._n = self.refine_n

    @property
    def frozen(self) -> bool:
        return self._n >= self.refine_n

    def update(self, up: np.ndarray) -> float:
        """One sample's "up" in the sensor frame (3,) -> sagittal angle (deg)."""
        c = float(up @ self.u0)
        v = up - c * self.u0
        if self._n < self.refine_n and c < self._cos_prov * float(np.linalg.norm(up)):
            self._sum = self._sum - v / np.linalg.norm(v)
            self._n += 1
            self.forward = self._sum / np.linalg.norm(self._sum)
        if self.forward is None:
            return math.degrees(math.atan2(float(np.linalg.norm(v)), c))
        return math.degrees(math.atan2(-float(up @ self.forward), c))

    def update_batch(self, up: np.ndarray) -> np.ndarray:
        """(N, 3) -> (N,) deg; the same numbers as N calls of :meth:`update`."""
        up = np.asarray(up, dtype=float)
        c = up @ self.u0
        v = up - c[:, None] * self.u0
        vn = np.linalg.norm(v, axis=1)
        out = np.degrees(np.arctan2(vn, c))
        forward = np.full(up.shape, np.nan)
        if self.forward is not None:
            forward[:] = self.forward
        if self._n < self.refine_n:
            tilted = c < self._cos_prov * np.linalg.norm(up, axis=1)
            idx = np.flatnonzero(tilted)[: self.refine_n - self._n]
            if idx.size:
                contrib = np.zeros_like(up)
                contrib[idx] = -v[idx] / vn[idx, None]
                contrib[0] += self._sum
                sums = np.cumsum(contrib, axis=0)  # the running sum after each sample
                sums[idx[-1] + 1:] = sums[idx[-1]]  # frozen after the last contributing sample
                norms = np.linalg.norm(sums, axis=1)
                valid = norms > 0
                forward[valid] = sums[valid] / norms[valid, None]
                self._sum = sums[-1].copy()
                self._n += idx.size
                self.forward = forward[-1].copy()
        known = ~np.isnan(forward[:, 0])
        out[known] = np.degrees(np.arctan2(-(up[known] * forward[known]).sum(axis=1), c[known]))
        return out


@dataclass(frozen=True)
class AxisSearchParams:
    min_rate_rad_s: float = 0.3
    """Smoothed angular rate across gravity above this is a deliberate movement, not sway (< ~0.15)."""
    min_tilt_deg: float = 5.0
    """... and gravity must have tipped at least this far, in the forward direction the gyro implies."""
    smooth_s: float = 0.1
    timeout_s: float = 8.0
    """Give up waiting for the trunk's first movement after this long past the stance."""


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
