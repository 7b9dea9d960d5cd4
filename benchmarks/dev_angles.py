"""Angle RMSE of the pipeline on the shared dev cases against their truth traces, for any fusion options.

usage: python benchmarks/dev_angles.py [--dir ../shared/eval/dev] [--fusion-option NAME=JSON ...] [--live]

The evaluation's scorer runs ``imu-hinge analyze`` with the defaults; this runs the same
``imu_hinge.analysis.pipeline.analyze`` with filter settings that are not (yet) the default, e.g.
``--fusion-option quiet_bias_est_enabled=true``, and reports pelvis/trunk/lumbar RMSE per case
(from 1 s before the stand ends, as the scorer), then the medians and a final JSON line. ``--live`` calibrates
each case as a live session (``train``) does and its recording replays: the stance from the start, started over
when the lifter moves (``"calibration": "live"``), instead of searched for in the whole recording.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from imu_hinge.analysis.analysis_params import AnalysisParams
from imu_hinge.analysis.pipeline import LIVE_CALIBRATION, analyze
from imu_hinge.recording import read_interchange_csv
from imu_hinge.samples import Recording

COLUMNS = ("pelvic_tilt_deg", "trunk_flexion_deg", "lumbar_flexion_deg")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", default=str(Path(__file__).resolve().parents[2] / "shared" / "eval" / "dev"))
    ap.add_argument("--fusion-option", action="append", default=[], metavar="NAME=JSON")
    ap.add_argument("--live", action="store_true", help="calibrate as a live session does")
    args = ap.parse_args()
    options = {k: json.loads(v) for k, v in (o.split("=", 1) for o in args.fusion_option)}
    params = AnalysisParams(fusion_options=options)
    rows = []
    print(f"{'case':28s} {'pelvis':>6s} {'trunk':>6s} {'lumbar':>6s}")
    for truth_json in sorted(Path(args.dir).glob("*.truth.json")):
        name = truth_json.name.removesuffix(".truth.json")
        truth = np.genfromtxt(truth_json.with_name(name + ".truth_angles.csv"), delimiter=",", names=True)
        rec = read_interchange_csv(truth_json.with_name(name + ".csv"))
        if args.live:
            rec = Recording(rec.streams, {**rec.metadata, "calibration": LIVE_CALIBRATION}, rec.warnings, rec.source)
        res = analyze(rec, params)
        keep = res.time_s > json.loads(truth_json.read_text())["stand_start"] - 1.0
        row = []
        for col in COLUMNS:
            err = getattr(res, col)[keep] - np.interp(res.time_s[keep], truth["time_s"], truth[col])
            row.append(float(np.sqrt(np.mean(err[np.isfinite(err)] ** 2))))
        rows.append(row)
        print(f"{name:28s} {row[0]:6.2f} {row[1]:6.2f} {row[2]:6.2f}", flush=True)
    a = np.array(rows)
    out = {"benchmark": "dev_angles", "fusion_options": options, "calibration": "live" if args.live else "recording",
           "cases": len(rows),
           "lumbar_rmse_median": round(float(np.median(a[:, 2])), 3), "lumbar_rmse_max": round(float(a[:, 2].max()), 3),
           "seg_rmse_median": round(float(np.median(a[:, :2])), 3)}
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
