"""The IMU sensor model: offset, sensitivity and misalignment per sensor, as one pure function.

As in xio Fusion's ``FusionModel``, a calibrated vector is::

    calibrated = misalignment @ ((uncalibrated - offset) * sensitivity)

applied to the accelerometer (m/s^2) and the gyroscope (rad/s) separately. *Uncalibrated* is
what the protocol gives: raw LSB x the scale factor the sensor advertises (the SI columns of a
recording whose ``calibration`` is null). ``offset`` is in those uncalibrated units (m/s^2,
rad/s: the gyro offset is its bias); ``sensitivity`` (3,) and ``misalignment`` (3, 3) are
dimensionless. The six-pose fit (:mod:`.six_pose`) returns a misalignment with unit diagonal
whose product with ``diag(sensitivity)`` is symmetric: the calibrated axes are the orthogonal
frame closest to the raw axes (no rotation is added). The gyro's sensitivity and misalignment
are identity unless measured on a rate table; only its bias comes from the rest.

:func:`apply` is vectorised over (N, 3) arrays (or one (3,) vector); :func:`unapply` inverts it.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

FORMAT_VERSION = 1
"""Version of the calibration file format (and of this model's field set)."""
FILE_TYPE = "imu-hinge sensor calibration"
MODEL = "calibrated = misalignment @ ((uncalibrated - offset) * sensitivity)"
UNITS: dict[str, str] = {
    "acc.offset_m_s2": "m/s^2 (uncalibrated: raw LSB x the sensor's advertised scale)",
    "acc.sensitivity": "1 (calibrated m/s^2 per uncalibrated m/s^2)",
    "acc.misalignment": "1 (3x3, row i: calibrated axis i from the scaled raw axes)",
    "gyr.offset_rad_s": "rad/s (uncalibrated)",
    "gyr.sensitivity": "1",
    "gyr.misalignment": "1 (3x3)",
    "temperature_c": "degC (sensor or room temperature during the calibration; null: unknown)",
    "created_utc": "ISO 8601, UTC",
    "fit.gravity_m_s2": "m/s^2",
}
"""The unit of every numeric field of a calibration file (``units`` in the JSON)."""

Vec3 = tuple[float, float, float]
Mat3 = tuple[Vec3, Vec3, Vec3]
_ONES: Vec3 = (1.0, 1.0, 1.0)
_ZEROS: Vec3 = (0.0, 0.0, 0.0)
_EYE: Mat3 = ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0))
_MODEL_FIELDS = ("acc_offset_m_s2", "acc_sensitivity", "acc_misalignment", "gyr_bias_rad_s", "gyr_sensitivity",
                 "gyr_misalignment")


def _floats(x: Any) -> np.ndarray | None:
    try:
        return np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError):
        return None


def vec3(x: Any, name: str = "vector") -> Vec3:
    """``x`` as a tuple of 3 finite floats (``ValueError`` otherwise)."""
    a = _floats(x)
    if a is None or a.shape != (3,) or not np.isfinite(a).all():
        raise ValueError(f"{name} must be 3 finite numbers, got {x!r}")
    return (float(a[0]), float(a[1]), float(a[2]))


def mat3(x: Any, name: str = "matrix") -> Mat3:
    """``x`` as a 3x3 tuple of finite floats (``ValueError`` otherwise)."""
    a = _floats(x)
    if a is None or a.shape != (3, 3) or not np.isfinite(a).all():
        raise ValueError(f"{name} must be a 3x3 matrix of finite numbers")
    return (vec3(a[0]), vec3(a[1]), vec3(a[2]))


def utc_now_iso() -> str:
    """Now, UTC, ISO 8601 to the second (``2026-03-02T18:20:11Z``)."""
    return _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class SensorCalibration:
    """One sensor's calibration (see the module docstring for the model and units).

    ``sensor_id``: the sensor's id (recording metadata ``sensors.<role>.id``); ``created_utc``:
    ISO 8601 UTC; ``acc_offset_m_s2`` (3,) m/s^2; ``acc_sensitivity`` (3,); ``acc_misalignment``
    (3, 3); ``gyr_bias_rad_s`` (3,) rad/s; ``gyr_sensitivity`` (3,); ``gyr_misalignment`` (3, 3);
    ``temperature_c`` degC or None; ``notes``; ``fit``: how it was made (poses, residuals, verdict,
    gravity), kept in the file but not compared.
    """

    sensor_id: str
    created_utc: str
    acc_offset_m_s2: Vec3 = _ZEROS
    acc_sensitivity: Vec3 = _ONES
    acc_misalignment: Mat3 = _EYE
    gyr_bias_rad_s: Vec3 = _ZEROS
    gyr_sensitivity: Vec3 = _ONES
    gyr_misalignment: Mat3 = _EYE
    temperature_c: float | None = None
    notes: str = ""
    format_version: int = FORMAT_VERSION
    fit: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        for name in ("acc_offset_m_s2", "acc_sensitivity", "gyr_bias_rad_s", "gyr_sensitivity"):
            set_(self, name, vec3(getattr(self, name), name))
        for name in ("acc_misalignment", "gyr_misalignment"):
            set_(self, name, mat3(getattr(self, name), name))
        for name in ("acc_sensitivity", "gyr_sensitivity"):
            if min(getattr(self, name)) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        for name in ("acc_misalignment", "gyr_misalignment"):
            if abs(np.linalg.det(np.asarray(getattr(self, name)))) < 1e-6:
                raise ValueError(f"{name} is singular")

    @property
    def units(self) -> dict[str, str]:
        return dict(UNITS)

    @property
    def acc_matrix(self) -> np.ndarray:
        """``misalignment @ diag(sensitivity)`` of the accelerometer, (3, 3)."""
        return np.asarray(self.acc_misalignment) * np.asarray(self.acc_sensitivity)

    @property
    def gyr_matrix(self) -> np.ndarray:
        """``misalignment @ diag(sensitivity)`` of the gyroscope, (3, 3)."""
        return np.asarray(self.gyr_misalignment) * np.asarray(self.gyr_sensitivity)

    @property
    def is_identity(self) -> bool:
        """True if :func:`apply` changes nothing."""
        ident = identity(self.sensor_id, self.created_utc)
        return all(getattr(self, f) == getattr(ident, f) for f in _MODEL_FIELDS)

    def with_fit(self, **fit: Any) -> SensorCalibration:
        return replace(self, fit={**self.fit, **fit})


