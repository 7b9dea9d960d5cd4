"""Six-pose calibration of one sensor from a recording: still holds -> poses -> fit -> verdict.

1. **Still holds.** A sample is still when, over a centred ``window_s`` window, every axis of
   the accelerometer varies less than ``acc_std_max_m_s2`` and of the gyroscope less than
   ``gyr_std_max_rad_s``, and the window's mean rate is within ``gyr_dev_max_rad_s`` of the
   provisional bias (median rate of the quiet windows). Runs of still samples lasting at least
   ``min_hold_s`` after trimming ``trim_s`` off each end are holds.
2. **Poses.** Each hold is named by the sensor axis closest to up (``"+z"``, ...) when its mean
   acceleration is within ``pose_tilt_max_deg`` of that axis. All six must be there; otherwise
   a :class:`~imu_hinge.errors.CalibrationError` names the missing ones.
3. **Fit** (:mod:`.six_pose_fit`): accelerometer offset, sensitivity and misalignment from the
   holds' mean vectors; gyroscope bias = the sample-weighted mean rate over all holds.
4. **Verdict**: ``good``, ``check`` (usable; the warnings say what to look at) or ``poor``
   (implausible for a MEMS part; the command refuses to write it without ``--force``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from imu_hinge.errors import CalibrationError
from imu_hinge.samples import STANDARD_GRAVITY_M_S2, SensorStream
from imu_hinge.sensor_calibration.imu_model import SensorCalibration, apply, from_matrices, utc_now_iso
from imu_hinge.sensor_calibration.procedure import POSES, describe
from imu_hinge.sensor_calibration.six_pose_fit import AccFit, fit_accelerometer


@dataclass(frozen=True)
class SixPoseParams:
    """Detection and fit settings (units in the names)."""

    window_s: float = 0.5
    acc_std_max_m_s2: float = 0.1
    gyr_std_max_rad_s: float = 0.02
    gyr_dev_max_rad_s: float = 0.05
    min_hold_s: float = 1.5
    trim_s: float = 0.1
    pose_tilt_max_deg: float = 30.0
    gravity_m_s2: float = STANDARD_GRAVITY_M_S2
    """Local gravity; standard gravity is within 0.3% of it anywhere on Earth's surface."""
    tilt_sigma_deg: float = 1.0
    """How square the six faces are expected to be (weight of the direction residuals)."""
    square_tol_deg: float = 2.0
    """RMS pose-direction residual above which the misalignment is not estimated (left identity)."""


@dataclass(frozen=True, eq=False)
class StillHold:
    """A still segment: ``start_s``..``end_s`` (after trimming), ``n`` samples, per-axis means and stds."""

    start_s: float
    end_s: float
    n: int
    acc_mean_m_s2: np.ndarray
    acc_std_m_s2: np.ndarray
    gyr_mean_rad_s: np.ndarray
    gyr_std_rad_s: np.ndarray
    pose: str | None
    tilt_deg: float
    """Angle between the mean acceleration and the nearest sensor axis, deg."""

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


def _rolling(x: np.ndarray, w: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean and std (N, 3) of ``x`` (N, 3) over a centred ``w``-sample window (edges: first/last full window)."""
    n = x.shape[0]
    w = max(1, min(w, n))
    x = x - np.median(x, axis=0)
    c1 = np.vstack([np.zeros((1, 3)), np.cumsum(x, axis=0)])
    c2 = np.vstack([np.zeros((1, 3)), np.cumsum(x * x, axis=0)])
    mean = (c1[w:] - c1[:-w]) / w
    var = np.maximum((c2[w:] - c2[:-w]) / w - mean * mean, 0.0)
    idx = np.clip(np.arange(n) - w // 2, 0, n - w)
    return mean[idx], np.sqrt(var[idx])


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(start, stop) index pairs of the True runs of ``mask``."""
    d = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(d == 1).tolist(), np.flatnonzero(d == -1).tolist(), strict=True))


def _pose_of(acc_mean: np.ndarray, tilt_max_deg: float) -> tuple[str | None, float]:
    unit = acc_mean / np.linalg.norm(acc_mean)
    k = int(np.argmax(np.abs(unit)))
    tilt = float(np.degrees(np.arccos(min(1.0, abs(unit[k])))))
    pose = ("+" if unit[k] > 0 else "-") + "xyz"[k]
    return (pose if tilt <= tilt_max_deg else None), tilt


