"""Reader for the interchange CSV (contracts §2).

``time_s,sensor,acc_x,acc_y,acc_z,gyr_x,gyr_y,gyr_z`` with ``#`` comment lines and any extra
columns. Every problem a user can cause ends as one :class:`~imu_hinge.errors.InputError`
line, or — where the data can still be used honestly — as a warning on the result.

Plain files (numbers only, known sensor names, no quotes or gaps) are parsed by a small C
scanner (``_interchange_scan``, without importing pandas: a third of a short analysis was
pandas' import); anything else is read by pandas, which gives it its meaning and its errors.
Both give the same arrays to the bit.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from imu_hinge.errors import RecordingFormatError, RecordingNotFound, UsageError
from imu_hinge.recording.time_order import increasing_times
from imu_hinge.samples import SENSOR_ROLES, STANDARD_GRAVITY_M_S2, Recording, SensorStream, row_norms
from imu_hinge.sensor_threads import Beside, default_threads

if TYPE_CHECKING:
    import pandas as pd

REQUIRED_COLUMNS = ("time_s", "sensor", "acc_x", "acc_y", "acc_z", "gyr_x", "gyr_y", "gyr_z")
ACC_COLUMNS = ("acc_x", "acc_y", "acc_z")
GYR_COLUMNS = ("gyr_x", "gyr_y", "gyr_z")
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


CHUNK_ROWS = 500_000
"""Rows parsed at a time: memory stays bounded by the arrays kept, not by pandas' frames."""


class _SlowPath(Exception):
    """The fast float parse met a value it cannot take: parse the whole file tolerantly."""


def _chunks(path: Path, fast: bool) -> Iterator[pd.DataFrame]:
    """Parsed chunks of the file; the fast path parses floats directly, the slow one keeps text."""
    import pandas as pd
    opts: dict[str, Any] = {"comment": "#", "skip_blank_lines": True, "encoding_errors": "replace",
                            "chunksize": CHUNK_ROWS}
    if fast:
        opts.update(engine="c", dtype={**{c: "float64" for c in REQUIRED_COLUMNS if c != "sensor"},
                                       "sensor": "category"})
    else:
        opts.update(low_memory=False, on_bad_lines="skip", dtype=str)
    try:
        with pd.read_csv(path, **opts) as reader:  # closes the file whatever happens
            for frame in reader:
                frame.columns = [str(c).strip() for c in frame.columns]
                missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
                if missing:
                    if fast:
                        raise _SlowPath
                    raise RecordingFormatError(
                        f"missing column(s) {', '.join(missing)}; expected header {','.join(REQUIRED_COLUMNS)} "
                        "(use `imu-hinge import` to map other layouts)", path=str(path))
                yield frame
    except pd.errors.EmptyDataError:
        raise RecordingFormatError("no data rows (only comments or blank lines)", path=str(path)) from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError, TypeError) as exc:
        if fast:
            raise _SlowPath from None
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise RecordingFormatError(f"not a readable CSV ({first})", path=str(path)) from None


def _sensor_codes(sensor: pd.Series) -> tuple[np.ndarray, list[str]]:
    """Per row an index into the (few) lower-cased, stripped sensor names, and those names; rows are
    never compared as strings (a categorical touches only its categories)."""
    import pandas as pd

    if isinstance(sensor.dtype, pd.CategoricalDtype):
        names = [str(c).strip().lower() for c in sensor.cat.categories] + ["nan"]
        codes = sensor.cat.codes.to_numpy()
        return np.where(codes < 0, len(names) - 1, codes), names
    codes, uniques = pd.factorize(sensor.astype(str).str.strip().str.lower())
    return codes, [str(u) for u in uniques]


