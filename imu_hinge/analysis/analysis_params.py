"""All analysis parameters in one frozen tree, and loading them from a config file.

A config file (TOML or JSON) mirrors the tree::

    fusion_method = "vqf"
    [detector.faults]
    lumbar_flexion_deg = 18.0
    [detector.reps]
    min_peak_deg = 25.0
"""

from __future__ import annotations

import dataclasses
import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from imu_hinge.analysis.stance_params import StanceParams, StanceSearchParams
from imu_hinge.detection.detector_params import DetectorParams, FaultParams, RepParams
from imu_hinge.errors import ConfigError
from imu_hinge.fusion.gap_repair_params import GapRepairParams
from imu_hinge.fusion.reanchor_params import ReanchorParams
from imu_hinge.kinematics.axis_params import AxisParams

BODY_WORN_FUSION_OPTIONS: dict[str, dict[str, Any]] = {
    "vqf": {"rest_bias_est_enabled": False, "quiet_bias_est_enabled": True},
    "vqf_offline": {"rest_bias_est_enabled": False},
}
"""Filter settings the pipeline uses under the user's ``fusion_options``: a person never rests.

vqf's rest detection (gyro within 2 deg/s for 1.5 s) takes quiet standing, which still sways
at a few deg/s, for rest and learns the sway as gyro bias (0.2-0.5 deg/s), which then tilts the
inclination by bias x tau_acc (about 1 deg) until the next stand. The stance calibration already
gives the bias with the sway corrected by the accelerometer, and vqf's motion bias estimation
stays on. Measured with ``benchmarks/accuracy_sim.py --seeds 2`` (rest detection on -> off):
segment RMSE median 0.45 -> 0.26 deg, peak lumbar error median 0.40 -> 0.31 deg, lumbar RMSE
median 0.348 -> 0.353 deg; on the shared dev cases lumbar median 0.810 -> 0.821, worst
1.371 -> 1.334 deg (rest is rarely detected there). ``estimate_orientation`` keeps vqf's own
defaults: for a sensor that really rests (on a table, as in BROAD) rest detection is right.

The gyro bias of a body-worn sensor also wanders by tenths of a deg/s within a session (dev
cases: 0.1-0.4 deg/s between the first stance and later stands, hinge axis). The quiet-window
estimator (``quiet_bias_est_enabled``, :mod:`imu_hinge.fusion.quiet_bias`) learns it from gravity
in the quiet moments between reps: dev lumbar RMSE median 0.821 -> 0.730 deg, worst 1.334 ->
1.172 deg (``benchmarks/dev_angles.py``). Its windows are decided from the samples alone (counted
in samples, gaps ignored), so ``train`` and ``analyze`` of the same samples agree (peaks within
0.15 deg on the emulator, the same as without it).
"""


@dataclass(frozen=True)
class AnalysisParams:
    fusion_method: str = "vqf"
    fusion_options: dict[str, Any] = field(default_factory=dict)
    """Filter parameters (see :mod:`imu_hinge.fusion`); they override :data:`BODY_WORN_FUSION_OPTIONS`."""
    stance: StanceParams = StanceParams()
    stance_search: StanceSearchParams = StanceSearchParams()
    axis: AxisParams = AxisParams()
    reanchor: ReanchorParams = ReanchorParams()
    gap_repair: GapRepairParams = GapRepairParams()
    correct_sensor_moves: bool = True
    """Offline (analyze): take the step a sensor that moved on the body left out of its segment's angle from then
    on (:func:`imu_hinge.detection.mount_check.take_out_moves`); live and with False it is only told."""
    detector: DetectorParams = DetectorParams()

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def filter_options(self) -> dict[str, Any]:
        """The keyword parameters the pipeline gives its fusion filter."""
        return {**BODY_WORN_FUSION_OPTIONS.get(self.fusion_method, {}), **self.fusion_options}


def _build(cls: type, data: dict[str, Any], where: str) -> Any:
    if not isinstance(data, dict):
        raise ConfigError(f"{where or 'config'} must be a table of settings, got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        if key not in fields:
            raise ConfigError(f"unknown setting {where + '.' if where else ''}{key}; known: {', '.join(fields)}")
        default = getattr(cls(), key)
        name = f"{where + '.' if where else ''}{key}"
        if dataclasses.is_dataclass(default):
            kwargs[key] = _build(type(default), value, name)
        elif isinstance(default, tuple):
            kwargs[key] = tuple(float(v) for v in value)
        elif isinstance(default, bool):
            kwargs[key] = bool(value)
        elif isinstance(default, float) or (default is None and isinstance(value, int | float)):
            try:
                kwargs[key] = float(value)
            except (TypeError, ValueError):
                raise ConfigError(f"{name} must be a number, got {value!r}") from None
        else:
            kwargs[key] = value
    return cls(**kwargs)


def params_from_dict(data: dict[str, Any]) -> AnalysisParams:
    result: AnalysisParams = _build(AnalysisParams, data, "")
    return result


def read_settings_file(path: str | Path, what: str = "config") -> dict[str, Any]:
    """A TOML (``.toml``, any other suffix) or JSON (``.json``) file of settings as a dict; one-line errors."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"{what} file not found: {p}")
    try:
        text = p.read_text(encoding="utf-8")
        data = json.loads(text) if p.suffix.lower() == ".json" else tomllib.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{p}: not valid {'JSON' if p.suffix.lower() == '.json' else 'TOML'}: "
                          f"{str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{p}: the {what} must be a table of settings")
    return data


def load_params(path: str | Path) -> AnalysisParams:
    """Read a TOML (``.toml``) or JSON config file into :class:`AnalysisParams`."""
    return params_from_dict(read_settings_file(path, "config"))


def with_overrides(params: AnalysisParams, **faults: Any) -> AnalysisParams:
    """A copy with fault settings replaced (the CLI's threshold options)."""
    f = dataclasses.replace(params.detector.faults, **{k: v for k, v in faults.items() if v is not None})
    return dataclasses.replace(params, detector=dataclasses.replace(params.detector, faults=f))


__all__ = ["BODY_WORN_FUSION_OPTIONS", "AnalysisParams", "DetectorParams", "FaultParams", "RepParams", "load_params",
           "params_from_dict",
           "with_overrides"]
