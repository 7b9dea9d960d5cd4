"""Speed of `imu-hinge analyze` on a one-hour two-sensor 100 Hz recording, beside an ahrs Madgwick loop.

usage: python benchmarks/analyze_speed.py [--minutes 60] [--repeat 3] [--keep FILE]

The recording is a simulated 2-minute session (the project's simulator) tiled end to end to
the requested length (about 50 MB of interchange CSV for an hour). Timed:
  * ``imu-hinge analyze FILE --quiet`` as a user runs it (fresh process, best of --repeat);
  * in process: CSV read, and the pipeline on the loaded arrays;
  * the peer: a plain per-sample ``ahrs.filters.Madgwick.updateIMU`` loop over the same samples
    (orientation only: no calibration, angles or detection), the way a careful engineer would
    write it with the named library.
Prints a table and, last, one JSON line.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from imu_hinge.pipeline import analyze
from imu_hinge.recording import read_interchange_csv, recording_to_interchange_csv
from imu_hinge.samples import Recording, SensorStream
from imu_hinge.simulation import SimConfig, simulate


def tiled_recording(minutes: float) -> Recording:
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


def madgwick_loop(rec: Recording) -> float:
    from ahrs.filters import Madgwick

    t0 = time.perf_counter()
    for s in rec.streams.values():
        f = Madgwick(frequency=s.nominal_rate_hz)
        q = np.array([1.0, 0.0, 0.0, 0.0])
        for g, a in zip(s.gyr_rad_s, s.acc_m_s2, strict=True):
            q = f.updateIMU(q, g, a)
    return time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=60.0)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--keep", help="also keep the generated CSV here")
    args = ap.parse_args()
    rec = tiled_recording(args.minutes)
    n_samples = sum(len(s) for s in rec.streams.values())
    tmp = Path(tempfile.mkdtemp(prefix="ih-speed-"))
    csv = Path(args.keep) if args.keep else tmp / "hour.csv"
    recording_to_interchange_csv(rec, csv)
    size_mb = csv.stat().st_size / 1e6
    cli = [sys.executable, "-m", "imu_hinge", "analyze", str(csv), "--quiet"]
    walls = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        subprocess.run(cli, check=True, capture_output=True)
        walls.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    loaded = read_interchange_csv(csv)
    t_read = time.perf_counter() - t0
    t0 = time.perf_counter()
    res = analyze(loaded)
    t_core = time.perf_counter() - t0
    t_madg = madgwick_loop(loaded)
    wall = min(walls)
    rows = [
        ("imu-hinge analyze (CLI, fresh process)", wall),
        ("  of which: CSV read", t_read),
        ("  of which: pipeline (calibration, vqf, angles, detector)", t_core),
        ("ahrs Madgwick updateIMU loop (orientation only)", t_madg),
    ]
    print(f"recording: {args.minutes:g} min, 2 sensors, {n_samples} samples, {size_mb:.1f} MB CSV, "
          f"{len(res.reps)} reps found")
    print(f"{'path':58s} {'wall s':>8s} {'samples/s':>12s}")
    for name, sec in rows:
        print(f"{name:58s} {sec:8.2f} {n_samples / sec:12.0f}")
    print(f"analyze is {t_madg / wall:.1f}x faster than the Madgwick loop alone (goal: analyze <= 3 s per hour)")
    print(json.dumps({"benchmark": "analyze_speed", "minutes": args.minutes, "samples": n_samples,
                      "csv_mb": round(size_mb, 1), "analyze_cli_wall_s": round(wall, 3),
                      "analyze_cli_walls_s": [round(w, 3) for w in walls], "read_s": round(t_read, 3),
                      "pipeline_s": round(t_core, 3), "madgwick_loop_s": round(t_madg, 3),
                      "speedup_vs_madgwick": round(t_madg / wall, 2), "reps": len(res.reps),
                      "pandas": pd.__version__}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
