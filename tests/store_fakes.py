"""Analysis results made up without running the pipeline, for store tests (fast, exact numbers)."""

from __future__ import annotations

import subprocess

import numpy as np

from imu_hinge.analysis.pipeline import AnalysisResult
from imu_hinge.detection.rep_events import FaultRaised, Rep

from .helpers import run_cli


def fake_rep(index: int, peak_lumbar_deg: float = 8.0, faults: tuple[str, ...] = (), start_s: float | None = None,
             complete: bool = True) -> Rep:
    t0 = 4.0 + 4.0 * (index - 1) if start_s is None else start_s
    return Rep(index=index, start_s=t0, bottom_s=t0 + 1.5, end_s=t0 + 3.0, peak_pelvic_tilt_deg=60.0 - peak_lumbar_deg,
               peak_trunk_flexion_deg=60.0, peak_lumbar_flexion_deg=peak_lumbar_deg, min_lumbar_flexion_deg=-1.0,
               hinge_share=(60.0 - peak_lumbar_deg) / 60.0, onset_lag_s=0.3, descent_s=1.5, bottom_hold_s=0.2,
               ascent_s=1.3, time_above_threshold_s=0.0, lockout_extension_deg=1.0, faults=list(faults),
               complete=complete)


def fake_result(peaks: list[float], threshold_deg: float = 20.0, extra_faults: dict[int, str] | None = None,
                ) -> AnalysisResult:
    """Reps with the given peak lumbar flexion (deg); those above ``threshold_deg`` rounded, with an alert."""
    reps, alerts = [], []
    for i, peak in enumerate(peaks, start=1):
        faults = ["lumbar_flexion"] if peak > threshold_deg else []
        if extra_faults and i in extra_faults:
            faults.append(extra_faults[i])
        rep = fake_rep(i, peak, tuple(faults))
        reps.append(rep)
        if "lumbar_flexion" in faults:
            alerts.append(FaultRaised(rep.bottom_s - 0.2, "lumbar_flexion", threshold_deg + 0.1, i))
    empty = np.zeros(0)
    return AnalysisResult(empty, empty, empty, empty, reps, alerts,
                          {"stand_start_s": 0.5, "stand_end_s": 3.5, "sensors": {"sacrum": {"rate_hz": 100.0}}},
                          ["a warning"], {"rate_hz": {"sacrum": 100.0}})


def cli(*args: object) -> subprocess.CompletedProcess[str]:
    """``imu-hinge ARGS`` in a fresh interpreter; arguments may be paths or numbers."""
    return run_cli(*map(str, args))
