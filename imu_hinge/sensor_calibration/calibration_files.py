"""Sensor calibration files: versioned JSON under ``calibration/<sensor_id>/<YYYY-MM-DDTHHMMSS>.json``.

The folder is, in order: the ``directory`` argument (``--dir``), ``$IMU_HINGE_CALIBRATION_DIR``,
the ``calibration/`` folder of the source checkout imu-hinge runs from, else ``calibration``
in the user's data directory. The file name is the calibration's creation time (UTC); a second
calibration in the same second gets ``_2``, ``_3``, ... The sensor id's folder name keeps
``A-Z a-z 0-9 . _ -`` and turns anything else into ``-`` (``AA:BB:..`` -> ``AA-BB-..``); the
true id is inside the file. The latest calibration of a sensor is the one with the latest name
(``latest_for``). Loading validates everything and fails with one
:class:`~imu_hinge.errors.CalibrationError` line naming the file. Format: ``calibration/README.md``.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from imu_hinge.errors import CalibrationError, UsageError
from imu_hinge.jsonable import dumps as json_dumps
from imu_hinge.jsonable import jsonable
from imu_hinge.sensor_calibration.imu_model import (
    FILE_TYPE,
    FORMAT_VERSION,
    MODEL,
    UNITS,
    SensorCalibration,
    mat3,
    vec3,
)

ENV_DIR = "IMU_HINGE_CALIBRATION_DIR"
_NAME_RE = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{6})(?:_(\d+))?\.json$")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def default_dir() -> Path:
    """Where calibration files live when no ``--dir`` is given (see the module docstring)."""
    env = os.environ.get(ENV_DIR, "").strip()
    if env:
        return Path(env).expanduser()
    repo = Path(__file__).resolve().parents[2]
    if (repo / "pyproject.toml").is_file() and (repo / "imu_hinge").is_dir():
        return repo / "calibration"
    import platformdirs

    return Path(platformdirs.user_data_dir("imu-hinge", appauthor=False)) / "calibration"


def resolve_dir(directory: str | Path | None = None) -> Path:
    return Path(directory).expanduser() if directory else default_dir()


def sensor_folder(sensor_id: str) -> str:
    """The folder name of ``sensor_id`` (unsafe characters -> ``-``)."""
    name = _UNSAFE.sub("-", str(sensor_id).strip()).strip(".")
    if not name:
        raise UsageError(f"sensor id {sensor_id!r} is empty or unusable as a folder name")
    return name


def _stamp(created_utc: str) -> str:
    try:
        t = _dt.datetime.fromisoformat(created_utc.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"created_utc {created_utc!r} is not an ISO 8601 time") from None
    if t.tzinfo is not None:
        t = t.astimezone(_dt.UTC)
    return t.strftime("%Y-%m-%dT%H%M%S")


def _sort_key(path: Path) -> tuple[str, int]:
    m = _NAME_RE.match(path.name)
    assert m is not None
    return m.group(1), int(m.group(2) or 1)


def to_dict(calib: SensorCalibration) -> dict[str, Any]:
    """The JSON document of a calibration (see ``calibration/README.md``)."""
    return {"type": FILE_TYPE, "format_version": calib.format_version, "sensor_id": calib.sensor_id,
            "created_utc": calib.created_utc, "model": MODEL, "units": dict(UNITS),
            "acc": {"offset_m_s2": list(calib.acc_offset_m_s2), "sensitivity": list(calib.acc_sensitivity),
                    "misalignment": [list(r) for r in calib.acc_misalignment]},
            "gyr": {"offset_rad_s": list(calib.gyr_bias_rad_s), "sensitivity": list(calib.gyr_sensitivity),
                    "misalignment": [list(r) for r in calib.gyr_misalignment]},
            "temperature_c": calib.temperature_c, "notes": calib.notes, "fit": jsonable(calib.fit)}


def dumps(calib: SensorCalibration) -> str:
    """The file text: indented JSON with number lists on one line."""
    text = json_dumps(to_dict(calib), indent=2)
    return re.sub(r"\[\s*([-+0-9.eE]+(?:,\s*[-+0-9.eE]+)*)\s*\]",
                  lambda m: "[" + ", ".join(p.strip() for p in m.group(1).split(",")) + "]", text) + "\n"


def _unit_ok(given: Any, expected: str) -> bool:
    return isinstance(given, str) and given.split(" ")[0] == expected.split(" ")[0]


def from_dict(doc: Any, path: str | None = None) -> SensorCalibration:
    """Validate a calibration document; one :class:`CalibrationError` line for anything wrong."""
    def bad(msg: str) -> CalibrationError:
        return CalibrationError(f"calibration file: {msg}", path=path)

    if not isinstance(doc, dict) or doc.get("type") != FILE_TYPE:
        found = doc.get("type") if isinstance(doc, dict) else type(doc).__name__
        raise bad(f"not an imu-hinge sensor calibration (type {found!r}, expected {FILE_TYPE!r})")
    version = doc.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise bad(f"format_version {version!r} is not a positive integer")
    if version > FORMAT_VERSION:
        raise bad(f"written in calibration format v{version}; this imu-hinge reads up to v{FORMAT_VERSION}: "
                  "update imu-hinge")
    units = doc.get("units")
    if not isinstance(units, dict):
        raise bad("no 'units' object")
    for key, unit in UNITS.items():
        if not _unit_ok(units.get(key), unit):
            raise bad(f"{key} is in {units.get(key)!r}, expected {unit.split(' ')[0]!r}")
    acc, gyr = doc.get("acc"), doc.get("gyr")
    if not isinstance(acc, dict) or not isinstance(gyr, dict):
        raise bad("'acc' and 'gyr' must be objects")
    sensor_id, created = doc.get("sensor_id"), doc.get("created_utc")
    if not isinstance(sensor_id, str) or not sensor_id.strip():
        raise bad("sensor_id missing or empty")
    temp, notes, fit = doc.get("temperature_c"), doc.get("notes", ""), doc.get("fit", {})
    if temp is not None and (not isinstance(temp, int | float) or isinstance(temp, bool)):
        raise bad(f"temperature_c {temp!r} is not a number or null")
    try:
        if not isinstance(created, str):
            raise ValueError("created_utc missing")
        _stamp(created)
        return SensorCalibration(
            sensor_id, created, vec3(acc.get("offset_m_s2"), "acc.offset_m_s2"),
            vec3(acc.get("sensitivity"), "acc.sensitivity"), mat3(acc.get("misalignment"), "acc.misalignment"),
            vec3(gyr.get("offset_rad_s"), "gyr.offset_rad_s"), vec3(gyr.get("sensitivity"), "gyr.sensitivity"),
            mat3(gyr.get("misalignment"), "gyr.misalignment"), None if temp is None else float(temp),
            str(notes or ""), version, dict(fit) if isinstance(fit, dict) else {})
    except (ValueError, TypeError) as exc:
        raise bad(str(exc)) from None


def load(path: str | Path) -> SensorCalibration:
    """Read and validate one calibration file."""
    path = Path(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CalibrationError("no such calibration file", path=str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CalibrationError(f"cannot read the calibration file ({exc.__class__.__name__})", path=str(path)) from None
    except ValueError as exc:
        raise CalibrationError(f"calibration file: not valid JSON ({exc})", path=str(path)) from None
    return from_dict(doc, str(path))


def sha256_of(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@dataclass(frozen=True)
class StoredCalibration:
    """A calibration file on disk: ``path``, its content, its SHA-256 and its name under the folder."""

    path: Path
    calibration: SensorCalibration
    sha256: str
    name: str
    """``<sensor folder>/<file name>``: what a recording's ``sensors.<role>.calibration.file`` holds."""

    def reference(self) -> dict[str, Any]:
        """The entry for a recording's ``sensors.<role>.calibration`` (what was applied)."""
        return {"file": self.name, "sha256": self.sha256, "format_version": self.calibration.format_version,
                "created_utc": self.calibration.created_utc}