class _Collector:
    """Per-role arrays gathered chunk by chunk, plus the counts the warnings need."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.parts: dict[str, list[np.ndarray]] = {role: [] for role in SENSOR_ROLES}
        self.rows = 0
        self.bad = 0
        self.last_row_bad = False

    def add(self, frame: pd.DataFrame) -> None:
        cols = ["time_s", *ACC_COLUMNS, *GYR_COLUMNS]
        if all(frame[c].dtype == np.float64 for c in cols):
            values = frame[cols].to_numpy(dtype=float)
        else:
            import pandas as pd
            values = frame[cols].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
        bad = ~np.isfinite(values).all(axis=1)
        self.rows += len(frame)
        self.bad += int(bad.sum())
        self.last_row_bad = bool(bad[-1]) if len(bad) else self.last_row_bad
        codes, names = _sensor_codes(frame["sensor"])
        codes, values = codes[~bad], values[~bad]
        present = np.bincount(codes, minlength=len(names)) > 0
        unknown = sorted({nm for nm, here in zip(names, present, strict=True) if here} - set(SENSOR_ROLES))
        if unknown:
            raise RecordingFormatError(
                f"unknown sensor name(s) {', '.join(repr(u) for u in unknown[:5])}; the sensor column must be "
                f"{' or '.join(SENSOR_ROLES)}", path=str(self.path))
        for role in SENSOR_ROLES:
            self.parts[role].append(values[np.isin(codes, [k for k, nm in enumerate(names) if nm == role])])

    def finish(self, warnings: list[str]) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
        if self.rows == 0:
            raise RecordingFormatError("no data rows after the header", path=str(self.path))
        if self.bad:
            if self.bad > 0.2 * self.rows:
                raise RecordingFormatError(
                    f"{self.bad} of {self.rows} rows have missing or non-numeric values; check the export",
                    path=str(self.path))
            what = ("the last line is truncated" if self.last_row_bad and self.bad == 1
                    else f"{self.bad} row(s) with missing/NaN values")
            warnings.append(f"{what}: dropped")
        return {role: _joined(parts) for role, parts in self.parts.items()}


SCAN_BLOCK_BYTES = 1 << 23
"""The C scanner reads the file this many bytes at a time (memory: the arrays kept, not the file)."""
SCAN_MIN_ROW_BYTES = 21
"""The shortest data row (``0,sacrum,0,0,0,0,0,0`` and its newline)."""


def _header_columns(head: bytes) -> tuple[int, tuple[int, ...], int] | None:
    """(offset after the header line, the required columns' field indices, field count) of a plain header
    (the first line that is neither blank nor a comment), or None for anything the scanner leaves to pandas."""
    pos = 0
    while True:
        nl = head.find(b"\n", pos)
        if nl < 0:
            return None
        line = head[pos:nl]
        if line in (b"", b"\r") or line.startswith(b"#"):
            pos = nl + 1
            continue
        break
    line = line[:-1] if line.endswith(b"\r") else line
    if not line.isascii() or any(c in line for c in (b'"', b"#", b"\r", b"\0", b" ", b"\t")):
        return None
    names = line.decode("ascii").split(",")
    if len(set(names)) != len(names) or any(c not in names for c in REQUIRED_COLUMNS):
        return None
    return nl + 1, tuple(names.index(c) for c in REQUIRED_COLUMNS), len(names)


def _scanned(path: Path, threads: int = 1) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] | None:
    """Per role: time_s (N,), acc (N, 3), gyr (N, 3) of a plain file, by the C scanner; None: read it with pandas.

    The rows go straight into each role's arrays, sized from the first block's bytes per row (grown if short).
    ``threads`` > 1: each block is scanned twice side by side, each call taking one role's lines (the C scanner
    releases the GIL); the arrays are the same."""
    from imu_hinge.recording._interchange_scan import scan

    size = path.stat().st_size
    with path.open("rb") as fh:
        first_read = max(SCAN_BLOCK_BYTES, 1 << 16)
        buf = fh.read(first_read)  # the header is in the first block
        header = _header_columns(buf)
        if header is None:
            return None
        pos, cols, ncols = header
        first_line = buf.find(b"\n", pos) - pos + 1
        cap = int(1.05 * size / max(first_line, SCAN_MIN_ROW_BYTES) / 2) + 1024  # per role, two sensors alike
        arrays = [(np.empty(cap), np.empty((cap, 3)), np.empty((cap, 3))) for _ in SENSOR_ROLES]
        counts = [0, 0]
        none = (np.empty(0), np.empty((0, 3)), np.empty((0, 3)))

        def scan_block(data: memoryview, start: int, final: bool, only: int) -> tuple[int, int]:
            """(status, end) of one block: both roles (only -1) or role ``only``'s lines (its arrays grown)."""
            while True:
                if only < 0:
                    status, end, counts[0], counts[1] = scan(data, start, final, cols, ncols, *arrays[0],
                                                             *arrays[1], *counts)
                else:
                    mine = (*arrays[only], *none) if only == 0 else (*none, *arrays[only])
                    status, end, n0, n1 = scan(data, start, final, cols, ncols, *mine,
                                               counts[0] if only == 0 else 0, counts[1] if only == 1 else 0, only)
                    counts[only] = n0 if only == 0 else n1
                if status != 2:
                    return status, end
                for r in ((0, 1) if only < 0 else (only,)):
                    if counts[r] == len(arrays[r][0]):
                        arrays[r] = _grown(arrays[r], counts[r])
                start = end

        def scan_both(block: memoryview, start: int, final: bool) -> tuple[int, int]:
            """(status, end) of a block from ``start``, both roles' lines (side by side with ``threads`` > 1: the
            same)."""
            if threads < 2:
                return scan_block(block, start, final, -1)
            other = Beside(f"imu-hinge-read_{SENSOR_ROLES[1]}", scan_block, block, start, final, 1)
            try:
                status, end = scan_block(block, start, final, 0)
            finally:
                other.join()  # the buffer is the other thread's too until it ends
            status_1, end_1 = other.result()
            return (1 if status_1 == 1 or (status == 0 and end_1 != end) else status), end  # the same lines: one end

        if len(buf) < first_read:  # the first read took the whole file (most recordings)
            with memoryview(buf) as block:
                if scan_both(block, pos, True)[0] == 1:
                    return None
        else:
            # one buffer for the rest: the line left over at a block's end moves to its front, the next block is
            # read in after it (no new block-sized objects: they cost as much as the scan's own work)
            data = bytearray(max(2 * SCAN_BLOCK_BYTES, len(buf)))
            data[:len(buf)] = buf
            filled = len(buf)
            final = False
            while not final:
                tail = filled - pos
                if tail + SCAN_BLOCK_BYTES > len(data):  # a line longer than the room left: a larger buffer
                    data = data[pos:filled] + bytearray(max(len(data), tail + SCAN_BLOCK_BYTES) - tail)
                else:
                    data[:tail] = data[pos:filled]
                with memoryview(data) as view:
                    got = fh.readinto(view[tail:tail + SCAN_BLOCK_BYTES])
                    final = not got
                    filled = tail + got
                    with view[:filled] as block:
                        status, pos = scan_both(block, 0, final)
                if status == 1:
                    return None
    if sum(counts) == 0:
        return None
    return {role: (t[:n], acc[:n], gyr[:n])
            for role, (t, acc, gyr), n in zip(SENSOR_ROLES, arrays, counts, strict=True)}


