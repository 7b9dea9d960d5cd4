"""Speed of `imu-hinge analyze` on one hour of two sensors at 100 Hz, against the physical floor.

usage: python benchmarks/analyze_speed.py [--minutes 60] [--repeat 3] [--csv FILE] [--keep FILE]

The recording is a simulated 2-minute session (the project's simulator) tiled end to end to
the requested length (about 50 MB of interchange CSV for an hour); ``--csv`` reuses a file. Timed in
ONE run, each best of --repeat:
  * ``imu-hinge analyze FILE --quiet`` as a user runs it (fresh process: imports count);
  * the floor: pandas ``read_csv`` of the same file plus vqf's C++ ``VQF.updateBatch`` per sensor
    (in process, imports not counted): reading the data and one orientation filter, nothing else;
  * for information, in process: the project's CSV read and the pipeline on the loaded arrays;
  * the floor as a fresh process (``--floor-only``: Python start-up and ``import numpy, pandas,
    vqf`` counted, as they are for the CLI);
  * the API in process, ``imu_hinge.run(FILE)`` (reading, checks, the pipeline, the session checks:
    what the CLI does after its imports), after one warm-up call: against the in-process floor the
    like-for-like ratio, no interpreter start-up or imports on either side.
Goal: analyze <= 1.5 x the floor (the in-process one). The three ratios are printed, in wall time and
in CPU time (CPU time is what a loaded, shared machine leaves alone). Prints a table and, last, one JSON
line. The CLI's start-up (Python, numpy and the package's imports: ~0.3 s, no pandas since the
interchange CSV has its own C reader) is not in the in-process floor: against it the goal is out of
reach (start-up + reading + vqf alone are ~1.4 x the in-process floor).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# as the CLI does (imu_hinge.cli), before numpy loads: OpenBLAS' idle thread pool otherwise spins a second core
# during the in-process API run (CPU 1.40 s for a 1.11 s wall, the same wall either way)
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np
import pandas as pd
from vqf import VQF

GOAL_RATIO = 1.5


def tiled_recording(minutes: float) -> Any:
    from imu_hinge.samples import Recording, SensorStream
    from imu_hinge.simulation import SimConfig, simulate

    base = simulate(SimConfig(seed=7, exercise="mixed", n_reps=12, duration_s=120.0)).recording
    period = max(float(s.time_s[-1]) for s in base.streams.values()) + 0.01
    n = int(np.ceil(minutes * 60.0 / period))
    streams = {}
    for role, s in base.streams.items():
        t = np.concatenate([s.time_s + k * period for k in range(n)])
        keep = t < minutes * 60.0
        streams[role] = SensorStream(role, t[keep], np.tile(s.acc_m_s2, (n, 1))[keep],
                                     np.tile(s.gyr_rad_s, (n, 1))[keep])
    return Recording(streams)


def floor_once(csv: Path) -> tuple[float, float]:
    """pandas read_csv of the file + vqf's C++ updateBatch per sensor (wall s, CPU s)."""
    t0, c0 = time.perf_counter(), time.process_time()
    frame = pd.read_csv(csv, comment="#")
    for _, part in frame.groupby("sensor", sort=False):
        t = part["time_s"].to_numpy()
        gyr = np.ascontiguousarray(part[["gyr_x", "gyr_y", "gyr_z"]].to_numpy(dtype=float))
        acc = np.ascontiguousarray(part[["acc_x", "acc_y", "acc_z"]].to_numpy(dtype=float))
        VQF(float(np.median(np.diff(t)))).updateBatch(gyr, acc)
    return time.perf_counter() - t0, time.process_time() - c0


