"""Batch analysis on Dask: `imu-hinge analyze DIR --cluster tcp://...` on 2 local workers vs `--jobs 1`,
then a batch with one worker killed mid-way.

usage: python benchmarks/batch_dask.py [--recordings 200] [--minutes 2] [--workers 2] [--repeat 1] [--data DIR]

Simulates ``--recordings`` sessions of ``--minutes`` each (as benchmarks/batch_throughput.py does; kept in
``--data`` when given), starts a real scheduler and ``--workers`` worker processes on localhost (``dask
scheduler``, ``dask worker --nthreads 1 --preload imu_hinge.batch``, each with its nanny, as docs/batch.md
tells a lab), and times the command as a user runs it (fresh process, best of ``--repeat``): ``--jobs 1``
and ``--cluster``.
Goals: ``--cluster`` at >= 1.8x the throughput of ``--jobs 1`` on 2 workers, tables byte-identical.
Then, through the Python API, the same batch with worker 0 killed (SIGKILL) while it analyses a
recording halfway through: every recording must come back exactly once (200/200) and the tables
must still be identical. Prints a table and, last, one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from batch_throughput import make_recordings

from imu_hinge.batch import Outcome, Setting, run_batch
from imu_hinge.batch_dask import OutcomeSpool, connect, run_batch_dask
from imu_hinge.batch_tables import companion_path, write_summary
from imu_hinge.params import AnalysisParams

DASK = str(Path(sys.executable).with_name("dask"))


def start_cluster(root: Path, workers: int) -> tuple[str, list[subprocess.Popen[bytes]]]:
    sched_file = root / "scheduler.json"
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "start_new_session": True}
    procs = [subprocess.Popen([DASK, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                               "--scheduler-file", str(sched_file)], **quiet)]  # type: ignore[call-overload]
    address = ""
    while not address:  # the file appears before it is written
        time.sleep(0.05)
        try:
            address = json.loads(sched_file.read_text()).get("address", "")
        except (OSError, ValueError):
            pass
    for k in range(workers):
        procs.append(subprocess.Popen([DASK, "worker", address, "--nthreads", "1", "--no-dashboard",
                                       "--name", f"w{k}", "--preload", "imu_hinge.batch"],
                                      **quiet))  # type: ignore[call-overload]
    return address, procs


def stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for group in (procs[1:], procs[:1]):  # workers first, then the scheduler
        for p in group:
            if p.poll() is None:
                p.terminate()
        for p in group:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()


def cluster_cpu_s(procs: list[subprocess.Popen[bytes]]) -> float:
    """CPU seconds used so far by the scheduler and the workers, with their children (the nannies' workers)."""
    import psutil  # a dependency of distributed

    total = 0.0
    for p in procs:
        try:
            top = psutil.Process(p.pid)
            for proc in [top, *top.children(recursive=True)]:
                t = proc.cpu_times()
                total += t.user + t.system
        except psutil.Error:
            pass
    return total


def run_cli(folder: Path, out: Path, *extra: str, procs: list[subprocess.Popen[bytes]] | None = None,
            cpu: list[float] | None = None) -> float:
    """Wall time of the command; adds the CPU seconds it took (the command, and the cluster's processes) to ``cpu``."""
    cmd = [sys.executable, "-m", "imu_hinge", "analyze", str(folder), "--summary", str(out), "--quiet",
           "--no-progress", *extra]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    cluster0 = cluster_cpu_s(procs or [])
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if cpu is not None:
        cpu.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
                   + cluster_cpu_s(procs or []) - cluster0)
    if proc.returncode != 0:
        sys.exit(f"batch run failed ({' '.join(extra)}, exit {proc.returncode}): {proc.stderr.strip()[-500:]}")
    return wall


def in_process(files: list[str], address: str | None) -> tuple[float, float]:
    """(wall s, summed analysis CPU s) of the batch through the Python API: ``--jobs 1`` in this process, or
    on the cluster (no interpreter start-up; the CPU use shows whether the cores were shared)."""
    settings = [Setting("base", AnalysisParams())]
    t0 = time.perf_counter()
    if address is None:
        outcomes = run_batch(files, settings, 1)
    else:
        got: list[Outcome] = []
        with connect(address) as client:
            run_batch_dask(files, settings, client, on_done=lambda _i, o: got.append(o))
        outcomes = got
    return time.perf_counter() - t0, sum(o.cpu_s for o in outcomes)


