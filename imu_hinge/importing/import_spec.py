"""What ``imu-hinge import`` needs to know about a foreign export: :class:`ImportSpec`.

Built from a mapping file (TOML or JSON, see ``docs/import.md``) and/or command-line options
(options win). Units are named strings converted by the factors below; axis remaps are strings
such as ``"x,-z,y"`` (output x = input x, output y = − input z, output z = input y).
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from imu_hinge.analysis.analysis_params import read_settings_file
from imu_hinge.errors import ConfigError, UsageError
from imu_hinge.samples import SENSOR_ROLES, STANDARD_GRAVITY_M_S2

ACC_UNITS_TO_M_S2: dict[str, float] = {"m/s^2": 1.0, "g": STANDARD_GRAVITY_M_S2, "mg": STANDARD_GRAVITY_M_S2 / 1000}
GYR_UNITS_TO_RAD_S: dict[str, float] = {"rad/s": 1.0, "mrad/s": 1e-3, "deg/s": np.pi / 180, "mdps": np.pi / 180e3}
TIME_UNITS_TO_S: dict[str, float] = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}
TIME_ISO = "iso"
"""Time unit for date-time text (``2024-05-01T10:00:00.123``)."""
UNIT_ALIASES = {"m/s2": "m/s^2", "m/s**2": "m/s^2", "ms2": "m/s^2", "mps2": "m/s^2", "si": "m/s^2",
                "dps": "deg/s", "°/s": "deg/s", "deg/sec": "deg/s", "rads": "rad/s", "rad/sec": "rad/s",
                "mdeg/s": "mdps", "µs": "us", "sec": "s", "msec": "ms", "usec": "us", "nsec": "ns",
                "datetime": TIME_ISO}

SACRUM_WORDS = ("sacrum", "sacral", "pelvis", "pelvic", "hip", "hips", "waist", "lowerback", "lower", "s1", "s2", "l5")
THORACIC_WORDS = ("thoracic", "thorax", "t12", "t11", "t10", "t8", "l1", "trunk", "torso", "chest", "upperback",
                  "upper")


def norm_unit(unit: str, table: dict[str, float], what: str) -> str:
    u = UNIT_ALIASES.get(unit.strip().lower().replace(" ", ""), unit.strip().lower().replace(" ", ""))
    if u not in table and not (what == "time" and u == TIME_ISO):
        known = ", ".join([*table, *([TIME_ISO] if what == "time" else [])])
        raise UsageError(f"unknown {what} unit {unit!r}; use one of {known}")
    return u


def parse_axes(text: str) -> tuple[tuple[int, float], tuple[int, float], tuple[int, float]]:
    """``"x,-z,y"`` -> ((0, +1), (2, -1), (1, +1)): output axis k = sign * input axis index."""
    parts = [p.strip().lower() for p in re.split(r"[,\s]+", text.strip()) if p.strip()]
    out = []
    for p in parts:
        m = re.fullmatch(r"([+-]?)([xyz])", p)
        if not m:
            break
        out.append(("xyz".index(m.group(2)), -1.0 if m.group(1) == "-" else 1.0))
    if len(parts) != 3 or len(out) != 3 or len({i for i, _ in out}) != 3:
        raise UsageError(f"axes {text!r}: give three of x, y, z, each once, with an optional sign (e.g. x,-z,y)")
    return (out[0], out[1], out[2])


def apply_axes(data: np.ndarray, axes: str) -> np.ndarray:
    """Remap the columns of an (N, 3) array by an axes string."""
    spec = parse_axes(axes)
    return np.column_stack([sign * data[:, i] for i, sign in spec])


@dataclass
class SensorSpec:
    """Per-sensor overrides: its own file, axis remap, clock offset (s, added) or constant rate (Hz)."""

    file: str | None = None
    axes: str | None = None
    time_offset_s: float | None = None
    rate_hz: float | None = None
    label: str | None = None
    """Value of the sensor column that marks this sensor's rows (single-file exports)."""