def child_cpu_s() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=60.0)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--csv", help="time this interchange CSV instead of generating one")
    ap.add_argument("--keep", help="also keep the generated CSV here")
    ap.add_argument("--floor-only", metavar="FILE", help=argparse.SUPPRESS)  # the floor in a fresh process
    args = ap.parse_args()
    if args.floor_only:
        floor_once(Path(args.floor_only))
        return 0
    import imu_hinge
    from imu_hinge.analysis.pipeline import analyze
    from imu_hinge.recording import read_interchange_csv, recording_to_interchange_csv

    if args.csv:
        csv = Path(args.csv)
    else:
        csv = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="ih-speed-")) / "hour.csv"
        recording_to_interchange_csv(tiled_recording(args.minutes), csv)
    size_mb = csv.stat().st_size / 1e6
    cli = [sys.executable, "-m", "imu_hinge", "analyze", str(csv), "--quiet"]
    floor_cli = [sys.executable, __file__, "--floor-only", str(csv)]
    walls, cpus, floors, floor_cpus, fresh_floors, fresh_floor_cpus = [], [], [], [], [], []
    api_walls, api_cpus = [], []
    imu_hinge.run(csv)  # warm-up: the API's lazy imports are not timed (nor are the floor's)
    for _ in range(args.repeat):  # interleaved: both see the same load on a shared machine
        t0, c0 = time.perf_counter(), child_cpu_s()
        subprocess.run(cli, check=True, capture_output=True)
        walls.append(time.perf_counter() - t0)
        cpus.append(child_cpu_s() - c0)
        f_wall, f_cpu = floor_once(csv)
        floors.append(f_wall)
        floor_cpus.append(f_cpu)
        t0, c0 = time.perf_counter(), child_cpu_s()
        subprocess.run(floor_cli, check=True, capture_output=True)
        fresh_floors.append(time.perf_counter() - t0)
        fresh_floor_cpus.append(child_cpu_s() - c0)
        t0, c0 = time.perf_counter(), time.process_time()
        imu_hinge.run(csv)
        api_walls.append(time.perf_counter() - t0)
        api_cpus.append(time.process_time() - c0)
    t0 = time.perf_counter()
    loaded = read_interchange_csv(csv)
    t_read = time.perf_counter() - t0
    t0 = time.perf_counter()
    res = analyze(loaded)
    t_core = time.perf_counter() - t0
    n_samples = sum(len(s) for s in loaded.streams.values())
    wall, floor = min(walls), min(floors)
    ratio = wall / floor
    cpu_ratio = min(cpus) / min(floor_cpus)  # CPU time: what a shared machine's load leaves alone
    fresh_ratio, fresh_cpu_ratio = wall / min(fresh_floors), min(cpus) / min(fresh_floor_cpus)
    api_wall = min(api_walls)
    api_ratio, api_cpu_ratio = api_wall / floor, min(api_cpus) / min(floor_cpus)
    rows = [
        ("imu-hinge analyze (CLI, fresh process, imports included)", wall),
        ("  in process: CSV read", t_read),
        ("  in process: pipeline (calibration, vqf, angles, detector)", t_core),
        ("floor: pandas read_csv + vqf updateBatch per sensor", floor),
        ("  info: the floor as a fresh process (imports included)", min(fresh_floors)),
        ("imu_hinge.run(FILE) in process (API, warm: no imports)", api_wall),
    ]
    print(f"recording: {size_mb:.1f} MB CSV, 2 sensors, {n_samples} samples, {len(res.reps)} reps found")
    print(f"{'path':60s} {'wall s':>8s} {'samples/s':>12s}")
    for name, sec in rows:
        print(f"{name:60s} {sec:8.2f} {n_samples / sec:12.0f}")
    print(f"CPU s (best of {args.repeat}): analyze {min(cpus):.2f}, floor {min(floor_cpus):.2f} in process, "
          f"{min(fresh_floor_cpus):.2f} as a fresh process")
    print(f"analyze / in-process floor = {ratio:.2f} wall, {cpu_ratio:.2f} CPU (goal <= {GOAL_RATIO}): "
          f"{'PASS' if ratio <= GOAL_RATIO else 'FAIL'}")
    print(f"API run(FILE) / in-process floor = {api_ratio:.2f} wall, {api_cpu_ratio:.2f} CPU "
          f"({'within' if api_ratio <= GOAL_RATIO else 'beyond'} {GOAL_RATIO} x; same process, no start-up on "
          f"either side)")
    print(f"analyze / fresh-process floor = {fresh_ratio:.2f} wall, {fresh_cpu_ratio:.2f} CPU "
          f"({'within' if fresh_ratio <= GOAL_RATIO else 'beyond'} {GOAL_RATIO} x)")
    print(json.dumps({"benchmark": "analyze_speed", "csv_mb": round(size_mb, 1), "samples": n_samples,
                      "analyze_cli_wall_s": round(wall, 3), "analyze_cli_walls_s": [round(w, 3) for w in walls],
                      "floor_s": round(floor, 3), "floor_walls_s": [round(f, 3) for f in floors],
                      "analyze_over_floor": round(ratio, 3), "goal_ratio": GOAL_RATIO,
                      "analyze_cpu_s": round(min(cpus), 3), "floor_cpu_s": round(min(floor_cpus), 3),
                      "analyze_over_floor_cpu": round(cpu_ratio, 3),
                      "floor_fresh_process_s": round(min(fresh_floors), 3),
                      "floor_fresh_process_cpu_s": round(min(fresh_floor_cpus), 3),
                      "analyze_over_floor_fresh_process": round(fresh_ratio, 3),
                      "analyze_over_floor_fresh_process_cpu": round(fresh_cpu_ratio, 3),
                      "api_run_s": round(api_wall, 3), "api_run_walls_s": [round(w, 3) for w in api_walls],
                      "api_run_cpu_s": round(min(api_cpus), 3), "api_over_floor": round(api_ratio, 3),
                      "api_over_floor_cpu": round(api_cpu_ratio, 3),
                      "pass": bool(ratio <= GOAL_RATIO), "read_s": round(t_read, 3), "pipeline_s": round(t_core, 3),
                      "reps": len(res.reps), "pandas": pd.__version__}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
