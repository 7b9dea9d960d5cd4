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

from .calibration.stance import StanceParams
from .detection.params import DetectorParams, FaultParams, RepParams
from .errors import ConfigError
from .kinematics.sagittal import AxisParams


@dataclass(frozen=True)
class AnalysisParams:
    fusion_method: str = "vqf"
    fusion_options: dict[str, Any] = field(default_factory=dict)
    stance: StanceParams = StanceParams()
    axis: AxisParams = AxisParams()
    detector: DetectorParams = DetectorParams()

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


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


__all__ = ["AnalysisParams", "DetectorParams", "FaultParams", "RepParams", "load_params", "params_from_dict",
           "with_overrides"]