def identity(sensor_id: str = "", created_utc: str | None = None) -> SensorCalibration:
    """The calibration that changes nothing (offsets 0, sensitivities 1, no misalignment)."""
    return SensorCalibration(sensor_id, created_utc or utc_now_iso())


def split_matrix(matrix: ArrayLike) -> tuple[Vec3, Mat3]:
    """(sensitivity, misalignment) with ``misalignment @ diag(sensitivity) == matrix`` and a unit diagonal."""
    m = np.asarray(matrix, dtype=np.float64)
    sens = np.diag(m).copy()
    if m.shape != (3, 3) or (sens <= 0).any():
        raise ValueError("a calibration matrix needs a positive diagonal")
    return vec3(sens), mat3(m / sens)


def symmetric_part(matrix: ArrayLike) -> np.ndarray:
    """The symmetric positive-definite factor ``P`` of the polar decomposition ``matrix = R @ P``.

    Two calibration matrices that differ only by a rotation of the calibrated frame have the same
    ``P``: compare calibrations through it (the six-pose fit returns ``P`` itself).
    """
    u, s, vt = np.linalg.svd(np.asarray(matrix, dtype=np.float64))
    return (vt.T * s) @ vt


def from_matrices(sensor_id: str, acc_matrix: ArrayLike, acc_offset_m_s2: ArrayLike,
                  gyr_bias_rad_s: ArrayLike = _ZEROS, gyr_matrix: ArrayLike = _EYE, **kwargs: Any) -> SensorCalibration:
    """A calibration from full 3x3 matrices (``calibrated = matrix @ (uncalibrated - offset)``)."""
    acc_s, acc_m = split_matrix(acc_matrix)
    gyr_s, gyr_m = split_matrix(gyr_matrix)
    created = kwargs.pop("created_utc", None) or utc_now_iso()
    return SensorCalibration(sensor_id, created, vec3(acc_offset_m_s2, "acc offset"), acc_s, acc_m,
                             vec3(gyr_bias_rad_s, "gyro bias"), gyr_s, gyr_m, **kwargs)


def _model(x: ArrayLike, offset: Vec3, sensitivity: Vec3, misalignment: Mat3) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64)
    if a.shape[-1:] != (3,):
        raise ValueError(f"expected (N, 3) or (3,) samples, got shape {a.shape}")
    return ((a - np.asarray(offset)) * np.asarray(sensitivity)) @ np.asarray(misalignment).T


def _inverse(x: ArrayLike, offset: Vec3, sensitivity: Vec3, misalignment: Mat3) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64)
    return np.linalg.solve(np.asarray(misalignment), a.T).T / np.asarray(sensitivity) + np.asarray(offset)


def apply(calib: SensorCalibration, acc_m_s2: ArrayLike, gyr_rad_s: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Calibrated ``(acc_m_s2, gyr_rad_s)`` from uncalibrated ones, each (N, 3) (or (3,)); pure, vectorised."""
    acc = _model(acc_m_s2, calib.acc_offset_m_s2, calib.acc_sensitivity, calib.acc_misalignment)
    gyr = _model(gyr_rad_s, calib.gyr_bias_rad_s, calib.gyr_sensitivity, calib.gyr_misalignment)
    return acc, gyr


def unapply(calib: SensorCalibration, acc_m_s2: ArrayLike, gyr_rad_s: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """The inverse of :func:`apply`: uncalibrated samples from calibrated ones."""
    acc = _inverse(acc_m_s2, calib.acc_offset_m_s2, calib.acc_sensitivity, calib.acc_misalignment)
    gyr = _inverse(gyr_rad_s, calib.gyr_bias_rad_s, calib.gyr_sensitivity, calib.gyr_misalignment)
    return acc, gyr
