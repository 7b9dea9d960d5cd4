"""Reader of session recordings (layout: :mod:`imu_hinge.recording.format`).

``read_session(path)`` returns a :class:`~imu_hinge.samples.Recording` whose ``metadata`` is the
``# meta:`` object plus ``events`` (list of event dicts, file order) and ``end`` (the ``# end:``
object, None when the writer never closed the file), and whose streams carry ``seq``,
``device_time_us``, ``host_time_s``, ``flags`` and ``clipped`` (``flags & SAMPLE_CLIPPED``).

Damage a crash or a full disk can cause is tolerated with a warning: a last line without its
``\\n`` is torn and dropped; a missing ``# end:`` line means the file was not closed. Anything
else wrong ends as one :class:`~imu_hinge.errors.RecordingFormatError` line.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from imu_hinge import __version__
from imu_hinge.errors import RecordingFormatError
from imu_hinge.recording.format import (
    END_PREFIX,
    EVENT_PREFIX,
    FORMAT_VERSION,
    INTERCHANGE_COLUMNS,
    MAGIC_LINE,
    META_PREFIX,
    RAW_COLUMNS,
    REQUIRED_COLUMNS,
    SAMPLE_CLIPPED,
    metadata_problems,
    parse_magic,
)
from imu_hinge.recording.interchange import _check_path as check_path
from imu_hinge.samples import SENSOR_ROLES, Recording, SensorStream

_SI = INTERCHANGE_COLUMNS[2:]

if TYPE_CHECKING:
    import pandas as pd


def _round_trip(pd_version: str) -> dict[str, Any]:
    """pandas 3 parses floats round-trip by default (and deprecates the option); pandas 2 needs asking."""
    return {"float_precision": "round_trip"} if int(pd_version.split(".")[0]) < 3 else {}


def session_version(path: str | Path) -> int | None:
    """The format version if ``path`` is a session recording (magic on line 2, or line 1), else None."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(65536)
    except OSError:
        return None
    for line in head.split(b"\n")[:2]:
        version = parse_magic(line.decode("utf-8", "replace").rstrip("\r"))
        if version is not None:
            return version
    return None


def _comment_lines(data: bytes) -> Iterator[tuple[int, str]]:
    """(line number, text) of every line starting with ``#``; ``data`` ends with a newline."""
    lineno, last, search = 1, 0, 0
    start = 0 if data[:1] == b"#" else -1
    while True:
        if start < 0:
            i = data.find(b"\n#", search)
            if i < 0:
                return
            start = i + 1
        end = data.find(b"\n", start)
        lineno += data.count(b"\n", last, start)
        last = start
        yield lineno, data[start:end].decode("utf-8", "replace").rstrip("\r")
        search, start = end, -1


def _parse_comments(data: bytes, path: Path, warnings: list[str]) -> tuple[dict[str, Any], list[dict[str, Any]],
                                                                          dict[str, Any] | None]:
    meta: dict[str, Any] | None = None
    events: list[dict[str, Any]] = []
    end: dict[str, Any] | None = None
    bad: list[int] = []
    for lineno, line in _comment_lines(data):
        for prefix in (META_PREFIX, EVENT_PREFIX, END_PREFIX):
            if line.startswith(prefix):
                try:
                    obj = json.loads(line[len(prefix):])
                except ValueError:
                    obj = None
                if not isinstance(obj, dict):
                    bad.append(lineno)
                elif prefix == META_PREFIX and meta is None:
                    meta = obj
                elif prefix == EVENT_PREFIX:
                    if isinstance(obj.get("kind"), str) and isinstance(obj.get("time_s"), int | float):
                        events.append(obj)
                    else:
                        bad.append(lineno)
                elif prefix == END_PREFIX:
                    end = obj
    if bad:
        warnings.append(f"{len(bad)} unreadable meta/event line(s) skipped (first: line {bad[0]})")
    if meta is None:
        raise RecordingFormatError("no readable '# meta:' line; the session file is damaged", path=str(path))
    return meta, events, end


def _frame(data: bytes, path: Path, warnings: list[str]) -> pd.DataFrame:
    import pandas as pd  # here: analyze of an interchange CSV need not import it

    header = data[:data.find(b"\n")].decode("utf-8", "replace").strip().split(",")
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise RecordingFormatError(f"the header line lacks column(s) {', '.join(missing)}", path=str(path))
    dtype: dict[str, Any] = {c: "float64" for c in header if c not in ("sensor", "")}
    dtype["sensor"] = "category"
    try:
        frame = pd.read_csv(io.BytesIO(data), comment="#", dtype=dtype, engine="c", **_round_trip(pd.__version__))
    except (ValueError, pd.errors.ParserError):
        frame = pd.read_csv(io.BytesIO(data), comment="#", dtype=str, on_bad_lines="skip", engine="python")
        for c in frame.columns:
            if c != "sensor":
                frame[c] = pd.to_numeric(frame[c], errors="coerce")
    except pd.errors.EmptyDataError:
        frame = pd.DataFrame(columns=header)
    ok = np.isfinite(frame[["time_s", *_SI, "seq"]].to_numpy(dtype=float)).all(axis=1)
    if not ok.all():
        warnings.append(f"{int((~ok).sum())} unreadable sample row(s) dropped")
        frame = frame.loc[ok]
    return frame


