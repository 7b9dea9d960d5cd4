"""The batch half of ``imu-hinge analyze``: a folder, a glob or several recordings.

``imu-hinge analyze DIR_OR_GLOB... [--jobs N | --cluster ADDRESS] [--summary results.csv|.parquet]
[--angles-dir DIR] [--sweep KEY=V1,V2]``
(see ``docs/batch.md``). The single-file command is unchanged; this module only adds options
and the handler :func:`run` that :mod:`imu_hinge.commands.analyze` calls in batch mode.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from imu_hinge.analysis.analysis_params import AnalysisParams
from imu_hinge.errors import ClusterError, InputError, UsageError

if TYPE_CHECKING:  # imported where used: a single-file analyze does not load the batch machinery
    from imu_hinge.batch.progress_bar import Progress
    from imu_hinge.batch.runner import Outcome, Setting
    from imu_hinge.batch.tables import TableRows


def add_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("batch (a folder, a glob such as 'data/*.csv', or several recordings)")
    g.add_argument("--jobs", type=int, default=1, metavar="N",
                   help="analyse N recordings at a time in separate processes (0: one per CPU; default 1); "
                        "results are identical for any N")
    g.add_argument("--cluster", metavar="ADDRESS",
                   help="run the batch on a Dask cluster: its scheduler (tcp://HOST:8786) or local:N to start N "
                        "worker processes here (the dask extra); tables identical to --jobs 1")
    g.add_argument("--cluster-timeout", type=float, default=10.0, metavar="S",
                   help="how long to wait for the scheduler and its first worker (default 10 s)")
    g.add_argument("--summary", metavar="OUT.csv",
                   help="write one row per rep to OUT.csv and one row per recording to OUT_recordings.csv "
                        "(OUT.parquet: Parquet files, the parquet extra)")
    g.add_argument("--angles-dir", metavar="DIR",
                   help="write every recording's angles as a Parquet dataset partitioned by recording")
    g.add_argument("--sweep", action="append", default=[], metavar="KEY=V1,V2",
                   help="compare settings: analyse every recording with each value (repeatable: all "
                        "combinations); KEY is filter, threshold_deg, threshold_pct, lmax_deg or a dotted "
                        "parameter such as detector.faults.lockout_extension_deg")
    g.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="progress bar on stderr (default: only when stderr is a terminal)")


def wants_batch(args: argparse.Namespace) -> bool:
    """Batch options alone (on one file) also select batch mode."""
    return bool(args.summary or args.sweep or args.cluster or args.angles_dir)


def run(args: argparse.Namespace, params: AnalysisParams) -> int:
    from imu_hinge.batch.progress_bar import Progress, progress_wanted
    from imu_hinge.batch.runner import expand_inputs, resolve_jobs, run_batch, sweep_settings
    from imu_hinge.batch.tables import check_writable, companion_path

    if args.json or args.angles_csv:
        raise UsageError("--json and --angles-csv are for one recording; with several use --summary OUT.csv")
    jobs = resolve_jobs(args.jobs)
    cluster = None
    if args.cluster:
        from imu_hinge.batch.dask_cluster import parse_cluster
        cluster = parse_cluster(args.cluster)
        if args.jobs != 1:
            raise UsageError("--jobs is for this machine; with --cluster the cluster's workers run the analyses")
    settings = sweep_settings(params, args.sweep)
    inputs = expand_inputs(args.recording)
    if args.summary:
        for out in (Path(args.summary), companion_path(args.summary)):
            check_writable(out)
        if Path(args.summary).suffix.lower() == ".parquet":
            from imu_hinge.extras import require
            require("pyarrow", "a .parquet summary")
    angles = None
    if args.angles_dir:
        from imu_hinge.batch.parquet_io import AnglesDataset
        angles = AnglesDataset(args.angles_dir)
    if inputs.skipped:
        names = ", ".join(str(p) for p in inputs.skipped[:3]) + (", ..." if len(inputs.skipped) > 3 else "")
        print(f"imu-hinge: note: {len(inputs.skipped)} CSV file(s) in the folder(s) are not recordings "
              f"(no time_s,sensor header), not analysed: {names}", file=sys.stderr)
    total = len(inputs.files) * len(settings)
    bar = Progress(total, "analyze", enabled=progress_wanted(args.progress, sys.stderr), stream=sys.stderr)
    notes: list[str] = []
    lost_error: ClusterError | None = None
    spool: Any = None

    def arrived(outcome: Outcome) -> None:
        if angles is not None:
            angles.add(outcome)
        bar.update()

    try:
        if cluster is not None:
            spool, lost_error = _run_on_cluster(args, cluster, inputs.files, settings, total, bar, arrived)
            outcomes: Sequence[Outcome] = spool
        else:
            with bar:
                outcomes = run_batch(inputs.files, settings, jobs, acc_unit=args.acc_unit, gyr_unit=args.gyr_unit,
                                     on_done=arrived, notes=notes, with_angles=angles is not None)
        return _report(args, outcomes, settings, notes, lost_error,
                       spool.table_rows if spool is not None else None)
    finally:
        if spool is not None:
            spool.close()


def _run_on_cluster(args: argparse.Namespace, cluster: Any, files: Sequence[Path], settings: Sequence[Setting],
                    total: int, bar: Progress, arrived: Callable[[Outcome], None]) -> tuple[Any, ClusterError | None]:
    """The batch on Dask; outcomes spooled to disk as they arrive. Returns the spool and, if the cluster
    went away mid-batch, the error to raise once the finished rows are written."""
    from imu_hinge.batch.dask_cluster import OutcomeSpool, connect, run_batch_dask

    folder = Path(args.summary).resolve().parent if args.summary else None
    spool = OutcomeSpool(total, folder)

    def done(i: int, outcome: Outcome) -> None:
        arrived(outcome)
        spool.add(i, outcome)

    try:
        with connect(cluster, args.cluster_timeout, quiet=True) as client, bar:
            lost = run_batch_dask(files, settings, client, acc_unit=args.acc_unit, gyr_unit=args.gyr_unit,
                                  with_angles=args.angles_dir is not None, on_done=done)
    except ClusterError:
        spool.close()
        raise
    except (OSError, TimeoutError) as exc:  # the scheduler went away mid-batch
        lost = [i for i in range(total) if i not in set(spool.indices())]
        return spool, ClusterError(f"lost the Dask cluster ({type(exc).__name__}) after {total - len(lost)} of "
                                   f"{total} analyses: the finished rows are written; run the rest again",
                                   address=args.cluster)
    if lost:
        return spool, ClusterError(f"the Dask cluster stopped after {total - len(lost)} of {total} analyses: "
                                   "the finished rows are written; run the rest again", address=args.cluster)
    return spool, None


def _write_tables(outcomes: Sequence[Outcome], summary: str,
                  rows: Callable[[], Iterable[TableRows]] | None = None) -> None:
    """The summary tables; if they cannot be written now (disk full, folder gone), the rows go to CSV files
    in a fresh temporary folder and the error says where: a finished row is never lost. ``rows``: the
    outcomes' table rows made already (a cluster's spool)."""
    from imu_hinge.batch.tables import write_summary

    try:
        reps_path, recs_path = write_summary(outcomes, summary, rows=rows() if rows is not None else None)
    except (UsageError, OSError) as exc:
        reason = exc.message if isinstance(exc, UsageError) else f"cannot write {summary}: {exc.strerror or exc}"
        rescue = Path(tempfile.mkdtemp(prefix="imu-hinge-batch-")) / Path(summary).with_suffix(".csv").name
        reps_path, recs_path = write_summary(outcomes, rescue, rows=rows() if rows is not None else None)
        raise InputError(f"{reason}; the {len(outcomes)} finished rows are in {reps_path} and {recs_path}") from None
    print(f"imu-hinge: wrote {reps_path} (one row per rep) and {recs_path} (one row per recording)", file=sys.stderr)


def _report(args: argparse.Namespace, outcomes: Sequence[Outcome], settings: Sequence[Setting], notes: list[str],
            lost_error: ClusterError | None, rows: Callable[[], Iterable[TableRows]] | None = None) -> int:
    from imu_hinge.batch.tables import print_recordings

    for note in notes:
        print(f"imu-hinge: note: {note}", file=sys.stderr)
    failed: list[str] = []  # one pass: a cluster's outcomes are read back from disk
    for o in outcomes:
        for w in o.warnings:
            print(f"imu-hinge: warning: {o.recording}: {w}", file=sys.stderr)
        if not o.ok:
            label = o.recording + (f" [{o.setting}]" if len(settings) > 1 else "")
            failed.append(f"imu-hinge: failed: {label}: {o.error}")
    if not args.quiet:
        print_recordings(outcomes, sys.stdout)
    if args.summary:
        _write_tables(outcomes, args.summary, rows)
    for line in failed:
        print(line, file=sys.stderr)
    if lost_error is not None:
        raise lost_error
    if failed:
        raise InputError(f"{len(failed)} of {len(outcomes)} analyses failed (listed above"
                         + ("; status=failed rows in the recordings table)" if args.summary else ")"))
    return 0
