"""Filing analysed sessions (session -> sets -> reps + faults, alerts) and reading them back.

:func:`file_session` writes a whole session; the caller (the :class:`~imu_hinge.store.Store`
facade) runs it inside one transaction, so a failure anywhere leaves nothing behind. Per-set
and per-session summaries (counts, peak lumbar flexion, creep) are computed here and stored
beside the rows, which keeps ``history`` to one indexed query however many reps there are.
Angles deg, times s (recording clock) or ISO 8601 UTC text.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from imu_hinge.jsonable import dumps, finite_values
from imu_hinge.jsonable import finite_or_none as _num
from imu_hinge.store.db import utc_now
from imu_hinge.store.schema import REP_METRICS

if TYPE_CHECKING:
    from imu_hinge.analysis.pipeline import AnalysisResult
    from imu_hinge.detection.rep_events import Rep

_REP_KNOWN = {"index", "faults", "complete", "notes", *REP_METRICS}


@dataclass(frozen=True)
class SessionSummary:
    id: int
    started_utc: str
    kind: str
    exercise: str
    source: str | None
    n_reps: int
    n_flagged: int
    peak_lumbar_max_deg: float | None
    peak_lumbar_mean_deg: float | None
    threshold_deg: float | None

    @property
    def flagged_rate(self) -> float | None:
        """Share of the session's reps with at least one fault (None without reps)."""
        return self.n_flagged / self.n_reps if self.n_reps else None


@dataclass(frozen=True)
class SetSummary:
    session_id: int
    started_utc: str
    set_index: int
    exercise: str
    n_reps: int
    n_flagged: int
    n_rounding: int
    n_lumbar_led: int
    n_hyperextension: int
    n_complete: int
    peak_lumbar_max_deg: float | None
    peak_lumbar_mean_deg: float | None
    peak_lumbar_pct_lmax_max: float | None
    peak_trunk_mean_deg: float | None
    lumbar_creep_deg: float | None

    def metrics(self) -> dict[str, float | None]:
        """The set metrics progression rules may test (rates are shares 0..1; None = not available)."""
        n = self.n_reps

        def rate(k: int) -> float | None:
            return k / n if n else None

        return {"n_reps": float(n), "flagged_rate": rate(self.n_flagged), "rounding_rate": rate(self.n_rounding),
                "lumbar_led_rate": rate(self.n_lumbar_led), "hyperextension_rate": rate(self.n_hyperextension),
                "complete_rate": rate(self.n_complete), "peak_lumbar_max_deg": self.peak_lumbar_max_deg,
                "peak_lumbar_mean_deg": self.peak_lumbar_mean_deg,
                "peak_lumbar_pct_lmax": self.peak_lumbar_pct_lmax_max,
                "peak_trunk_mean_deg": self.peak_trunk_mean_deg, "lumbar_creep_deg": self.lumbar_creep_deg}


SET_METRICS: tuple[str, ...] = tuple(SetSummary(0, "", 0, "", *([0] * 6), *([None] * 5)).metrics())
"""Names a progression rule condition may use."""


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def creep_deg(peaks: list[float]) -> float | None:
    """Rise of peak lumbar flexion over a set (deg): least-squares slope per rep x (n - 1); None below 3 reps."""
    n = len(peaks)
    if n < 3:
        return None
    xm, ym = (n - 1) / 2, sum(peaks) / n
    sxy = sum((i - xm) * (y - ym) for i, y in enumerate(peaks))
    sxx = sum((i - xm) ** 2 for i in range(n))
    return sxy / sxx * (n - 1)


def summarize(reps: Sequence[Rep]) -> dict[str, Any]:
    """Counts and lumbar-flexion summaries of some reps (the ``sets``/``sessions`` summary columns)."""
    peaks = finite_values(r.peak_lumbar_flexion_deg for r in reps if r.complete)
    trunk = finite_values(r.peak_trunk_flexion_deg for r in reps if r.complete)
    pct = finite_values(r.peak_lumbar_pct_lmax for r in reps if r.complete)
    return {"n_reps": len(reps), "n_flagged": sum(1 for r in reps if r.faults),
            "n_rounding": sum(1 for r in reps if "lumbar_flexion" in r.faults),
            "n_lumbar_led": sum(1 for r in reps if "lumbar_led" in r.faults),
            "n_hyperextension": sum(1 for r in reps if "lockout_hyperextension" in r.faults),
            "n_complete": sum(1 for r in reps if r.complete),
            "peak_lumbar_max_deg": max(peaks) if peaks else None, "peak_lumbar_mean_deg": _mean(peaks),
            "peak_lumbar_pct_lmax_max": max(pct) if pct else None, "peak_trunk_mean_deg": _mean(trunk),
            "lumbar_creep_deg": creep_deg(peaks)}


