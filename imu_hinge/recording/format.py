"""The imu-hinge session recording format, version 1: constants, line prefixes, metadata schema.

A session file (``NAME.ihr.csv``) is UTF-8 (in practice ASCII) text, ``\\n`` line ends, written
append-only, and a superset of the interchange CSV (contracts §2)::

    line 1     time_s,sensor,acc_x,acc_y,acc_z,gyr_x,gyr_y,gyr_z,seq,device_time_us,host_time_s,flags,
               raw_ax,raw_ay,raw_az,raw_gx,raw_gy,raw_gz                        (one line: COLUMNS)
    line 2     # imu-hinge recording v1                                          (MAGIC_LINE)
    line 3     # meta: {...one-line JSON object, see below...}
    then       sample rows, and ``# event: {JSON}`` lines where the events happened
    last       # end: {"status": "ok", "samples": {...}, ...}       (only if the writer closed the file)

The header comes *first* (the magic is line 2) because ``numpy.genfromtxt(names=True)`` takes
the first line, comment or not, for the column names. Sample row fields, in COLUMNS order:
``time_s`` fitted host-clock sample time, s (float, shortest round-trip repr); ``sensor`` role;
``acc_*`` m/s^2 and ``gyr_*`` rad/s (floats, repr: bit-exact ``raw * scale`` when no calibration is
applied); ``seq`` unwrapped sample index (int, strictly increasing per sensor; a jump is a gap);
``device_time_us`` unwrapped device clock (int or empty); ``host_time_s`` arrival time of the
carrying notification (float or empty); ``flags`` (int, FLAG_* bits below); ``raw_*`` int16 LSB
(all six, or all six empty). Readers find columns by name and ignore unknown ones.

Metadata (``# meta:``) keys: ``format_version`` (1), ``software`` ("imu-hinge"),
``software_version``, ``created_utc`` (ISO 8601), ``time_origin_unix_s`` (wall clock at
``time_s`` = 0, or null), ``sensors`` {role: SENSOR_KEYS}, ``subject``, ``exercise``, ``tags``
[str], ``notes``; more keys may be added. ``events`` and ``end`` are reserved.
"""

from __future__ import annotations

import datetime as _dt
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from imu_hinge import __version__
from imu_hinge.jsonable import dumps
from imu_hinge.protocol.codec import clipped_mask
from imu_hinge.protocol.info import SensorInfo
from imu_hinge.protocol.spec import FLAG_CLIPPED, FLAG_HAPTIC_ACTIVE, FLAG_TX_OVERFLOW, RAW_MAX, RAW_MIN
from imu_hinge.samples import SENSOR_ROLES

FORMAT_VERSION = 1
SUFFIX = ".ihr.csv"
MAGIC_PREFIX = "# imu-hinge recording v"
MAGIC_LINE = f"{MAGIC_PREFIX}{FORMAT_VERSION}"
META_PREFIX = "# meta: "
EVENT_PREFIX = "# event: "
END_PREFIX = "# end: "

INTERCHANGE_COLUMNS: tuple[str, ...] = ("time_s", "sensor", "acc_x", "acc_y", "acc_z", "gyr_x", "gyr_y", "gyr_z")
RAW_COLUMNS: tuple[str, ...] = ("raw_ax", "raw_ay", "raw_az", "raw_gx", "raw_gy", "raw_gz")
COLUMNS: tuple[str, ...] = (*INTERCHANGE_COLUMNS, "seq", "device_time_us", "host_time_s", "flags", *RAW_COLUMNS)
HEADER_LINE = ",".join(COLUMNS)
REQUIRED_COLUMNS: tuple[str, ...] = (*INTERCHANGE_COLUMNS, "seq")

# flags column: bits 0..3 are the carrying notification's flags as sent (protocol/spec.py)
SAMPLE_CLIPPED = 0x10
"""Flag bit set by the writer on a sample with an axis at the int16 limits (this sample saturated)."""
FLAG_BITS: dict[str, int] = {"tx_overflow": FLAG_TX_OVERFLOW, "clipped": FLAG_CLIPPED,
                             "haptic_active": FLAG_HAPTIC_ACTIVE, "sample_clipped": SAMPLE_CLIPPED}

SENSOR_KEYS: tuple[str, ...] = ("id", "address", "name", "firmware", "protocol_version", "rate_hz",
                                "acc_m_s2_per_lsb", "gyr_rad_s_per_lsb", "acc_range_g", "gyr_range_dps",
                                "calibration")
