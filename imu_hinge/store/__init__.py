"""The imu-hinge store: people, sessions, sets, reps, calibrations and settings in one SQLite file.

    from imu_hinge.store import Store
    with Store() as store:                      # --db / $IMU_HINGE_DB / the user's data dir
        store.add_person("Alex")
        sid = store.file_session("Alex", "barbell_rdl", result, "session.csv", params=params)
        store.sessions("Alex")                  # oldest first, with per-session summaries

Every write is one transaction (all or nothing); every SQLite problem (corrupt file,
locked database, unknown person) arrives as a one-line :class:`~imu_hinge.errors.StoreError`.
Modules: :mod:`.db` (path, connection, pragmas, transactions), :mod:`.schema` and
:mod:`.migrations` (versioned tables), :mod:`.people_store`, :mod:`.session_store`, :mod:`.thresholds`.
"""

from __future__ import annotations

import datetime as _dt
import sqlite3
from collections.abc import Collection, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from imu_hinge.errors import StoreError
from imu_hinge.store import people_store as _people
from imu_hinge.store import session_store as _sessions
from imu_hinge.store.db import (
    connect,
    default_db_path,
    guarded,
    iso_utc,
    parse_utc,
    platform_db_path,
    resolve_db_path,
    transaction,
)
from imu_hinge.store.migrations import LATEST_VERSION, migrate
from imu_hinge.store.people_store import ALL_EXERCISES, Person, PersonSummary, RangeCalibration, Setting
from imu_hinge.store.session_store import SessionSummary, SetSummary
from imu_hinge.store.thresholds import PersonThresholds, resolve

if TYPE_CHECKING:
    from imu_hinge.analysis.analysis_params import AnalysisParams
    from imu_hinge.analysis.pipeline import AnalysisResult
    from imu_hinge.detection.rep_events import Rep

GENERIC_EXERCISE = "hinge"
"""The exercise a session is filed under when none is named."""


def canonical_exercise(name: str | None) -> str:
    """The catalogue key of ``name`` (aliases allowed); :class:`~imu_hinge.errors.UsageError` if unknown."""
    from imu_hinge.rehab.exercise_catalogue import lookup

    return lookup(name)[0] if name else GENERIC_EXERCISE


def _when(value: _dt.datetime | str) -> str:
    """A session time as the store's UTC text; :class:`StoreError` for anything that is not ISO 8601."""
    if isinstance(value, _dt.datetime):
        return iso_utc(value)
    try:
        return iso_utc(parse_utc(str(value)))
    except ValueError:
        raise StoreError(f"session time {value!r} is not an ISO 8601 date and time "
                         "(e.g. 2024-05-01T10:00:00Z)") from None