def find_still_holds(stream: SensorStream, params: SixPoseParams = SixPoseParams()) -> list[StillHold]:
    """The still holds of one sensor's stream, in time order (step 1 and 2 of the module docstring)."""
    t, acc, gyr = stream.time_s, stream.acc_m_s2, stream.gyr_rad_s
    if len(stream) < 10:
        return []
    rate_hz = stream.nominal_rate_hz
    w = max(3, int(round(params.window_s * rate_hz)))
    _, acc_std = _rolling(acc, w)
    gyr_mean, gyr_std = _rolling(gyr, w)
    gyr_mean += np.median(gyr, axis=0)
    quiet = (acc_std.max(axis=1) < params.acc_std_max_m_s2) & (gyr_std.max(axis=1) < params.gyr_std_max_rad_s)
    bias0 = np.median(gyr[quiet], axis=0) if quiet.any() else np.zeros(3)
    still = quiet & (np.abs(gyr_mean - bias0).max(axis=1) < params.gyr_dev_max_rad_s)
    holds = []
    for i0, i1 in _runs(still):
        keep = (t[i0:i1] >= t[i0] + params.trim_s) & (t[i0:i1] <= t[i1 - 1] - params.trim_s)
        idx = np.arange(i0, i1)[keep]
        if idx.size < 3 or t[idx[-1]] - t[idx[0]] < params.min_hold_s:
            continue
        a, g = acc[idx], gyr[idx]
        mean = a.mean(axis=0)
        pose, tilt = _pose_of(mean, params.pose_tilt_max_deg)
        holds.append(StillHold(float(t[idx[0]]), float(t[idx[-1]]), int(idx.size), mean, a.std(axis=0),
                               g.mean(axis=0), g.std(axis=0), pose, tilt))
    return holds


def check_poses(holds: list[StillHold], params: SixPoseParams = SixPoseParams()) -> None:
    """One-line :class:`CalibrationError` unless every one of the six poses has a hold."""
    found = [h.pose for h in holds if h.pose]
    missing = [p for p in POSES if p not in found]
    if not missing:
        return
    seen = ", ".join(f"{p} ({found.count(p)}x)" for p in POSES if p in found) or "none"
    n_other = sum(1 for h in holds if h.pose is None)
    other = f"; {n_other} hold(s) tilted more than {params.pose_tilt_max_deg:g} deg from every axis" if n_other else ""
    raise CalibrationError(f"six-pose calibration: missing pose(s) {', '.join(describe(p) for p in missing)} "
                           f"(still >= {params.min_hold_s:g} s with that axis pointing up); found {seen}{other}")


@dataclass
class SixPoseResult:
    """The fitted :class:`SensorCalibration` plus how it was found: holds, fit, verdict, warnings."""

    calibration: SensorCalibration
    holds: list[StillHold]
    acc_fit: AccFit
    gyr_bias_spread_rad_s: float
    verdict: str
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """What goes into the file's ``fit`` object (JSON-ready)."""
        f = self.acc_fit
        return {"method": "six-pose", "verdict": self.verdict, "warnings": list(self.warnings),
                "gravity_m_s2": f.gravity_m_s2, "misalignment_estimated": f.misalignment_estimated,
                "norm_residual_rms_m_s2": f.norm_rms_m_s2, "norm_residual_max_m_s2": f.norm_max_m_s2,
                "pose_residual_rms_deg": f.tilt_rms_deg, "offset_sigma_m_s2": f.offset_sigma_m_s2.tolist(),
                "sensitivity_sigma": f.sensitivity_sigma.tolist(), "gyr_bias_spread_rad_s": self.gyr_bias_spread_rad_s,
                "holds": [{"pose": h.pose, "start_s": round(h.start_s, 3), "duration_s": round(h.duration_s, 3),
                           "n": h.n, "tilt_deg": round(h.tilt_deg, 2), "acc_mean_m_s2": h.acc_mean_m_s2.tolist(),
                           "norm_residual_m_s2": float(r)} for h, r in zip(self.holds, f.norm_residual_m_s2,
                                                                         strict=True)]}


