"""The two sensors' work side by side: a replay's per-sensor stages (reading, stance search, filters, angles) on two
threads.

Their heavy parts are C loops that release the GIL for a block (the filters, the planner, the sagittal angle) and
numpy's whole-array operations, so the second sensor's work runs on a thread of its own beside the first's. Each
sensor's work touches only its own state, so the results are the same on one thread or two, bit for bit. A batch
passes one thread: its parallelism is across recordings (one per job).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from imu_hinge.samples import SENSOR_ROLES

_T = TypeVar("_T")


def default_threads() -> int:
    """Threads for one recording's replay: one per sensor when the process may use that many CPUs."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(len(SENSOR_ROLES), cpus))


def per_role(work: Callable[[str], _T], threads: int) -> dict[str, _T]:
    """``work(role)`` for each sensor: with ``threads`` > 1 the second sensor's on a thread of its own beside the
    first's (their filters' C loops release the GIL), else in turn. Each role's work touches only its own state, so
    the results are the same either way; an exception is raised once both are done."""
    first, *rest = SENSOR_ROLES
    if threads < 2:
        return {r: work(r) for r in SENSOR_ROLES}
    with ThreadPoolExecutor(max_workers=len(rest), thread_name_prefix="imu-hinge-replay") as pool:
        futures = {r: pool.submit(work, r) for r in rest}
        out = {first: work(first)}
        out.update({r: f.result() for r, f in futures.items()})
    return {r: out[r] for r in SENSOR_ROLES}
