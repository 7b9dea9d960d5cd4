"""The importer's reading, column finding, time conversion and unit checks (one-line errors).

Column detection works on a normalised header name: lower case, units in brackets set aside,
separators removed (``"Acc_X (g)"`` -> ``accx``, unit hint ``g``).
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from imu_hinge.errors import RecordingFormatError, RecordingNotFound, UsageError
from imu_hinge.importing.import_spec import (
    ACC_UNITS_TO_M_S2,
    GYR_UNITS_TO_RAD_S,
    SACRUM_WORDS,
    THORACIC_WORDS,
    TIME_ISO,
    TIME_UNITS_TO_S,
    ImportSpec,
)
from imu_hinge.samples import SENSOR_ROLES, STANDARD_GRAVITY_M_S2

ACC_RE = re.compile(r"(?:arrayacc|linearacc|linacc|accelerometer|acceleration|accel|acc|a)([xyz])(?:g|mg|ms2|mss)?")
GYR_RE = re.compile(r"(?:arraygyro|gyroscope|angularvelocity|angularrate|angvel|gyro|gyr|omega|g|w)([xyz])"
                    r"(?:dps|degs|mdps|rads|rad|deg)?")
TIME_RE = re.compile(r"(?:timestamp|datetime|time|elapsedtime|elapsed|sampletime|ts|t)"
                     r"(s|sec|ms|us|ns|millis|micros)?")
SENSOR_COLUMN_NAMES = ("sensor", "sensorname", "sensorid", "device", "devicename", "deviceid", "location",
                       "position", "placement", "segment", "bodypart", "serial", "tag", "label", "name", "id")
_NAME_UNITS = {"sec": "s", "millis": "ms", "micros": "us"}
GRAVITY_BAND_M_S2 = (0.75 * STANDARD_GRAVITY_M_S2, 1.3 * STANDARD_GRAVITY_M_S2)
MAX_GYR_RAD_S = 35.0
"""About 2000 deg/s, the largest range of common MEMS gyroscopes."""


def norm_name(name: object) -> str:
    text = re.sub(r"[\(\[].*?[\)\]]", "", str(name).lower())
    return re.sub(r"[^a-z0-9]", "", text)


def _columns_list(table: pd.DataFrame) -> str:
    cols = [str(c) for c in table.columns]
    return ", ".join(cols[:20]) + (", ..." if len(cols) > 20 else "")


def _sniff_delimiter(path: Path, skip_rows: int) -> str:
    with path.open("r", encoding="utf-8", errors="replace") as fh:
        lines = [ln for i, ln in zip(range(skip_rows + 50), fh, strict=False) if i >= skip_rows]
    header = next((ln for ln in lines if ln.strip() and not ln.startswith("#")), "")
    counts = {d: header.count(d) for d in (",", ";", "\t", "|")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def read_table(path: Path, spec: ImportSpec) -> pd.DataFrame:
    """Read one export into a frame of text/number columns (header names stripped)."""
    if not path.exists():
        raise RecordingNotFound("no such file; check the path", path=str(path))
    if path.is_dir() or path.stat().st_size == 0:
        raise RecordingFormatError("is a folder or an empty file, not an export", path=str(path))
    delimiter = spec.delimiter or _sniff_delimiter(path, spec.skip_rows)
    if delimiter == "\\t":
        delimiter = "\t"
    if delimiter == spec.decimal:
        raise UsageError(f"the delimiter and the decimal separator are both {delimiter!r}: set --delimiter")
    try:
        table = pd.read_csv(path, sep=delimiter, decimal=spec.decimal, skiprows=spec.skip_rows, comment="#",
                            skip_blank_lines=True, low_memory=False, encoding_errors="replace", engine="c")
    except pd.errors.EmptyDataError:
        raise RecordingFormatError("no data rows", path=str(path)) from None
    except (pd.errors.ParserError, ValueError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise RecordingFormatError(f"not a readable CSV with delimiter {delimiter!r} ({first}); "
                                   "set --delimiter or --skip-rows", path=str(path)) from None
    table.columns = [str(c).strip() for c in table.columns]
    if table.empty:
        raise RecordingFormatError("no data rows after the header", path=str(path))
    return table


def _named(table: pd.DataFrame, name: str, path: Path, what: str) -> str:
    if name in table.columns:
        return name
    loose = [c for c in table.columns if c.strip().lower() == name.strip().lower()]
    if len(loose) == 1:
        return str(loose[0])
    raise RecordingFormatError(f"no {what} column {name!r} (columns: {_columns_list(table)})", path=str(path))


def _detect_xyz(table: pd.DataFrame, pattern: re.Pattern[str], path: Path, what: str, option: str) -> list[str]:
    found: dict[str, list[str]] = {a: [] for a in "xyz"}
    for c in table.columns:
        m = pattern.fullmatch(norm_name(c))
        if m:
            found[m.group(1)].append(str(c))
    if all(len(v) == 1 for v in found.values()):
        return [found[a][0] for a in "xyz"]
    many = [c for v in found.values() if len(v) > 1 for c in v]
    why = f"several candidates ({', '.join(many)})" if many else "no x/y/z columns recognised"
    raise RecordingFormatError(f"cannot tell the {what} columns: {why}; name them with {option} "
                               f"(columns: {_columns_list(table)})", path=str(path))


def find_columns(table: pd.DataFrame, spec: ImportSpec, path: Path, role: str) -> tuple[str | None, list[str],
                                                                                       list[str]]:
    """(time column or None for a constant rate, 3 accelerometer columns, 3 gyroscope columns)."""
    rate = spec.sensors[role].rate_hz or spec.rate_hz
    if rate is not None and spec.time_column:
        raise UsageError("give either a time column or a constant rate (--rate-hz), not both")
    tcol: str | None = None
    if rate is None:
        if spec.time_column:
            tcol = _named(table, spec.time_column, path, "time")
        else:
            cands = [str(c) for c in table.columns if TIME_RE.fullmatch(norm_name(c))]
            if len(cands) != 1:
                why = f"several candidates ({', '.join(cands)})" if cands else "none recognised"
                raise RecordingFormatError(f"cannot tell the time column: {why}; name it with --time-col or give "
                                           f"a constant --rate-hz (columns: {_columns_list(table)})", path=str(path))
            tcol = cands[0]
    acc = ([_named(table, c, path, "accelerometer") for c in spec.acc_columns] if spec.acc_columns
           else _detect_xyz(table, ACC_RE, path, "accelerometer", "--acc-cols X,Y,Z"))
    gyr = ([_named(table, c, path, "gyroscope") for c in spec.gyr_columns] if spec.gyr_columns
           else _detect_xyz(table, GYR_RE, path, "gyroscope", "--gyr-cols X,Y,Z"))
    return tcol, acc, gyr


def _role_of(label: str) -> str | None:
    n = label.strip().lower()
    tokens = {*re.findall(r"[a-z]+\d*|\d+", n), re.sub(r"[^a-z0-9]", "", n)}
    hits = {role for role, words in (("sacrum", SACRUM_WORDS), ("thoracic", THORACIC_WORDS)) if tokens & set(words)}
    return hits.pop() if len(hits) == 1 else None


def find_sensor_labels(table: pd.DataFrame, spec: ImportSpec, path: Path) -> tuple[str, dict[str, str]]:
    """The sensor column of a one-file export, and the value that marks each role's rows."""
    if spec.sensor_column:
        column = _named(table, spec.sensor_column, path, "sensor")
    else:
        by_norm = {norm_name(c): str(c) for c in table.columns}
        column = next((by_norm[n] for n in SENSOR_COLUMN_NAMES if n in by_norm), "")
        if not column:
            raise RecordingFormatError("one file for both sensors needs a sensor column: name it with --sensor-col "
                                       f"(columns: {_columns_list(table)})", path=str(path))
    present = sorted({str(v).strip() for v in table[column].dropna().unique()})
    lower = {p.lower(): p for p in present}
    labels: dict[str, str] = {}
    for role in SENSOR_ROLES:
        given = spec.sensors[role].label
        if given is not None:
            if given.strip().lower() not in lower:
                raise RecordingFormatError(f"no rows with {column} = {given!r} for the {role} sensor (values: "
                                           f"{', '.join(present[:10])})", path=str(path))
            labels[role] = lower[given.strip().lower()]
            continue
        matches = [p for p in present if _role_of(p) == role]
        if len(matches) != 1:
            raise RecordingFormatError(f"cannot tell which {column} value is the {role} sensor (values: "
                                       f"{', '.join(present[:10])}); give --{role}-label", path=str(path))
        labels[role] = matches[0]
    return column, labels