class Store:
    """One open store file. ``create=False`` refuses to make a new file (for commands that only read)."""

    def __init__(self, path: str | Path | None = None, *, create: bool = True, timeout_s: float | None = None) -> None:
        self.path = resolve_db_path(path)
        if not create and not self.path.exists():
            raise StoreError(f"no store at {self.path} yet; add someone first with `imu-hinge people add NAME`",
                             path=self.path)
        if create and path is None and self.path == platform_db_path():
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn: sqlite3.Connection | None = connect(self.path, timeout_s=timeout_s)
        self.last_filed_replaced = False
        """The latest :meth:`file_session` replaced a session of the same recording."""
        try:
            self.version = self._migrate()
        except BaseException:
            self.close()
            raise

    @guarded
    def _migrate(self) -> int:
        return migrate(self.conn, self.path)

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreError(f"the store {self.path} is closed", path=self.path)
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> Store:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def _pid(self, person: Person | str) -> Person:
        return person if isinstance(person, Person) else _people.get_person(self.conn, person)

    # -- people ------------------------------------------------------------------------------
    @guarded
    def add_person(self, name: str, notes: str | None = None) -> Person:
        with transaction(self.conn):
            return _people.add_person(self.conn, name, notes)

    @guarded
    def person(self, name: str) -> Person:
        return _people.get_person(self.conn, name)

    @guarded
    def people(self) -> list[PersonSummary]:
        return _people.list_people(self.conn)

    # -- calibrations --------------------------------------------------------------------------
    @guarded
    def add_range_calibration(self, person: Person | str, lmax_deg: float, lext_deg: float | None = None,
                              source: str | None = None, data: dict[str, Any] | None = None) -> RangeCalibration:
        with transaction(self.conn):
            p = self._pid(person)
            _people.add_range_calibration(self.conn, p.id, lmax_deg, lext_deg, source, data)
            found = _people.latest_range(self.conn, p.id)
        assert found is not None
        return found

    @guarded
    def range_calibration(self, person: Person | str) -> RangeCalibration | None:
        """The person's latest range calibration (Lmax, Lext), or None."""
        return _people.latest_range(self.conn, self._pid(person).id)

    @guarded
    def range_calibrations(self, person: Person | str) -> list[RangeCalibration]:
        return _people.range_calibrations(self.conn, self._pid(person).id)

    @guarded
    def add_sensor_calibration(self, sensor_id: str, data: dict[str, Any], source: str | None = None,
                               person: Person | str | None = None) -> int:
        """Keep a reference to a sensor's (six-pose) calibration: device id, file, content."""
        with transaction(self.conn):
            pid = self._pid(person).id if person is not None else None
            return _people.add_sensor_calibration(self.conn, sensor_id, data, source, pid)

    @guarded
    def sensor_calibration(self, sensor_id: str) -> dict[str, Any] | None:
        return _people.latest_sensor_calibration(self.conn, sensor_id)

    # -- settings ------------------------------------------------------------------------------
    @guarded
    def set_threshold(self, person: Person | str, exercise: str | None = None, *, pct_lmax: float | None = None,
                      deg: float | None = None) -> Setting:
        """The person's lumbar-flexion threshold for ``exercise`` (None: every exercise), % of Lmax or deg."""
        key = canonical_exercise(exercise) if exercise else ALL_EXERCISES
        with transaction(self.conn):
            return _people.set_threshold(self.conn, self._pid(person).id, key, pct_lmax=pct_lmax, deg=deg)

    @guarded
    def clear_threshold(self, person: Person | str, exercise: str | None = None) -> bool:
        key = canonical_exercise(exercise) if exercise else ALL_EXERCISES
        with transaction(self.conn):
            return _people.clear_threshold(self.conn, self._pid(person).id, key)

    @guarded
    def settings(self, person: Person | str) -> list[Setting]:
        return _people.settings(self.conn, self._pid(person).id)

    @guarded
    def thresholds(self, person: Person | str, exercise: str | None) -> PersonThresholds:
        p = self._pid(person)
        return resolve(p.name, canonical_exercise(exercise), _people.latest_range(self.conn, p.id),
                       _people.settings(self.conn, p.id))

    def params_for(self, person: Person | str, exercise: str | None, params: AnalysisParams,
                   keep: Collection[str] = ()) -> tuple[AnalysisParams, PersonThresholds]:
        """``params`` with the person's Lmax and threshold applied (fields in ``keep`` untouched)."""
        from imu_hinge.analysis.analysis_params import with_overrides

        th = self.thresholds(person, exercise)
        return with_overrides(params, **th.overrides(keep)), th

    # -- sessions ------------------------------------------------------------------------------
    @guarded
    def file_session(self, person: Person | str, exercise: str | None, result: AnalysisResult,
                     source: str | Path | None, *, kind: str = "analyze",
                     params: AnalysisParams | dict[str, Any] | None = None,
                     started_utc: _dt.datetime | str | None = None, sets: Sequence[Sequence[Rep]] | None = None,
                     range_calibration_id: int | None = None, content_sha256: str | None = None) -> int:
        """File an analysed session (sets default to one set of all reps) in one transaction; return its id.

        ``params``: the parameters the analysis ran with (stored; their threshold summarised);
        ``started_utc``: when the session happened (default now); ``source``: the recording path;
        ``content_sha256``: the recording's hash (:func:`file_sha256`): filing the same recording for the
        same person again replaces that session, keeping its id (:attr:`last_filed_replaced` says so).
        """
        key = canonical_exercise(exercise)
        params_dict: dict[str, Any] = {}
        threshold = None
        if params is not None:
            params_dict = params if isinstance(params, dict) else params.to_dict()
            if not isinstance(params, dict):
                threshold = params.detector.faults.lumbar_threshold_deg
        when = None if started_utc is None else _when(started_utc)
        with transaction(self.conn):
            p = self._pid(person)
            sid, self.last_filed_replaced = _sessions.file_session(
                self.conn, p.id, key, result, None if source is None else str(source), kind=kind, params=params_dict,
                started_utc=when, sets=sets, range_calibration_id=range_calibration_id, threshold_deg=threshold,
                content_sha256=content_sha256)
            return sid

    @guarded
    def delete_session(self, session_id: int) -> None:
        """Delete a filed session with its sets, reps and alerts; :class:`StoreError` if there is none."""
        with transaction(self.conn):
            if not _sessions.delete_session(self.conn, int(session_id)):
                raise StoreError(f"no session #{session_id} in {self.path}", path=self.path)

    @guarded
    def sessions(self, person: Person | str, exercise: str | None = None) -> list[SessionSummary]:
        """The person's sessions with their summaries, oldest first."""
        key = canonical_exercise(exercise) if exercise else None
        return _sessions.sessions_for(self.conn, self._pid(person).id, key)

    @guarded
    def sets(self, person: Person | str, exercise: str, limit: int = 50) -> list[SetSummary]:
        """The person's most recent sets of ``exercise``, newest first."""
        return _sessions.sets_for(self.conn, self._pid(person).id, canonical_exercise(exercise), limit)

    @guarded
    def exercises_done(self, person: Person | str) -> list[str]:
        return _sessions.exercises_done(self.conn, self._pid(person).id)

    @guarded
    def session(self, session_id: int) -> dict[str, Any]:
        found = _sessions.load_session(self.conn, int(session_id))
        if found is None:
            raise StoreError(f"no session #{session_id} in {self.path}", path=self.path)
        return found

    @guarded
    def counts(self) -> dict[str, int]:
        """Rows per table (for tests and diagnostics)."""
        tables = ("people", "calibrations", "person_settings", "sessions", "sets", "reps", "rep_faults", "alerts")
        return {t: int(self.conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]) for t in tables}


def file_sha256(path: str | Path) -> str:
    """SHA-256 (hex) of a file's bytes: what makes a recording "the same recording" when filing."""
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


__all__ = ["ALL_EXERCISES", "GENERIC_EXERCISE", "LATEST_VERSION", "Person", "PersonSummary", "PersonThresholds",
           "RangeCalibration", "SessionSummary", "SetSummary", "Setting", "Store", "canonical_exercise",
           "default_db_path", "file_sha256"]
