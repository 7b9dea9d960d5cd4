"""The Dask workers allocate as ``--jobs 1`` does: Dask's nanny exports ``MALLOC_TRIM_THRESHOLD_``, which
fixes glibc's mmap threshold at 128 kB (every array mapped afresh, page faults and all); ``--cluster
local:N`` unsets it for its workers and ``dask worker --preload imu_hinge.batch.dask_cluster`` undoes it."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

FAULTS = """
import resource, sys
import numpy as np
if sys.argv[1] == "preload":
    from imu_hinge.batch.dask_cluster import dask_setup
    dask_setup(None)
for _ in range(5):
    np.ones(2**17).sum()                      # warm up: 1 MiB arrays, as the analysis allocates
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(200):
    np.ones(2**17).sum()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _faults(mode: str) -> int:
    env = {**os.environ, "MALLOC_TRIM_THRESHOLD_": "65536"}  # as Dask's nanny starts a worker
    out = subprocess.run([sys.executable, "-c", FAULTS, mode], env=env, capture_output=True, text=True, check=True)
    return int(out.stdout)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc")
def test_the_preload_puts_back_heap_reuse_under_the_nannys_malloc_setting() -> None:
    nanny, preloaded = _faults("nanny"), _faults("preload")
    assert nanny > 20_000       # 200 arrays of 1 MiB, each mapped afresh: 256 page faults each (measured 51,400)
    assert preloaded < 1_000    # reused from the heap (measured 0)


def test_local_cluster_workers_unset_it_and_run_no_profiler() -> None:
    pytest.importorskip("distributed")
    from imu_hinge.batch.dask_cluster import connect

    def state() -> tuple[str | None, str | None, bool, str]:
        import dask
        return (os.environ.get("MALLOC_TRIM_THRESHOLD_"), os.environ.get("OPENBLAS_NUM_THREADS"),
                bool(dask.config.get("distributed.worker.profile.enabled")),
                str(dask.config.get("distributed.admin.tick.interval")))

    def forked() -> bool:  # a spawned worker starts a fresh interpreter, without this process's modules
        return "imu_hinge.batch.tables" in sys.modules

    with connect("local:1") as client:
        assert list(client.run(state).values()) == [(None, "1", False, "1s")]  # housekeeping timers slowed
        assert client.run_on_scheduler(lambda dask_scheduler: dask_scheduler._tick_interval) == 1.0
        # on Linux forked from this process, which has imported distributed already (start-up ~1 s shorter)
        assert list(client.run(forked).values()) == [sys.platform == "linux"]


def test_the_command_side_loads_no_analysis_and_a_worker_preload_does() -> None:
    """A ``--cluster`` command only hands out work: it starts without the pipeline (and pandas), which the
    workers' preload imports before their first task."""
    pytest.importorskip("distributed")
    code = ("import sys; import imu_hinge.batch.dask_cluster as dc, imu_hinge.batch.tables; "
            "mods = ('imu_hinge.analysis.pipeline', 'imu_hinge.recording', 'pandas'); "
            "print([m in sys.modules for m in mods]); dc.dask_setup(None); print([m in sys.modules for m in mods[:2]])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split("\n")
    assert out[:2] == ["[False, False, False]", "[True, True]"], out
