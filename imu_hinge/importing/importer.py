"""Import recordings from other IMU systems into the interchange CSV (contracts §2).

    spec = load_mapping("movesense.toml")            # or ImportSpec(...) / CLI options
    report = import_recording(spec, "session.csv")   # checks everything, then writes atomically

Each sensor's rows are read (one file per sensor, or one file with a sensor column), the time,
accelerometer and gyroscope columns picked (named, or detected from common header names),
converted to s, m/s^2 and rad/s, remapped (axes/signs), checked (gravity near 9.81 m/s^2, a
plausible gyroscope range and sample rate, increasing time), and written interleaved in time
order. Nothing is written unless every check passes: the output goes to a temporary file that
is renamed at the end. Column detection and the checks' messages live in :mod:`.import_columns`.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from imu_hinge.batch.tables import current_umask
from imu_hinge.errors import DataCheckError, RecordingFormatError, RecordingWriteError, UsageError
from imu_hinge.importing.import_columns import (
    check_acc,
    check_gyr,
    find_columns,
    find_sensor_labels,
    read_table,
    time_seconds,
)
from imu_hinge.importing.import_spec import ImportSpec, apply_axes, parse_axes
from imu_hinge.jsonable import dumps
from imu_hinge.recording.checks import checked
from imu_hinge.recording.time_order import increasing_times
from imu_hinge.samples import SENSOR_ROLES, Recording, SensorStream

CSV_HEADER = "time_s,sensor,acc_x,acc_y,acc_z,gyr_x,gyr_y,gyr_z"


@dataclass
class SensorData:
    """One converted stream: ``time_s`` (N,), ``acc_m_s2`` (N, 3), ``gyr_rad_s`` (N, 3)."""

    role: str
    file: str
    time_s: np.ndarray
    acc_m_s2: np.ndarray
    gyr_rad_s: np.ndarray

    @property
    def rate_hz(self) -> float:
        return float(1.0 / np.median(np.diff(self.time_s))) if len(self.time_s) > 1 else float("nan")


@dataclass
class ImportReport:
    out: Path
    sensors: dict[str, SensorData]
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        parts = [f"{r} {len(s.time_s)} samples at {s.rate_hz:.1f} Hz" for r, s in self.sensors.items()]
        t = np.concatenate([s.time_s for s in self.sensors.values()])
        return f"wrote {self.out}: {', '.join(parts)}, {float(t.max() - t.min()):.1f} s"


def _sources(spec: ImportSpec) -> dict[str, str]:
    per_sensor = {r: spec.sensors[r].file for r in SENSOR_ROLES}
    if spec.source and any(per_sensor.values()):
        raise UsageError("give either one file for both sensors or one file per sensor (--sacrum/--thoracic), "
                         "not both")
    if spec.source:
        return {r: spec.source for r in SENSOR_ROLES}
    missing = [r for r, f in per_sensor.items() if not f]
    if missing:
        raise UsageError(f"no file for the {' and '.join(missing)} sensor: give SRC (one file with a sensor column) "
                         "or --sacrum FILE --thoracic FILE")
    return {r: str(f) for r, f in per_sensor.items()}


def _rows_per_sensor(spec: ImportSpec, files: dict[str, str], notes: list[str]) -> dict[str, pd.DataFrame]:
    if files["sacrum"] != files["thoracic"]:
        return {r: read_table(Path(f), spec) for r, f in files.items()}
    path = Path(files["sacrum"])
    table = read_table(path, spec)
    try:
        column, labels = find_sensor_labels(table, spec, path)
    except RecordingFormatError:
        if spec.source or spec.sensor_column:
            raise
        raise DataCheckError(f"the sacrum and thoracic data are the same stream: --sacrum and --thoracic both name "
                             f"{path.name}, which has no sensor column to tell them apart; give each sensor's own "
                             "file", problem="same_stream", path=str(path)) from None
    names = table[column].astype(str).str.strip().str.lower()
    out = {r: table.loc[names == labels[r].strip().lower()].reset_index(drop=True) for r in SENSOR_ROLES}
    others = sorted(set(names.unique()) - {labels[r].strip().lower() for r in SENSOR_ROLES})
    if others:
        notes.append(f"rows of other sensors ignored: {', '.join(others[:5])}")
    return out


def convert(spec: ImportSpec, notes: list[str] | None = None) -> dict[str, SensorData]:
    """Read and convert both sensors (no writing). Raises one-line errors for every problem."""
    spec = spec.normalised()
    notes = notes if notes is not None else []
    files = _sources(spec)
    tables = _rows_per_sensor(spec, files, notes)
    raw_times: dict[str, np.ndarray] = {}
    picked: dict[str, tuple[str | None, list[str], list[str]]] = {}
    for role, table in tables.items():
        path = Path(files[role])
        picked[role] = find_columns(table, spec, path, role)
    for role, table in tables.items():
        tcol = picked[role][0]
        raw_times[role] = table[tcol].to_numpy() if tcol is not None else np.arange(len(table))
    times = time_seconds(raw_times, spec, {r: picked[r][0] for r in SENSOR_ROLES}, files, notes)
    data: dict[str, SensorData] = {}
    for role, table in tables.items():
        path, (_, acc_cols, gyr_cols) = Path(files[role]), picked[role]
        values = table[[*acc_cols, *gyr_cols]].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
        t = times[role]
        bad = ~(np.isfinite(values).all(axis=1) & np.isfinite(t))
        if bad.sum() > 0.2 * len(t):
            raise RecordingFormatError(f"{role}: {int(bad.sum())} of {len(t)} rows have missing or non-numeric "
                                       "values; check the column mapping and --decimal", path=str(path))
        if bad.any():
            notes.append(f"{role}: {int(bad.sum())} row(s) with missing values dropped")
        t, values = t[~bad], values[~bad]
        t, values = _increasing(role, t, values, path, notes)
        axes = spec.sensors[role].axes or spec.axes
        if np.prod([sign for _, sign in parse_axes(axes)]) * _permutation_sign(parse_axes(axes)) < 0:
            notes.append(f"{role}: the axes remap {axes} is a mirror image (left-handed); right only if the "
                         "device's own axes are left-handed")
        acc = apply_axes(check_acc(values[:, :3], spec.acc_unit, role, path), axes)
        gyr = apply_axes(check_gyr(values[:, 3:], spec.gyr_unit, role, path, notes), axes)
        data[role] = SensorData(role, str(path), t, acc, gyr)
        rate = data[role].rate_hz
        if not 10.0 <= rate <= 2000.0:
            raise RecordingFormatError(f"{role}: sample rate {rate:.3g} Hz after converting the time column is "
                                       "implausible (10..2000 Hz); check the time unit or --rate-hz", path=str(path))
    return _content_checked(data, spec, notes)


def _content_checked(data: dict[str, SensorData], spec: ImportSpec, notes: list[str]) -> dict[str, SensorData]:
    """The checks ``analyze`` applies on loading (:func:`~imu_hinge.recording.checks.checked`), here so
    that nothing is written that analysis would refuse (the same stream twice, axes that disagree)."""
    desc = " and ".join(sorted({Path(d.file).name for d in data.values()}))
    rec = Recording({r: SensorStream(r, d.time_s, d.acc_m_s2, d.gyr_rad_s) for r, d in data.items()}, source=desc)
    out = checked(rec, gyr_unit="si")  # the import states its units: a unit slip is an error, not a guess
    notes.extend(out.warnings)
    return {r: SensorData(r, d.file, out[r].time_s, out[r].acc_m_s2, out[r].gyr_rad_s) for r, d in data.items()}


def _permutation_sign(spec: tuple[tuple[int, float], ...]) -> float:
    order = [i for i, _ in spec]
    inversions = sum(1 for a in range(3) for b in range(a + 1, 3) if order[a] > order[b])
    return -1.0 if inversions % 2 else 1.0


def _increasing(role: str, t: np.ndarray, values: np.ndarray, path: Path,
                notes: list[str]) -> tuple[np.ndarray, np.ndarray]:
    if len(t) < 10:
        raise RecordingFormatError(f"the {role} sensor has {len(t)} usable row(s); need both sensors with data",
                                   path=str(path))
    t, keep, note = increasing_times(role, t, path, "sort the export or check the time column", (values,))
    if note is not None:
        notes.append(note)
    return t, values if keep is None else values[keep]


def interchange_text_rows(data: dict[str, SensorData]) -> pd.DataFrame:
    frames = []
    for order, role in enumerate(SENSOR_ROLES):
        s = data[role]
        f = pd.DataFrame({"time_s": s.time_s, "sensor": role, "_order": order})
        for j, axis in enumerate("xyz"):
            f[f"acc_{axis}"] = s.acc_m_s2[:, j]
        for j, axis in enumerate("xyz"):
            f[f"gyr_{axis}"] = s.gyr_rad_s[:, j]
        frames.append(f)
    frame = pd.concat(frames, ignore_index=True).sort_values(["time_s", "_order"], kind="stable")
    return frame.drop(columns="_order")


def write_interchange(data: dict[str, SensorData], out: str | Path, comments: list[str]) -> Path:
    """Write atomically (temporary file in the same folder, renamed when complete)."""
    out = Path(out)
    folder = out.resolve().parent
    if not folder.is_dir():
        raise UsageError(f"cannot write {out}: its folder does not exist")
    frame = interchange_text_rows(data)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(CSV_HEADER + "\n")
            fh.writelines(f"# {c}\n" for c in comments)
            frame.to_csv(fh, header=False, index=False, float_format="%.6f", lineterminator="\n")
        os.chmod(tmp, 0o666 & ~current_umask())
        os.replace(tmp, out)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise RecordingWriteError(f"cannot write ({exc.strerror or exc})", path=str(out)) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return out


def import_recording(spec: ImportSpec, out: str | Path, *, overwrite: bool = True) -> ImportReport:
    """Convert ``spec``'s source file(s) and write the interchange CSV ``out``; nothing written on error.
    ``overwrite=False``: an existing ``out`` is refused (after the conversion's own checks)."""
    notes: list[str] = []
    spec = spec.normalised()
    files = set(_sources(spec).values())
    if any(Path(f).resolve() == Path(out).resolve() for f in files if Path(f).exists()):
        raise UsageError(f"{out}: the output would overwrite an input file")
    data = convert(spec, notes)
    if not overwrite and Path(out).exists():
        raise UsageError(f"{out} exists; choose another output or give --force to replace it")
    desc = ", ".join(f"{Path(s.file).name} ({r})" for r, s in data.items())
    comments = [f"imported by imu-hinge import from {desc}",
                "import: " + dumps({"acc_unit": spec.acc_unit, "gyr_unit": spec.gyr_unit,
                                    "time_unit": spec.time_unit, "rate_hz": spec.rate_hz, "axes": spec.axes},
                                   compact=True),
                *(f"note: {n}" for n in notes)]
    return ImportReport(write_interchange(data, out, comments), data, notes)