def _unit_from_name(column: str) -> str | None:
    m = re.search(r"[\(\[]\s*(s|sec|ms|us|µs|ns)\s*[\)\]]", column.lower())
    if m:
        return {"sec": "s", "µs": "us"}.get(m.group(1), m.group(1))
    m2 = TIME_RE.fullmatch(norm_name(column))
    suffix = m2.group(1) if m2 else None
    return _NAME_UNITS.get(suffix, suffix) if suffix else None


def time_seconds(raw: dict[str, np.ndarray], spec: ImportSpec, columns: dict[str, str | None],
                 files: dict[str, str], notes: list[str]) -> dict[str, np.ndarray]:
    """Each role's time in s on one clock (starting at 0 for the earliest sample), offsets applied."""
    out: dict[str, np.ndarray] = {}
    col = next((c for c in columns.values() if c), None)
    unit = spec.time_unit or (_unit_from_name(col) if col else None)
    if unit is None and col:
        unit = _iso_if_text(raw, columns, col, files, notes)
    values: dict[str, np.ndarray] = {}
    for role in SENSOR_ROLES:
        if columns[role] is None:
            continue
        if unit == TIME_ISO:
            stamps = pd.to_datetime(pd.Series(raw[role]), errors="coerce", utc=True).dt.tz_localize(None)
            values[role] = stamps.to_numpy(dtype="datetime64[ns]").astype("int64").astype(float)
            values[role][stamps.isna().to_numpy()] = np.nan
        else:
            series = pd.to_numeric(pd.Series(raw[role]), errors="coerce")
            values[role] = series.to_numpy() if series.dtype.kind == "i" else series.to_numpy(dtype=float)
    if values:
        if not any(np.isfinite(v).any() for v in values.values()):
            kind = "date-time" if unit == TIME_ISO else "number"
            raise RecordingFormatError(f"the time column {col!r} holds no {kind} values; check --time-col and "
                                       "--time-unit", path=files["sacrum"])
        t0 = min(np.nanmin(v) for v in values.values() if np.isfinite(v).any())
        if unit is None:
            unit = _infer_unit(values, t0, files, notes)
        scale = 1e-9 if unit == TIME_ISO else TIME_UNITS_TO_S[unit]
        origin = str(pd.Timestamp(int(t0))) if unit == TIME_ISO else f"{t0:.10g} {unit}"
        notes.append(f"time_s 0 is {col} = {origin} in the source")
        for role, v in values.items():
            out[role] = (v - t0).astype(float) * scale
    for role in SENSOR_ROLES:
        if columns[role] is None:
            rate = spec.sensors[role].rate_hz or spec.rate_hz
            assert rate is not None
            out[role] = np.arange(len(raw[role]), dtype=float) / rate
        out[role] = out[role] + spec.time_offset_s + (spec.sensors[role].time_offset_s or 0.0)
    return out


