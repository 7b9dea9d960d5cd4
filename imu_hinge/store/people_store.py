"""People, their range calibrations (Lmax/Lext), sensor calibration references and threshold settings.

Plain functions over an open connection; the :class:`~imu_hinge.store.Store` facade wraps
writes in transactions. Angles in deg; timestamps ISO 8601 UTC text.
"""

from __future__ import annotations

import json
import math
import sqlite3
from dataclasses import dataclass
from typing import Any

from imu_hinge.errors import StoreError
from imu_hinge.jsonable import dumps
from imu_hinge.store.db import utc_now

ALL_EXERCISES = "*"
"""The ``exercise`` of a setting that applies to every exercise without its own setting."""
MAX_NAME_CHARS = 100


@dataclass(frozen=True)
class Person:
    id: int
    name: str
    created_utc: str
    notes: str | None = None


@dataclass(frozen=True)
class PersonSummary:
    person: Person
    n_sessions: int
    last_session_utc: str | None
    lmax_deg: float | None


@dataclass(frozen=True)
class RangeCalibration:
    """Maximum lumbar flexion ``lmax_deg`` and extension ``lext_deg`` (positive deg) held by the person."""

    id: int
    person_id: int
    created_utc: str
    lmax_deg: float
    lext_deg: float | None
    source: str | None
    data: dict[str, Any]


@dataclass(frozen=True)
class Setting:
    """A person's lumbar-flexion threshold for one exercise (or ``'*'``): a % of Lmax or deg."""

    exercise: str
    threshold_pct_lmax: float | None
    threshold_deg: float | None
    updated_utc: str

    def describe(self) -> str:
        if self.threshold_pct_lmax is not None:
            return f"{self.threshold_pct_lmax:g}% of Lmax"
        return f"{self.threshold_deg:g} deg"


def check_name(name: str) -> str:
    clean = " ".join(str(name).split())
    if not clean:
        raise StoreError("a person's name cannot be empty")
    if len(clean) > MAX_NAME_CHARS or any(ord(c) < 32 for c in str(name).replace("\t", " ")):
        raise StoreError(f"a person's name must be 1..{MAX_NAME_CHARS} printable characters")
    return clean


def _person(row: sqlite3.Row) -> Person:
    return Person(int(row["id"]), str(row["name"]), str(row["created_utc"]), row["notes"])


def add_person(conn: sqlite3.Connection, name: str, notes: str | None = None) -> Person:
    clean = check_name(name)
    if conn.execute("SELECT 1 FROM people WHERE name = ?", (clean,)).fetchone():
        raise StoreError(f"a person named {clean!r} already exists (names ignore case)")
    now = utc_now()
    cur = conn.execute("INSERT INTO people (name, created_utc, notes) VALUES (?, ?, ?)", (clean, now, notes))
    return Person(int(cur.lastrowid or 0), clean, now, notes)


def find_person(conn: sqlite3.Connection, name: str) -> Person | None:
    row = conn.execute("SELECT * FROM people WHERE name = ?", (" ".join(str(name).split()),)).fetchone()
    return _person(row) if row else None


def get_person(conn: sqlite3.Connection, name: str) -> Person:
    """The person called ``name`` (case-insensitive); :class:`StoreError` if none. The error names nobody else
    (a physio's store holds patients: their names do not belong in an error message on a shared screen)."""
    found = find_person(conn, name)
    if found is not None:
        return found
    anyone = conn.execute("SELECT 1 FROM people LIMIT 1").fetchone() is not None
    hint = "`imu-hinge people list` shows who is" if anyone else "the store has nobody yet"
    raise StoreError(f"unknown person {name!r} ({hint}); add one with `imu-hinge people add NAME`")


def list_people(conn: sqlite3.Connection) -> list[PersonSummary]:
    rows = conn.execute("""
        SELECT p.*,
               (SELECT count(*) FROM sessions s WHERE s.person_id = p.id) AS n_sessions,
               (SELECT max(started_utc) FROM sessions s WHERE s.person_id = p.id) AS last_utc,
               (SELECT lmax_deg FROM calibrations c WHERE c.person_id = p.id AND c.kind = 'range'
                ORDER BY created_utc DESC, id DESC LIMIT 1) AS lmax_deg
        FROM people p ORDER BY p.name""").fetchall()
    return [PersonSummary(_person(r), int(r["n_sessions"]), r["last_utc"], r["lmax_deg"]) for r in rows]


# -- range calibration (Lmax / Lext) and sensor calibration references ----------------------

