"""Using sensor calibrations: the latest one per sensor id, applied live or to a loaded recording.

Live (the BLE path): per sensor, once it is connected and its id is known::

    cal = SensorCalibrator.from_ids({"sacrum": id_s, "thoracic": id_t})   # latest file per id (or none)
    meta_s = sensor_metadata(info, sensor_id=id_s, calibration=cal.reference("sacrum"))
    acc, gyr = cal("sacrum", batch.acc_m_s2, batch.gyr_rad_s)               # every batch, before the core
    writer.write_samples("sacrum", batch.time_s, seq=batch.seq, raw=batch.raw, acc_m_s2=acc, gyr_rad_s=gyr, ...)

so a recording's SI columns are what the lifter's session computed with, and its metadata
names the file (``{"file": "<sensor>/<time>.json", "sha256": ..}``) that made them from the raw
columns. A recording whose ``calibration`` is null can be calibrated when loaded
(:func:`apply_calibration`: opt-in, as it changes what a replay computes).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from imu_hinge.samples import ImuSample, Recording, SensorStream
from imu_hinge.sensor_calibration.calibration_files import StoredCalibration, find_reference, latest_for
from imu_hinge.sensor_calibration.imu_model import SensorCalibration, apply


def calibration_for_sensor(sensor_id: str | None, directory: str | Path | None = None) -> SensorCalibration | None:
    """The most recent calibration of ``sensor_id`` on disk, or None (no id, or never calibrated)."""
    if not sensor_id or not str(sensor_id).strip():
        return None
    stored = latest_for(str(sensor_id), directory)
    return stored.calibration if stored else None


class SensorCalibrator:
    """The calibration of each role of a session (None: that sensor streams uncalibrated)."""

    def __init__(self, stored: Mapping[str, StoredCalibration | None]) -> None:
        self.stored = dict(stored)

    @classmethod
    def from_ids(cls, sensor_ids: Mapping[str, str | None], directory: str | Path | None = None) -> SensorCalibrator:
        """The latest calibration file of each role's sensor id."""
        return cls({role: latest_for(sid, directory) if sid else None for role, sid in sensor_ids.items()})

    def calibration(self, role: str) -> SensorCalibration | None:
        s = self.stored.get(role)
        return s.calibration if s else None

    def reference(self, role: str) -> dict[str, Any] | None:
        """What goes into the recording metadata ``sensors.<role>.calibration`` (None: nothing applied)."""
        s = self.stored.get(role)
        return s.reference() if s else None

    def __call__(self, role: str, acc_m_s2: np.ndarray, gyr_rad_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Calibrated (N, 3) arrays of ``role`` (unchanged copies when it has no calibration)."""
        calib = self.calibration(role)
        if calib is None:
            return np.array(acc_m_s2, dtype=np.float64), np.array(gyr_rad_s, dtype=np.float64)
        return apply(calib, acc_m_s2, gyr_rad_s)

    def sample(self, s: ImuSample) -> ImuSample:
        """One live sample, calibrated."""
        acc, gyr = self(s.sensor, np.asarray(s.acc_m_s2), np.asarray(s.gyr_rad_s))
        a, g = acc.tolist(), gyr.tolist()
        return ImuSample(s.time_s, s.sensor, (a[0], a[1], a[2]), (g[0], g[1], g[2]))


def applied_calibration(sensor_meta: Mapping[str, Any],
                        directory: str | Path | None = None) -> StoredCalibration | None:
    """The calibration file a recording says made its SI columns, if it names one that is on disk."""
    ref = sensor_meta.get("calibration")
    return find_reference(ref, directory) if ref else None


def apply_calibration(rec: Recording, directory: str | Path | None = None, *,
                      sensor_ids: Mapping[str, str] | None = None) -> Recording:
    """A copy of ``rec`` with each uncalibrated stream calibrated by its sensor's latest file.

    A stream is left as it is when the metadata already names a calibration (its SI columns were
    made with it) or no calibration exists for its sensor id (``sensor_ids[role]``, else the
    metadata's ``sensors.<role>.id``). For the others the metadata's ``calibration`` becomes the
    file's reference plus ``"applied": "on load"``, and a line is added to ``warnings``.
    """
    meta = copy.deepcopy(rec.metadata)
    found = meta.get("sensors")
    sensors: dict[str, Any] | None = found if isinstance(found, dict) else None
    streams = dict(rec.streams)
    notes: list[str] = []
    for role, stream in rec.streams.items():
        entry = sensors.get(role) if sensors is not None else None
        sensor_meta: dict[str, Any] = entry if isinstance(entry, dict) else {}
        if sensor_meta.get("calibration"):
            continue
        sid = (sensor_ids or {}).get(role) or sensor_meta.get("id")
        stored = latest_for(str(sid), directory) if sid else None
        if stored is None:
            continue
        acc, gyr = apply(stored.calibration, stream.acc_m_s2, stream.gyr_rad_s)
        streams[role] = SensorStream(stream.sensor, stream.time_s, acc, gyr, stream.clipped, stream.seq,
                                     stream.device_time_us, stream.host_time_s, stream.flags)
        if sensors is None:
            sensors = meta["sensors"] = {}
        target = sensors.setdefault(role, {})
        target.setdefault("id", sid)
        target["calibration"] = {**stored.reference(), "applied": "on load"}
        notes.append(f"{role}: sensor calibration {stored.name} applied on load")
    return Recording(streams, meta, [*rec.warnings, *notes], rec.source)
