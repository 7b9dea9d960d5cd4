"""The shared dev cases cut to start moving at once: calibration from a stance found later.

usage: python benchmarks/dev_cut_start.py [--dir ../shared/eval/dev] [--before-s 0.15] [--at-bottom N]

Each case is cut ``--before-s`` seconds before its first true rep (as a recording started a
moment before the lifter moved), analysed, and its angles compared with the truth over the whole
cut recording (the truth stays relative to the standing posture the cut removed, so an error in
re-finding that posture counts). A negative ``--before-s`` cuts into the first rep; ``--at-bottom N``
cuts at the bottom of rep N instead (a lift recorded from its set-up at the bar). Prints a table,
then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from imu_hinge.analysis.pipeline import analyze
from imu_hinge.errors import ImuHingeError
from imu_hinge.recording import read_interchange_csv
from imu_hinge.samples import Recording

COLUMNS = ("pelvic_tilt_deg", "trunk_flexion_deg", "lumbar_flexion_deg")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", default=str(Path(__file__).resolve().parents[2] / "shared" / "eval" / "dev"))
    ap.add_argument("--before-s", type=float, default=0.15)
    ap.add_argument("--at-bottom", type=int, metavar="N", help="cut at the bottom of rep N (1 = the first)")
    args = ap.parse_args()
    rows, refused = [], []
    print(f"{'case':26s} {'pelvis':>6s} {'trunk':>6s} {'lumbar':>6s} {'reps':>7s} {'stance s':>12s}")
    for truth_json in sorted(Path(args.dir).glob("*.truth.json")):
        name = truth_json.name.removesuffix(".truth.json")
        truth = np.genfromtxt(truth_json.with_name(name + ".truth_angles.csv"), delimiter=",", names=True)
        reps = json.loads(truth_json.read_text())["reps"]
        t0 = (reps[args.at_bottom - 1]["bottom_s"] if args.at_bottom
              else max(0.0, reps[0]["start_s"] - args.before_s))
        rec = read_interchange_csv(truth_json.with_name(name + ".csv"))
        rec = Recording({r: s.slice(int(np.searchsorted(s.time_s, t0)), len(s)) for r, s in rec.streams.items()},
                        dict(rec.metadata))
        try:
            res = analyze(rec)
        except ImuHingeError as exc:
            refused.append(name)
            print(f"{name:26s} refused: {exc}")
            continue
        row = []
        for col in COLUMNS:
            err = getattr(res, col) - np.interp(res.time_s, truth["time_s"], truth[col])
            row.append(float(np.sqrt(np.nanmean(err ** 2))))
        rows.append(row)
        n_true = sum(1 for r in reps if r["start_s"] >= t0)
        cal = res.calibration
        print(f"{name:26s} {row[0]:6.2f} {row[1]:6.2f} {row[2]:6.2f} {len(res.reps):>3d}/{n_true:<3d} "
              f"{cal['stand_start_s']:5.2f}-{cal['stand_end_s']:5.2f}", flush=True)
    a = np.array(rows).reshape(-1, 3)
    out = {"benchmark": "dev_cut_start", "before_s": args.before_s, "at_bottom": args.at_bottom,
           "cases": len(rows) + len(refused),
           "refused": refused,
           "lumbar_rmse_median": round(float(np.median(a[:, 2])), 3) if len(a) else None,
           "lumbar_rmse_max": round(float(a[:, 2].max()), 3) if len(a) else None,
           "seg_rmse_median": round(float(np.median(a[:, :2])), 3) if len(a) else None}
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
