"""Reader for the interchange CSV (contracts §2).

``time_s,sensor,acc_x,acc_y,acc_z,gyr_x,gyr_y,gyr_z`` with ``#`` comment lines and any extra
columns. Every problem a user can cause ends as one :class:`~imu_hinge.errors.InputError`
line, or — where the data can still be used honestly — as a warning on the result.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import RecordingFormatError, RecordingNotFound, UsageError
from ..samples import SENSOR_ROLES, Recording, SensorStream

REQUIRED_COLUMNS = ("time_s", "sensor", "acc_x", "acc_y", "acc_z", "gyr_x", "gyr_y", "gyr_z")
ACC_COLUMNS = ("acc_x", "acc_y", "acc_z")
GYR_COLUMNS = ("gyr_x", "gyr_y", "gyr_z")
STANDARD_GRAVITY_M_S2 = 9.80665
DEG_TO_RAD = np.pi / 180.0
UNIT_CHOICES = ("auto", "si", "g", "deg/s")


def _read_comments(path: Path, max_lines: int = 200) -> list[str]:
    out: list[str] = []
    with path.open("r", encoding="utf-8", errors="replace") as fh:
        for _ in range(max_lines):
            line = fh.readline()
            if not line:
                break
            if line.startswith("#"):
                out.append(line[1:].strip())
            elif line.strip():
                continue
    return out


def _check_path(path: Path) -> None:
    if not path.exists():
        raise RecordingNotFound("no such file; check the path", path=str(path))
    if path.is_dir():
        raise RecordingFormatError("is a folder, not a recording file", path=str(path))
    if path.stat().st_size == 0:
        raise RecordingFormatError("the file is empty; record again or pick another file", path=str(path))


def _parse_frame(path: Path) -> pd.DataFrame:
    numeric = {c: "float64" for c in REQUIRED_COLUMNS if c != "sensor"}
    try:  # fast path: a clean file parses straight into floats
        frame = pd.read_csv(path, comment="#", skip_blank_lines=True, dtype={**numeric, "sensor": "category"},
                            encoding_errors="replace", engine="c")
        frame.columns = [str(c).strip() for c in frame.columns]
        if all(c in frame.columns for c in REQUIRED_COLUMNS) and not frame.empty:
            return frame
    except (ValueError, pd.errors.ParserError, pd.errors.EmptyDataError):
        pass
    try:
        frame = pd.read_csv(path, comment="#", skip_blank_lines=True, low_memory=False,
                            on_bad_lines="skip", encoding_errors="replace")
    except pd.errors.EmptyDataError:
        raise RecordingFormatError("no data rows (only comments or blank lines)", path=str(path)) from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise RecordingFormatError(f"not a readable CSV ({first})", path=str(path)) from None
    frame.columns = [str(c).strip() for c in frame.columns]
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise RecordingFormatError(
            f"missing column(s) {', '.join(missing)}; expected header {','.join(REQUIRED_COLUMNS)} "
            "(use `imu-hinge import` to map other layouts)", path=str(path))
    if frame.empty:
        raise RecordingFormatError("no data rows after the header", path=str(path))
    return frame


def _numeric(frame: pd.DataFrame, path: Path, warnings: list[str]) -> pd.DataFrame:
    numeric_cols = ["time_s", *ACC_COLUMNS, *GYR_COLUMNS]
    if all(frame[c].dtype == np.float64 for c in numeric_cols):
        values = frame[numeric_cols]
    else:
        values = frame[numeric_cols].apply(pd.to_numeric, errors="coerce")
    bad = ~np.isfinite(values.to_numpy(dtype=float)).all(axis=1)
    n_bad = int(bad.sum())
    if n_bad:
        last_bad = bool(bad[-1])
        if n_bad > 0.2 * len(frame):
            raise RecordingFormatError(
                f"{n_bad} of {len(frame)} rows have missing or non-numeric values; check the export",
                path=str(path))
        what = "the last line is truncated" if last_bad and n_bad == 1 else f"{n_bad} row(s) with missing/NaN values"
        warnings.append(f"{what}: dropped")
    out = values.loc[~bad].copy()
    sensor = frame["sensor"]
    if isinstance(sensor.dtype, pd.CategoricalDtype):  # normalise the few distinct names, not every row
        cats = [str(c).strip().lower() for c in sensor.cat.categories]
        if len(set(cats)) == len(cats):
            out["sensor"] = sensor.loc[~bad].cat.rename_categories(cats)
        else:
            out["sensor"] = sensor.loc[~bad].astype(str).str.strip().str.lower()
    else:
        out["sensor"] = sensor.loc[~bad].astype(str).str.strip().str.lower()
    return out


def _unit_check(name: str, data: np.ndarray, unit: str, warnings: list[str], path: Path) -> np.ndarray:
    """Detect (or apply) g for the accelerometer and deg/s for the gyroscope."""
    norms = np.linalg.norm(data, axis=1)
    if name == "acc":
        med = float(np.median(norms))
        if unit == "g" or (unit == "auto" and 0.5 < med < 2.0):
            if unit == "auto":
                warnings.append(f"accelerometer looks like it is in g (median |acc| {med:.2f}); converted to m/s^2 "
                                "(pass --acc-unit si or g to state it)")
            return data * STANDARD_GRAVITY_M_S2
        if unit == "auto" and not (5.0 < med < 20.0):
            raise RecordingFormatError(
                f"accelerometer median magnitude {med:.3g} is neither m/s^2 (~9.81) nor g (~1); "
                "check the units and axes of the export", path=str(path))
        return data
    p99 = float(np.percentile(norms, 99))
    if unit == "deg/s" or (unit == "auto" and p99 > 40.0):
        if unit == "auto":
            warnings.append(f"gyroscope looks like it is in deg/s (99th percentile |gyr| {p99:.0f}); converted to "
                            "rad/s (pass --gyr-unit si or deg/s to state it)")
        return data * DEG_TO_RAD
    return data


def _stream(role: str, rows: pd.DataFrame, path: Path, warnings: list[str],
            acc_unit: str, gyr_unit: str) -> SensorStream:
    t = rows["time_s"].to_numpy(dtype=float)
    acc = rows[list(ACC_COLUMNS)].to_numpy(dtype=float)
    gyr = rows[list(GYR_COLUMNS)].to_numpy(dtype=float)
    dt = np.diff(t)
    back = np.flatnonzero(dt < 0)
    if back.size:
        i = int(back[0])
        raise RecordingFormatError(
            f"time goes backwards for the {role} sensor ({t[i + 1]:.6f} s after {t[i]:.6f} s, "
            f"{back.size} place(s)); each sensor's time_s must increase — fix the clock or split the file",
            path=str(path))
    dup = np.flatnonzero(dt == 0)
    if dup.size:
        keep = np.ones(t.size, bool)
        keep[dup + 1] = False
        t, acc, gyr = t[keep], acc[keep], gyr[keep]
        warnings.append(f"{role}: {dup.size} duplicate timestamp(s): kept the first of each")
    acc = _unit_check("acc", acc, acc_unit, warnings, path)
    gyr = _unit_check("gyr", gyr, gyr_unit, warnings, path)
    return SensorStream(role, t, np.ascontiguousarray(acc), np.ascontiguousarray(gyr))


def read_interchange_csv(path: str | Path, acc_unit: str = "auto", gyr_unit: str = "auto") -> Recording:
    """Read an interchange CSV into a :class:`Recording` with one stream per sensor role.

    ``acc_unit``: "auto" (detect g), "si" (m/s^2) or "g"; ``gyr_unit``: "auto" (detect deg/s),
    "si" (rad/s) or "deg/s".
    """
    if acc_unit not in ("auto", "si", "g") or gyr_unit not in ("auto", "si", "deg/s"):
        raise UsageError(f"unknown unit choice {acc_unit!r}/{gyr_unit!r}: use auto|si|g and auto|si|deg/s")
    path = Path(path)
    _check_path(path)
    warnings: list[str] = []
    comments = _read_comments(path)
    frame = _numeric(_parse_frame(path), path, warnings)
    names = set(frame["sensor"].unique())
    unknown = sorted(names - set(SENSOR_ROLES))
    if unknown:
        raise RecordingFormatError(
            f"unknown sensor name(s) {', '.join(repr(u) for u in unknown[:5])}; the sensor column must be "
            f"{' or '.join(SENSOR_ROLES)}", path=str(path))
    streams: dict[str, SensorStream] = {}
    for role in SENSOR_ROLES:
        rows = frame.loc[frame["sensor"] == role]
        if len(rows) < 10:
            raise RecordingFormatError(
                f"the {role} sensor has {len(rows)} sample(s); analysis needs both sensors (sacrum and thoracic)",
                path=str(path))
        streams[role] = _stream(role, rows, path, warnings, acc_unit, gyr_unit)
    return Recording(streams=streams, metadata={"comments": comments}, warnings=warnings, source=str(path))


def recording_to_interchange_csv(rec: Recording, out: str | Path | io.TextIOBase) -> None:
    """Write a recording in the plain interchange layout (time-ordered, interleaved)."""
    parts = []
    for role, s in rec.streams.items():
        df = pd.DataFrame({"time_s": s.time_s, "sensor": role})
        for j, c in enumerate(ACC_COLUMNS):
            df[c] = s.acc_m_s2[:, j]
        for j, c in enumerate(GYR_COLUMNS):
            df[c] = s.gyr_rad_s[:, j]
        parts.append(df)
    frame = pd.concat(parts).sort_values("time_s", kind="stable")
    frame.to_csv(out, index=False, float_format="%.6f")
