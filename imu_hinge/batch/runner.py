"""Batch analysis: many recordings (times several settings) in parallel processes.

    files = expand_inputs(["sessions/", "extra/*.csv"]).files
    outcomes = run_batch(files, [Setting("base", params)], jobs=2)

Every (recording, setting) pair is one task, analysed by :func:`analyze_file` exactly as
``imu-hinge analyze RECORDING`` analyses one file. ``jobs`` tasks run at a time: this process
takes tasks itself beside ``jobs - 1`` workers of a :class:`~concurrent.futures.ProcessPoolExecutor`
(the inputs: :mod:`imu_hinge.batch.inputs`); the outcomes come back in task order whatever
finished first, so the tables
written from them (:mod:`imu_hinge.batch.tables`) are byte-identical for any ``jobs``.
A recording that cannot be analysed is an :class:`Outcome` with ``ok=False`` and a one-line
``error``: never dropped.
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from imu_hinge.analysis.analysis_params import AnalysisParams
from imu_hinge.analysis.param_overrides import apply_overrides, parse_text
from imu_hinge.batch.inputs import GLOB_CHARS, Inputs, expand_inputs, is_batch_input
from imu_hinge.errors import ImuHingeError, UsageError

if TYPE_CHECKING:
    from imu_hinge.samples import Recording

ANALYSIS_MODULES = ("imu_hinge.analysis.pipeline", "imu_hinge.recording")
"""What an analysis imports, where it runs: a worker loads them before its first task (the process pool's
forkserver, a Dask worker's preload); this module does not, so a ``--cluster`` command, which only hands
out the work, starts without them."""


def read_recording(path: str | Path, acc_unit: str = "auto", gyr_unit: str = "auto") -> Recording:
    """A session recording (``*.ihr.csv``) or an interchange CSV, as ``imu-hinge analyze`` reads it (on one thread:
    a batch's parallelism is across recordings)."""
    from imu_hinge.recording import load_recording

    return load_recording(path, acc_unit=acc_unit, gyr_unit=gyr_unit, threads=1)


# -- settings ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Setting:
    """One set of analysis parameters, named for the tables (``base`` when nothing is swept)."""

    label: str
    params: AnalysisParams


def sweep_settings(base: AnalysisParams, sweeps: Sequence[str]) -> list[Setting]:
    """``["filter=vqf,madgwick", "threshold_deg=18,20"]`` -> the 4 combinations (first key slowest).

    Keys are those of :mod:`imu_hinge.analysis.param_overrides` (aliases, dotted paths, unique setting names).
    """
    if not sweeps:
        return [Setting("base", base)]
    axes: list[tuple[str, list[str]]] = []
    for spec in sweeps:
        key, sep, values = spec.partition("=")
        key = key.strip()
        items = [v.strip() for v in values.split(",") if v.strip()]
        if not sep or not key or not items:
            raise UsageError(f"--sweep {spec!r}: write KEY=VALUE1,VALUE2 (e.g. threshold_deg=18,20,22)")
        axes.append((key, items))
    settings = []
    for combo in itertools.product(*(values for _, values in axes)):
        chosen = {key: parse_text(value) for (key, _), value in zip(axes, combo, strict=True)}
        try:
            params = apply_overrides(base, chosen)
        except UsageError as exc:
            raise UsageError(f"--sweep: {exc.message}") from None
        label = " ".join(f"{key}={value}" for (key, _), value in zip(axes, combo, strict=True))
        settings.append(Setting(label, params))
    return settings


# -- one task ----------------------------------------------------------------------------------
@dataclass
class Outcome:
    """The result of analysing one recording with one setting (or why it failed)."""

    recording: str
    setting: str
    ok: bool
    error: str = ""
    fusion_method: str = ""
    lumbar_threshold_deg: float | None = None
    duration_s: float | None = None
    reps: list[dict[str, Any]] = field(default_factory=list)
    alerts: list[dict[str, Any]] = field(default_factory=list)
    quality: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    cpu_s: float = 0.0
    """CPU time the analysis took in its process (for benchmarks; not written to the tables)."""
    angles: dict[str, Any] | None = field(default=None, compare=False, repr=False)
    """``time_s`` and the three angle arrays when asked for (``with_angles``; for ``--angles-dir``)."""


def analyze_file(path: str | Path, setting: Setting, acc_unit: str = "auto", gyr_unit: str = "auto",
                 with_angles: bool = False) -> Outcome:
    """Analyse one file; every exception becomes a failed :class:`Outcome` with a one-line reason."""
    from imu_hinge.analysis.pipeline import analyze

    cpu0_s = time.process_time()
    params = setting.params
    out = Outcome(str(path), setting.label, ok=False, fusion_method=params.fusion_method,
                  lumbar_threshold_deg=params.detector.faults.lumbar_threshold_deg)
    try:
        rec = read_recording(path, acc_unit=acc_unit, gyr_unit=gyr_unit)
        res = analyze(rec, params, threads=1)  # a batch's parallelism is across recordings: one core per job
    except ImuHingeError as exc:
        out.error = one_line(exc.message)
        return out
    except Exception as exc:  # a bug or a library failure on odd data: still one line, still listed
        out.error = one_line(f"internal error ({type(exc).__name__}: {exc})")
        return out
    finally:
        out.cpu_s = time.process_time() - cpu0_s
    out.ok = True
    out.duration_s = float(res.time_s[-1] - res.time_s[0]) if len(res.time_s) else 0.0
    out.reps = [r.to_dict() for r in res.reps]
    out.alerts = [a.to_dict() for a in res.alerts]
    out.quality = res.quality
    out.warnings = list(res.warnings)
    if with_angles:
        out.angles = {"time_s": res.time_s, "pelvic_tilt_deg": res.pelvic_tilt_deg,
                      "trunk_flexion_deg": res.trunk_flexion_deg, "lumbar_flexion_deg": res.lumbar_flexion_deg}
    return out


def one_line(text: str, limit: int = 300) -> str:
    line = " ".join(str(text).split()) or "unknown error"
    return line if len(line) <= limit else line[: limit - 3] + "..."


Task = tuple[str, Setting, str, str, bool]
"""(path, setting, acc_unit, gyr_unit, with_angles): one analysis, as handed to a worker."""


def _work(task: Task) -> Outcome:
    path, setting, acc_unit, gyr_unit, with_angles = task
    return analyze_file(path, setting, acc_unit, gyr_unit, with_angles)


def make_tasks(files: Sequence[str | Path], settings: Sequence[Setting], acc_unit: str = "auto",
               gyr_unit: str = "auto", with_angles: bool = False) -> list[Task]:
    """Every (file, setting) pair, files outer, settings inner: the order of the tables."""
    return [(str(f), s, acc_unit, gyr_unit, with_angles) for f in files for s in settings]


# -- many tasks --------------------------------------------------------------------------------
def resolve_jobs(jobs: int) -> int:
    """``0`` means one per CPU; negative is a usage error."""
    if jobs < 0:
        raise UsageError(f"--jobs must be 0 (one per CPU) or a positive number, got {jobs}")
    return jobs or (os.cpu_count() or 1)


def _pool_context() -> Any:
    """``forkserver`` (workers forked from a clean, pre-imported server) where it exists, else ``spawn``."""
    methods = multiprocessing.get_all_start_methods()
    if "forkserver" in methods:
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["imu_hinge.batch.runner", *ANALYSIS_MODULES])
        return ctx
    return multiprocessing.get_context("spawn")


def run_batch(files: Sequence[str | Path], settings: Sequence[Setting], jobs: int = 1, *,
              acc_unit: str = "auto", gyr_unit: str = "auto", on_done: Callable[[Outcome], None] | None = None,
              notes: list[str] | None = None, with_angles: bool = False) -> list[Outcome]:
    """Analyse every (file, setting) pair; outcomes in that order (files outer, settings inner).

    ``jobs`` analyses run at a time: this process takes tasks too, beside ``jobs - 1`` worker
    processes (so no core idles while the workers start). ``on_done`` is called once per finished
    task, in completion order (for a progress bar). If the worker processes cannot run, the rest
    is analysed here and a line is added to ``notes``.
    """
    tasks: list[Task] = make_tasks(files, settings, acc_unit, gyr_unit, with_angles)
    results: list[Outcome | None] = [None] * len(tasks)
    jobs = min(resolve_jobs(jobs), max(len(tasks), 1))

    def finish(i: int, outcome: Outcome) -> None:
        results[i] = outcome
        if on_done:
            on_done(outcome)

    left = list(range(len(tasks))) if jobs == 1 else _run_shared(tasks, jobs, finish)
    if left and jobs > 1 and notes is not None:
        notes.append(f"the worker processes stopped; analysed the remaining {len(left)} in this process")
    for i in left:
        finish(i, _work(tasks[i]))
    return [r for r in results if r is not None]


def _run_shared(tasks: list[Task], jobs: int, finish: Callable[[int, Outcome], None]) -> list[int]:
    """This process and ``jobs - 1`` workers take tasks in turn; returns the tasks left if the pool broke."""
    pool = ProcessPoolExecutor(max_workers=jobs - 1, mp_context=_pool_context())
    pending: dict[Future[Outcome], int] = {}
    queued_max = 4 * (jobs - 1)  # enough that a worker never waits for this process to hand out work
    retry: list[int] = []

    def collect(done: Iterable[Future[Outcome]]) -> None:
        for fut in list(done):
            i = pending.pop(fut)
            try:
                finish(i, fut.result())
            except BrokenProcessPool:  # no worker can run (or one was killed): this process takes it
                retry.append(i)
            except Exception as exc:  # the outcome could not come back: still one line, still listed
                path, setting = tasks[i][0], tasks[i][1]
                finish(i, Outcome(path, setting.label, ok=False,
                                  error=one_line(f"worker process failed ({type(exc).__name__}: {exc})")))

    nxt = 0
    try:
        while nxt < len(tasks) or pending:
            while nxt < len(tasks) and len(pending) < queued_max and not retry:
                try:
                    pending[pool.submit(_work, tasks[nxt])] = nxt
                except BrokenProcessPool:
                    retry.append(-1)
                    break
                nxt += 1
            collect([f for f in pending if f.done()])
            if retry:
                collect(wait(pending).done)
                break
            if nxt < len(tasks):
                finish(nxt, _work(tasks[nxt]))
                nxt += 1
            elif pending:
                queued = [f for f in pending if f.cancel()]  # not started by a worker yet: take one back
                if queued:
                    back = max(queued, key=lambda f: pending[f])
                    for f in queued:
                        i = pending.pop(f)
                        if f is back:
                            finish(i, _work(tasks[i]))
                            continue
                        try:
                            pending[pool.submit(_work, tasks[i])] = i
                        except BrokenProcessPool:
                            retry.append(i)
                else:
                    collect(wait(pending, return_when=FIRST_COMPLETED).done)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return sorted(i for i in retry if i >= 0) + list(range(nxt, len(tasks))) if retry else []


__all__ = ["ANALYSIS_MODULES", "GLOB_CHARS", "Inputs", "Outcome", "Setting", "analyze_file", "expand_inputs",
           "is_batch_input", "read_recording", "resolve_jobs", "run_batch", "sweep_settings"]
