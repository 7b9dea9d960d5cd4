"""Batch analysis on a Dask cluster (the ``dask`` extra): ``imu-hinge analyze INPUTS --cluster ADDRESS``.

    with connect("tcp://scheduler:8786") as client:          # or "local:4": a cluster on this machine
        outcomes = run_batch_dask(files, settings, client, on_done=spool.add)

Every (recording, setting) pair is one Dask task running :func:`imu_hinge.batch.runner._work` on a
worker, exactly the analysis of ``--jobs``. Results come back in completion order and go to
``on_done(index, outcome)`` at once (the CLI spools them to disk: :class:`OutcomeSpool`); the
tables are then written in task order, so they are byte-identical to ``--jobs 1``.

A worker that dies mid-batch loses nothing: the scheduler runs its tasks on the other workers
(each task result is taken once, by its key, so no row is doubled). A task that kills
``allowed_failures + 1`` workers in turn (a recording that makes a worker run out of memory) comes
back as ``KilledWorker``: a failed row with a one-line reason. Before any work, every worker must
run the same imu-hinge version as this process (:func:`check_workers`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.metadata
import json
import logging
import os
import tempfile
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from imu_hinge.batch.runner import Outcome, Setting, _work, make_tasks, one_line
from imu_hinge.errors import ClusterError, UsageError
from imu_hinge.extras import require
from imu_hinge.jsonable import dumps

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


def dask_setup(worker: Any) -> None:
    """``dask worker --preload imu_hinge.batch.dask_cluster``: undo the nanny's malloc setting in this worker.

    The nanny exports ``MALLOC_TRIM_THRESHOLD_`` before it starts the worker (see
    :data:`LOCAL_WORKER_CONFIG`); glibc has then fixed its mmap threshold at 128 kB. This sets the
    thresholds to the ceiling glibc's own dynamic rule reaches (32 MiB mmap, 64 MiB trim), so the
    analysis' arrays are reused from the heap as in ``--jobs 1``. Does nothing off glibc or when
    the variable is not set.
    """
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
    distributed = require("distributed", "--cluster")
    if quiet:
        for name in ["distributed", *logging.root.manager.loggerDict]:
            if name == "distributed" or name.startswith("distributed."):
                logging.getLogger(name).setLevel(logging.CRITICAL + 1)
    import dask

    local = None
    if spec.address is None:
        with dask.config.set({**LOCAL_WORKER_CONFIG, **QUIET_POLLING_CONFIG}):
            local = distributed.LocalCluster(n_workers=spec.local_workers, threads_per_worker=1, processes=True,
                                             dashboard_address=":0", silence_logs=logging.ERROR)  # any free port
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


def run_batch_dask(files: Sequence[str | Path], settings: Sequence[Setting], client: Any, *,
                   acc_unit: str = "auto", gyr_unit: str = "auto", with_angles: bool = False,
                   on_done: Callable[[int, Outcome], None]) -> list[int]:
    """Analyse every (file, setting) pair on the cluster; ``on_done(task_index, outcome)`` as each arrives.

    Returns the task indices that never came back because the cluster went away (empty when all did).
    """
    distributed = require("distributed", "--cluster")
    tasks = make_tasks(files, settings, acc_unit, gyr_unit, with_angles)
    batch_id = uuid.uuid4().hex[:12]
    futures = [client.submit(_work, task, key=f"imu-hinge-{batch_id}-{i}", pure=False)
               for i, task in enumerate(tasks)]
    index = {f.key: i for i, f in enumerate(futures)}
    done: set[int] = set()
    lost: list[int] = []
    for fut in distributed.as_completed(futures):
        i = index[fut.key]
        if i in done:  # as_completed never repeats a future; guard the tables anyway
            continue
        if fut.status == "cancelled":  # the scheduler went away
            lost.append(i)
            continue
        try:  # "lost" too: its result was on a worker that died since; the scheduler computes it again
            outcome = fut.result()
        except Exception as exc:
            if type(exc).__name__ == "KilledWorker":
                outcome = _failed(tasks[i], "every worker that analysed it died (out of memory? a worker memory "
                                            "limit, `dask worker --memory-limit`, sets how much one may use)")
            elif fut.status == "error":
                outcome = _failed(tasks[i], f"worker failed ({type(exc).__name__}: {exc})")
            elif fut.status == "cancelled":
                lost.append(i)
                continue
            else:  # the result could not come back (a worker lost between done and fetch)
                outcome = _failed(tasks[i], f"the result could not be fetched ({type(exc).__name__}: {exc})")
        fut.release()
        done.add(i)
        on_done(i, outcome)
    return sorted(lost)


# -- results on disk as they arrive ---------------------------------------------------------------
class OutcomeSpool(Sequence[Outcome]):
    """Outcomes written to a temporary JSON-lines file as they arrive, read back by task index.

    Only the file offsets stay in memory; the tables are written from this sequence in task order.
    Angles are not spooled (``--angles-dir`` writes them as they arrive).
    """

    def __init__(self, total: int, folder: str | Path | None = None) -> None:
        fd, name = tempfile.mkstemp(prefix=".imu-hinge-batch-", suffix=".jsonl", dir=folder)
        self.path = Path(name)
        self._fh = os.fdopen(fd, "w+b")
        self._offsets: list[int | None] = [None] * total

    def add(self, i: int, outcome: Outcome) -> None:
        doc = {f.name: getattr(outcome, f.name) for f in dataclasses.fields(Outcome) if f.name != "angles"}
        self._fh.seek(0, os.SEEK_END)
        self._offsets[i] = self._fh.tell()
        self._fh.write(dumps(doc).encode() + b"\n")
        self._fh.flush()

    def indices(self) -> list[int]:
        return [i for i, off in enumerate(self._offsets) if off is not None]

    def finished(self) -> list[Outcome]:
        """Not used by the CLI (it would hold every outcome): for the Python API and tests."""
        return [self[i] for i in range(len(self))]

    def __len__(self) -> int:
        return sum(1 for off in self._offsets if off is not None)

    def __getitem__(self, k: int) -> Outcome:  # type: ignore[override]
        """The k-th finished outcome in task order."""
        off = [o for o in self._offsets if o is not None][k]
        self._fh.seek(off)
        return Outcome(**json.loads(self._fh.readline()))

    def __iter__(self) -> Iterator[Outcome]:
        for off in [o for o in self._offsets if o is not None]:
            self._fh.seek(off)
            yield Outcome(**json.loads(self._fh.readline()))

    def close(self) -> None:
        self._fh.close()
        self.path.unlink(missing_ok=True)


__all__ = ["LOCAL_WORKER_CONFIG", "QUIET_POLLING_CONFIG", "ClusterSpec", "OutcomeSpool", "check_workers", "connect",
           "dask_setup", "installed_version", "parse_cluster", "run_batch_dask"]
