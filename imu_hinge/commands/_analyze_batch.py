"""The batch half of ``imu-hinge analyze``: a folder, a glob or several recordings.

``imu-hinge analyze DIR_OR_GLOB... [--jobs N] [--summary results.csv] [--sweep KEY=V1,V2]``
(see ``docs/batch.md``). The single-file command is unchanged; this module only adds options
and the handler :func:`run` that :mod:`imu_hinge.commands.analyze` calls in batch mode.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..batch import expand_inputs, resolve_jobs, run_batch, sweep_settings
from ..batch_tables import companion_path, print_recordings, write_summary
from ..errors import InputError, UsageError
from ..params import AnalysisParams
from ..progress import Progress, progress_wanted


def add_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("batch (a folder, a glob such as 'data/*.csv', or several recordings)")
    g.add_argument("--jobs", type=int, default=1, metavar="N",
                   help="analyse N recordings at a time in separate processes (0: one per CPU; default 1); "
                        "results are identical for any N")
    g.add_argument("--summary", metavar="OUT.csv",
                   help="write one row per rep to OUT.csv and one row per recording to OUT_recordings.csv")
    g.add_argument("--sweep", action="append", default=[], metavar="KEY=V1,V2",
                   help="compare settings: analyse every recording with each value (repeatable: all "
                        "combinations); KEY is filter, threshold_deg, threshold_pct, lmax_deg or a dotted "
                        "parameter such as detector.faults.lockout_extension_deg")
    g.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="progress bar on stderr (default: only when stderr is a terminal)")


def wants_batch(args: argparse.Namespace) -> bool:
    """Batch options alone (on one file) also select batch mode."""
    return bool(args.summary or args.sweep)


def run(args: argparse.Namespace, params: AnalysisParams) -> int:
    if args.json or args.angles_csv:
        raise UsageError("--json and --angles-csv are for one recording; with several use --summary OUT.csv")
    jobs = resolve_jobs(args.jobs)
    settings = sweep_settings(params, args.sweep)
    inputs = expand_inputs(args.recording)
    if args.summary:
        for out in (Path(args.summary), companion_path(args.summary)):
            if not out.resolve().parent.is_dir():
                raise UsageError(f"cannot write {out}: its folder does not exist")
    if inputs.skipped:
        names = ", ".join(str(p) for p in inputs.skipped[:3]) + (", ..." if len(inputs.skipped) > 3 else "")
        print(f"imu-hinge: note: {len(inputs.skipped)} CSV file(s) in the folder(s) are not recordings "
              f"(no time_s,sensor header), not analysed: {names}", file=sys.stderr)
    total = len(inputs.files) * len(settings)
    bar = Progress(total, "analyze", enabled=progress_wanted(args.progress, sys.stderr), stream=sys.stderr)
    notes: list[str] = []
    with bar:
        outcomes = run_batch(inputs.files, settings, jobs, acc_unit=args.acc_unit, gyr_unit=args.gyr_unit,
                             on_done=lambda _o: bar.update(), notes=notes)
    for note in notes:
        print(f"imu-hinge: note: {note}", file=sys.stderr)
    for o in outcomes:
        for w in o.warnings:
            print(f"imu-hinge: warning: {o.recording}: {w}", file=sys.stderr)
    if args.summary:
        reps_path, recs_path = write_summary(outcomes, args.summary)
        print(f"imu-hinge: wrote {reps_path} (one row per rep) and {recs_path} (one row per recording)",
              file=sys.stderr)
    if not args.quiet:
        print_recordings(outcomes, sys.stdout)
    failed = [o for o in outcomes if not o.ok]
    for o in failed:
        label = o.recording + (f" [{o.setting}]" if len(settings) > 1 else "")
        print(f"imu-hinge: failed: {label}: {o.error}", file=sys.stderr)
    if failed:
        raise InputError(f"{len(failed)} of {len(outcomes)} analyses failed (listed above"
                         + ("; status=failed rows in the recordings table)" if args.summary else ")"))
    return 0
