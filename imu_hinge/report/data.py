"""What a session report shows, gathered from the store, a recording or an ``analyze --json`` file.

:class:`ReportData` is plain data (no HTML): who, when, exercise, calibration, the reps (dicts with
``index``, ``set``, the :class:`~imu_hinge.detection.rep_events.Rep` metrics and ``faults``), the
alerts, the angle traces (when the recording can be read) and the previous sessions.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from imu_hinge.analysis.analysis_params import AnalysisParams, params_from_dict, with_overrides
from imu_hinge.analysis.pipeline import AnalysisResult, analyze
from imu_hinge.errors import ImuHingeError, RecordingFormatError
from imu_hinge.jsonable import finite_or_none
from imu_hinge.recording import load_recording


@dataclass
class Traces:
    """Angle traces on one time base: ``time_s`` (N,) and deg arrays (N,), NaN where undefined."""

    time_s: np.ndarray
    pelvic_tilt_deg: np.ndarray
    trunk_flexion_deg: np.ndarray
    lumbar_flexion_deg: np.ndarray

    @classmethod
    def of(cls, res: AnalysisResult) -> Traces:
        return cls(res.time_s, res.pelvic_tilt_deg, res.trunk_flexion_deg, res.lumbar_flexion_deg)


@dataclass
class ReportData:
    title: str
    person: str | None = None
    started_utc: str | None = None
    exercise: str | None = None
    source: str | None = None
    session_id: int | None = None
    kind: str | None = None
    calibration: dict[str, Any] = field(default_factory=dict)
    range_calibration: dict[str, Any] | None = None
    params: dict[str, Any] = field(default_factory=dict)
    threshold_deg: float | None = None
    reps: list[dict[str, Any]] = field(default_factory=list)
    alerts: list[dict[str, Any]] = field(default_factory=list)
    quality: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    traces: Traces | None = None
    traces_note: str = ""
    history: list[dict[str, Any]] = field(default_factory=list)
    """Sessions of the same person and exercise, oldest first, this one included (``current`` True)."""
    earlier_sessions: int = 0
    """How many sessions of the same person and exercise the store holds before this one (shown or not)."""
    notes: list[str] = field(default_factory=list)
    next_step: str | None = None
    """The next step in plain words, from ``advise``'s progression rules (sessions filed in the store)."""
    physio_notes: str | None = None
    """The physiotherapist's notes for the patient (``report --notes``), shown on the first page."""


def _threshold(params: dict[str, Any]) -> float | None:
    faults = (params.get("detector") or {}).get("faults") or {}
    pct, lmax = faults.get("lumbar_flexion_pct_lmax"), faults.get("lmax_deg")
    if pct is not None and lmax:
        return float(pct) / 100.0 * float(lmax)
    value = faults.get("lumbar_flexion_deg")
    return float(value) if isinstance(value, int | float) else None


def _reanalyse(source: str | None, params: dict[str, Any]) -> tuple[AnalysisResult | None, str, dict[str, Any]]:
    """Analyse the recording again for its traces: (result, "", its metadata); (None, why, {}) when it cannot be
    read."""
    if not source:
        return None, "no recording is linked to this session: angle traces not shown", {}
    if not Path(source).is_file():
        return None, f"the recording {source} is not available here: angle traces not shown", {}
    try:
        p = params_from_dict(params) if params else AnalysisParams()
        rec = load_recording(source)
        return analyze(rec, p), "", dict(rec.metadata)
    except ImuHingeError as exc:
        return None, f"the recording could not be analysed again ({exc.message}): angle traces not shown", {}


def recording_threshold_deg(metadata: dict[str, Any]) -> float | None:
    """The lumbar threshold the recording says its session used (``train`` writes it), if any."""
    value = (metadata.get("session") or {}).get("lumbar_threshold_deg") if isinstance(metadata, dict) else None
    return float(value) if isinstance(value, int | float) and math.isfinite(value) and value > 0 else None


def _apply_metadata(data: ReportData, metadata: dict[str, Any]) -> None:
    """Who, when and what from the recording's own metadata, where the report does not know better."""
    from imu_hinge.commands.filing import recording_started_utc

    subject = metadata.get("subject")
    if data.person is None and isinstance(subject, str) and subject.strip():
        data.person = subject.strip()
    if data.started_utc is None:
        data.started_utc = recording_started_utc(metadata)  # when the session took place, not when analysed
    exercise = metadata.get("exercise")
    if data.exercise is None and isinstance(exercise, str) and exercise.strip():
        data.exercise = exercise.strip()


def _compare_reps(filed: list[dict[str, Any]], res: AnalysisResult, notes: list[str]) -> None:
    again = [(r.index, sorted(r.faults)) for r in res.reps]
    if [(r["index"], sorted(r["faults"])) for r in filed] != again:
        notes.append(f"analysing the recording again now finds {len(res.reps)} rep(s) "
                     f"({sum(1 for r in res.reps if r.faults)} flagged); the table shows the analysis as filed")


def from_result(res: AnalysisResult, params: AnalysisParams, source: str | None = None,
                exercise: str | None = None) -> ReportData:
    """A report of a fresh analysis (not filed in the store: no person, no previous sessions)."""
    reps = [{**r.to_dict(), "set": 1} for r in res.reps]
    p = params.to_dict()
    data = ReportData(title=f"Session report: {Path(source).name if source else 'recording'}", source=source,
                      exercise=exercise, calibration=res.calibration, params=p, threshold_deg=_threshold(p),
                      reps=reps, alerts=[a.to_dict() for a in res.alerts], quality=res.quality,
                      warnings=list(res.warnings), traces=Traces.of(res))
    lmax = (p["detector"]["faults"] or {}).get("lmax_deg")
    if lmax:
        data.range_calibration = {"lmax_deg": lmax, "lext_deg": None, "created_utc": None, "source": "options"}
    return data


