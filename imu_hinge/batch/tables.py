"""Tables of a batch analysis: one row per rep, one row per recording, and the terminal summary.

``--summary results.csv`` writes two files (documented in ``docs/batch.md``):

* ``results.csv`` — one row per rep: ``recording, setting, rep`` then every :class:`~imu_hinge.detection.rep_events.Rep`
  metric (units in the names), ``complete``, ``faults`` (``;``-joined) and a 0/1 column per fault;
* ``results_recordings.csv`` — one row per (recording, setting): ``status`` (``ok`` / ``failed``),
  ``error`` (the one-line reason), rep and fault counts, alert count, peak-lumbar statistics, data
  quality and warnings. Failed recordings are rows here too: nothing is silently left out.

Numbers are written with ``repr`` of values already rounded by the analysis (4 decimals) and
empty cells for "not defined", so the same outcomes always give the same bytes.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import io
import math
import os
import statistics
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, TextIO

from imu_hinge.batch.runner import Outcome
from imu_hinge.detection.rep_events import FAULTS, Rep
from imu_hinge.errors import UsageError
from imu_hinge.jsonable import finite_values

REP_METRICS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(Rep)
                                     if f.name not in ("index", "faults", "complete", "notes"))
REP_COLUMNS: tuple[str, ...] = ("recording", "setting", "rep", *REP_METRICS, "complete", "faults", *FAULTS, "notes")
RECORDING_COLUMNS: tuple[str, ...] = (
    "recording", "setting", "status", "error", "fusion_method", "lumbar_threshold_deg", "duration_s", "reps",
    "flagged_reps", *FAULTS, "alerts", "max_peak_lumbar_flexion_deg", "mean_peak_lumbar_flexion_deg",
    "peak_lumbar_spread_deg", "mean_hinge_share", "sacrum_rate_hz", "thoracic_rate_hz", "max_drop_fraction",
    "warnings")


def cell(value: Any) -> str:
    """A deterministic CSV cell: '' for None/NaN, 0/1 for booleans, shortest repr for floats."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return "" if math.isnan(value) else repr(round(value, 4))
    return str(value)


def reps_of(o: Outcome) -> list[list[str]]:
    """The rep table's rows of one outcome."""
    rows = []
    for r in o.reps:
        faults = list(r.get("faults") or [])
        rows.append([o.recording, o.setting, cell(r["index"]), *(cell(r.get(m)) for m in REP_METRICS),
                     cell(bool(r.get("complete", True))), ";".join(faults),
                     *(cell(f in faults) for f in FAULTS), "; ".join(r.get("notes") or [])])
    return rows


def rep_rows(outcomes: Sequence[Outcome]) -> list[list[str]]:
    return [row for o in outcomes for row in reps_of(o)]


def recording_summary(o: Outcome) -> dict[str, Any]:
    """The per-recording statistics (what ``results_recordings.csv`` holds)."""
    peaks = finite_values([r.get("peak_lumbar_flexion_deg") for r in o.reps])
    shares = finite_values([r.get("hinge_share") for r in o.reps])
    q = o.quality or {}
    drops = finite_values([(q.get(role) or {}).get("drop_fraction") for role in ("sacrum", "thoracic")])
    row: dict[str, Any] = {
        "recording": o.recording, "setting": o.setting, "status": "ok" if o.ok else "failed", "error": o.error,
        "fusion_method": o.fusion_method, "lumbar_threshold_deg": o.lumbar_threshold_deg,
        "duration_s": round(o.duration_s, 3) if o.duration_s is not None else None,
    }
    if o.ok:
        row.update({
            "reps": len(o.reps), "flagged_reps": sum(1 for r in o.reps if r.get("faults")),
            **{f: sum(1 for r in o.reps if f in (r.get("faults") or [])) for f in FAULTS},
            "alerts": len(o.alerts),
            "max_peak_lumbar_flexion_deg": round(max(peaks), 4) if peaks else None,
            "mean_peak_lumbar_flexion_deg": round(statistics.fmean(peaks), 4) if peaks else None,
            "peak_lumbar_spread_deg": round(statistics.stdev(peaks), 4) if len(peaks) > 1 else None,
            "mean_hinge_share": round(statistics.fmean(shares), 4) if shares else None,
            "sacrum_rate_hz": (q.get("sacrum") or {}).get("rate_hz"),
            "thoracic_rate_hz": (q.get("thoracic") or {}).get("rate_hz"),
            "max_drop_fraction": round(max(drops), 6) if drops else None,
        })
    row["warnings"] = " | ".join(o.warnings)
    return row


def recording_row(o: Outcome) -> list[str]:
    """The recording table's row of one outcome."""
    summary = recording_summary(o)
    return [cell(summary.get(c)) for c in RECORDING_COLUMNS]


def recording_rows(outcomes: Sequence[Outcome]) -> list[list[str]]:
    return [recording_row(o) for o in outcomes]


TableRows = tuple[list[list[str]], list[str]]
"""One outcome's rows in the two ``--summary`` tables: its reps' rows and its recording row."""


def table_rows(o: Outcome) -> TableRows:
    """Both tables' rows of one outcome (a cluster's :class:`~imu_hinge.batch.dask_cluster.OutcomeSpool`
    makes them as each outcome arrives)."""
    return reps_of(o), recording_row(o)


