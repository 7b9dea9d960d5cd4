"""The Python API for scripts and notebooks (re-exported by ``imu_hinge``)::

    import imu_hinge as ih
    analysis = ih.run("session.csv", threshold_deg=18)
    analysis.reps_df()      # one row per rep (pandas)
    analysis.alerts_df()    # the alerts a live session would have raised
    analysis.angles_df()    # time_s, pelvic_tilt_deg, trunk_flexion_deg, lumbar_flexion_deg
    tables = ih.analyze_batch("sessions/", cluster="local:2")   # many recordings: tables.reps, tables.recordings

:func:`run` is exactly ``imu-hinge analyze``: the same reader, parameters and causal pipeline.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from imu_hinge.analysis.analysis_params import AnalysisParams, load_params
from imu_hinge.analysis.param_overrides import apply_overrides
from imu_hinge.analysis.pipeline import AnalysisResult, analyze
from imu_hinge.detection.rep_events import FAULTS, FaultRaised, Rep
from imu_hinge.jsonable import dumps
from imu_hinge.recording import checked, load_recording
from imu_hinge.samples import Recording
from imu_hinge.simulation import SimConfig, SimResult, simulate

ANGLE_COLUMNS = ("time_s", "pelvic_tilt_deg", "trunk_flexion_deg", "lumbar_flexion_deg")
REP_COLUMNS = ("rep", *(n for n in Rep.__dataclass_fields__ if n != "index"), *FAULTS)
ALERT_COLUMNS = ("time_s", "fault", "value_deg", "rep_index")


def load(path: str | Path, acc_unit: str = "auto", gyr_unit: str = "auto") -> Recording:
    """Read a recording: an interchange CSV (contracts §2) or an imu-hinge session file (``*.ihr.csv``).

    ``acc_unit``: "auto" (detect g), "si" (m/s^2) or "g"; ``gyr_unit``: "auto", "si" (rad/s) or "deg/s".
    """
    return load_recording(path, acc_unit=acc_unit, gyr_unit=gyr_unit)


@dataclass
class Analysis:
    """One analysis: :attr:`result` (:class:`~imu_hinge.analysis.pipeline.AnalysisResult`) with tables."""

    result: AnalysisResult
    params: AnalysisParams
    recording: Recording
    exercise: str | None = None
    source: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def reps(self) -> list[Rep]:
        return self.result.reps

    @property
    def alerts(self) -> list[FaultRaised]:
        return self.result.alerts

    @property
    def warnings(self) -> list[str]:
        return self.result.warnings

    def reps_df(self) -> pd.DataFrame:
        """One row per rep: ``rep`` (1-based), the metrics (deg, s), ``faults`` (list) and one bool column per fault."""
        rows = []
        for r in self.reps:
            d = r.to_dict()
            d["rep"] = d.pop("index")
            d.update({f: f in r.faults for f in FAULTS})
            rows.append(d)
        return pd.DataFrame(rows, columns=list(REP_COLUMNS))

    def alerts_df(self) -> pd.DataFrame:
        """One row per alert: ``time_s`` (when raised), ``fault``, ``value_deg``, ``rep_index``."""
        return pd.DataFrame([a.to_dict() for a in self.alerts], columns=list(ALERT_COLUMNS))

    def angles_df(self) -> pd.DataFrame:
        """The angle traces (deg) on the output time base (s); NaN where undefined."""
        res = self.result
        data = (res.time_s, res.pelvic_tilt_deg, res.trunk_flexion_deg, res.lumbar_flexion_deg)
        return pd.DataFrame({c: np.asarray(v, dtype=float) for c, v in zip(ANGLE_COLUMNS, data, strict=True)})

    def to_dict(self) -> dict[str, Any]:
        """What ``imu-hinge analyze --json`` writes."""
        return {"recording": self.source, "exercise": self.exercise, **self.result.to_json_dict(),
                "params": self.params.to_dict()}

    def to_json(self, indent: int | None = 1) -> str:
        """Strict JSON (docs/json.md): an undefined number (a rep over a sensor gap) is ``null``."""
        return dumps(self.to_dict(), indent=indent)

    def _repr_html_(self) -> str:  # notebooks show the rep table
        return f"<p>{len(self.reps)} reps, {len(self.alerts)} alerts</p>" + self.reps_df().to_html()

    def __repr__(self) -> str:
        flagged = sum(1 for r in self.reps if r.faults)
        return f"<Analysis {self.source or 'recording'}: {len(self.reps)} reps, {flagged} flagged>"


def _params(params: AnalysisParams | None, exercise: str | None, config: str | Path | None,
            settings: dict[str, Any]) -> AnalysisParams:
    """``params`` (else the ``config`` file, else the defaults), then the exercise's, then ``settings``."""
    if params is None:
        params = load_params(config) if config is not None else AnalysisParams()
    if exercise:
        from imu_hinge.rehab.exercise_catalogue import apply_exercise

        params = apply_exercise(params, exercise)
    return apply_overrides(params, settings)