def from_recording(path: str | Path, params: AnalysisParams, exercise: str | None = None, *,
                   threshold_given: bool = False) -> ReportData:
    """A report of a recording analysed now, with the person, date, exercise and (unless ``threshold_given``) the
    lumbar threshold its metadata records."""
    rec = load_recording(path)
    meta = dict(rec.metadata)
    recorded = recording_threshold_deg(meta)
    if recorded is not None and not threshold_given:
        params = with_overrides(params, lumbar_flexion_deg=recorded)
    data = from_result(analyze(rec, params), params, str(path), exercise)
    _apply_metadata(data, meta)
    return data


def from_json(path: str | Path) -> ReportData:
    """A report of an ``imu-hinge analyze --json`` document; traces when its recording is still there."""
    p = Path(path)
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RecordingFormatError(f"not an analysis JSON file ({str(exc).splitlines()[0]})", path=str(p)) from None
    if not isinstance(doc, dict) or "reps" not in doc:
        raise RecordingFormatError("not an `imu-hinge analyze --json` file (no \"reps\")", path=str(p))
    params = doc.get("params") or {}
    source = doc.get("recording")
    reps = [{**r, "set": r.get("set", 1)} for r in doc["reps"]]
    data = ReportData(title=f"Session report: {Path(source).name if source else p.name}", source=source,
                      exercise=doc.get("exercise"), calibration=doc.get("calibration") or {}, params=params,
                      threshold_deg=_threshold(params), reps=reps, alerts=list(doc.get("alerts") or []),
                      quality=doc.get("quality") or {}, warnings=list(doc.get("warnings") or []))
    res, data.traces_note, meta = _reanalyse(source, params)
    if res is not None:
        data.traces = Traces.of(res)
        _compare_reps(reps, res, data.notes)
    if isinstance(doc.get("person"), str):
        data.person = doc["person"]
    _apply_metadata(data, meta)
    return data


def _store_reps(session: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for st in session.get("sets") or []:
        for r in st.get("reps") or []:
            rep = {k: v for k, v in r.items() if k not in ("id", "set_id", "session_id", "rep_index")}
            out.append({**rep, "index": r.get("rep_index"), "set": st.get("set_index", 1),
                        "complete": bool(r.get("complete", 1))})
    return out


def from_store(store: Any, session_id: int, previous: int = 10) -> ReportData:
    """A report of filed session ``session_id`` with up to ``previous`` earlier sessions of the same exercise."""
    s = store.session(session_id)
    name = next((p.person.name for p in store.people() if p.person.id == s["person_id"]), f"#{s['person_id']}")
    params = s.get("params") or {}
    data = ReportData(title=f"Session report: {name}, session #{session_id}", person=name,
                      started_utc=s.get("started_utc"), exercise=s.get("exercise"), source=s.get("source"),
                      session_id=int(session_id), kind=s.get("kind"), calibration=s.get("calibration") or {},
                      params=params, threshold_deg=s.get("threshold_deg") or _threshold(params),
                      reps=_store_reps(s), alerts=list(s.get("alerts") or []), quality=s.get("quality") or {},
                      warnings=list(s.get("warnings") or []))
    ranges = store.range_calibrations(name)
    chosen = [r for r in ranges if r.id == s.get("range_calibration_id")] or [
        r for r in ranges if (r.created_utc or "") <= (s.get("started_utc") or "")]
    if chosen:
        rc = chosen[-1]
        data.range_calibration = {"lmax_deg": rc.lmax_deg, "lext_deg": rc.lext_deg, "created_utc": rc.created_utc,
                                  "source": rc.source}
    sessions = store.sessions(name, s.get("exercise"))
    upto = [x for x in sessions if (x.started_utc, x.id) <= (s.get("started_utc"), int(session_id))]
    data.earlier_sessions = len(upto) - 1
    data.history = [{"id": x.id, "started_utc": x.started_utc, "exercise": x.exercise, "reps": x.n_reps,
                     "flagged": x.n_flagged, "peak_lumbar_max_deg": finite_or_none(x.peak_lumbar_max_deg),
                     "peak_lumbar_mean_deg": finite_or_none(x.peak_lumbar_mean_deg), "threshold_deg": x.threshold_deg,
                     "current": x.id == int(session_id)} for x in upto[-(previous + 1):]]
    data.next_step = _next_step(store, name, s.get("exercise"))
    res, data.traces_note, _ = _reanalyse(data.source, params)
    if res is not None:
        data.traces = Traces.of(res)
        _compare_reps(data.reps, res, data.notes)
    return data


def _next_step(store: Any, person: str, exercise: str | None) -> str | None:
    """``advise``'s answer for this person and exercise in plain words (None off the progression ladder)."""
    from imu_hinge.rehab.progression import advise, load_rules
    from imu_hinge.report.patient import next_step_text

    if not exercise:
        return None
    try:
        return next_step_text(advise(exercise, store.sets(person, exercise, 50), load_rules()))
    except (ImuHingeError, KeyError):
        return None