def _json(value: Any) -> str:
    """A JSON column: strict JSON, undefined numbers null, unknown objects as their ``str``."""
    return dumps(value, fallback=str)


def _insert_set(conn: sqlite3.Connection, session_id: int, set_index: int, exercise: str,
                reps: Sequence[Rep]) -> int:
    s = summarize(reps)
    start = min((r.start_s for r in reps), default=None)
    end = max((r.end_s for r in reps), default=None)
    cur = conn.execute(
        "INSERT INTO sets (session_id, set_index, exercise, start_s, end_s, n_reps, n_flagged, n_rounding, "
        "n_lumbar_led, n_hyperextension, n_complete, peak_lumbar_max_deg, peak_lumbar_mean_deg, "
        "peak_lumbar_pct_lmax_max, peak_trunk_mean_deg, lumbar_creep_deg) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (session_id, set_index, exercise, _num(start), _num(end), s["n_reps"], s["n_flagged"], s["n_rounding"],
         s["n_lumbar_led"], s["n_hyperextension"], s["n_complete"], s["peak_lumbar_max_deg"],
         s["peak_lumbar_mean_deg"], s["peak_lumbar_pct_lmax_max"], s["peak_trunk_mean_deg"], s["lumbar_creep_deg"]))
    return int(cur.lastrowid or 0)


_REP_SQL = (f"INSERT INTO reps (set_id, session_id, rep_index, {', '.join(REP_METRICS)}, complete, notes_json, "
            f"extra_json) VALUES ({', '.join('?' * (len(REP_METRICS) + 6))})")


def _insert_reps(conn: sqlite3.Connection, session_id: int, set_id: int, reps: Sequence[Rep]) -> None:
    for rep in reps:
        fields = {f.name: getattr(rep, f.name) for f in dataclasses.fields(rep)}
        extra = {k: v for k, v in fields.items() if k not in _REP_KNOWN}
        cur = conn.execute(_REP_SQL, (set_id, session_id, int(rep.index), *(_num(fields[m]) for m in REP_METRICS),
                                      int(bool(rep.complete)), _json(list(rep.notes)), _json(extra)))
        rep_id = int(cur.lastrowid or 0)
        conn.executemany("INSERT OR IGNORE INTO rep_faults (rep_id, fault) VALUES (?, ?)",
                         [(rep_id, str(f)) for f in rep.faults])


def _insert_alerts(conn: sqlite3.Connection, session_id: int, alerts: Sequence[Any]) -> None:
    conn.executemany("INSERT INTO alerts (session_id, time_s, fault, value_deg, rep_index) VALUES (?, ?, ?, ?, ?)",
                     [(session_id, float(a.time_s), str(a.fault), _num(a.value_deg), int(a.rep_index))
                      for a in alerts])


def file_session(conn: sqlite3.Connection, person_id: int, exercise: str, result: AnalysisResult,
                 source: str | None, *, kind: str = "analyze", params: dict[str, Any] | None = None,
                 started_utc: str | None = None, sets: Sequence[Sequence[Rep]] | None = None,
                 range_calibration_id: int | None = None, threshold_deg: float | None = None,
                 content_sha256: str | None = None) -> tuple[int, bool]:
    """Insert one session (call inside a transaction); return (its id, whether it replaced one). ``sets``
    default: all reps, one set. A session of the same person with the same ``content_sha256`` (the same
    recording) is replaced, keeping its id: filing a recording twice files it once."""
    groups = [list(result.reps)] if sets is None else [list(s) for s in sets]
    all_reps = [r for g in groups for r in g]
    s = summarize(all_reps)
    old = None if content_sha256 is None else conn.execute(
        "SELECT id FROM sessions WHERE person_id = ? AND content_sha256 = ?", (person_id, content_sha256)).fetchone()
    if old is not None:
        delete_session(conn, int(old[0]))
    cur = conn.execute(
        "INSERT INTO sessions (id, person_id, started_utc, filed_utc, kind, exercise, source, params_json, "
        "calibration_json, quality_json, warnings_json, range_calibration_id, n_reps, n_flagged, "
        "peak_lumbar_max_deg, peak_lumbar_mean_deg, threshold_deg, content_sha256) "
        "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (None if old is None else int(old[0]), person_id, started_utc or utc_now(), utc_now(), kind, exercise, source,
         _json(params or {}), _json(result.calibration or {}), _json(result.quality or {}),
         _json(list(result.warnings)), range_calibration_id, s["n_reps"], s["n_flagged"],
         s["peak_lumbar_max_deg"], s["peak_lumbar_mean_deg"], _num(threshold_deg), content_sha256))
    session_id = int(cur.lastrowid or 0)
    for i, reps in enumerate(groups, start=1):
        set_id = _insert_set(conn, session_id, i, exercise, reps)
        _insert_reps(conn, session_id, set_id, reps)
    _insert_alerts(conn, session_id, result.alerts)
    return session_id, old is not None