"""Per-sensor metadata; ``rate_hz`` is required, the scale factors whenever raw samples are written."""
EVENT_KINDS: tuple[str, ...] = ("gap", "dropped", "disconnect", "reconnect", "alert", "haptic", "rep", "note")
"""Event kinds the project writes; readers keep unknown kinds too."""
RESERVED_META_KEYS = ("events", "end")
_KIND_RE = re.compile(r"^[a-z][a-z0-9_]*$")


def utc_now_iso() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def sensor_metadata(info: SensorInfo | None = None, *, rate_hz: float | None = None, sensor_id: str | None = None,
                    address: str | None = None, name: str | None = None,
                    calibration: str | Mapping[str, Any] | None = None) -> dict[str, Any]:
    """One entry of ``meta["sensors"]``, from the sensor's info characteristic when there is one."""
    out: dict[str, Any] = {"id": sensor_id, "address": address, "name": name, "firmware": None,
                           "protocol_version": None, "rate_hz": rate_hz, "acc_m_s2_per_lsb": None,
                           "gyr_rad_s_per_lsb": None, "acc_range_g": None, "gyr_range_dps": None,
                           "calibration": dict(calibration) if isinstance(calibration, Mapping) else calibration}
    if info is not None:
        out.update(firmware=".".join(str(v) for v in info.firmware_version), protocol_version=info.protocol_version,
                   acc_m_s2_per_lsb=float(info.acc_m_s2_per_lsb), gyr_rad_s_per_lsb=float(info.gyr_rad_s_per_lsb),
                   acc_range_g=info.acc_range_g, gyr_range_dps=info.gyr_range_dps)
        if rate_hz is None:
            out["rate_hz"] = info.rate_hz
    return out


def build_metadata(sensors: Mapping[str, Mapping[str, Any]], *, subject: str | None = None,
                   exercise: str | None = None, tags: Iterable[str] = (), notes: str | None = None,
                   time_origin_unix_s: float | None = None, **extra: Any) -> dict[str, Any]:
    """A complete ``meta`` object (format and software versions, creation time filled in)."""
    meta: dict[str, Any] = {"format_version": FORMAT_VERSION, "software": "imu-hinge",
                            "software_version": __version__, "created_utc": utc_now_iso(),
                            "time_origin_unix_s": time_origin_unix_s,
                            "sensors": {role: dict(s) for role, s in sensors.items()},
                            "subject": subject, "exercise": exercise, "tags": list(tags), "notes": notes}
    meta.update(extra)
    return meta


def _positive(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) and v > 0


def metadata_problems(meta: Any) -> list[str]:
    """What is wrong with a ``meta`` object (empty list: valid). Unknown keys are allowed."""
    if not isinstance(meta, dict):
        return ["the metadata is not a JSON object"]
    problems = []
    if meta.get("format_version") != FORMAT_VERSION:
        problems.append(f"format_version is {meta.get('format_version')!r}, expected {FORMAT_VERSION}")
    for key in ("software_version", "created_utc"):
        if not isinstance(meta.get(key), str):
            problems.append(f"{key} missing or not a string")
    for key in RESERVED_META_KEYS:
        if key in meta:
            problems.append(f"{key!r} is reserved for the reader")
    sensors = meta.get("sensors")
    if not isinstance(sensors, dict) or not sensors:
        return [*problems, "sensors missing or empty"]
    for role, s in sensors.items():
        if role not in SENSOR_ROLES:
            problems.append(f"sensor role {role!r} is not one of {', '.join(SENSOR_ROLES)}")
        if not isinstance(s, dict):
            problems.append(f"sensors.{role} is not an object")
            continue
        if not _positive(s.get("rate_hz")):
            problems.append(f"sensors.{role}.rate_hz must be a positive number")
        for key in ("acc_m_s2_per_lsb", "gyr_rad_s_per_lsb"):
            if s.get(key) is not None and not _positive(s[key]):
                problems.append(f"sensors.{role}.{key} must be a positive number or null")
    tags = meta.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        problems.append("tags must be a list of strings")
    return problems


def check_event_kind(kind: str) -> str:
    """``kind`` if it is a lower-case identifier (``gap``, ``alert``, ...), else ``ValueError``."""
    if not isinstance(kind, str) or not _KIND_RE.match(kind):
        raise ValueError(f"event kind must be a lower-case identifier, got {kind!r}")
    return kind


def parse_magic(line: str) -> int | None:
    """The format version a magic line states, or None if ``line`` is not a magic line."""
    if not line.startswith(MAGIC_PREFIX):
        return None
    rest = line[len(MAGIC_PREFIX):].strip()
    return int(rest) if rest.isdigit() else None