def run(recording_or_path: Recording | SimResult | str | Path, params: AnalysisParams | None = None, *,
        exercise: str | None = None, config: str | Path | None = None, acc_unit: str = "auto",
        gyr_unit: str = "auto", **settings: Any) -> Analysis:
    """Analyse a recording (or a path to one, or a simulation) as ``imu-hinge analyze`` does.

    Parameters come from ``params`` (default :class:`~imu_hinge.analysis.analysis_params.AnalysisParams`), else a
    ``config`` file; then the ``exercise``'s defaults; then ``settings`` by name, e.g.
    ``threshold_deg=18``, ``filter="madgwick"``, ``lmax_deg=45, threshold_pct=50``,
    ``min_peak_deg=25`` or ``detector__faults__lockout_extension_deg=6``
    (see :mod:`imu_hinge.analysis.param_overrides`).
    """
    params = _params(params, exercise, config, settings)
    if isinstance(recording_or_path, SimResult):
        recording_or_path = recording_or_path.recording
    if isinstance(recording_or_path, Recording):
        rec = checked(recording_or_path, gyr_unit=gyr_unit)
    else:
        rec = load(recording_or_path, acc_unit=acc_unit, gyr_unit=gyr_unit)
    source = str(recording_or_path) if isinstance(recording_or_path, str | Path) else rec.source
    return Analysis(analyze(rec, params), params, rec, exercise, source)


@dataclass
class BatchTables:
    """The two tables of ``imu-hinge analyze INPUTS --summary``: pandas DataFrames, or Dask ones (``as_dask``)."""

    reps: Any
    """One row per rep (the columns of ``OUT.csv``, docs/batch.md)."""
    recordings: Any
    """One row per (recording, setting), failed ones included (``OUT_recordings.csv``)."""


def analyze_batch(inputs: str | Path | list[str | Path], params: AnalysisParams | None = None, *,
          sweep: list[str] | tuple[str, ...] = (), jobs: int = 1, cluster: str | None = None,
          as_dask: bool = False, exercise: str | None = None, config: str | Path | None = None,
          acc_unit: str = "auto", gyr_unit: str = "auto", **settings: Any) -> BatchTables:
    """Analyse many recordings (folders, globs, paths) as ``imu-hinge analyze INPUTS --summary`` does.

    ``jobs`` processes on this machine, or ``cluster`` (``"tcp://HOST:8786"`` or ``"local:N"``, the
    dask extra). Parameters as in :func:`run`; ``sweep`` as ``--sweep`` (``["threshold_deg=18,20"]``).
    The tables hold the very values of the CSV files; ``as_dask=True`` returns them as Dask DataFrames.
    """
    from imu_hinge.batch.parquet_io import frames
    from imu_hinge.batch.runner import expand_inputs, run_batch, sweep_settings

    params = _params(params, exercise, config, settings)
    names = [str(p) for p in ([inputs] if isinstance(inputs, str | Path) else inputs)]
    files = expand_inputs(names).files
    chosen = sweep_settings(params, list(sweep))
    if cluster is None:
        outcomes = run_batch(files, chosen, jobs, acc_unit=acc_unit, gyr_unit=gyr_unit)
    else:
        from imu_hinge.batch.dask_cluster import connect, run_batch_dask

        found: dict[int, Any] = {}
        with connect(cluster) as client:
            run_batch_dask(files, chosen, client, acc_unit=acc_unit, gyr_unit=gyr_unit,
                           on_done=found.__setitem__)
        outcomes = [found[i] for i in sorted(found)]
    reps, recordings = frames(outcomes)
    if as_dask:
        from imu_hinge.extras import require

        dd = require("dask.dataframe", "analyze_batch(..., as_dask=True)")
        return BatchTables(dd.from_pandas(reps, npartitions=1), dd.from_pandas(recordings, npartitions=1))
    return BatchTables(reps, recordings)


__all__ = ["Analysis", "BatchTables", "Recording", "SimConfig", "SimResult", "analyze_batch", "load", "run",
           "simulate"]
