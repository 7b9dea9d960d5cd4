"""Batch analysis on a Dask cluster (the ``dask`` extra): ``imu-hinge analyze INPUTS --cluster ADDRESS``.

    with connect("tcp://scheduler:8786") as client:          # or "local:4": a cluster on this machine
        outcomes = run_batch_dask(files, settings, client, on_done=spool.add)

Every (recording, setting) pair is analysed by :func:`imu_hinge.batch.runner._work` on a worker,
exactly the analysis of ``--jobs``. Consecutive pairs go to the cluster in chunks, one Dask task
each (:func:`plan_chunks`: large chunks first, single pairs at the end, so the scheduler handles a
few dozen tasks instead of thousands and no worker waits long for the last one). Results come back
in completion order and go to ``on_done(index, outcome)`` at once (the CLI spools them to disk:
:class:`OutcomeSpool`); the tables are then written in task order, so they are byte-identical to
``--jobs 1``.

A worker that dies mid-batch loses nothing: the scheduler runs its chunks on the other workers
(each chunk's result is taken once, by its key, so no row is doubled). A chunk that kills
``allowed_failures + 1`` workers in turn comes back as ``KilledWorker``; its pairs are then sent
again one by one, so only a recording that itself kills its workers (one that makes a worker run
out of memory) becomes a failed row, with a one-line reason. Before any work, every worker must
run the same imu-hinge version as this process (:func:`check_workers`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import importlib.metadata
import logging
import os
import pickle
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from imu_hinge.batch.runner import ANALYSIS_MODULES, Outcome, Setting, Task, _work, make_tasks, one_line
from imu_hinge.batch.tables import TableRows, table_rows
from imu_hinge.errors import ClusterError, UsageError
from imu_hinge.extras import require

LOCAL_PREFIX = "local:"
CONNECT_TIMEOUT_S = 10.0
"""How long to wait for the scheduler to answer, and for its first worker."""


LOCAL_WORKER_CONFIG: dict[str, Any] = {
    # Dask's nanny starts every worker with MALLOC_TRIM_THRESHOLD_=65536, which also switches off
    # glibc's dynamic mmap threshold: every array over 128 kB is then mmap'ed and unmapped afresh,
    # page faults and all: each worker spent ~1.3 s of system CPU on its 30 of 60 recordings, and
    # --jobs 1 run with the variable set went from 0.3 to 2.6 s of system CPU for the 60. Unset, the
    # workers allocate exactly as --jobs 1 does. (OMP/MKL/OPENBLAS_NUM_THREADS=1 stay set.)
    "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
    # The statistical profiler samples every worker thread's stack every 10 ms for the dashboard's
    # profile page: CPU taken from the analyses on a busy machine, and nobody reads it in a batch.
    "distributed.worker.profile.enabled": False,
    # The nannies of a local cluster run in this process, which has imported distributed already: a worker
    # forked from it starts in ~0.1 s, where a spawned one starts a fresh interpreter and imports
    # distributed again (measured: two workers up in 0.24 s against 1.26 s; the whole `--cluster local:2`
    # command 1.55 s against 2.9 s for four trivial tasks). On Linux only (fork is unsafe on macOS); a
    # worker the nanny restarts after a crash is spawned as usual.
    **({"distributed.worker.multiprocessing-method": "fork"} if sys.platform == "linux" else {}),
}
"""Dask configuration of the workers ``--cluster local:N`` starts (a cluster of one's own: docs/batch.md)."""

QUIET_POLLING_CONFIG: dict[str, Any] = {
    # Every Dask server (scheduler, nanny, worker, and the client) polls on timers while it waits:
    # the event-loop tick monitor every 20 ms, the system monitor (psutil) every 500 ms, the nanny's
    # memory monitor every 100 ms. Measured idle on 2 shared cores: 14 ms of CPU per second in each
    # of the 5 processes of a 2-worker cluster (70 ms/s, ~3 s of CPU over a 40 s batch), 9 ms/s in
    # all with these. A tick only warns of a blocked loop; a memory limit is still enforced (in 0.5 s).
    "distributed.admin.tick.interval": "1s",
    "distributed.admin.system-monitor.interval": "5s",
    "distributed.worker.memory.monitor-interval": "500ms",
}
"""Slower housekeeping timers for the client and the processes of ``--cluster local:N``
(for a lab's own cluster: the environment variables in docs/batch.md)."""

LOCAL_SCHEDULER_HTTP: dict[str, Any] = {
    # The scheduler of ``--cluster local:N`` lives as long as one command, whose progress is imu-hinge's own bar:
    # no Bokeh dashboard (where Bokeh is installed, as with dask[complete], building it cost the command
    # 0.7-0.9 s of start-up while the workers waited: LocalCluster and Client up in 0.89-1.09 s, 0.17-0.18 s
    # without it; measured with bokeh 3.9 beside distributed 2026.8) ...
    "scheduler_kwargs": {"dashboard": False},
    # ... and its HTTP server (health, metrics and info pages) on this machine's loopback only, on a free port: a
    # dashboard address of ":0" listened on every network interface, so anyone on the clinic's network could open
    # the scheduler's pages (/status, /info/main/workers.html: the workers and what they run) while the batch ran.
    "dashboard_address": "127.0.0.1:0",
}
"""How ``--cluster local:N`` starts its scheduler's web server (keyword arguments of ``LocalCluster``)."""


def dask_setup(worker: Any) -> None:
    """``dask worker --preload imu_hinge.batch.dask_cluster``: undo the nanny's malloc setting in this worker.

    The nanny exports ``MALLOC_TRIM_THRESHOLD_`` before it starts the worker (see
    :data:`LOCAL_WORKER_CONFIG`); glibc has then fixed its mmap threshold at 128 kB. This sets the
    thresholds to the ceiling glibc's own dynamic rule reaches (32 MiB mmap, 64 MiB trim), so the
    analysis' arrays are reused from the heap as in ``--jobs 1``. Does nothing off glibc or when
    the variable is not set. Also imports the analysis (:data:`~imu_hinge.batch.runner.ANALYSIS_MODULES`),
    so the worker's first task is not slower than the others.
    """
    for module in ANALYSIS_MODULES:
        importlib.import_module(module)
    if "MALLOC_TRIM_THRESHOLD_" not in os.environ:
        return
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
        mallopt = libc.mallopt if libc is not None else None
    except (OSError, AttributeError):  # not glibc
        return
    if mallopt is not None:
        m_trim_threshold, m_mmap_threshold = -1, -3
        mallopt(m_mmap_threshold, 32 * 2**20)
        mallopt(m_trim_threshold, 64 * 2**20)


@contextlib.contextmanager
def _libyaml_defaults() -> Iterator[None]:
    """While dask and distributed are first imported: their YAML configuration read by libyaml.

    On import they read their default configuration (dask.yaml, distributed.yaml: ~1,300 lines) and any
    user configuration files with PyYAML's pure-Python ``safe_load``: 26 ms of a command's start-up, while
    a cluster's workers wait. PyYAML's wheels include libyaml, whose safe loader reads the same files into
    the same values in 2.7 ms (tests/test_batch_dask.py compares the whole configuration). Outside this
    block ``yaml.safe_load`` is PyYAML's own.
    """
    yaml: Any = None
    if "distributed" not in sys.modules:
        with contextlib.suppress(ImportError):
            yaml = importlib.import_module("yaml")  # dask's own dependency
    if yaml is None or not getattr(yaml, "__with_libyaml__", False):
        yield
        return
    original = yaml.safe_load

    def safe_load(stream: Any) -> Any:
        return yaml.load(stream, Loader=yaml.CSafeLoader)

    yaml.safe_load = safe_load
    try:
        yield
    finally:
        yaml.safe_load = original


def import_distributed() -> ModuleType:
    """``distributed`` (the dask extra: :class:`~imu_hinge.extras.MissingExtra` without it), its configuration
    read by libyaml on the first import (:func:`_libyaml_defaults`)."""
    with _libyaml_defaults():
        return require("distributed", "--cluster")


@dataclasses.dataclass(frozen=True)
class ClusterSpec:
    """``--cluster``: a scheduler address, or ``local:N`` (N worker processes started here)."""

    address: str | None = None
    local_workers: int = 0


def parse_cluster(text: str) -> ClusterSpec:
    """``tcp://HOST:8786`` (any Dask scheme) or ``local:N``; anything else is a usage error."""
    text = text.strip()
    if text.startswith(LOCAL_PREFIX):
        n = text[len(LOCAL_PREFIX):]
        if not n.isdigit() or int(n) < 1:
            raise UsageError(f"--cluster {text!r}: write local:N with N >= 1 worker processes (e.g. local:2)")
        return ClusterSpec(local_workers=int(n))
    scheme, sep, rest = text.partition("://")
    if not sep or not scheme or not rest:
        raise UsageError(f"--cluster {text!r}: give the scheduler address (tcp://HOST:8786) or local:N")
    return ClusterSpec(address=text)


def installed_version() -> str:
    """The imu-hinge version installed here (the one the workers must have)."""
    try:
        return importlib.metadata.version("imu-hinge")
    except importlib.metadata.PackageNotFoundError:  # run from a source tree without installing
        from imu_hinge import __version__
        return __version__


def check_workers(client: Any, where: str, timeout_s: float = CONNECT_TIMEOUT_S) -> int:
    """Wait for a worker, then check that every worker has this imu-hinge version; returns the worker count."""
    try:
        client.wait_for_workers(1, timeout=timeout_s)
    except (TimeoutError, OSError):
        raise ClusterError(f"the Dask scheduler at {where} has no workers after {timeout_s:.0f} s: start some "
                           f"with `dask worker {where}`", address=where) from None
    mine = installed_version()
    found = client.run(importlib.metadata.version, "imu-hinge", on_error="return")
    bad: list[str] = []
    for worker, version in sorted(found.items()):
        if isinstance(version, importlib.metadata.PackageNotFoundError):
            bad.append(f"{worker} has no imu-hinge")
        elif isinstance(version, BaseException):
            bad.append(f"{worker} cannot say its imu-hinge version ({type(version).__name__})")
        elif version != mine:
            bad.append(f"{worker} has imu-hinge {version}")
    if bad:
        raise ClusterError(f"{len(bad)} of {len(found)} Dask workers cannot run this batch ({'; '.join(bad[:2])}"
                           f"{'; ...' if len(bad) > 2 else ''}): install imu-hinge {mine} on every worker "
                           f"(pip install 'imu-hinge[dask]=={mine}')", address=where)
    return len(found)


@contextlib.contextmanager
def connect(cluster: str | ClusterSpec, timeout_s: float = CONNECT_TIMEOUT_S, *, quiet: bool = False) -> Iterator[Any]:
    """A :class:`distributed.Client` on the cluster, its workers checked; closed (and a local cluster stopped) after.

    ``quiet`` (the CLI): Dask's own log records (tracebacks when the scheduler goes away) are not
    printed; what happened is told in imu-hinge's one line instead.
    """
    spec = parse_cluster(cluster) if isinstance(cluster, str) else cluster
    distributed = import_distributed()
    if quiet:
        for name in ["distributed", *logging.root.manager.loggerDict]:
            if name == "distributed" or name.startswith("distributed."):
                logging.getLogger(name).setLevel(logging.CRITICAL + 1)
    import dask

    local = None
    if spec.address is None:
        with dask.config.set({**LOCAL_WORKER_CONFIG, **QUIET_POLLING_CONFIG}):
            local = distributed.LocalCluster(n_workers=spec.local_workers, threads_per_worker=1, processes=True,
                                             silence_logs=logging.ERROR, **LOCAL_SCHEDULER_HTTP)
        with dask.config.set(QUIET_POLLING_CONFIG):
            client = distributed.Client(local)
        where = f"local:{spec.local_workers}"
    else:
        where = spec.address
        try:
            with dask.config.set(QUIET_POLLING_CONFIG):  # this client's own timers
                client = distributed.Client(spec.address, timeout=f"{timeout_s}s")
        except (OSError, TimeoutError) as exc:
            raise ClusterError(f"cannot reach the Dask scheduler at {spec.address} "
                               f"({one_line(str(exc), 120)}): start it with `dask scheduler` (and workers with "
                               f"`dask worker {spec.address}`) or check the address", address=spec.address) from None
    try:
        check_workers(client, where, timeout_s)
        yield client
    finally:
        client.close()
        if local is not None:
            local.close()


def _failed(task: tuple[Any, ...], reason: str) -> Outcome:
    path, setting = task[0], task[1]
    return Outcome(path, setting.label, ok=False, error=one_line(reason), fusion_method=setting.params.fusion_method,
                   lumbar_threshold_deg=setting.params.detector.faults.lumbar_threshold_deg)


CHUNK_MAX_TASKS = 16
"""At most this many (recording, setting) pairs in one Dask task."""
CHUNK_MAX_BYTES = 32 * 2**20
"""At most this much recording (file bytes) in one Dask task with more than one pair: a chunk's
outcomes (and angles, with ``--angles-dir``) come back together."""
CHUNKS_PER_WORKER_LEFT = 2
"""Guided self-scheduling: a chunk takes about 1 / (this x workers) of the work still to hand out. (2 rather
than 4: 24 Dask tasks instead of 37 for 200 recordings on 2 workers, a third less CPU in the scheduler and
the client, and the command 0.15 s faster (median of 8 alternating rounds, 9.19 vs 9.30 s; 1 was slower
again, 9.27 s: its last chunks, 12, 6 and 3 pairs, leave one worker waiting). docs/batch.md, Speed.)"""


def plan_chunks(sizes: Sequence[float], workers: int, max_tasks: int = CHUNK_MAX_TASKS,
                max_bytes: float = CHUNK_MAX_BYTES) -> list[range]:
    """Consecutive runs of task indices covering ``range(len(sizes))``, largest first.

    ``sizes`` estimate each task's work (its file's bytes). Each chunk takes tasks while it stays
    within ``1 / (CHUNKS_PER_WORKER_LEFT * workers)`` of the work left, ``max_tasks`` tasks and
    ``max_bytes`` (at least one task): per-task scheduling costs (a few ms each in the scheduler and
    the client) are paid a few dozen times instead of once per pair, and the last chunks are
    single pairs, so the workers finish together. ``max_tasks=1`` gives one task per pair.
    """
    chunks: list[range] = []
    left = float(sum(sizes))
    start = 0
    while start < len(sizes):
        target = min(left / (CHUNKS_PER_WORKER_LEFT * max(workers, 1)), max_bytes)
        stop, taken = start + 1, float(sizes[start])
        while stop < len(sizes) and stop - start < max_tasks and taken + sizes[stop] <= target:
            taken += sizes[stop]
            stop += 1
        chunks.append(range(start, stop))
        left -= taken
        start = stop
    return chunks


def _work_chunk(tasks: Sequence[Task]) -> list[Outcome]:
    """One Dask task: the analyses of a chunk of pairs, in order (each as ``--jobs`` runs it)."""
    return [_work(task) for task in tasks]


def _file_bytes(path: str) -> float:
    try:
        return float(os.path.getsize(path))
    except OSError:  # it fails fast on the worker, with its reason
        return 0.0


def run_batch_dask(files: Sequence[str | Path], settings: Sequence[Setting], client: Any, *,
                   acc_unit: str = "auto", gyr_unit: str = "auto", with_angles: bool = False,
                   on_done: Callable[[int, Outcome], None], max_chunk_tasks: int = CHUNK_MAX_TASKS) -> list[int]:
    """Analyse every (file, setting) pair on the cluster; ``on_done(task_index, outcome)`` as each arrives.

    Pairs go in chunks (:func:`plan_chunks`; ``max_chunk_tasks=1``: one Dask task per pair). Returns
    the task indices that never came back because the cluster went away (empty when all did).
    """
    distributed = import_distributed()
    tasks = make_tasks(files, settings, acc_unit, gyr_unit, with_angles)
    batch_id = uuid.uuid4().hex[:12]
    workers = max(len(client.scheduler_info().get("workers", {})), 1)
    chunks = plan_chunks([_file_bytes(t[0]) for t in tasks], workers, max_chunk_tasks)
    chunk_of: dict[str, range] = {}

    def submit(part: range) -> Any:
        fut = client.submit(_work_chunk, [tasks[i] for i in part], pure=False,
                            key=f"imu-hinge-{batch_id}-{part.start}-{part.stop}")
        chunk_of[fut.key] = part
        return fut

    pending = distributed.as_completed([submit(part) for part in chunks])
    done: set[int] = set()
    lost: list[int] = []
    for fut in pending:
        part = chunk_of[fut.key]
        if fut.status == "cancelled":  # the scheduler went away
            lost.extend(part)
            continue
        try:  # "lost" too: its result was on a worker that died since; the scheduler computes it again
            outcomes = fut.result()
        except Exception as exc:
            if type(exc).__name__ == "KilledWorker" and len(part) > 1:
                for i in part:  # which of its pairs killed the workers? each is sent again alone
                    pending.add(submit(range(i, i + 1)))
                fut.release()
                continue
            if type(exc).__name__ == "KilledWorker":
                reason = ("every worker that analysed it died (out of memory? a worker memory limit, "
                          "`dask worker --memory-limit`, sets how much one may use)")
            elif fut.status == "error":
                reason = f"worker failed ({type(exc).__name__}: {exc})"
            elif fut.status == "cancelled":
                lost.extend(part)
                continue
            else:  # the result could not come back (a worker lost between done and fetch)
                reason = f"the result could not be fetched ({type(exc).__name__}: {exc})"
            outcomes = [_failed(tasks[i], reason) for i in part]
        fut.release()
        for i, outcome in zip(part, outcomes, strict=True):
            if i in done:  # each chunk's result is taken once; guard the tables anyway
                continue
            done.add(i)
            on_done(i, outcome)
    return sorted(set(lost) - done)


# -- results on disk as they arrive ---------------------------------------------------------------
class OutcomeSpool(Sequence[Outcome]):
    """Outcomes written to a temporary file as they arrive, read back by task index.

    Only the file offsets stay in memory. Each outcome is one pickle record (this process reads back
    what it wrote, so the tables come out byte-identical to ``--jobs 1``), followed by its rows of
    the two ``--summary`` tables, made as it arrives, while the workers still analyse
    (:func:`~imu_hinge.batch.tables.table_rows`): at the batch's end the tables are only copied out
    (:meth:`table_rows`). (A JSON record, and the tables formatted at the end, cost the command ~1 ms
    per outcome of serial time after the last result.) Angles are not spooled (``--angles-dir``
    writes them as they arrive).
    """

    def __init__(self, total: int, folder: str | Path | None = None) -> None:
        fd, name = tempfile.mkstemp(prefix=".imu-hinge-batch-", suffix=".spool", dir=folder)
        self.path = Path(name)
        self._fh = os.fdopen(fd, "w+b")
        self._offsets: list[int | None] = [None] * total
        self._rows_offsets: list[int | None] = [None] * total  # where each outcome's table rows start

    def add(self, i: int, outcome: Outcome) -> None:
        kept = dataclasses.replace(outcome, angles=None) if outcome.angles is not None else outcome
        rows = table_rows(kept)
        self._fh.seek(0, os.SEEK_END)
        self._offsets[i] = self._fh.tell()
        pickle.dump(kept, self._fh, protocol=pickle.HIGHEST_PROTOCOL)
        self._rows_offsets[i] = self._fh.tell()
        pickle.dump(rows, self._fh, protocol=pickle.HIGHEST_PROTOCOL)
        self._fh.flush()

    def table_rows(self) -> Iterator[TableRows]:
        """The finished outcomes' table rows, in task order (for :func:`~imu_hinge.batch.tables.write_summary`)."""
        for off in [o for o in self._rows_offsets if o is not None]:
            self._fh.seek(off)
            rows: TableRows = pickle.load(self._fh)
            yield rows

    def indices(self) -> list[int]:
        return [i for i, off in enumerate(self._offsets) if off is not None]

    def finished(self) -> list[Outcome]:
        """Not used by the CLI (it would hold every outcome): for the Python API and tests."""
        return list(self)

    def __len__(self) -> int:
        return sum(1 for off in self._offsets if off is not None)

    def _read(self, off: int) -> Outcome:
        self._fh.seek(off)
        outcome: Outcome = pickle.load(self._fh)
        return outcome

    def __getitem__(self, k: int) -> Outcome:  # type: ignore[override]
        """The k-th finished outcome in task order."""
        return self._read([o for o in self._offsets if o is not None][k])

    def __iter__(self) -> Iterator[Outcome]:
        for off in [o for o in self._offsets if o is not None]:
            yield self._read(off)

    def close(self) -> None:
        self._fh.close()
        self.path.unlink(missing_ok=True)


__all__ = ["CHUNK_MAX_BYTES", "CHUNK_MAX_TASKS", "LOCAL_SCHEDULER_HTTP", "LOCAL_WORKER_CONFIG", "QUIET_POLLING_CONFIG",
           "ClusterSpec", "OutcomeSpool", "check_workers", "connect", "dask_setup", "import_distributed",
           "installed_version", "parse_cluster", "plan_chunks", "run_batch_dask"]