def _grown(arrays: tuple[np.ndarray, np.ndarray, np.ndarray], n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A role's arrays with room for half as many rows again (the first ``n`` kept)."""
    cap = len(arrays[0]) * 3 // 2 + 1024
    out = (np.empty(cap), np.empty((cap, 3)), np.empty((cap, 3)))
    for new, old in zip(out, arrays, strict=True):
        new[:n] = old[:n]
    return out


def _joined(parts: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """time_s (N,), acc (N, 3), gyr (N, 3) from (k, 7) row blocks, each freed as soon as it is copied."""
    n = sum(len(x) for x in parts)
    t, acc, gyr = np.empty(n), np.empty((n, 3)), np.empty((n, 3))
    i = 0
    while parts:
        x = parts.pop(0)
        t[i:i + len(x)], acc[i:i + len(x)], gyr[i:i + len(x)] = x[:, 0], x[:, 1:4], x[:, 4:7]
        i += len(x)
    return t, acc, gyr


def _collect(path: Path, warnings: list[str],
             threads: int = 1) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per role: time_s (N,), acc (N, 3), gyr (N, 3), bad rows dropped."""
    scanned = _scanned(path, threads)
    if scanned is not None:
        return scanned
    for fast in (True, False):
        collector = _Collector(path)
        try:
            for frame in _chunks(path, fast):
                collector.add(frame)
        except _SlowPath:
            continue
        return collector.finish(warnings)
    raise AssertionError("unreachable: the slow path raises its own errors")


def _unit_check(name: str, data: np.ndarray, unit: str, warnings: list[str], path: Path,
                role: str = "") -> np.ndarray:
    """Detect (or apply) g for the accelerometer and deg/s for the gyroscope (warnings name the sensor)."""
    who = f"{role}: " if role else ""
    norms = row_norms(data)
    if name == "acc":
        med = float(np.median(norms))
        if unit == "g" or (unit == "auto" and 0.5 < med < 2.0):
            if unit == "auto":
                warnings.append(f"{who}accelerometer looks like it is in g (median |acc| {med:.2f}); converted to "
                                "m/s^2 (pass --acc-unit si or g to state it)")
            return data * STANDARD_GRAVITY_M_S2
        if unit == "auto" and not (5.0 < med < 20.0):
            raise RecordingFormatError(
                f"accelerometer median magnitude {med:.3g} is neither m/s^2 (~9.81) nor g (~1); "
                "check the units and axes of the export", path=str(path))
        return data
    p99 = float(np.percentile(norms, 99))
    if unit == "deg/s" or (unit == "auto" and p99 > 40.0):
        if unit == "auto":
            warnings.append(f"{who}gyroscope looks like it is in deg/s (99th percentile |gyr| {p99:.0f}); converted to "
                            "rad/s (pass --gyr-unit si or deg/s to state it)")
        return data * DEG_TO_RAD
    return data


def _stream(role: str, rows: tuple[np.ndarray, np.ndarray, np.ndarray], path: Path, warnings: list[str],
            acc_unit: str, gyr_unit: str) -> SensorStream:
    t, acc, gyr = rows
    t, keep, note = increasing_times(role, t, path, "fix the clock or split the file", (acc, gyr))
    if keep is not None:
        acc, gyr = acc[keep], gyr[keep]
    if note is not None:
        warnings.append(note)
    acc = _unit_check("acc", acc, acc_unit, warnings, path, role)
    gyr = _unit_check("gyr", gyr, gyr_unit, warnings, path, role)
    return SensorStream(role, t, np.ascontiguousarray(acc), np.ascontiguousarray(gyr))


def read_interchange_csv(path: str | Path, acc_unit: str = "auto", gyr_unit: str = "auto", *,
                         threads: int | None = None) -> Recording:
    """Read an interchange CSV into a :class:`Recording` with one stream per sensor role.

    ``acc_unit``: "auto" (detect g), "si" (m/s^2) or "g"; ``gyr_unit``: "auto" (detect deg/s),
    "si" (rad/s) or "deg/s". ``threads``: each role's rows parsed on a thread of its own (None: when the process
    may use two CPUs, :func:`~imu_hinge.sensor_threads.default_threads`) or all on one (1); the same recording.
    """
    if acc_unit not in ("auto", "si", "g") or gyr_unit not in ("auto", "si", "deg/s"):
        raise UsageError(f"unknown unit choice {acc_unit!r}/{gyr_unit!r}: use auto|si|g and auto|si|deg/s")
    path = Path(path)
    _check_path(path)
    warnings: list[str] = []
    comments = _read_comments(path)
    arrays = _collect(path, warnings, default_threads() if threads is None else threads)
    streams: dict[str, SensorStream] = {}
    for role in SENSOR_ROLES:
        rows = arrays.pop(role)
        if len(rows[0]) < 10:
            raise RecordingFormatError(
                f"the {role} sensor has {len(rows[0])} sample(s); analysis needs both sensors (sacrum and thoracic)",
                path=str(path))
        streams[role] = _stream(role, rows, path, warnings, acc_unit, gyr_unit)
    return Recording(streams=streams, metadata={"comments": comments}, warnings=warnings, source=str(path))


def recording_to_interchange_csv(rec: Recording, out: str | Path | io.TextIOBase) -> None:
    """Write a recording in the plain interchange layout (time-ordered, interleaved)."""
    import pandas as pd

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