def _verdict(fit: AccFit, holds: list[StillHold], gyr_bias: np.ndarray, spread: float) -> tuple[str, list[str]]:
    poor, check = [], []
    sens, off = np.asarray(fit.sensitivity), np.asarray(fit.offset_m_s2)
    if (sens < 0.8).any() or (sens > 1.25).any():
        poor.append(f"sensitivities {np.round(sens, 4).tolist()} are implausible (outside 0.8..1.25)")
    elif (np.abs(sens - 1) > 0.05).any():
        check.append(f"sensitivities {np.round(sens, 4).tolist()} differ from 1 by more than 5%")
    if np.abs(off).max() > 2.0:
        poor.append(f"offsets {np.round(off, 3).tolist()} m/s^2 are implausible (> 2 m/s^2)")
    elif np.abs(off).max() > 0.5:
        check.append(f"offsets {np.round(off, 3).tolist()} m/s^2 are large for a MEMS accelerometer (> 0.5)")
    if fit.norm_max_m_s2 > 0.1:
        poor.append(f"the poses disagree: |acc| residual up to {fit.norm_max_m_s2:.3f} m/s^2 after the fit")
    elif fit.norm_max_m_s2 > 0.02:
        check.append(f"|acc| residual up to {fit.norm_max_m_s2:.3f} m/s^2 after the fit (> 0.02)")
    if not fit.misalignment_estimated:
        check.append(f"the six faces are not square to each other (pose residual {fit.tilt_rms_deg:.1f} deg rms): "
                     "misalignment not estimated (offsets and sensitivities are unaffected)")
    if np.abs(gyr_bias).max() > 0.35:
        poor.append(f"gyro bias {np.round(gyr_bias, 3).tolist()} rad/s is implausible (> 20 deg/s)")
    if spread > 0.01:
        check.append(f"the gyro bias changed by up to {spread:.4f} rad/s between holds (warming up? moved?)")
    noisy = [h.pose or "tilted" for h in holds if h.acc_std_m_s2.max() > 0.05]
    if noisy:
        check.append(f"noisy hold(s) {', '.join(noisy)} (acc std > 0.05 m/s^2): on a table, hands off")
    verdict = "poor" if poor else "check" if check else "good"
    return verdict, poor + check


def calibrate_six_pose(stream: SensorStream, sensor_id: str, params: SixPoseParams = SixPoseParams(), *,
                       created_utc: str | None = None, temperature_c: float | None = None,
                       notes: str = "") -> SixPoseResult:
    """Six-pose calibration of ``stream`` (uncalibrated SI samples of one sensor) as ``sensor_id``."""
    holds = find_still_holds(stream, params)
    check_poses(holds, params)
    norms = np.array([np.linalg.norm(h.acc_mean_m_s2) for h in holds])
    med = float(np.median(norms))
    if not 0.7 * params.gravity_m_s2 < med < 1.3 * params.gravity_m_s2:
        raise CalibrationError(f"the accelerometer reads {med:.3g} m/s^2 at rest, not about "
                               f"{params.gravity_m_s2:.2f}: check the units (m/s^2 expected)")
    acc_fit = fit_accelerometer(np.array([h.acc_mean_m_s2 for h in holds]), [h.pose for h in holds],
                                np.array([h.acc_std_m_s2 for h in holds]), np.array([h.n for h in holds]),
                                gravity_m_s2=params.gravity_m_s2, tilt_sigma_deg=params.tilt_sigma_deg,
                                square_tol_deg=params.square_tol_deg)
    n = np.array([h.n for h in holds], dtype=float)
    gyr_means = np.array([h.gyr_mean_rad_s for h in holds])
    gyr_bias = (gyr_means * n[:, None]).sum(axis=0) / n.sum()
    spread = float(np.linalg.norm(gyr_means - gyr_bias, axis=1).max())
    verdict, warnings = _verdict(acc_fit, holds, gyr_bias, spread)
    calib = from_matrices(sensor_id, acc_fit.matrix, acc_fit.offset_m_s2, gyr_bias,
                          created_utc=created_utc or utc_now_iso(), temperature_c=temperature_c, notes=notes)
    result = SixPoseResult(calib, holds, acc_fit, spread, verdict, warnings)
    result.calibration = calib.with_fit(**result.summary())
    return result


@dataclass(frozen=True)
class HoldCheck:
    """One still hold seen through a calibration: ``|acc| - g`` (m/s^2) and the mean rate left (rad/s)."""

    pose: str | None
    duration_s: float
    norm_error_m_s2: float
    gyr_rad_s: tuple[float, float, float]


def check_calibration(stream: SensorStream, calib: SensorCalibration,
                      params: SixPoseParams = SixPoseParams()) -> list[HoldCheck]:
    """Apply ``calib`` to the still holds of ``stream`` (uncalibrated): a good calibration leaves
    ``|acc|`` within about 0.02 m/s^2 of g in every orientation and the rate near 0."""
    out = []
    for h in find_still_holds(stream, params):
        acc, gyr = apply(calib, h.acc_mean_m_s2, h.gyr_mean_rad_s)
        g = gyr.tolist()
        out.append(HoldCheck(h.pose, h.duration_s, float(np.linalg.norm(acc) - params.gravity_m_s2),
                             (g[0], g[1], g[2])))
    return out
