"""``analyze --person NAME``: the person's thresholds going in, the session filed in the store coming out.

The person is looked up before the analysis runs (an unknown person fails fast, nothing is
analysed or written). Threshold precedence: exercise defaults < ``--config`` < the person's
settings < the threshold options given on the command line.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import math
import sys
from pathlib import Path
from typing import Any

from imu_hinge.analysis.analysis_params import AnalysisParams
from imu_hinge.analysis.pipeline import AnalysisResult
from imu_hinge.commands.storeopts import open_store
from imu_hinge.samples import Recording
from imu_hinge.store import Store, canonical_exercise, file_sha256
from imu_hinge.store.db import iso_utc

# analyze option dest -> FaultParams field it sets explicitly
CLI_FIELDS = {"threshold_deg": "lumbar_flexion_deg", "lmax_deg": "lmax_deg", "threshold_pct": "lumbar_flexion_pct_lmax"}


def recording_started_utc(metadata: dict[str, Any]) -> str | None:
    """When the recording began, from its metadata (``created_utc`` or ``time_origin_unix_s``), if known."""
    created = metadata.get("created_utc")
    if isinstance(created, str):
        try:
            return iso_utc(_dt.datetime.fromisoformat(created.replace("Z", "+00:00")))
        except ValueError:
            pass
    origin = metadata.get("time_origin_unix_s")
    if isinstance(origin, int | float) and math.isfinite(origin) and origin > 0:
        return iso_utc(_dt.datetime.fromtimestamp(float(origin), _dt.UTC))
    return None


class PersonFiling:
    """Opened for ``analyze --person``: resolves the person and exercise, files the result."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.exercise = canonical_exercise(args.exercise)
        self.store: Store = open_store(args, create=False)
        try:
            self.person = self.store.person(args.person)
        except BaseException:
            self.store.close()
            raise
        self.range_calibration_id: int | None = None

    def apply(self, params: AnalysisParams, args: argparse.Namespace) -> AnalysisParams:
        """``params`` with the person's Lmax and threshold, except what the command line set explicitly."""
        keep = {f for dest, f in CLI_FIELDS.items() if getattr(args, dest, None) is not None}
        out, th = self.store.params_for(self.person, self.exercise, params, keep)
        for w in th.warnings:
            print(f"imu-hinge: warning: {w}", file=sys.stderr)
        if th.range is not None and "lmax_deg" not in keep:
            self.range_calibration_id = th.range.id
        return out

    def file(self, result: AnalysisResult, recording: Recording, source: str | Path,
             params: AnalysisParams) -> int:
        return self.store.file_session(self.person, self.exercise, result, str(Path(source).resolve()),
                                       kind="analyze", params=params,
                                       started_utc=recording_started_utc(recording.metadata),
                                       range_calibration_id=self.range_calibration_id,
                                       content_sha256=file_sha256(source))

    def filed_text(self, session_id: int | None, n_reps: int) -> str:
        """The line that tells where the session went (and that an earlier filing of it was replaced)."""
        again = " (this recording was filed before: that session updated, not added again)" \
            if self.store.last_filed_replaced else ""
        return (f"filed session #{session_id} for {self.person.name} ({self.exercise}, {n_reps} reps) in "
                f"{self.store.path}{again}")

    def close(self) -> None:
        self.store.close()