def companion_path(summary: str | Path) -> Path:
    """``results.csv`` -> ``results_recordings.csv`` (``.parquet`` -> ``_recordings.parquet``), beside it."""
    p = Path(summary)
    suffix = ".parquet" if p.suffix.lower() == ".parquet" else ".csv"
    stem = p.name[: -len(p.suffix)] if p.suffix.lower() in (".csv", ".parquet") else p.name
    return p.with_name(f"{stem}_recordings{suffix}")


def csv_text(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue()


def write_atomic(path: str | Path, text: str) -> None:
    """Write ``text`` to a temporary file beside ``path`` and rename it: never a half-written file."""
    p = Path(path)
    if not p.resolve().parent.is_dir():
        raise UsageError(f"cannot write {p}: its folder does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.resolve().parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        os.chmod(tmp, 0o666 & ~current_umask())
        os.replace(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def current_umask() -> int:
    """The process umask (files made with :func:`tempfile.mkstemp` are 0600 until given the usual mode)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_summary(outcomes: Sequence[Outcome], path: str | Path, *,
                  rows: Iterable[TableRows] | None = None) -> tuple[Path, Path]:
    """Write the rep table to ``path`` and the recording table beside it; returns both paths.

    ``.parquet`` writes Parquet files (the ``parquet`` extra) with the same rows and values.
    ``rows``: the outcomes' :func:`table_rows`, in the same order, when they were made already (the
    CSV tables are then written from them without formatting anything again).
    """
    reps_path, recs_path = Path(path), companion_path(path)
    if reps_path.suffix.lower() == ".parquet":
        from imu_hinge.batch.parquet_io import write_parquet_tables
        write_parquet_tables(outcomes, reps_path, recs_path)
        return reps_path, recs_path
    _write_csv_tables(map(table_rows, outcomes) if rows is None else rows, reps_path, recs_path)
    return reps_path, recs_path


def _write_csv_tables(rows: Iterable[TableRows], reps_path: Path, recs_path: Path) -> None:
    """Both CSV tables in one pass over ``rows``, streamed to temporary files renamed at the end (never a
    half-written table, and never the whole table in memory)."""
    temps: list[str] = []
    try:
        with contextlib.ExitStack() as stack:
            writers = []
            for p, header in ((reps_path, REP_COLUMNS), (recs_path, RECORDING_COLUMNS)):
                if not p.resolve().parent.is_dir():
                    raise UsageError(f"cannot write {p}: its folder does not exist")
                fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.resolve().parent)
                temps.append(tmp)
                fh = stack.enter_context(os.fdopen(fd, "w", encoding="utf-8", newline=""))
                writers.append(csv.writer(fh, lineterminator="\n"))
                writers[-1].writerow(header)
            for reps, recording in rows:
                writers[0].writerows(reps)
                writers[1].writerow(recording)
        for tmp, p in zip(temps, (reps_path, recs_path), strict=True):
            os.chmod(tmp, 0o666 & ~current_umask())
            os.replace(tmp, p)
    except BaseException:
        for tmp in temps:
            Path(tmp).unlink(missing_ok=True)
        raise


def print_recordings(outcomes: Sequence[Outcome], out: TextIO) -> None:
    """One line per (recording, setting) on the terminal, then the totals (two passes over ``outcomes``:
    a cluster's are read back from disk)."""
    settings: set[str] = set()
    name_w, set_w, n, n_ok, n_reps, n_flag = 9, 7, 0, 0, 0, 0
    for o in outcomes:
        settings.add(o.setting)
        name_w = max(name_w, len(o.recording)) if n else len(o.recording)
        set_w = max(set_w, len(o.setting))  # settings are shown whole, never cut
        n += 1
        if o.ok:
            n_ok += 1
            n_reps += len(o.reps)
            n_flag += sum(1 for r in o.reps if r.get("faults"))
    show_setting = len(settings) > 1
    name_w = min(name_w, 60)
    head = f"{'recording':<{name_w}} " + (f"{'setting':<{set_w}} " if show_setting else "")
    print(head + f"{'reps':>4} {'flag':>4} {'peak L':>6}  faults / error", file=out)
    for o in outcomes:
        s = recording_summary(o)
        name = o.recording if len(o.recording) <= name_w else "..." + o.recording[-(name_w - 3):]
        line = f"{name:<{name_w}} " + (f"{o.setting:<{set_w}} " if show_setting else "")
        if not o.ok:
            print(line + f"{'-':>4} {'-':>4} {'-':>6}  FAILED: {o.error}", file=out)
            continue
        peak = s["max_peak_lumbar_flexion_deg"]
        counts = ", ".join(f"{f} {s[f]}" for f in FAULTS if s[f]) or "ok"
        print(line + f"{s['reps']:>4} {s['flagged_reps']:>4} {('-' if peak is None else f'{peak:.1f}'):>6}  {counts}",
              file=out)
    print(f"{n} analyses, {n_ok} ok, {n - n_ok} failed; {n_reps} reps, {n_flag} "
          "flagged. peak L = the largest peak lumbar flexion of its reps (deg; not the calibrated Lmax)", file=out)


def check_writable(path: str | Path, what: str = "") -> None:
    """A one-line usage error now, before any analysis, when ``path`` cannot be written."""
    p = Path(path)
    folder = p.resolve().parent
    label = f"{what} {p}".strip()
    if not folder.is_dir():
        raise UsageError(f"cannot write {label}: its folder does not exist")
    if p.is_dir():
        raise UsageError(f"cannot write {label}: it is a folder; give a file name")
    if not os.access(folder, os.W_OK | os.X_OK) or (p.exists() and not os.access(p, os.W_OK)):
        raise UsageError(f"cannot write {label}: permission denied; choose a folder you can write to")
