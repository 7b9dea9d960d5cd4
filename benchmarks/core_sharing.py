"""What a second busy core costs one analysis on this machine: the ceiling of any 2-worker batch.

usage: python benchmarks/core_sharing.py [--recordings 30] [--minutes 2] [--rounds 3] [--data DIR]

Analyses ``--recordings`` simulated sessions (as benchmarks/batch_throughput.py makes them; kept in
``--data`` when given) one after another in this process, exactly as a batch worker does
(:func:`imu_hinge.batch.runner._work`), and reads the CPU time this thread spent per recording
(``time.thread_time``: only while it ran, so time the scheduler gave to another process does not
count). It does so alone, and beside a neighbour process that keeps the other core busy:

- ``analysis``: the same analyses in a loop (what the second worker of ``--jobs 2`` or
  ``--cluster`` does);
- ``spin``: a pure-Python counting loop (no memory traffic: it shares only the core's host);
- ``memory``: numpy copying 64 MB arrays (all memory bandwidth and shared cache).

If the ``analysis`` neighbour slows the analysis by as much as ``spin`` does, the loss is not the
analysis' use of the shared cache or memory (which the project could shrink) but the machine's two
virtual CPUs slowing each other (the host's cores, hyper-threads or steal: ``steal %`` from
/proc/stat). Two workers can then give at most ``2 / slowdown`` times one worker's throughput, before
any start-up or scheduling: the line the batch benchmarks (batch_throughput.py, batch_dask.py) are read
against. Modes run in turn within each round; per mode the median over rounds. Prints a table and, last,
one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from batch_throughput import make_recordings

from imu_hinge.analysis.analysis_params import AnalysisParams
from imu_hinge.batch.runner import Setting, _work, make_tasks

NEIGHBOURS = ("alone", "analysis", "spin", "memory")
READY = b"ready\n"


def neighbour(kind: str, files: list[str]) -> None:
    """The neighbour process: says ``ready`` once warm, then keeps its core busy until killed."""
    if kind == "analysis":
        tasks = make_tasks(files, [Setting("base", AnalysisParams())], "auto", "auto", False)
        _work(tasks[0])
        sys.stdout.buffer.write(READY)
        sys.stdout.flush()
        while True:
            for task in tasks:
                _work(task)
    if kind == "memory":
        import numpy as np

        src = np.ones(8 * 2**20)  # 64 MB, far beyond the 8 MB shared cache
        dst = np.empty_like(src)
        sys.stdout.buffer.write(READY)
        sys.stdout.flush()
        while True:
            np.copyto(dst, src)
    sys.stdout.buffer.write(READY)
    sys.stdout.flush()
    n = 0
    while True:
        n += 1


def steal_ticks() -> tuple[int, int]:
    """(steal, all) jiffies of every CPU so far (/proc/stat; (0, 0) where there is none)."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except OSError:
        return 0, 0
    ticks = [int(x) for x in fields[:8]]
    return (ticks[7] if len(ticks) > 7 else 0), sum(ticks)


def timed_pass(tasks: list) -> float:
    """Thread CPU ms per recording over one pass through ``tasks``."""
    t0 = time.thread_time()
    for task in tasks:
        _work(task)
    return 1000 * (time.thread_time() - t0) / len(tasks)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--recordings", type=int, default=30)
    ap.add_argument("--minutes", type=float, default=2.0)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--data", help="folder for the simulated recordings (reused when it already holds them)")
    ap.add_argument("--neighbour", choices=NEIGHBOURS[1:], help=argparse.SUPPRESS)  # the neighbour process itself
    args = ap.parse_args()
    folder = Path(args.data) if args.data else Path(tempfile.mkdtemp(prefix="ih-cores-")) / "recordings"
    files = make_recordings(folder, args.recordings, args.minutes)
    if args.neighbour:
        neighbour(args.neighbour, files)
        return 0
    tasks = make_tasks(files, [Setting("base", AnalysisParams())], "auto", "auto", False)
    _work(tasks[0])  # imports and first-call costs out of the way
    ms: dict[str, list[float]] = {k: [] for k in NEIGHBOURS}
    steal: dict[str, list[float]] = {k: [] for k in NEIGHBOURS}
    for _ in range(args.rounds):
        for kind in NEIGHBOURS:
            proc = None
            if kind != "alone":
                cmd = [sys.executable, __file__, "--neighbour", kind, "--recordings", str(args.recordings),
                       "--minutes", str(args.minutes), "--data", str(folder)]
                proc = subprocess.Popen(cmd, stdout=subprocess.PIPE)
                assert proc.stdout is not None
                if proc.stdout.readline() != READY:  # waits until the neighbour is warm and busy
                    sys.exit(f"the {kind} neighbour did not start (exit {proc.wait()})")
            s0, a0 = steal_ticks()
            try:
                ms[kind].append(timed_pass(tasks))
            finally:
                if proc is not None:
                    proc.kill()
                    proc.wait()
            s1, a1 = steal_ticks()
            steal[kind].append(100 * (s1 - s0) / (a1 - a0) if a1 > a0 else 0.0)
    med = {k: statistics.median(v) for k, v in ms.items()}
    slow = {k: med[k] / med["alone"] for k in NEIGHBOURS}
    print(f"{len(tasks)} recordings x {args.minutes:g} min, analysed one after another in this process; "
          f"{os.cpu_count()} CPU(s); {args.rounds} rounds")
    print(f"{'the other core':<16} {'CPU ms/rec':>11} {'slowdown':>9} {'steal %':>8}  per round (ms)")
    for k in NEIGHBOURS:
        print(f"{k:<16} {med[k]:11.1f} {slow[k]:8.3f}x {statistics.median(steal[k]):8.1f}  "
              + ", ".join(f"{x:.1f}" for x in ms[k]))
    ceiling = 2 / slow["analysis"]
    print(f"two workers side by side: at most {ceiling:.2f}x one worker's throughput on this machine today "
          f"(2 / the analysis neighbour's slowdown), before any start-up or scheduling cost")
    print(json.dumps({"benchmark": "core_sharing", "recordings": len(tasks), "minutes": args.minutes,
                      "rounds": args.rounds, "cpus": os.cpu_count(),
                      "cpu_ms_per_recording": {k: round(v, 2) for k, v in med.items()},
                      "slowdown": {k: round(v, 4) for k, v in slow.items() if k != "alone"},
                      "steal_pct": {k: round(statistics.median(v), 2) for k, v in steal.items()},
                      "two_worker_ceiling": round(ceiling, 3)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
