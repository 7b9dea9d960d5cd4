"""Orientation of one IMU from gyroscope + accelerometer: one interface over vqf and ahrs.

>>> q = estimate_orientation(gyr_rad_s, acc_m_s2, rate_hz, method="vqf")   # (N, 4) w, x, y, z

Sensor-to-earth unit quaternions, earth z up, heading arbitrary (no magnetometer).
Methods (:data:`METHODS`): ``"vqf"`` (default; causal, gyro bias estimated at rest and in
motion), ``"vqf_offline"`` (non-causal research mode), ``"madgwick"``, ``"mahony"``,
``"ekf"`` (from ``ahrs``). Live code builds a filter with :func:`make_filter` and calls
``update`` per sample; replay calls ``update_batch`` (same results, faster).

Modules: :mod:`.base` (the interface, gravity helpers), :mod:`.vqf_filter` (VQF, the default),
:mod:`.ahrs_filters` (Madgwick, Mahony, EKF), :mod:`.quiet_bias` (gyro bias from gravity in quiet
moments, beside VQF), :mod:`.reanchor` (re-anchoring on gravity after a long gap; its parameters in
:mod:`.reanchor_params`), :mod:`.gap_repair` (offline: the spans after gaps from the filter run back in time;
its parameters in :mod:`.gap_repair_params`), :mod:`.gap_bridge` (offline: the rate across each bridged gap, the
model that best predicts held-out samples beside it). Their per-sample loops are C: ``_fusion_loops`` (built from
``_fusion_loops.c`` at install; private). The filters load on first use (:data:`_LAZY`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from imu_hinge.errors import UsageError
from imu_hinge.lazy_exports import lazy_exports

if TYPE_CHECKING:
    import numpy as np

    from imu_hinge.fusion.ahrs_filters import EkfFilter, MadgwickFilter, MahonyFilter
    from imu_hinge.fusion.base import GAP_FACTOR, OrientationFilter, quat_from_gravity, up_in_sensor
    from imu_hinge.fusion.vqf_filter import OfflineVqf, VqfFilter, VqfParams

METHODS: tuple[str, ...] = ("vqf", "vqf_offline", "madgwick", "mahony", "ekf")
"""Names accepted by :func:`make_filter` and :func:`estimate_orientation` (the filter classes' ``name``)."""

DEFAULT_METHOD = "vqf"

_LAZY: dict[str, str] = {
    "EkfFilter": "ahrs_filters", "MadgwickFilter": "ahrs_filters", "MahonyFilter": "ahrs_filters",
    "GAP_FACTOR": "base", "OrientationFilter": "base", "quat_from_gravity": "base", "up_in_sensor": "base",
    "OfflineVqf": "vqf_filter", "VqfFilter": "vqf_filter", "VqfParams": "vqf_filter",
}
"""Names this package exports from its modules, imported on first use: importing a parameter module
(:mod:`.reanchor_params`) or :data:`METHODS` loads no filter, numpy or vqf (a batch sent to a cluster
builds its parameters without the numerical core)."""


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals())


def filter_classes() -> dict[str, type[OrientationFilter]]:
    """Every filter class by its :data:`METHODS` name (imports the filters)."""
    from imu_hinge.fusion.ahrs_filters import EkfFilter, MadgwickFilter, MahonyFilter
    from imu_hinge.fusion.vqf_filter import OfflineVqf, VqfFilter

    return {cls.name: cls for cls in (VqfFilter, OfflineVqf, MadgwickFilter, MahonyFilter, EkfFilter)}


def make_filter(method: str, rate_hz: float, **params: Any) -> OrientationFilter:
    """A fresh filter for ``method`` at nominal ``rate_hz`` (Hz) with method-specific ``params``.

    Raises :class:`~imu_hinge.errors.UsageError` for an unknown method or parameter.
    """
    cls = filter_classes().get(method)
    if cls is None:
        raise UsageError(f"unknown fusion method {method!r}; choose one of: {', '.join(METHODS)}")
    try:
        return cls(rate_hz, **params)
    except TypeError as exc:  # unexpected keyword
        raise UsageError(f"bad parameter for fusion method {method!r}: {exc}") from None
    except ValueError as exc:
        raise UsageError(f"fusion method {method!r}: {exc}") from None


def estimate_orientation(gyr_rad_s: np.ndarray, acc_m_s2: np.ndarray, rate_hz: float, method: str = "vqf",
                         *, time_s: np.ndarray | None = None, acc0_m_s2: np.ndarray | None = None,
                         gyr_bias_rad_s: np.ndarray | None = None, **params: Any) -> np.ndarray:
    """Orientation of every sample of one sensor: (N, 4) unit quaternions w, x, y, z, sensor-to-earth.

    ``gyr_rad_s`` (N, 3) rad/s and ``acc_m_s2`` (N, 3) m/s^2 in the sensor frame; ``rate_hz``
    the nominal sample rate (Hz). ``time_s`` (N,) sample times in s, never decreasing: intervals longer than
    1.5 nominal periods are gaps, bridged by gyro integration. ``acc0_m_s2`` (3,) mean
    accelerometer at rest to start aligned with gravity (no convergence transient);
    ``gyr_bias_rad_s`` (3,) a known gyro bias from a static calibration. Other keywords are
    the method's parameters (see the filter classes).
    """
    import numpy as np

    gyr = np.asarray(gyr_rad_s, dtype=float)
    acc = np.asarray(acc_m_s2, dtype=float)
    if gyr.ndim != 2 or gyr.shape[1] != 3 or acc.shape != gyr.shape:
        raise UsageError(f"gyr_rad_s and acc_m_s2 must both have shape (N, 3), got {gyr.shape}, {acc.shape}")
    filt = make_filter(method, rate_hz, **params)
    dt_s = None
    if time_s is not None:
        t = np.asarray(time_s, dtype=float).reshape(-1)
        if t.shape[0] != gyr.shape[0]:
            raise UsageError(f"time_s must have {gyr.shape[0]} entries, got {t.shape[0]}")
        dt_s = np.diff(t, prepend=t[0] - filt.ts_s) if t.size else t
        if t.size > 1 and float(dt_s[1:].min()) < 0.0:
            k = 1 + int(np.argmax(dt_s[1:] < 0.0))
            raise UsageError(f"time_s must not decrease: sample {k} at {t[k]:g} s comes after {t[k - 1]:g} s; "
                             "sort the samples by time")
    try:
        filt.reset(acc0_m_s2, gyr_bias_rad_s)
        return filt.update_batch(gyr, acc, dt_s)
    except ValueError as exc:
        raise UsageError(f"fusion method {method!r}: {exc}") from None


__all__ = [
    "DEFAULT_METHOD",
    "GAP_FACTOR",
    "METHODS",
    "EkfFilter",
    "MadgwickFilter",
    "MahonyFilter",
    "OfflineVqf",
    "OrientationFilter",
    "VqfFilter",
    "VqfParams",
    "estimate_orientation",
    "filter_classes",
    "make_filter",
    "quat_from_gravity",
    "up_in_sensor",
]
