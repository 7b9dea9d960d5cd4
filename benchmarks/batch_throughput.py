"""Throughput of batch analysis: `imu-hinge analyze DIR --jobs N --summary OUT.csv` for N = 1 and 2.

usage: python benchmarks/batch_throughput.py [--recordings 200] [--minutes 2] [--jobs 1,2] [--repeat 2]
                                             [--data DIR]

Simulates ``--recordings`` distinct sessions of ``--minutes`` each (the project's simulator, mixed
exercises, seeds 0..N-1; generated in parallel once and kept in ``--data`` when given), then times
the command as a user runs it (fresh process each time, best of ``--repeat``, the job counts
interleaved) and checks that both summary tables are byte-identical across job counts.
Goal: ``--jobs 2`` at >= 1.7x the throughput of ``--jobs 1`` on a 2-core machine, identical results.
Prints a table and, last, one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from imu_hinge.analysis.analysis_params import AnalysisParams
from imu_hinge.batch.runner import Setting, run_batch
from imu_hinge.simulation import SimConfig, simulate, write_case

EXERCISES = ("rdl", "good_morning", "kb_swing", "long_hold", "mixed", "fatigue")


def _make_one(job: tuple[int, float, str]) -> str:
    seed, minutes, folder = job
    path = Path(folder) / f"rec{seed:04d}.csv"
    if not path.exists():
        cfg = SimConfig(seed=seed, name=path.stem, exercise=EXERCISES[seed % len(EXERCISES)], n_reps=10, n_sets=3,
                        rounding_frac=0.2, lockout_arch_frac=0.1 if seed % 3 else 0.0, duration_s=minutes * 60.0)
        res = simulate(cfg)
        write_case(res, path)
        for sidecar in (path.with_suffix(".truth.json"), path.with_suffix(".truth_angles.csv")):
            sidecar.unlink()  # keep the folder to recordings only
    return str(path)


def make_recordings(folder: Path, n: int, minutes: float) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    with ProcessPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        return list(pool.map(_make_one, [(seed, minutes, str(folder)) for seed in range(n)], chunksize=4))


def run_cli(folder: Path, jobs: int, out: Path) -> float:
    cmd = [sys.executable, "-m", "imu_hinge", "analyze", str(folder), "--jobs", str(jobs), "--summary", str(out),
           "--quiet", "--no-progress"]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"batch run failed (jobs {jobs}, exit {proc.returncode}): {proc.stderr.strip()[-500:]}")
    return wall


def in_process(files: list[str], jobs: int) -> tuple[float, float]:
    """(wall s, summed analysis CPU s) of ``run_batch`` in this process (no interpreter start-up)."""
    t0 = time.perf_counter()
    outcomes = run_batch(files, [Setting("base", AnalysisParams())], jobs)
    return time.perf_counter() - t0, sum(o.cpu_s for o in outcomes)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--recordings", type=int, default=200)
    ap.add_argument("--minutes", type=float, default=2.0)
    ap.add_argument("--jobs", default="1,2", help="comma-separated job counts; the first is the baseline")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--data", help="folder for the simulated recordings (reused when it already holds them)")
    args = ap.parse_args()
    job_counts = [int(j) for j in args.jobs.split(",")]
    tmp = Path(tempfile.mkdtemp(prefix="ih-batch-"))
    folder = Path(args.data) if args.data else tmp / "recordings"
    t0 = time.perf_counter()
    files = make_recordings(folder, args.recordings, args.minutes)
    t_gen = time.perf_counter() - t0
    size_mb = sum(Path(f).stat().st_size for f in files) / 1e6
    walls: dict[int, list[float]] = {j: [] for j in job_counts}
    outs = {j: tmp / f"summary_jobs{j}.csv" for j in job_counts}
    load_before = os.getloadavg()[0]
    for _ in range(args.repeat):
        for j in job_counts:
            walls[j].append(run_cli(folder, j, outs[j]))
    inproc = {j: in_process(files, j) for j in job_counts}
    load_after = os.getloadavg()[0]
    base = job_counts[0]
    reps_text = {j: outs[j].read_bytes() for j in job_counts}
    recs_text = {j: outs[j].with_name(f"{outs[j].stem}_recordings.csv").read_bytes() for j in job_counts}
    identical = all(reps_text[j] == reps_text[base] and recs_text[j] == recs_text[base] for j in job_counts)
    n_reps = reps_text[base].count(b"\n") - 1
    best = {j: min(w) for j, w in walls.items()}
    print(f"{len(files)} recordings x {args.minutes:g} min ({size_mb:.0f} MB of CSV, generated in {t_gen:.0f} s), "
          f"{n_reps} reps found, {os.cpu_count()} CPU(s)")
    print(f"{'jobs':>4} {'CLI wall s (best)':>18} {'recordings/s':>13} {'speed-up':>9} {'in-process s':>13} "
          f"{'speed-up':>9} {'CPU use':>8}  CLI walls s")
    for j in job_counts:
        wall_ip, cpu = inproc[j]
        print(f"{j:>4} {best[j]:18.2f} {len(files) / best[j]:13.1f} {best[base] / best[j]:8.2f}x {wall_ip:13.2f} "
              f"{inproc[base][0] / wall_ip:8.2f}x {cpu / (j * wall_ip):8.0%}  "
              + ", ".join(f"{w:.2f}" for w in walls[j]))
    print(f"summary tables byte-identical across job counts: {identical}")
    print(f"CPU use = analysis CPU time / (jobs x wall): below ~95% the cores were shared with other work "
          f"(load average {load_before:.1f} before, {load_after:.1f} after, on {os.cpu_count()} CPUs)")
    speedups = {str(j): round(best[base] / best[j], 3) for j in job_counts}
    print(json.dumps({"benchmark": "batch_throughput", "recordings": len(files), "minutes": args.minutes,
                      "csv_mb": round(size_mb, 1), "reps": n_reps, "cpus": os.cpu_count(),
                      "wall_s": {str(j): round(best[j], 3) for j in job_counts},
                      "walls_s": {str(j): [round(w, 3) for w in walls[j]] for j in job_counts},
                      "recordings_per_s": {str(j): round(len(files) / best[j], 2) for j in job_counts},
                      "speedup": speedups, "identical": identical,
                      "in_process_wall_s": {str(j): round(w, 3) for j, (w, _) in inproc.items()},
                      "in_process_cpu_use": {str(j): round(c / (j * w), 3) for j, (w, c) in inproc.items()},
                      "loadavg": [round(load_before, 2), round(load_after, 2)],
                      "goal_met": identical and all(v >= 1.7 for k, v in speedups.items() if k == "2")}))
    return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(main())
