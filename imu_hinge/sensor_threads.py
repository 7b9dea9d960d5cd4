"""The two sensors' work side by side: a replay's per-sensor stages (reading, stance search, filters, angles) on two
threads.

Their heavy parts are C loops that release the GIL for a block (the filters, the planner, the sagittal angle) and
numpy's whole-array operations, so the second sensor's work runs on a thread of its own beside the first's. Each
sensor's work touches only its own state, so the results are the same on one thread or two, bit for bit. A batch
passes one thread: its parallelism is across recordings (one per job).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

from imu_hinge.samples import SENSOR_ROLES

_T = TypeVar("_T")


def default_threads() -> int:
    """Threads for one recording's replay: one per sensor when the process may use that many CPUs."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return min(len(SENSOR_ROLES), cpus)  # an affinity holds one CPU or more; an unknown count is one


class Beside(Generic[_T]):
    """``work(*args)`` on a thread of its own (named ``name``), started at once; :meth:`result` waits for it and
    returns its value or raises its exception. (No executor: concurrent.futures and the logging it loads are 7 ms
    of start-up.)"""

    def __init__(self, name: str, work: Callable[..., _T], *args: Any) -> None:
        self._value: _T | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(work, args), name=name, daemon=True)
        self._thread.start()

    def _run(self, work: Callable[..., _T], args: tuple[Any, ...]) -> None:
        try:
            self._value = work(*args)
        except BaseException as exc:  # handed to result(), in the caller's thread
            self._error = exc

    def join(self) -> None:
        """Wait for the work to end (its outcome kept for :meth:`result`)."""
        self._thread.join()

    def result(self) -> _T:
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._value  # type: ignore[return-value]


def per_role(work: Callable[[str], _T], threads: int, roles: Sequence[str] = SENSOR_ROLES) -> dict[str, _T]:
    """``work(role)`` for each of ``roles`` (the two sensors; a recording's streams, in their order): with
    ``threads`` > 1 the first on the caller's thread and each other on a thread of its own beside it (their loops
    release the GIL), else in turn. Each role's work touches only its own state, so the results are the same either
    way, keyed in ``roles``' order; an exception is raised once all are done."""
    if threads < 2 or len(roles) < 2:
        return {r: work(r) for r in roles}
    first, *rest = roles
    others = {r: Beside(f"imu-hinge-replay_{r}", work, r) for r in rest}
    try:
        out = {first: work(first)}
    finally:
        for other in others.values():
            other.join()
    out.update({r: other.result() for r, other in others.items()})
    return out
