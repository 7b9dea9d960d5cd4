"""How analyze's time and memory grow with recording length (1 minute to 10 hours).

usage: python benchmarks/analyze_scaling.py [--minutes 1,10,60,600] [--workdir DIR]

Each recording is a simulated 2-minute session tiled to length (interchange CSV, 2 sensors at
100 Hz, ~0.9 MB per minute). Each is analysed by ``imu-hinge analyze FILE --quiet`` in a fresh
process; wall time and the child's peak RSS (getrusage) are recorded. Prints a table, the
time-per-minute ratio between the longest and the shortest run (1.0 = linear), and a final
JSON line. The 10-hour file needs about 0.6 GB of disk.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from analyze_speed import tiled_recording

from imu_hinge.recording import recording_to_interchange_csv


def run_child(csv: Path) -> tuple[float, float]:
    """Wall time (s) and peak RSS (MB) of one analyze run in a fresh process."""
    code = ("import resource,subprocess,sys,time;t=time.perf_counter();"
            "subprocess.run([sys.executable,'-m','imu_hinge','analyze',sys.argv[1],'--quiet'],check=True,"
            "stdout=subprocess.DEVNULL);w=time.perf_counter()-t;"
            "print(w, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    out = subprocess.run([sys.executable, "-c", code, str(csv)], check=True, capture_output=True, text=True)
    wall, rss_kb = out.stdout.split()
    return float(wall), float(rss_kb) / 1024.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", default="1,10,60,600")
    ap.add_argument("--workdir")
    args = ap.parse_args()
    minutes = [float(m) for m in args.minutes.split(",")]
    work = Path(args.workdir or tempfile.mkdtemp(prefix="ih-scaling-"))
    work.mkdir(parents=True, exist_ok=True)
    rows = []
    for m in minutes:
        csv = work / f"tiled_{m:g}min.csv"
        if not csv.exists():
            recording_to_interchange_csv(tiled_recording(m), csv)
        size_mb = csv.stat().st_size / 1e6
        wall, rss_mb = run_child(csv)
        rows.append({"minutes": m, "csv_mb": round(size_mb, 1), "wall_s": round(wall, 3),
                     "peak_rss_mb": round(rss_mb, 1), "s_per_min": round(wall / m, 4)})
        print(f"{m:8g} min {size_mb:8.1f} MB {wall:8.2f} s {rss_mb:8.0f} MB RSS {wall / m:8.4f} s/min", flush=True)
    if not args.workdir:
        shutil.rmtree(work, ignore_errors=True)
    base = rows[0]["s_per_min"] if len(rows) > 1 else None
    # startup dominates short runs: linearity is judged on the marginal cost between the two longest runs
    marginal = None
    if len(rows) >= 3:
        a, b = rows[-2], rows[-1]
        c = rows[-3]
        marginal = round(((b["wall_s"] - a["wall_s"]) / (b["minutes"] - a["minutes"]))
                         / ((a["wall_s"] - c["wall_s"]) / (a["minutes"] - c["minutes"])), 3)
    print(f"marginal cost ratio (longest step / previous step; 1.0 = linear): {marginal}")
    print(json.dumps({"benchmark": "analyze_scaling", "runs": rows, "marginal_cost_ratio": marginal,
                      "first_s_per_min": base, "cpu_count": os.cpu_count(), "time": time.time()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
