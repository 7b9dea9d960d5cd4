"""Recording input and output: the interchange CSV and the project's own session format.

``load_recording(path)`` reads either: a session recording (``*.ihr.csv``, recognised by its
``# imu-hinge recording v1`` magic line, see ``recordings/README.md``) or, failing that, an
interchange CSV (contracts §2). ``SessionWriter`` writes session recordings crash-safely.

Modules: :mod:`.format` (the session format's layout), :mod:`.session_writer` (crash-safe writer),
:mod:`.session_reader` and :mod:`.interchange` (readers; plain interchange CSVs are parsed by the C
scanner ``_interchange_scan``, anything else by pandas), :mod:`.checks` and :mod:`.frame_check`
(input that reads fine but is silently wrong), :mod:`.sampling` (bounded looks at long recordings),
:mod:`.time_order` (each sensor's time must increase; packet stamps spread), :mod:`.sample_clock`
(stamps scattered by arrival jitter put back on the sensor's regular clock).
"""

from __future__ import annotations

from pathlib import Path

from imu_hinge.errors import RecordingFormatError, UsageError
from imu_hinge.recording.checks import checked
from imu_hinge.recording.format import FORMAT_VERSION, SUFFIX, build_metadata, sensor_metadata
from imu_hinge.recording.interchange import _check_path, read_interchange_csv, recording_to_interchange_csv
from imu_hinge.recording.session_reader import read_session, session_version
from imu_hinge.recording.session_writer import SessionWriter
from imu_hinge.samples import SENSOR_ROLES, Recording
from imu_hinge.sensor_threads import default_threads

__all__ = [
    "FORMAT_VERSION",
    "SUFFIX",
    "SessionWriter",
    "build_metadata",
    "checked",
    "load_recording",
    "read_interchange_csv",
    "read_session",
    "recording_to_interchange_csv",
    "sensor_metadata",
    "session_version",
]


def load_recording(path: str | Path, acc_unit: str = "auto", gyr_unit: str = "auto", *,
                   min_samples: int = 10, threads: int | None = None) -> Recording:
    """A session recording or an interchange CSV, whichever ``path`` is.

    ``acc_unit`` / ``gyr_unit`` apply to interchange CSVs ("auto", "si", "g" / "deg/s"); a session
    recording stores SI units and accepts only "auto" or "si". ``min_samples``: the fewest
    samples each of the two sensors must have in a session recording (interchange CSVs always
    need 10); with ``min_samples=0`` (export) only the time unit is checked, not the content.
    Every recording passes :func:`~imu_hinge.recording.checks.checked` (time unit, flat-lined or
    too-short data, one stream under both roles, accelerometer and gyroscope in different frames).
    ``threads``: as :func:`~imu_hinge.recording.interchange.read_interchange_csv` (an interchange CSV's roles
    parsed, and both sensors' frames checked, side by side).
    """
    if acc_unit not in ("auto", "si", "g") or gyr_unit not in ("auto", "si", "deg/s"):
        raise UsageError(f"unknown unit choice {acc_unit!r}/{gyr_unit!r}: use auto|si|g and auto|si|deg/s")
    path = Path(path)
    _check_path(path)
    threads = default_threads() if threads is None else threads
    if session_version(path) is None:
        return checked(read_interchange_csv(path, acc_unit=acc_unit, gyr_unit=gyr_unit, threads=threads),
                       gyr_unit=gyr_unit, threads=threads)
    if acc_unit not in ("auto", "si") or gyr_unit not in ("auto", "si"):
        raise UsageError("a session recording stores SI units: --acc-unit/--gyr-unit apply to interchange CSVs only")
    rec = read_session(path)
    for role in SENSOR_ROLES:
        n = len(rec.streams[role]) if role in rec.streams else 0
        if n < min_samples:
            raise RecordingFormatError(f"the {role} sensor has {n} sample(s); analysis needs both sensors "
                                       f"(sacrum and thoracic)", path=str(path))
    return checked(rec, gyr_unit=gyr_unit, analysis=min_samples > 0, threads=threads)
