"""Uncalibrated sensor streams from a recording file, for the six-pose calibration.

Reads a session recording or an interchange CSV with one sensor or both (the analysis readers
insist on both). The calibration must be fitted to *uncalibrated* samples: when a session
recording says its SI columns were made with a calibration file, that file is looked up and
undone (:func:`~.sensor_model.unapply`); if it is not on disk that is an error.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from imu_hinge.errors import CalibrationError, RecordingFormatError, RecordingNotFound
from imu_hinge.recording.interchange import DEG_TO_RAD, REQUIRED_COLUMNS, read_interchange_csv
from imu_hinge.recording.session_reader import read_session, session_version
from imu_hinge.samples import SENSOR_ROLES, STANDARD_GRAVITY_M_S2, SensorStream
from imu_hinge.sensor_calibration.applying import applied_calibration
from imu_hinge.sensor_calibration.imu_model import unapply


@dataclass(frozen=True)
class RecordedSensor:
    """One sensor's uncalibrated stream, its metadata id (or None) and notes on how it was read."""

    role: str
    stream: SensorStream
    sensor_id: str | None
    notes: tuple[str, ...] = ()


def _uncalibrated(role: str, stream: SensorStream, sensor_meta: dict[str, Any], path: Path,
                  directory: str | Path | None) -> tuple[SensorStream, tuple[str, ...]]:
    ref = sensor_meta.get("calibration")
    if not ref:
        return stream, ()
    stored = applied_calibration(sensor_meta, directory)
    if stored is None:
        name = ref.get("file") if isinstance(ref, dict) else ref
        raise CalibrationError(f"the {role} samples were calibrated with {name!r}, which is not in the calibration "
                               "folder: restore it (or pass --dir), or record with calibration off", path=str(path))
    acc, gyr = unapply(stored.calibration, stream.acc_m_s2, stream.gyr_rad_s)
    return replace(stream, acc_m_s2=acc, gyr_rad_s=gyr), (f"{role}: undid the calibration {stored.name} "
                                                          "the recording was made with",)


def _one_sensor_csv(path: Path, acc_unit: str, gyr_unit: str, min_samples: int) -> list[RecordedSensor]:
    """A plain reading of an interchange CSV, one stream per role found (units as ``read_interchange_csv``)."""
    try:
        frame = pd.read_csv(path, comment="#", skipinitialspace=True)
    except (ValueError, OSError, pd.errors.ParserError):
        return []
    frame.columns = [str(c).strip() for c in frame.columns]
    if any(c not in frame.columns for c in REQUIRED_COLUMNS):
        return []
    values = frame[list(REQUIRED_COLUMNS[2:])].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    t = pd.to_numeric(frame["time_s"], errors="coerce").to_numpy(dtype=float)
    names = frame["sensor"].astype(str).str.strip().str.lower().to_numpy()
    ok = np.isfinite(values).all(axis=1) & np.isfinite(t)
    out = []
    for role in SENSOR_ROLES:
        sel = ok & (names == role)
        if sel.sum() < min_samples:
            continue
        order = np.argsort(t[sel], kind="stable")
        acc, gyr = values[sel][order, :3], values[sel][order, 3:]
        notes = []
        if acc_unit == "g" or (acc_unit == "auto" and 0.5 < np.median(np.linalg.norm(acc, axis=1)) < 2.0):
            acc = acc * STANDARD_GRAVITY_M_S2
            notes.append(f"{role}: accelerometer read as g" + (" (looks like g)" if acc_unit == "auto" else ""))
        if gyr_unit == "deg/s" or (gyr_unit == "auto" and np.percentile(np.linalg.norm(gyr, axis=1), 99) > 40.0):
            gyr = gyr * DEG_TO_RAD
            notes.append(f"{role}: gyroscope read as deg/s" + (" (looks like deg/s)" if gyr_unit == "auto" else ""))
        out.append(RecordedSensor(role, SensorStream(role, t[sel][order], acc, gyr), None, tuple(notes)))
    return out


def read_sensors(path: str | Path, *, acc_unit: str = "auto", gyr_unit: str = "auto",
                 directory: str | Path | None = None, min_samples: int = 10) -> list[RecordedSensor]:
    """Every sensor of the file with at least ``min_samples`` samples, uncalibrated, in role order."""
    path = Path(path)
    if not path.is_file():
        raise RecordingNotFound("no such file; check the path", path=str(path))
    out: list[RecordedSensor] = []
    if session_version(path) is not None:
        if acc_unit not in ("auto", "si") or gyr_unit not in ("auto", "si"):
            raise RecordingFormatError("a session recording stores SI units: --acc-unit/--gyr-unit apply to "
                                       "interchange CSVs only", path=str(path))
        rec = read_session(path)
        sensors = rec.metadata.get("sensors") if isinstance(rec.metadata.get("sensors"), dict) else {}
        assert isinstance(sensors, dict)
        for role, stream in rec.streams.items():
            if len(stream) < min_samples:
                continue
            entry = sensors.get(role)
            meta: dict[str, Any] = entry if isinstance(entry, dict) else {}
            stream, notes = _uncalibrated(role, stream, meta, path, directory)
            sid = meta.get("id")
            out.append(RecordedSensor(role, stream, str(sid) if sid else None, (*rec.warnings, *notes)))
    else:
        try:
            rec = read_interchange_csv(path, acc_unit=acc_unit, gyr_unit=gyr_unit)
            out = [RecordedSensor(r, s, None, tuple(rec.warnings)) for r, s in rec.streams.items()]
        except RecordingFormatError:  # the analysis reader wants both sensors: one is enough here
            out = _one_sensor_csv(path, acc_unit, gyr_unit, min_samples)
            if not out:
                raise
    if not out:
        raise RecordingFormatError(f"no sensor with at least {min_samples} samples", path=str(path))
    return out