def add_range_calibration(conn: sqlite3.Connection, person_id: int, lmax_deg: float, lext_deg: float | None,
                          source: str | None, data: dict[str, Any] | None = None) -> int:
    if not (math.isfinite(lmax_deg) and lmax_deg > 0):
        raise StoreError(f"Lmax must be a positive angle in deg, got {lmax_deg}")
    if lext_deg is not None and not (math.isfinite(lext_deg) and lext_deg >= 0):
        raise StoreError(f"Lext must be a non-negative angle in deg (extension as a positive number), got {lext_deg}")
    cur = conn.execute(
        "INSERT INTO calibrations (person_id, kind, created_utc, source, lmax_deg, lext_deg, data_json) "
        "VALUES (?, 'range', ?, ?, ?, ?, ?)",
        (person_id, utc_now(), source, float(lmax_deg), lext_deg, dumps(data or {}, fallback=str)))
    return int(cur.lastrowid or 0)


def _range(row: sqlite3.Row) -> RangeCalibration:
    return RangeCalibration(int(row["id"]), int(row["person_id"]), str(row["created_utc"]), float(row["lmax_deg"]),
                            row["lext_deg"], row["source"], json.loads(row["data_json"] or "{}"))


def range_calibrations(conn: sqlite3.Connection, person_id: int, limit: int | None = None) -> list[RangeCalibration]:
    """The person's range calibrations, newest first."""
    rows = conn.execute("SELECT * FROM calibrations WHERE person_id = ? AND kind = 'range' "
                        "ORDER BY created_utc DESC, id DESC LIMIT ?", (person_id, -1 if limit is None else limit))
    return [_range(r) for r in rows]


def latest_range(conn: sqlite3.Connection, person_id: int) -> RangeCalibration | None:
    found = range_calibrations(conn, person_id, limit=1)
    return found[0] if found else None


def add_sensor_calibration(conn: sqlite3.Connection, sensor_id: str, data: dict[str, Any], source: str | None,
                           person_id: int | None = None) -> int:
    """Record a reference to a sensor (six-pose) calibration: which device, where the file is, its content."""
    if not str(sensor_id).strip():
        raise StoreError("a sensor calibration needs the sensor's id")
    cur = conn.execute("INSERT INTO calibrations (person_id, kind, created_utc, source, sensor_id, data_json) "
                       "VALUES (?, 'sensor', ?, ?, ?, ?)",
                       (person_id, utc_now(), source, str(sensor_id).strip(), dumps(data, fallback=str)))
    return int(cur.lastrowid or 0)


def latest_sensor_calibration(conn: sqlite3.Connection, sensor_id: str) -> dict[str, Any] | None:
    row = conn.execute("SELECT * FROM calibrations WHERE kind = 'sensor' AND sensor_id = ? "
                       "ORDER BY created_utc DESC, id DESC LIMIT 1", (sensor_id,)).fetchone()
    if row is None:
        return None
    return {"id": row["id"], "sensor_id": row["sensor_id"], "created_utc": row["created_utc"],
            "source": row["source"], "data": json.loads(row["data_json"] or "{}")}


# -- threshold settings --------------------------------------------------------------------

def set_threshold(conn: sqlite3.Connection, person_id: int, exercise: str, *, pct_lmax: float | None = None,
                  deg: float | None = None) -> Setting:
    """Set (replace) the person's threshold for ``exercise`` (or ``'*'``): exactly one of % of Lmax or deg."""
    if (pct_lmax is None) == (deg is None):
        raise StoreError("give the threshold either as a % of Lmax or in deg (one of them)")
    if pct_lmax is not None and not (math.isfinite(pct_lmax) and 0 < pct_lmax <= 200):
        raise StoreError(f"threshold % of Lmax must be in (0, 200], got {pct_lmax}")
    if deg is not None and not (math.isfinite(deg) and 0 < deg <= 90):
        raise StoreError(f"threshold in deg must be in (0, 90], got {deg}")
    now = utc_now()
    conn.execute("INSERT OR REPLACE INTO person_settings (person_id, exercise, threshold_pct_lmax, threshold_deg, "
                 "updated_utc) VALUES (?, ?, ?, ?, ?)", (person_id, exercise, pct_lmax, deg, now))
    return Setting(exercise, pct_lmax, deg, now)


def clear_threshold(conn: sqlite3.Connection, person_id: int, exercise: str) -> bool:
    cur = conn.execute("DELETE FROM person_settings WHERE person_id = ? AND exercise = ?", (person_id, exercise))
    return cur.rowcount > 0


def settings(conn: sqlite3.Connection, person_id: int) -> list[Setting]:
    rows = conn.execute("SELECT * FROM person_settings WHERE person_id = ? ORDER BY exercise = '*' DESC, exercise",
                        (person_id,))
    return [Setting(r["exercise"], r["threshold_pct_lmax"], r["threshold_deg"], r["updated_utc"]) for r in rows]