def _optional(rows: pd.DataFrame, col: str) -> np.ndarray | None:
    if col not in rows.columns:
        return None
    v = rows[col].to_numpy(dtype=np.float64)
    return None if np.isnan(v).all() else v


def _stream(role: str, rows: pd.DataFrame, sensor_meta: dict[str, Any], path: Path,
            warnings: list[str]) -> SensorStream:
    t = rows["time_s"].to_numpy(dtype=np.float64)
    seq = rows["seq"].to_numpy(dtype=np.float64).astype(np.int64)
    for name, v in (("seq", seq), ("time_s", t)):
        back = np.flatnonzero(np.diff(v) <= 0)
        if back.size:
            raise RecordingFormatError(f"{name} of the {role} sensor does not increase after {name} {v[back[0]]} "
                                       f"({back.size} place(s)); the file was edited or is damaged", path=str(path))
    acc = rows[list(_SI[:3])].to_numpy(dtype=np.float64)
    gyr = rows[list(_SI[3:])].to_numpy(dtype=np.float64)
    dev = _optional(rows, "device_time_us")
    if dev is not None and np.isfinite(dev).all():
        dev = dev.astype(np.int64)
    flags_f = _optional(rows, "flags")
    flags = np.zeros(t.size, np.int64) if flags_f is None else np.nan_to_num(flags_f).astype(np.int64)
    if all(c in rows.columns for c in RAW_COLUMNS) and sensor_meta.get("calibration") is None:
        raw = rows[list(RAW_COLUMNS)].to_numpy(dtype=np.float64)
        scale = (sensor_meta.get("acc_m_s2_per_lsb"), sensor_meta.get("gyr_rad_s_per_lsb"))
        has = np.isfinite(raw).all(axis=1)
        if has.any() and None not in scale:
            expect = np.hstack([raw[has, :3] * scale[0], raw[has, 3:] * scale[1]])
            off = int((expect != np.hstack([acc, gyr])[has]).any(axis=1).sum())
            if off:
                warnings.append(f"{role}: {off} sample(s) whose SI values differ from raw x scale (edited file?)")
    return SensorStream(role, t, acc, gyr, clipped=(flags & SAMPLE_CLIPPED) != 0, seq=seq, device_time_us=dev,
                        host_time_s=_optional(rows, "host_time_s"), flags=flags)


def read_session(path: str | Path) -> Recording:
    """Read a session recording; every sensor named in the metadata gets a (possibly empty) stream."""
    path = Path(path)
    check_path(path)
    version = session_version(path)
    if version is None:
        raise RecordingFormatError(f"not an imu-hinge session recording (no '{MAGIC_LINE}' line at the top)",
                                   path=str(path))
    if version > FORMAT_VERSION:
        raise RecordingFormatError(f"written in session format v{version}; imu-hinge {__version__} reads up to "
                                   f"v{FORMAT_VERSION}: update imu-hinge", path=str(path))
    data = path.read_bytes()
    warnings: list[str] = []
    if not data.endswith(b"\n"):
        data = data[:data.rfind(b"\n") + 1]
        warnings.append("the last line is torn (cut off mid-write): dropped")
    meta, events, end = _parse_comments(data, path, warnings)
    problems = metadata_problems(meta)
    if problems:
        warnings.append("metadata: " + "; ".join(problems))
    if end is None:
        warnings.append("no end line: the recording was not closed (crash, power loss, or still being written); "
                        "read every whole line")
    elif end.get("status", "ok") != "ok":
        warnings.append(f"the writer stopped early ({end.get('reason') or end.get('status')})")
    frame = _frame(data, path, warnings)
    names = sorted({str(s).strip().lower() for s in frame["sensor"].unique()})
    unknown = [s for s in names if s not in SENSOR_ROLES]
    if unknown:
        raise RecordingFormatError(f"unknown sensor name(s) {', '.join(map(repr, unknown[:5]))}; the sensor column "
                                   f"must be {' or '.join(SENSOR_ROLES)}", path=str(path))
    sensors = meta.get("sensors") if isinstance(meta.get("sensors"), dict) else {}
    assert isinstance(sensors, dict)
    roles = [r for r in SENSOR_ROLES if r in sensors or r in names]
    sensor_col = frame["sensor"].astype(str).str.strip().str.lower()
    streams = {r: _stream(r, frame.loc[sensor_col == r], sensors.get(r) or {}, path, warnings) for r in roles}
    metadata = {**meta, "events": events, "end": end}
    return Recording(streams=streams, metadata=metadata, warnings=warnings, source=str(path))