def open_stored(path: str | Path) -> StoredCalibration:
    path = Path(path)
    calib = load(path)
    return StoredCalibration(path, calib, sha256_of(path), f"{path.parent.name}/{path.name}")


def save(calib: SensorCalibration, directory: str | Path | None = None) -> StoredCalibration:
    """Write ``calib`` as a new file (never overwriting one) under ``directory``; returns where it went."""
    folder = resolve_dir(directory) / sensor_folder(calib.sensor_id)
    text = dumps(calib)
    from_dict(json.loads(text))  # never write what cannot be read back
    try:
        folder.mkdir(parents=True, exist_ok=True)
        stamp, k = _stamp(calib.created_utc), 1
        while True:
            path = folder / (f"{stamp}.json" if k == 1 else f"{stamp}_{k}.json")
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
                break
            except FileExistsError:
                k += 1
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
    except OSError as exc:
        raise CalibrationError(f"cannot write the calibration ({exc.strerror or exc})", path=str(folder)) from None
    return StoredCalibration(path, calib, hashlib.sha256(text.encode("utf-8")).hexdigest(),
                             f"{folder.name}/{path.name}")


def list_for(sensor_id: str, directory: str | Path | None = None) -> list[Path]:
    """The calibration files of ``sensor_id``, oldest first (by name: creation time, then ``_N``)."""
    folder = resolve_dir(directory) / sensor_folder(sensor_id)
    if not folder.is_dir():
        return []
    return sorted((p for p in folder.iterdir() if _NAME_RE.match(p.name) and p.is_file()), key=_sort_key)


def latest_for(sensor_id: str, directory: str | Path | None = None, *,
               as_of: str | None = None) -> StoredCalibration | None:
    """The newest calibration of ``sensor_id`` (made at or before ``as_of``, ISO 8601, if given), or None.

    The file is loaded and validated (a damaged newest file is an error, not silently skipped); its
    ``sensor_id`` must be ``sensor_id``.
    """
    paths = list_for(sensor_id, directory)
    if as_of is not None:
        limit = _stamp(as_of)
        paths = [p for p in paths if _sort_key(p)[0] <= limit]
    if not paths:
        return None
    stored = open_stored(paths[-1])
    if stored.calibration.sensor_id != str(sensor_id).strip():
        raise CalibrationError(f"calibration file: made for sensor {stored.calibration.sensor_id!r}, found under "
                               f"{sensor_id!r}", path=str(stored.path))
    return stored


def find_reference(ref: Any, directory: str | Path | None = None) -> StoredCalibration | None:
    """The file a recording's ``calibration`` entry names (a name or ``{"file": .., "sha256": ..}``), or None
    if it is not on disk. A SHA-256 that does not match is a :class:`CalibrationError`."""
    name = ref.get("file") if isinstance(ref, dict) else ref
    if not isinstance(name, str) or not name:
        return None
    path = Path(name) if Path(name).is_absolute() else resolve_dir(directory) / name
    if not path.is_file():
        return None
    stored = open_stored(path)
    want = ref.get("sha256") if isinstance(ref, dict) else None
    if want and want != stored.sha256:
        raise CalibrationError("calibration file: changed since the recording was made (sha256 differs)",
                               path=str(path))
    return stored