@dataclass
class ImportSpec:
    """Everything the importer needs; ``None`` means "detect" where detection is possible."""

    source: str | None = None
    """One file holding both sensors (needs a sensor column)."""
    time_column: str | None = None
    time_unit: str | None = None
    time_offset_s: float = 0.0
    rate_hz: float | None = None
    acc_columns: tuple[str, str, str] | None = None
    gyr_columns: tuple[str, str, str] | None = None
    acc_unit: str = "m/s^2"
    gyr_unit: str = "rad/s"
    axes: str = "x,y,z"
    sensor_column: str | None = None
    delimiter: str | None = None
    decimal: str = "."
    skip_rows: int = 0
    sensors: dict[str, SensorSpec] = field(default_factory=lambda: {r: SensorSpec() for r in SENSOR_ROLES})

    def normalised(self) -> ImportSpec:
        """Validate names and numbers; return a copy with canonical unit names."""
        spec = dataclasses.replace(self, sensors={r: dataclasses.replace(self.sensors.get(r, SensorSpec()))
                                                  for r in SENSOR_ROLES})
        spec.acc_unit = norm_unit(self.acc_unit, ACC_UNITS_TO_M_S2, "accelerometer")
        spec.gyr_unit = norm_unit(self.gyr_unit, GYR_UNITS_TO_RAD_S, "gyroscope")
        if self.time_unit is not None:
            spec.time_unit = norm_unit(self.time_unit, TIME_UNITS_TO_S, "time")
        parse_axes(self.axes)
        for role, s in spec.sensors.items():
            if s.axes:
                parse_axes(s.axes)
            rate = s.rate_hz if s.rate_hz is not None else self.rate_hz
            if rate is not None and not (np.isfinite(rate) and 1.0 <= rate <= 10000.0):
                raise UsageError(f"{role}: rate must be 1..10000 Hz, got {rate}")
        for cols, what in ((self.acc_columns, "accelerometer"), (self.gyr_columns, "gyroscope")):
            if cols is not None and len(cols) != 3:
                raise UsageError(f"{what} columns: give three names (x, y, z), got {len(cols)}")
        if self.skip_rows < 0:
            raise UsageError(f"skip rows must be >= 0, got {self.skip_rows}")
        if self.decimal not in (".", ","):
            raise UsageError(f"decimal separator must be '.' or ',', got {self.decimal!r}")
        return spec


def _columns(value: Any, where: str) -> tuple[str, str, str]:
    items = [c.strip() for c in value.split(",")] if isinstance(value, str) else [str(c) for c in value]
    if len(items) != 3:
        raise ConfigError(f"{where}: give three column names (x, y, z)")
    return (items[0], items[1], items[2])


_KNOWN = {"time": {"column", "unit", "offset_s", "rate_hz"}, "units": {"acc", "gyr"}, "columns": {"acc", "gyr"},
          "sensor": {"column", *SENSOR_ROLES}, "csv": {"delimiter", "decimal", "skip_rows"},
          "sacrum": {"file", "axes", "time_offset_s", "rate_hz", "label"}, "source": set(), "axes": set()}
_KNOWN["thoracic"] = _KNOWN["sacrum"]


def spec_from_mapping(data: dict[str, Any], base_dir: Path | None = None) -> ImportSpec:
    """A mapping-file tree (see docs/import.md) -> :class:`ImportSpec`. Relative files are taken from ``base_dir``."""
    for key, value in data.items():
        if key not in _KNOWN:
            raise ConfigError(f"mapping: unknown section {key!r}; known: {', '.join(_KNOWN)}")
        if isinstance(value, dict):
            bad = set(value) - _KNOWN[key]
            if bad:
                raise ConfigError(f"mapping: unknown key(s) {', '.join(sorted(bad))} in [{key}]; "
                                  f"known: {', '.join(sorted(_KNOWN[key]))}")

    def path(p: Any) -> str:
        q = Path(str(p))
        return str(base_dir / q) if base_dir is not None and not q.is_absolute() else str(q)

    time, units, cols = data.get("time", {}), data.get("units", {}), data.get("columns", {})
    sensor, fmt = data.get("sensor", {}), data.get("csv", {})
    try:
        spec = ImportSpec(
            source=path(data["source"]) if "source" in data else None,
            time_column=time.get("column"), time_unit=time.get("unit"),
            time_offset_s=float(time.get("offset_s", 0.0)),
            rate_hz=float(time["rate_hz"]) if "rate_hz" in time else None,
            acc_columns=_columns(cols["acc"], "columns.acc") if "acc" in cols else None,
            gyr_columns=_columns(cols["gyr"], "columns.gyr") if "gyr" in cols else None,
            acc_unit=str(units.get("acc", "m/s^2")), gyr_unit=str(units.get("gyr", "rad/s")),
            axes=str(data.get("axes", "x,y,z")), sensor_column=sensor.get("column"),
            delimiter=fmt.get("delimiter"), decimal=str(fmt.get("decimal", ".")),
            skip_rows=int(fmt.get("skip_rows", 0)),
        )
        for role in SENSOR_ROLES:
            s = data.get(role, {})
            spec.sensors[role] = SensorSpec(
                file=path(s["file"]) if "file" in s else None, axes=s.get("axes"),
                time_offset_s=float(s["time_offset_s"]) if "time_offset_s" in s else None,
                rate_hz=float(s["rate_hz"]) if "rate_hz" in s else None,
                label=str(sensor[role]) if role in sensor else s.get("label"))
    except (TypeError, ValueError, AttributeError) as exc:
        raise ConfigError(f"mapping: a value has the wrong type ({exc})") from None
    return spec


def load_mapping(path: str | Path) -> ImportSpec:
    """Read a TOML (``.toml``) or JSON mapping file."""
    return spec_from_mapping(read_settings_file(path, "mapping"), Path(path).resolve().parent)
