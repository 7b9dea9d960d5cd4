"""``imu-hinge report SESSION [--out report.html]``: a self-contained HTML session report.

SESSION is a session id from the store (``imu-hinge history PERSON`` lists them), or a recording
(interchange CSV / session file: analysed now), or an ``imu-hinge analyze --json`` file.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

from imu_hinge.batch.tables import write_atomic
from imu_hinge.commands.storeopts import add_db_argument, open_store
from imu_hinge.errors import RecordingNotFound, UsageError

SESSION_ID = re.compile(r"#?(\d+)")


def register(sub: Any) -> None:
    p = sub.add_parser("report", help="write a session report: one HTML file with plots, reps and history",
                       description="Write one self-contained HTML file (inline SVG plots, no external files) with "
                                   "who, when, exercise, calibration, the per-rep table with faults, the angle traces "
                                   "with flagged reps marked and the comparison with previous sessions.")
    p.add_argument("session", metavar="SESSION",
                   help="session id from the store, or a recording, or an `analyze --json` file")
    p.add_argument("--out", metavar="FILE.html", help="output file (default: session-ID-report.html or "
                                                      "STEM-report.html in the current folder)")
    p.add_argument("--notes", metavar="TEXT", help="your notes for the patient, on the report's first page")
    p.add_argument("--previous", type=int, default=10, metavar="N",
                   help="compare with up to N previous sessions of the same exercise (default 10)")
    rec = p.add_argument_group("when SESSION is a recording")
    rec.add_argument("--exercise", metavar="NAME", help="exercise name (sets its default thresholds)")
    rec.add_argument("--config", metavar="FILE", help="TOML or JSON file with analysis parameters")
    rec.add_argument("--threshold-deg", type=float, metavar="DEG",
                     help="lumbar flexion threshold (default: the one the recording records, else 20)")
    add_db_argument(p)
    p.set_defaults(func=run)


def _recording_params(args: argparse.Namespace) -> Any:
    from imu_hinge.analysis.analysis_params import AnalysisParams, load_params, with_overrides

    params = load_params(args.config) if args.config else AnalysisParams()
    if args.exercise:
        from imu_hinge.rehab.exercise_catalogue import apply_exercise

        params = apply_exercise(params, args.exercise)
    if args.threshold_deg is not None and not args.threshold_deg > 0:
        raise UsageError(f"--threshold-deg must be a positive number, got {args.threshold_deg}")
    return with_overrides(params, lumbar_flexion_deg=args.threshold_deg)


def build(args: argparse.Namespace) -> tuple[Any, str]:
    """(ReportData, default output name) for the SESSION argument."""
    from imu_hinge.report import from_json, from_recording, from_store

    target = Path(args.session)
    if target.is_file():
        if target.suffix.lower() == ".json":
            return from_json(target), f"{target.stem}-report.html"
        stem = target.name.removesuffix(".ihr.csv").removesuffix(".csv")
        given = args.threshold_deg is not None or bool(args.config)
        return (from_recording(target, _recording_params(args), args.exercise, threshold_given=given),
                f"{stem}-report.html")
    m = SESSION_ID.fullmatch(args.session.strip())
    if not m:
        raise RecordingNotFound("not a session id, and no such file", path=args.session)
    if args.previous < 0:
        raise UsageError(f"--previous must be 0 or more, got {args.previous}")
    with open_store(args, create=False) as store:
        session_id = int(m.group(1))
        return from_store(store, session_id, args.previous), f"session-{session_id}-report.html"


def run(args: argparse.Namespace) -> int:
    from imu_hinge.report import render

    if args.out and not Path(args.out).resolve().parent.is_dir():
        raise UsageError(f"cannot write {args.out}: its folder does not exist")
    data, default_name = build(args)
    if args.notes:
        data.physio_notes = args.notes.strip()
    out = Path(args.out or default_name)
    write_atomic(out, render(data))
    print(f"wrote {out} ({len(data.reps)} reps, {sum(1 for r in data.reps if r.get('faults'))} flagged"
          f"{'' if data.traces is not None else '; no angle traces: ' + data.traces_note})", file=sys.stdout)
    return 0