def _iso_if_text(raw: dict[str, np.ndarray], columns: dict[str, str | None], col: str, files: dict[str, str],
                 notes: list[str]) -> str | None:
    """``iso`` when the time column holds date-time text (a note says so); None when it holds numbers; a one-line
    error when it holds neither."""
    role = next(r for r in SENSOR_ROLES if columns[r] is not None)
    sample = pd.Series(raw[role][:200])
    if pd.to_numeric(sample, errors="coerce").notna().mean() >= 0.5:
        return None
    with warnings.catch_warnings():  # pandas warns when it has to guess the format element by element
        warnings.simplefilter("ignore")
        stamps = pd.to_datetime(sample, errors="coerce", utc=True)
    if stamps.notna().mean() >= 0.5:
        notes.append(f"time column {col} holds date-time text: read as ISO 8601 (state it with --time-unit iso)")
        return TIME_ISO
    first = next((str(v) for v in sample if str(v).strip()), "")
    raise RecordingFormatError(f"the time column {col!r} holds neither numbers nor date-times (e.g. {first!r}); "
                               "give --time-col, --time-unit or --rate-hz", path=files[role])


def _infer_unit(values: dict[str, np.ndarray], t0: float, files: dict[str, str], notes: list[str]) -> str:
    steps = [np.diff(v[np.isfinite(v)].astype(float)) for v in values.values()]
    positive = np.concatenate([s[s > 0] for s in steps]) if steps else np.array([])
    if positive.size == 0:
        raise RecordingFormatError("the time column never increases; give --time-unit or --rate-hz",
                                   path=files["sacrum"])
    step = float(np.median(positive))
    fits = [u for u, f in TIME_UNITS_TO_S.items() if 10.0 <= 1.0 / (step * f) <= 2000.0]
    if len(fits) != 1:
        raise RecordingFormatError(f"cannot tell the time unit (median step {step:g}); give --time-unit "
                                   f"({', '.join(TIME_UNITS_TO_S)} or {TIME_ISO})", path=files["sacrum"])
    notes.append(f"time unit taken as {fits[0]} (median step {step:g} -> {1.0 / (step * TIME_UNITS_TO_S[fits[0]]):.0f} "
                 "Hz); state it with --time-unit")
    return fits[0]


