"""Accelerometer fit of the six-pose calibration: offset, sensitivity, misalignment from still holds.

Unknowns: the offset ``o`` (3, m/s^2) and a symmetric matrix ``P`` (6) with calibrated
``c_j = P @ (a_j - o)`` for the mean ``a_j`` of hold ``j``. ``P`` is the sensitivity and
misalignment together; it is symmetric because the magnitude of gravity cannot tell a rotated
frame from the raw one (``R @ P`` fits the data as well as ``P``): the calibrated frame is the
orthogonal one closest to the raw axes. Two kinds of residual (Gauss-Newton / Levenberg-Marquardt,
``scipy.optimize.least_squares``):

* **magnitude**, every hold: ``(|c_j| - g) / sigma_j``, ``sigma_j`` the noise of the hold's mean
  (std along gravity / sqrt(n)). These fix the offsets and sensitivities.
* **direction**, every named hold: ``(c_j / |c_j| - R @ u_j) / sigma_tilt``, ``u_j`` the axis named
  up, ``R`` an unknown rotation (3 more unknowns: how the faces sit on the chip). Six magnitudes
  alone cannot see the cross-axis terms (they change ``|c|`` only to second order at the axes);
  these can, as far as the faces are square to each other.

Stage 1 fits ``o`` and the diagonal of ``P`` on magnitudes alone (exactly determined by six
holds: robust to how square the poses are), from the closed-form +/- pair estimate. Stage 2 fits
all 12 unknowns from there. If the direction residuals are then larger than ``square_tol_deg``
rms, the faces were not square and stage 1 is kept (misalignment identity).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import least_squares
from scipy.spatial.transform import Rotation

from imu_hinge.samples import STANDARD_GRAVITY_M_S2
from imu_hinge.sensor_calibration.procedure import pose_vector

_SYM = ((0, 3, 4), (3, 1, 5), (4, 5, 2))


def _sym(p: np.ndarray) -> np.ndarray:
    return p[np.array(_SYM)]


@dataclass(frozen=True, eq=False)
class AccFit:
    """Fitted ``matrix`` (3, 3) = misalignment @ diag(sensitivity) and ``offset_m_s2`` (3,), with residuals.

    ``norm_residual_m_s2`` (K,): ``|calibrated| - g`` per hold; ``tilt_residual_deg`` (K,): angle
    between each named hold's calibrated direction and its axis after the common rotation, in the
    full (12-unknown) fit, whether kept or not (NaN for unnamed holds); ``offset_sigma_m_s2`` /
    ``sensitivity_sigma`` (3,): 1-sigma from the holds' noise only (not from how square or steady
    the poses were).
    """

    matrix: np.ndarray
    offset_m_s2: np.ndarray
    gravity_m_s2: float
    norm_residual_m_s2: np.ndarray
    tilt_residual_deg: np.ndarray
    misalignment_estimated: bool
    offset_sigma_m_s2: np.ndarray
    sensitivity_sigma: np.ndarray

    @property
    def sensitivity(self) -> np.ndarray:
        return np.diag(self.matrix).copy()

    @property
    def norm_rms_m_s2(self) -> float:
        return float(np.sqrt(np.mean(self.norm_residual_m_s2 ** 2)))

    @property
    def norm_max_m_s2(self) -> float:
        return float(np.abs(self.norm_residual_m_s2).max())

    @property
    def tilt_rms_deg(self) -> float:
        t = self.tilt_residual_deg[np.isfinite(self.tilt_residual_deg)]
        return float(np.sqrt(np.mean(t ** 2))) if t.size else float("nan")


def _pair_start(acc: np.ndarray, poses: list[str | None], g: float) -> np.ndarray:
    """Closed-form offset and scale per axis from the mean of the + and - holds: (6,) = o, diag."""
    x = np.zeros(6)
    for k, axis in enumerate("xyz"):
        up = acc[[p == "+" + axis for p in poses]][:, k].mean()
        down = acc[[p == "-" + axis for p in poses]][:, k].mean()
        x[k] = 0.5 * (up + down)
        x[3 + k] = 2 * g / (up - down) if up - down > 0.1 * g else 1.0
    return x


def _tilts(c: np.ndarray, rot: np.ndarray, u: np.ndarray, named: np.ndarray) -> np.ndarray:
    out = np.full(len(c), np.nan)
    d = c[named] / np.linalg.norm(c[named], axis=1, keepdims=True)
    cos = np.clip(np.sum(d * (u[named] @ rot.T), axis=1), -1.0, 1.0)
    out[named] = np.degrees(np.arccos(cos))
    return out


def _sigmas(jac: np.ndarray, n_offset: int = 3, n_diag: int = 3) -> tuple[np.ndarray, np.ndarray]:
    cov = np.linalg.pinv(jac.T @ jac)
    sd = np.sqrt(np.clip(np.diag(cov), 0.0, None))
    return sd[:n_offset], sd[n_offset:n_offset + n_diag]


def fit_accelerometer(acc_mean_m_s2: np.ndarray, poses: list[str | None], acc_std_m_s2: np.ndarray,
                      n: np.ndarray, *, gravity_m_s2: float = STANDARD_GRAVITY_M_S2, tilt_sigma_deg: float = 1.0,
                      square_tol_deg: float = 2.0) -> AccFit:
    """Fit offset and matrix to the holds' means ``acc_mean_m_s2`` (K, 3), named by ``poses`` (K,)
    (``None``: not near an axis; still used for the magnitude), with per-axis stds (K, 3) and
    sample counts (K,). Every one of the six poses must be among ``poses``."""
    a = np.asarray(acc_mean_m_s2, dtype=np.float64)
    g = float(gravity_m_s2)
    unit = a / np.linalg.norm(a, axis=1, keepdims=True)
    sigma = np.maximum(np.sqrt(np.sum((np.asarray(acc_std_m_s2) * unit) ** 2, axis=1) / np.asarray(n)), 2e-4)
    named = np.array([p is not None for p in poses])
    u = np.array([pose_vector(p) if p else np.zeros(3) for p in poses])

    def magnitude(o: np.ndarray, m: np.ndarray) -> np.ndarray:
        return (np.linalg.norm((a - o) @ m.T, axis=1) - g) / sigma

    x1 = least_squares(lambda x: magnitude(x[:3], np.diag(x[3:])), _pair_start(a, poses, g), method="lm",
                       x_scale=np.r_[np.full(3, 0.1), np.full(3, 0.01)])
    o1, m1 = x1.x[:3], np.diag(x1.x[3:])
    c1 = (a - o1) @ m1.T
    rot0, _ = Rotation.align_vectors(u[named], c1[named] / np.linalg.norm(c1[named], axis=1, keepdims=True))
    tilt_sigma = np.radians(tilt_sigma_deg)

    def full(x: np.ndarray) -> np.ndarray:
        o, m, rot = x[:3], _sym(x[3:9]), Rotation.from_rotvec(x[9:]).as_matrix()
        c = (a - o) @ m.T
        d = c[named] / np.linalg.norm(c[named], axis=1, keepdims=True) - u[named] @ rot.T
        return np.concatenate([magnitude(o, m), d.ravel() / tilt_sigma])

    start = np.concatenate([o1, x1.x[3:], np.zeros(3), rot0.inv().as_rotvec()])
    x2 = least_squares(full, start, method="lm", x_scale=np.r_[np.full(3, 0.1), np.full(6, 0.01), np.full(3, 0.01)])
    o2, m2, r2 = x2.x[:3], _sym(x2.x[3:9]), Rotation.from_rotvec(x2.x[9:]).as_matrix()
    tilt2 = _tilts((a - o2) @ m2.T, r2, u, named)
    estimated = bool(np.sqrt(np.nanmean(tilt2[named] ** 2)) <= square_tol_deg)
    o, m, jac = (o2, m2, x2.jac) if estimated else (o1, m1, x1.jac)
    off_sd, sens_sd = _sigmas(jac)
    resid = np.linalg.norm((a - o) @ m.T, axis=1) - g
    return AccFit(m, o, g, resid, tilt2, estimated, off_sd, sens_sd)
