"""Store benchmark: 10,000 sessions with their reps in one SQLite file; ``history`` for one person < 200 ms.

Files sessions through the real write path (``Store.file_session``, one transaction each)
with made-up analysis results (8 reps per session, some rounded, with alerts), spread over
two years: one heavy user with half of all sessions and many people sharing the rest. Then
times ``history`` for a typical and for the heavy person in-process (open the store, query,
render the table and trend: everything but interpreter start-up), the same on a copy
without the history indexes, ``advise`` for the heavy person, and one fresh ``imu-hinge
history`` process. Prints a table and a final JSON line.

    .venv/bin/python benchmarks/store_history.py [--sessions 10000] [--reps 8] [--repeat 20]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from imu_hinge.analysis.pipeline import AnalysisResult
from imu_hinge.commands.history import history_report, render_history
from imu_hinge.detection.rep_events import FaultRaised, Rep
from imu_hinge.rehab.progression import advise, load_rules
from imu_hinge.store import Store

GOAL_MS = 200.0
HISTORY_INDEXES = ("sessions_by_person_time", "reps_by_session", "alerts_by_session")


def made_up_result(rng: np.random.Generator, n_reps: int) -> AnalysisResult:
    reps, alerts = [], []
    for i in range(1, n_reps + 1):
        peak = float(rng.uniform(3, 30))
        faults = ["lumbar_flexion"] if peak > 20 else []
        t0 = 4.0 + 4.0 * i
        reps.append(Rep(i, t0, t0 + 1.5, t0 + 3.0, 60.0 - peak, 60.0, peak, -1.0, (60.0 - peak) / 60.0, 0.3, 1.5,
                        0.2, 1.3, 0.5 if faults else 0.0, 1.0, None, faults))
        if faults:
            alerts.append(FaultRaised(t0 + 1.4, "lumbar_flexion", 20.1, i))
    empty = np.zeros(0)
    return AnalysisResult(empty, empty, empty, empty, reps, alerts, {"base_sensor": "thoracic"}, [], {})


def build(path: Path, n_sessions: int, n_reps: int, n_others: int) -> tuple[float, dict[str, int]]:
    rng = np.random.default_rng(0)
    start = dt.datetime(2023, 1, 1, 8, tzinfo=dt.UTC)
    t0 = time.perf_counter()
    with Store(path) as store:
        store.add_person("Heavy")
        for k in range(n_others):
            store.add_person(f"Person {k:03d}")
        exercises = ("barbell_rdl", "kettlebell_swing", "good_morning", "kettlebell_deadlift")
        for i in range(n_sessions):
            who = "Heavy" if i % 2 == 0 else f"Person {(i // 2) % n_others:03d}"
            when = start + dt.timedelta(minutes=int(i * 105))  # ~2 years in all
            store.file_session(who, exercises[i % 4], made_up_result(rng, n_reps), f"/recordings/{i}.csv",
                               started_utc=when, params={"detector": {"faults": {"lumbar_flexion_deg": 20.0}}})
        counts = store.counts()
        store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return time.perf_counter() - t0, counts


def time_history(path: Path, person: str, repeat: int) -> tuple[float, int]:
    walls, n = [], 0
    for _ in range(repeat):
        t0 = time.perf_counter()
        with Store(path, create=False) as store:
            report = history_report(store, person)
            text = render_history(report)
        walls.append(time.perf_counter() - t0)
        n = len(report["sessions"])
        assert text
    return 1000.0 * statistics.median(walls), n


def time_advise(path: Path, person: str, repeat: int) -> float:
    rules, walls = load_rules(), []
    for _ in range(repeat):
        t0 = time.perf_counter()
        with Store(path, create=False) as store:
            for e in store.exercises_done(person):
                advise(e, store.sets(person, e), rules)
        walls.append(time.perf_counter() - t0)
    return 1000.0 * statistics.median(walls)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sessions", type=int, default=10_000)
    ap.add_argument("--reps", type=int, default=8, help="reps per session")
    ap.add_argument("--others", type=int, default=50, help="people sharing the half the heavy user does not have")
    ap.add_argument("--repeat", type=int, default=20)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.sqlite3"
        build_s, counts = build(path, args.sessions, args.reps, args.others)
        size_mb = path.stat().st_size / 1e6
        typical_ms, n_typical = time_history(path, "Person 000", args.repeat)
        heavy_ms, n_heavy = time_history(path, "Heavy", args.repeat)
        advise_ms = time_advise(path, "Heavy", args.repeat)
        bare = Path(tmp) / "no_indexes.sqlite3"
        shutil.copy(path, bare)
        conn = sqlite3.connect(bare)
        for name in HISTORY_INDEXES:
            conn.execute(f"DROP INDEX {name}")
        conn.close()
        bare_typical_ms, _ = time_history(bare, "Person 000", max(3, args.repeat // 4))
        bare_heavy_ms, _ = time_history(bare, "Heavy", max(3, args.repeat // 4))
        cli_walls = []
        for _ in range(3):
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-m", "imu_hinge", "history", "Heavy", "--db", str(path)], check=True,
                           capture_output=True)
            cli_walls.append(time.perf_counter() - t0)
        cli_ms = 1000.0 * min(cli_walls)
    print(f"store: {counts['sessions']} sessions, {counts['reps']} reps, {counts['alerts']} alerts, "
          f"{counts['people']} people, {size_mb:.1f} MB; filed in {build_s:.1f} s "
          f"({counts['sessions'] / build_s:.0f} sessions/s, one transaction each)")
    print(f"{'operation':58s} {'sessions':>8s} {'median ms':>10s}")
    rows = [("history, typical person (open + query + render)", n_typical, typical_ms),
            ("history, heavy person (half of all sessions)", n_heavy, heavy_ms),
            ("advise, heavy person (every exercise)", n_heavy, advise_ms),
            ("history, typical person, without the history indexes", n_typical, bare_typical_ms),
            ("history, heavy person, without the history indexes", n_heavy, bare_heavy_ms),
            ("imu-hinge history Heavy (fresh process, best of 3)", n_heavy, cli_ms)]
    for name, n, ms in rows:
        print(f"{name:58s} {n:8d} {ms:10.1f}")
    ok = max(typical_ms, heavy_ms) < GOAL_MS
    print(f"goal: history for one person < {GOAL_MS:.0f} ms with {args.sessions} sessions: {'met' if ok else 'MISSED'}")
    print(json.dumps({"benchmark": "store_history", "sessions": counts["sessions"], "reps": counts["reps"],
                      "people": counts["people"], "db_mb": round(size_mb, 1), "build_s": round(build_s, 2),
                      "history_typical_ms": round(typical_ms, 2), "history_typical_sessions": n_typical,
                      "history_heavy_ms": round(heavy_ms, 2), "history_heavy_sessions": n_heavy,
                      "advise_heavy_ms": round(advise_ms, 2), "history_typical_no_index_ms": round(bare_typical_ms, 2),
                      "history_heavy_no_index_ms": round(bare_heavy_ms, 2), "history_cli_ms": round(cli_ms, 1),
                      "goal_ms": GOAL_MS, "goal_met": ok, "sqlite": sqlite3.sqlite_version}))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
