"""``imu-hinge analyze RECORDING``: angles, reps, faults and alerts from a two-sensor recording."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from imu_hinge.analysis.analysis_params import AnalysisParams, load_params, with_overrides
from imu_hinge.batch.inputs import is_batch_input
from imu_hinge.commands import _analyze_batch
from imu_hinge.commands.storeopts import add_db_argument
from imu_hinge.detection.rep_estimates import has_estimates
from imu_hinge.errors import UsageError
from imu_hinge.fusion import METHODS
from imu_hinge.jsonable import dumps, format_number

if TYPE_CHECKING:  # the pipeline and the readers are imported where one recording is analysed: a batch
    # (--jobs, --cluster) analyses in its workers, and its command starts without them
    from imu_hinge.analysis.pipeline import AnalysisResult


def register(sub: Any) -> None:
    p = sub.add_parser("analyze", help="analyse a recording: per-rep table, alerts, JSON and angle CSV",
                       description="Run the causal pipeline over a recording (interchange CSV) exactly as a live "
                                   "session would, and report reps, faults and alerts.")
    p.add_argument("recording", nargs="+",
                   help="interchange CSV (time_s,sensor,acc_*,gyr_*) or session recording; several files, a folder "
                        "or a glob pattern analyse them all (batch mode, see --jobs and --summary)")
    p.add_argument("--json", metavar="OUT", help="write reps, alerts, calibration and warnings as JSON")
    p.add_argument("--angles-csv", metavar="OUT",
                   help="write time_s,pelvic_tilt_deg,trunk_flexion_deg,lumbar_flexion_deg")
    p.add_argument("--exercise", metavar="NAME", help="exercise name (tags the result; sets its default thresholds)")
    p.add_argument("--config", metavar="FILE", help="TOML or JSON file with analysis parameters")
    causal = [m for m in METHODS if m != "vqf_offline"]
    p.add_argument("--filter", metavar="NAME", choices=causal,
                   help=f"orientation filter (default vqf; one of {', '.join(causal)})")
    p.add_argument("--offline", action="store_true",
                   help="research mode: non-causal smoothing (offline VQF) for the angles; alerts are then not "
                        "what a live session would raise")
    p.add_argument("--threshold-deg", type=float, metavar="DEG", help="lumbar flexion alert threshold (default 20)")
    p.add_argument("--lmax-deg", type=float, metavar="DEG", help="the person's calibrated maximum lumbar flexion")
    p.add_argument("--threshold-pct", type=float, metavar="PCT", help="threshold as %% of --lmax-deg")
    p.add_argument("--acc-unit", choices=("auto", "si", "g"), default="auto",
                   help="accelerometer unit (default: detect)")
    p.add_argument("--gyr-unit", choices=("auto", "si", "deg/s"), default="auto",
                   help="gyroscope unit (default: detect)")
    p.add_argument("--quiet", action="store_true", help="no table on the terminal")
    p.add_argument("--person", metavar="NAME",
                   help="apply the person's Lmax and thresholds from the store and file the session there")
    add_db_argument(p)
    _analyze_batch.add_arguments(p)
    p.set_defaults(func=run)


def build_params(args: argparse.Namespace) -> AnalysisParams:
    params = load_params(args.config) if args.config else AnalysisParams()
    if args.exercise:
        from imu_hinge.rehab.exercise_catalogue import apply_exercise
        params = apply_exercise(params, args.exercise)
    if args.filter:
        params = AnalysisParams(**{**params.__dict__, "fusion_method": args.filter})
    if args.offline:
        params = AnalysisParams(**{**params.__dict__, "fusion_method": "vqf_offline"})
    if args.threshold_pct is not None and args.lmax_deg is None:
        raise UsageError("--threshold-pct needs --lmax-deg (the person's calibrated maximum lumbar flexion)")
    if args.threshold_pct is not None and args.threshold_deg is not None:
        raise UsageError("give --threshold-deg or --threshold-pct, not both (they set the same threshold)")
    for name, most in (("threshold_deg", 90.0), ("lmax_deg", 90.0), ("threshold_pct", 100.0)):
        v = getattr(args, name)
        if v is not None and not (math.isfinite(v) and v > 0):
            raise UsageError(f"--{name.replace('_', '-')} must be a positive number, got {v:g}")
        if v is not None and v > most:
            unit = "%" if name.endswith("pct") else " deg"
            raise UsageError(f"--{name.replace('_', '-')} {v:g} is beyond any lumbar flexion (at most {most:g}{unit})")
    return with_overrides(params, lumbar_flexion_deg=args.threshold_deg, lmax_deg=args.lmax_deg,
                          lumbar_flexion_pct_lmax=args.threshold_pct)


def _fmt(v: float | None, spec: str = "5.1f") -> str:
    return format_number(v, spec)


def print_table(res: AnalysisResult, out: Any = None) -> None:
    out = out if out is not None else sys.stdout  # looked up per call (a default would pin the stdout of import time)
    print(f"{'rep':>3} {'start':>6} {'bottom':>6} {'end':>6} {'P':>5} {'T':>5} {'L':>5} {'share':>5} {'lag':>5} "
          f"{'lock':>5}  faults", file=out)
    for r in res.reps:
        faults = ", ".join(r.faults) or "ok"
        if not r.complete:
            faults += (" (incomplete: sensor gap; P and L estimated, pelvis not measured)"
                       if has_estimates(r) else " (incomplete: sensor gap)")
        print(f"{r.index:>3} {r.start_s:6.2f} {r.bottom_s:6.2f} {r.end_s:6.2f} {_fmt(r.peak_pelvic_tilt_deg)} "
              f"{_fmt(r.peak_trunk_flexion_deg)} {_fmt(r.peak_lumbar_flexion_deg)} {_fmt(r.hinge_share, '5.2f')} "
              f"{_fmt(r.onset_lag_s, '5.2f')} {_fmt(r.lockout_extension_deg)}  {faults}", file=out)
    n_flag = sum(1 for r in res.reps if r.faults)
    n_lf = sum(1 for a in res.alerts if a.fault == "lumbar_flexion")
    print(f"{len(res.reps)} reps, {n_flag} flagged, {n_lf} lumbar-flexion alert(s). P pelvic tilt, T trunk flexion, "
          "L lumbar flexion (peak deg); share = P/T at the bottom; lag = L onset minus P onset (s); lock = lockout "
          "extension (deg)", file=out)


def write_angles_csv(res: AnalysisResult, path: str | Path) -> None:
    import numpy as np

    data = np.column_stack([res.time_s, res.pelvic_tilt_deg, res.trunk_flexion_deg, res.lumbar_flexion_deg])
    with open(path, "w", encoding="utf-8", newline="") as fh:
        fh.write("time_s,pelvic_tilt_deg,trunk_flexion_deg,lumbar_flexion_deg\n")
        np.savetxt(fh, data, fmt=["%.6f", "%.4f", "%.4f", "%.4f"], delimiter=",")


def _check_out(path: str | None) -> None:
    if path and not Path(path).resolve().parent.is_dir():
        raise UsageError(f"cannot write {path}: its folder does not exist")


def run(args: argparse.Namespace) -> int:
    params = build_params(args)
    if is_batch_input(args.recording) or _analyze_batch.wants_batch(args):
        if args.person:
            raise UsageError("--person files one recording at a time; give a single recording")
        return _analyze_batch.run(args, params)
    from imu_hinge.analysis.pipeline import analyze
    from imu_hinge.recording import load_recording

    args.recording = args.recording[0]
    _check_out(args.json)
    _check_out(args.angles_csv)
    filing, filed = None, None
    if args.person:
        from imu_hinge.commands.filing import PersonFiling  # the store: only when filing
        filing = PersonFiling(args)
    try:
        if filing is not None:
            params = filing.apply(params, args)
        rec = load_recording(args.recording, acc_unit=args.acc_unit, gyr_unit=args.gyr_unit)
        res = analyze(rec, params)
        filed = filing.file(res, rec, args.recording, params) if filing is not None else None
    finally:
        if filing is not None:
            filing.close()
    for w in res.warnings:
        print(f"imu-hinge: warning: {w}", file=sys.stderr)
    if not args.quiet:
        print_table(res)
    if args.json:
        doc: dict[str, Any] = {"recording": str(args.recording), "exercise": args.exercise,
                               **({"person": args.person} if args.person else {}), **res.to_json_dict(),
                               "params": params.to_dict()}
        Path(args.json).write_text(dumps(doc, indent=1), encoding="utf-8")
    if args.angles_csv:
        write_angles_csv(res, args.angles_csv)
    if filing is not None:
        print(filing.filed_text(filed, len(res.reps)), file=sys.stderr if args.quiet else sys.stdout)
    return 0