def delete_session(conn: sqlite3.Connection, session_id: int) -> bool:
    """Delete one session with its sets, reps, faults and alerts (cascades); True if it existed."""
    return conn.execute("DELETE FROM sessions WHERE id = ?", (session_id,)).rowcount > 0


_SESSION_COLS = ("id, started_utc, kind, exercise, source, n_reps, n_flagged, peak_lumbar_max_deg, "
                 "peak_lumbar_mean_deg, threshold_deg")


def sessions_for(conn: sqlite3.Connection, person_id: int, exercise: str | None = None) -> list[SessionSummary]:
    """The person's sessions, oldest first (optionally of one exercise)."""
    sql = f"SELECT {_SESSION_COLS} FROM sessions WHERE person_id = ?"
    args: tuple[Any, ...] = (person_id,)
    if exercise is not None:
        sql += " AND exercise = ?"
        args += (exercise,)
    cur = conn.cursor()
    cur.row_factory = None  # plain tuples: several times faster than sqlite3.Row for thousands of rows
    return [SessionSummary(*r) for r in cur.execute(sql + " ORDER BY started_utc, id", args).fetchall()]


def sets_for(conn: sqlite3.Connection, person_id: int, exercise: str, limit: int = 50) -> list[SetSummary]:
    """The person's most recent sets of ``exercise``, newest first."""
    cur = conn.cursor()
    cur.row_factory = None
    rows = cur.execute(
        "SELECT st.session_id, s.started_utc, st.set_index, st.exercise, st.n_reps, st.n_flagged, st.n_rounding, "
        "st.n_lumbar_led, st.n_hyperextension, st.n_complete, st.peak_lumbar_max_deg, st.peak_lumbar_mean_deg, "
        "st.peak_lumbar_pct_lmax_max, st.peak_trunk_mean_deg, st.lumbar_creep_deg "
        "FROM sessions s JOIN sets st ON st.session_id = s.id WHERE s.person_id = ? AND st.exercise = ? "
        "ORDER BY s.started_utc DESC, s.id DESC, st.set_index DESC LIMIT ?", (person_id, exercise, limit)).fetchall()
    return [SetSummary(*r) for r in rows]


def exercises_done(conn: sqlite3.Connection, person_id: int) -> list[str]:
    """Exercises the person has sets of, most recently done first."""
    rows = conn.execute("SELECT st.exercise, max(s.started_utc) AS last FROM sessions s JOIN sets st "
                        "ON st.session_id = s.id WHERE s.person_id = ? GROUP BY st.exercise ORDER BY last DESC",
                        (person_id,))
    return [r[0] for r in rows]


def load_session(conn: sqlite3.Connection, session_id: int) -> dict[str, Any] | None:
    """One session with its sets, reps (with faults) and alerts, as plain dicts."""
    row = conn.execute("SELECT * FROM sessions WHERE id = ?", (session_id,)).fetchone()
    if row is None:
        return None
    out = {k: row[k] for k in row.keys()}
    for key in ("params_json", "calibration_json", "quality_json", "warnings_json"):
        out[key.removesuffix("_json")] = json.loads(out.pop(key))
    faults: dict[int, list[str]] = {}
    for rep_id, fault in conn.execute("SELECT f.rep_id, f.fault FROM rep_faults f JOIN reps r ON r.id = f.rep_id "
                                      "WHERE r.session_id = ? ORDER BY f.fault", (session_id,)):
        faults.setdefault(rep_id, []).append(fault)
    out["sets"] = []
    for st in conn.execute("SELECT * FROM sets WHERE session_id = ? ORDER BY set_index", (session_id,)).fetchall():
        d = {k: st[k] for k in st.keys()}
        reps = conn.execute("SELECT * FROM reps WHERE set_id = ? ORDER BY rep_index", (st["id"],)).fetchall()
        d["reps"] = [{**{k: r[k] for k in r.keys() if not k.endswith("_json")}, "faults": faults.get(r["id"], []),
                      "notes": json.loads(r["notes_json"]), **json.loads(r["extra_json"])} for r in reps]
        out["sets"].append(d)
    out["alerts"] = [dict(a) for a in conn.execute(
        "SELECT time_s, fault, value_deg, rep_index FROM alerts WHERE session_id = ? ORDER BY time_s", (session_id,))]
    return out