def killed_run(files: list[str], address: str, procs: list[subprocess.Popen[bytes]], out: Path) -> dict:
    """The batch through the API; worker w0 is killed while it analyses a task once half have come back."""
    settings = [Setting("base", AnalysisParams())]
    spool = OutcomeSpool(len(files), out.parent)
    arrivals: list[int] = []
    killed_at = None
    t0 = time.perf_counter()
    with connect(address) as client:
        w0 = next(a for a, w in client.scheduler_info()["workers"].items() if w["name"] == "w0")

        def done(i: int, outcome: Outcome) -> None:
            nonlocal killed_at
            arrivals.append(i)
            spool.add(i, outcome)
            if killed_at is None and len(arrivals) >= len(files) // 2:
                while not client.processing(workers=[w0])[w0]:
                    time.sleep(0.002)
                os.killpg(procs[1].pid, signal.SIGKILL)
                killed_at = len(arrivals)

        lost = run_batch_dask(files, settings, client, on_done=done)
    wall = time.perf_counter() - t0
    write_summary(spool, out)
    spool.close()
    once = len(arrivals) == len(set(arrivals)) == len(files) and not lost
    return {"wall_s": round(wall, 3), "killed_after": killed_at, "returned": len(set(arrivals)),
            "duplicates": len(arrivals) - len(set(arrivals)), "lost": len(lost), "exactly_once": once,
            "worker_exit": procs[1].wait(timeout=10)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--recordings", type=int, default=200)
    ap.add_argument("--minutes", type=float, default=2.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--data", help="folder for the simulated recordings (reused when it already holds them)")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="ih-dask-"))
    folder = Path(args.data) if args.data else tmp / "recordings"
    t0 = time.perf_counter()
    files = make_recordings(folder, args.recordings, args.minutes)
    t_gen = time.perf_counter() - t0
    walls: dict[str, list[float]] = {"jobs 1": [], "cluster": []}
    outs = {"jobs 1": tmp / "jobs1.csv", "cluster": tmp / "cluster.csv"}
    cpus: dict[str, list[float]] = {"jobs 1": [], "cluster": []}
    procs: list[subprocess.Popen[bytes]] = []
    try:
        address, procs = start_cluster(tmp, args.workers)
        load_before = os.getloadavg()[0]
        for _ in range(args.repeat):  # interleaved, so both see the same background load
            walls["jobs 1"].append(run_cli(folder, outs["jobs 1"], "--jobs", "1", cpu=cpus["jobs 1"]))
            walls["cluster"].append(run_cli(folder, outs["cluster"], "--cluster", address, procs=procs,
                                            cpu=cpus["cluster"]))
        inproc = {"jobs 1": in_process(files, None), "cluster": in_process(files, address)}
        load_mid = os.getloadavg()[0]
        kill = killed_run(files, address, procs, tmp / "killed.csv")
    finally:
        stop(procs)
    load_after = os.getloadavg()[0]

    def tables(p: Path) -> tuple[bytes, bytes]:
        return p.read_bytes(), companion_path(p).read_bytes()

    base = tables(outs["jobs 1"])
    identical = tables(outs["cluster"]) == base
    killed_identical = tables(tmp / "killed.csv") == base
    rows = base[1].count(b"\n") - 1
    best = {k: min(v) for k, v in walls.items()}
    speedup = best["jobs 1"] / best["cluster"]
    print(f"{len(files)} recordings x {args.minutes:g} min (generated in {t_gen:.0f} s), {os.cpu_count()} CPU(s), "
          f"{args.workers} Dask workers (1 thread each) on localhost")
    print(f"{'run':<10} {'CLI wall s (best)':>18} {'recordings/s':>13} {'speed-up':>9} {'in-process s':>13} "
          f"{'speed-up':>9} {'CPU use':>8}  CLI walls s")
    for k in walls:
        wall_ip, cpu = inproc[k]
        n = 1 if k == "jobs 1" else args.workers
        print(f"{k:<10} {best[k]:18.2f} {len(files) / best[k]:13.1f} {best['jobs 1'] / best[k]:8.2f}x "
              f"{wall_ip:13.2f} {inproc['jobs 1'][0] / wall_ip:8.2f}x {cpu / (n * wall_ip):8.0%}  "
              + ", ".join(f"{w:.2f}" for w in walls[k]))
    print("CPU use = analysis CPU time / (processes x wall): below ~95% the cores were shared with other work")
    cpu_ratio = min(cpus["cluster"]) / min(cpus["jobs 1"])
    print(f"CPU seconds for the whole batch (command + scheduler + workers, best): --jobs 1 {min(cpus['jobs 1']):.1f}, "
          f"--cluster {min(cpus['cluster']):.1f} ({cpu_ratio:.2f}x): if that CPU spread evenly over "
          f"{args.workers} idle cores, the cluster's throughput would be {args.workers / cpu_ratio:.2f}x that of "
          "--jobs 1 (an estimate that ignores the load)")
    print(f"tables byte-identical to --jobs 1: {identical}")
    print(f"worker w0 killed (SIGKILL, exit {kill['worker_exit']}) after {kill['killed_after']} results: "
          f"{kill['returned']}/{len(files)} recordings returned, {kill['duplicates']} duplicated, {kill['lost']} lost, "
          f"{rows} rows in the recordings table, tables identical: {killed_identical} ({kill['wall_s']:.1f} s)")
    print(f"load average {load_before:.1f} before, {load_mid:.1f} after the timed runs, {load_after:.1f} at the end, "
          f"on {os.cpu_count()} CPUs")
    goal = identical and killed_identical and kill["exactly_once"] and rows == len(files) and speedup >= 1.8
    print(json.dumps({"benchmark": "batch_dask", "recordings": len(files), "minutes": args.minutes,
                      "workers": args.workers, "cpus": os.cpu_count(),
                      "wall_s": {k: round(v, 3) for k, v in best.items()},
                      "walls_s": {k: [round(w, 3) for w in v] for k, v in walls.items()},
                      "speedup": round(speedup, 3), "identical": identical,
                      "cpu_s": {k: round(min(v), 2) for k, v in cpus.items()}, "cpu_ratio": round(cpu_ratio, 3),
                      "idle_speedup_estimate": round(args.workers / cpu_ratio, 3),
                      "in_process_wall_s": {k: round(w, 3) for k, (w, _) in inproc.items()},
                      "in_process_speedup": round(inproc["jobs 1"][0] / inproc["cluster"][0], 3),
                      "in_process_cpu_use": {k: round(c / ((1 if k == "jobs 1" else args.workers) * w), 3)
                                             for k, (w, c) in inproc.items()},
                      "killed": {**kill, "rows": rows, "identical": killed_identical},
                      "loadavg": [round(load_before, 2), round(load_mid, 2), round(load_after, 2)],
                      "goal_met": goal}))
    return 0 if identical and killed_identical and kill["exactly_once"] else 1


if __name__ == "__main__":
    sys.exit(main())