def check_acc(raw: np.ndarray, unit: str, role: str, path: Path) -> np.ndarray:
    """Convert to m/s^2; refuse when the median magnitude is far from gravity."""
    acc = raw * ACC_UNITS_TO_M_S2[unit]
    med = float(np.median(np.linalg.norm(acc, axis=1)))
    lo, hi = GRAVITY_BAND_M_S2
    if not lo <= med <= hi:
        raw_med = float(np.median(np.linalg.norm(raw, axis=1)))
        fits = [u for u, f in ACC_UNITS_TO_M_S2.items() if lo <= raw_med * f <= hi]
        hint = f"the values look like {fits[0]} (--acc-unit {fits[0]})" if fits else "check the columns and the unit"
        raise RecordingFormatError(f"{role}: median |acc| is {med:.4g} m/s^2 after converting from {unit}, far from "
                                   f"gravity (9.81): {hint}", path=str(path))
    return acc


def check_gyr(raw: np.ndarray, unit: str, role: str, path: Path, notes: list[str]) -> np.ndarray:
    """Convert to rad/s; refuse rates beyond any MEMS gyroscope's range; note a gyroscope that never moves."""
    gyr = raw * GYR_UNITS_TO_RAD_S[unit]
    p99 = float(np.percentile(np.linalg.norm(gyr, axis=1), 99))
    if p99 > MAX_GYR_RAD_S:
        raw_p99 = float(np.percentile(np.linalg.norm(raw, axis=1), 99))
        fits = [u for u, f in GYR_UNITS_TO_RAD_S.items() if 0.1 <= raw_p99 * f <= MAX_GYR_RAD_S]
        hint = f"perhaps {' or '.join(fits)} (--gyr-unit)" if fits else "check the columns and the unit"
        raise RecordingFormatError(f"{role}: gyroscope reaches {p99:.4g} rad/s after converting from {unit}, beyond "
                                   f"any MEMS range (~35 rad/s = 2000 deg/s): {hint}", path=str(path))
    if p99 < 0.05:
        notes.append(f"{role}: the gyroscope hardly moves (99th percentile {p99:.3g} rad/s); if the person moved, "
                     "check --gyr-unit")
    return gyr