def json_line(obj: Any) -> str:
    """One compact strict-JSON line (metadata, events, end marker): undefined numbers are null."""
    return dumps(obj, compact=True)


def as_column(x: ArrayLike | None, n: int, name: str, dtype: type, width: int = 0) -> np.ndarray | None:
    """``x`` as an (n,) or (n, width) array of ``dtype`` (a scalar is repeated), None stays None."""
    if x is None:
        return None
    a: np.ndarray = np.asarray(x, dtype=dtype)
    shape = (n, width) if width else (n,)
    if a.shape != shape:
        if not width and a.ndim == 0:
            return np.full(n, a, dtype=dtype)
        raise ValueError(f"{name} must have shape {shape}, got {a.shape}")
    return a


@dataclass(frozen=True)
class SampleBlock:
    """n samples of one sensor, columns as the format stores them (None: empty fields)."""

    time_s: np.ndarray
    acc_m_s2: np.ndarray
    gyr_rad_s: np.ndarray
    seq: np.ndarray
    device_time_us: np.ndarray | None
    host_time_s: np.ndarray | None
    flags: np.ndarray
    raw: np.ndarray | None

    def __len__(self) -> int:
        return int(self.time_s.size)

    @classmethod
    def build(cls, sensor_meta: Mapping[str, Any], time_s: ArrayLike, seq: ArrayLike, raw: ArrayLike | None,
              acc_m_s2: ArrayLike | None, gyr_rad_s: ArrayLike | None, device_time_us: ArrayLike | None,
              host_time_s: ArrayLike | None, flags: ArrayLike) -> SampleBlock:
        """Check shapes; SI from ``raw * scale`` unless given; ``SAMPLE_CLIPPED`` added to ``flags``."""
        t = np.asarray(time_s, dtype=np.float64).reshape(-1)
        n = t.size
        s = np.asarray(seq, dtype=np.int64)
        seq_a = s + np.arange(n) if s.ndim == 0 else as_column(s, n, "seq", np.int64)
        raw_a = as_column(raw, n, "raw", np.int64, 6)
        if raw_a is not None and raw_a.size and (raw_a.min() < RAW_MIN or raw_a.max() > RAW_MAX):
            raise ValueError("raw samples must fit int16")
        acc = as_column(acc_m_s2, n, "acc_m_s2", np.float64, 3)
        gyr = as_column(gyr_rad_s, n, "gyr_rad_s", np.float64, 3)
        if acc is None or gyr is None:
            acc_scale, gyr_scale = sensor_meta.get("acc_m_s2_per_lsb"), sensor_meta.get("gyr_rad_s_per_lsb")
            if raw_a is None or acc_scale is None or gyr_scale is None:
                raise ValueError("give raw samples (with scale factors in the metadata), or acc_m_s2 and gyr_rad_s")
            rf = raw_a.astype(np.float64)
            acc, gyr = rf[:, :3] * acc_scale, rf[:, 3:] * gyr_scale
        fl = np.broadcast_to(np.asarray(flags, dtype=np.int64), (n,)).copy()
        fl[clipped_mask(raw_a) if raw_a is not None else (fl & FLAG_CLIPPED) != 0] |= SAMPLE_CLIPPED
        assert seq_a is not None
        return cls(t, acc, gyr, seq_a, as_column(device_time_us, n, "device_time_us", np.int64),
                   as_column(host_time_s, n, "host_time_s", np.float64), fl, raw_a)

    def select(self, mask: np.ndarray) -> SampleBlock:
        cols: dict[str, Any] = {}
        for f in fields(self):
            v = getattr(self, f.name)
            cols[f.name] = None if v is None else v[mask]
        return SampleBlock(**cols)

    def lines(self, sensor: str) -> list[str]:
        """Whole CSV lines: floats as Python's shortest round-trip repr, ints as ints, unknowns empty."""
        n = len(self)
        si = np.hstack([self.acc_m_s2, self.gyr_rad_s]).tolist()
        dev = [""] * n if self.device_time_us is None else [str(v) for v in self.device_time_us.tolist()]
        host = [""] * n if self.host_time_s is None else [repr(v) for v in self.host_time_s.tolist()]
        raw = [",,,,,"] * n if self.raw is None else [",".join(map(str, r)) for r in self.raw.tolist()]
        return [f"{ti!r},{sensor},{v[0]!r},{v[1]!r},{v[2]!r},{v[3]!r},{v[4]!r},{v[5]!r},{s},{d},{h},{f},{r}\n"
                for ti, v, s, d, h, f, r in zip(self.time_s.tolist(), si, self.seq.tolist(), dev, host,
                                                self.flags.tolist(), raw, strict=True)]
