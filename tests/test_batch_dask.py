"""Batch analysis on Dask: a real scheduler and two worker processes on localhost (one killed mid-batch),
``--cluster`` tables byte-identical to ``--jobs 1``, Parquet beside CSV, the Python API, and bad clusters."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("distributed")
pytest.importorskip("pyarrow")

import pandas as pd

from imu_hinge.analysis.analysis_params import AnalysisParams
from imu_hinge.batch.dask_cluster import OutcomeSpool, connect, installed_version, run_batch_dask
from imu_hinge.batch.runner import Outcome, expand_inputs, sweep_settings
from imu_hinge.batch.tables import companion_path, write_summary
from imu_hinge.cli import main
from imu_hinge.simulation import SimConfig, simulate, write_case

from .helpers import run_cli

DASK = str(Path(sys.executable).with_name("dask"))


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Eight short simulated recordings and one broken file."""
    d = tmp_path_factory.mktemp("dask_batch")
    for seed in range(8):
        exercise = ("rdl", "kb_swing", "good_morning")[seed % 3]
        write_case(simulate(SimConfig(seed=seed, exercise=exercise, n_reps=3, rounding_frac=0.4, stand_start_s=3.0)),
                   d / f"rec{seed}.csv")
    (d / "zz_broken.csv").write_text("time_s,sensor,acc_x,acc_y,acc_z,gyr_x,gyr_y,gyr_z\n0.0,sacrum,1,2\n")
    return d


def _start(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen([DASK, *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True, env={**os.environ, **(env or {})})


def _scheduler_address(path: Path, proc: subprocess.Popen[bytes], timeout_s: float = 60.0) -> str:
    """The address the scheduler writes to its file (which appears before it is written)."""
    deadline = time.monotonic() + timeout_s
    while True:
        assert proc.poll() is None, "the Dask scheduler did not start"
        assert time.monotonic() < deadline, "the Dask scheduler did not write its file"
        try:
            address = json.loads(path.read_text()).get("address")
        except (OSError, ValueError):
            address = None
        if address:
            return str(address)
        time.sleep(0.05)


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in procs:
        if p.poll() is None:
            p.terminate()
    for p in procs:
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


class Cluster:
    def __init__(self, root: Path, workers: int, worker_env: dict[str, str] | None = None,
                 scheduler_env: dict[str, str] | None = None) -> None:
        sched_file = root / "scheduler.json"
        self.scheduler = _start("scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                                "--scheduler-file", str(sched_file), env=scheduler_env)
        self.address = _scheduler_address(sched_file, self.scheduler)
        self.workers = [_start("worker", self.address, "--nthreads", "1", "--no-nanny", "--no-dashboard",
                               "--name", f"w{k}", env=worker_env) for k in range(workers)]

    def close(self) -> None:
        _stop(self.workers)
        _stop([self.scheduler])


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    c = Cluster(tmp_path_factory.mktemp("cluster"), workers=2)
    try:
        yield c
    finally:
        c.close()


def test_cluster_tables_are_byte_identical_to_jobs_1(folder: Path, cluster: Cluster, tmp_path: Path) -> None:
    assert main(["analyze", str(folder), "--summary", str(tmp_path / "one.csv"), "--no-progress", "--quiet"]) == 3
    dask = run_cli("analyze", folder, "--cluster", cluster.address, "--summary", tmp_path / "dask.csv", "--progress",
                   "--quiet", "--angles-dir", tmp_path / "angles")
    assert dask.returncode == 3, dask.stderr  # the broken file: a failed row, exit 3
    assert "zz_broken.csv" in dask.stderr and "9/9 100%" in dask.stderr  # the progress bar's final state
    for name in ("one.csv", "dask.csv"):
        assert (tmp_path / name).stat().st_size > 1000
    assert (tmp_path / "one.csv").read_bytes() == (tmp_path / "dask.csv").read_bytes()
    assert companion_path(tmp_path / "one.csv").read_bytes() == companion_path(tmp_path / "dask.csv").read_bytes()
    angles = pd.read_parquet(tmp_path / "angles")
    assert sorted(Path(r).name for r in angles["recording"].unique()) == [f"rec{i}.csv" for i in range(8)]
    per_rec = angles.groupby("recording", observed=True)["time_s"].count()
    assert per_rec.min() > 1000  # ~15 s at 100 Hz each
    rec0 = angles[angles["recording"].map(lambda r: Path(r).name) == "rec0.csv"]
    assert rec0["time_s"].is_monotonic_increasing and rec0["lumbar_flexion_deg"].max() > 10  # rounding reps


def _kill_mid_task(client: Any, cluster: Cluster, killed: threading.Event) -> None:
    """SIGKILL worker w0 while it is analysing a recording (once)."""
    if killed.is_set():
        return
    deadline = time.monotonic() + 30
    while not (addr := next((a for a, w in client.scheduler_info()["workers"].items() if w["name"] == "w0"), None)):
        assert time.monotonic() < deadline  # (a watcher may start before w0 has registered)
        time.sleep(0.005)
    while not client.processing(workers=[addr])[addr]:
        assert time.monotonic() < deadline
        time.sleep(0.005)
    os.killpg(cluster.workers[0].pid, signal.SIGKILL)
    killed.set()


def test_a_worker_killed_mid_batch_loses_no_row_and_doubles_none(folder: Path, cluster: Cluster,
                                                                  tmp_path: Path) -> None:
    files = expand_inputs([str(folder)]).files
    settings = sweep_settings(AnalysisParams(), ["threshold_deg=18,20"])  # 18 tasks
    total = len(files) * len(settings)
    spool = OutcomeSpool(total, tmp_path)
    arrivals: list[int] = []
    killed = threading.Event()
    try:
        with connect(cluster.address) as client:
            # watched from the start, not from the first result's callback: under load that callback came after
            # w0 had finished all it held, and waited in vain for it to take another
            watcher = threading.Thread(target=_kill_mid_task, args=(client, cluster, killed), daemon=True)
            watcher.start()

            def done(i: int, outcome: Outcome) -> None:
                arrivals.append(i)
                spool.add(i, outcome)

            lost = run_batch_dask(files, settings, client, on_done=done)
            watcher.join(timeout=60)
        assert killed.is_set() and cluster.workers[0].wait(timeout=10) == -signal.SIGKILL
        assert lost == [] and sorted(arrivals) == list(range(total))  # every row exactly once
        write_summary(spool, tmp_path / "dask.csv")
    finally:
        spool.close()  # a failure here must not leave the spool's file for a later test to trip over
    assert main(["analyze", str(folder), "--sweep", "threshold_deg=18,20", "--summary", str(tmp_path / "one.csv"),
                 "--no-progress", "--quiet"]) == 3  # --jobs 1
    assert (tmp_path / "one.csv").read_bytes() == (tmp_path / "dask.csv").read_bytes()
    assert companion_path(tmp_path / "one.csv").read_bytes() == companion_path(tmp_path / "dask.csv").read_bytes()


def test_a_recording_that_kills_its_workers_is_a_failed_row(folder: Path, tmp_path: Path) -> None:
    """What a worker running out of memory looks like to the batch: with allowed_failures=0 the first worker
    death of a task is final (KilledWorker). The other rows are analysed and kept."""
    c = Cluster(tmp_path, workers=2, scheduler_env={"DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "0"})
    files = expand_inputs([str(folder)]).files
    found: dict[int, Outcome] = {}
    killed = threading.Event()
    try:
        with connect(c.address) as client:
            # watched from the start, not from a result's callback: under load a starved callback looked only
            # after w0 had finished all it held, and there was nothing left to kill it in
            watcher = threading.Thread(target=_kill_mid_task, args=(client, c, killed), daemon=True)
            watcher.start()
            # one Dask task per recording: the task w0 dies in is that recording's alone (a chunk of several is
            # sent again pair by pair and comes back whole, as test_a_worker_killed_mid_batch checks)
            lost = run_batch_dask(files, [sweep_settings(AnalysisParams(), [])[0]], client,
                                  on_done=found.__setitem__, max_chunk_tasks=1)
            watcher.join(timeout=60)
            # what w0 held when it died, as the scheduler logged it on removing the worker (not what the watcher
            # saw before the kill: under load the scheduler can hand w0 more in between)
            removed = [msg for topic, events in client.get_events().items() if topic != "all" for _t, msg in events
                       if isinstance(msg, dict) and msg.get("action") == "remove-worker"]  # ("all" repeats it)
    finally:
        c.close()
    assert killed.is_set() and lost == [] and sorted(found) == list(range(len(files)))
    assert len(removed) == 1, removed
    on_w0 = set()
    for key in removed[0]["processing-tasks"]:  # imu-hinge-<batch>-<start>-<stop>: a chunk of task indices
        start, stop = str(key).rsplit("-", 2)[1:]
        on_w0 |= set(range(int(start), int(stop)))
    died = {i for i, o in found.items() if "died" in o.error}
    assert died and died <= on_w0, (died, on_w0)  # (a chunk of several would be sent again pair by pair)
    assert all(not found[i].ok and "out of memory" in found[i].error for i in died)
    broken = next(i for i, f in enumerate(files) if Path(f).name == "zz_broken.csv")
    assert not found[broken].ok  # its own read error, or (under load, held by the killed worker) that death
    assert sum(o.ok for o in found.values()) == len(files) - len(died | {broken})  # all but those


def test_local_cluster_parquet_summary_and_python_api(folder: Path, tmp_path: Path) -> None:
    import dask.dataframe as dd

    import imu_hinge as ih

    out = tmp_path / "res.parquet"
    assert main(["analyze", str(folder), "--summary", str(out), "--no-progress", "--quiet"]) == 3
    reps, recs = pd.read_parquet(out), pd.read_parquet(companion_path(out))
    assert companion_path(out).name == "res_recordings.parquet"
    tables = ih.analyze_batch(folder, cluster="local:1")  # starts a one-worker cluster here
    pd.testing.assert_frame_equal(reps, tables.reps)
    pd.testing.assert_frame_equal(recs, tables.recordings)
    assert list(recs["status"]) == ["ok"] * 8 + ["failed"] and recs["reps"].iloc[:8].sum() == len(reps) >= 16
    lazy = ih.analyze_batch([folder / "rec0.csv", folder / "rec1.csv"], as_dask=True, threshold_deg=18)
    assert isinstance(lazy.reps, dd.DataFrame) and len(lazy.reps.compute()) == 6


def _http_status(port: int, path: str) -> int:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def _http_listen_hosts(dask_worker: Any) -> list[str]:
    """The addresses a Dask server's HTTP server listens on (``client.run`` passes each worker by that name)."""
    return sorted({sock.getsockname()[0] for sock in dask_worker.http_server._sockets.values()})


def test_a_local_cluster_serves_no_dashboard_and_only_on_loopback() -> None:
    # local:N lasts one command: no dashboard (with Bokeh installed it cost ~0.9 s of start-up; without it, its
    # /status page says to install Bokeh) and nothing on the machine's network interfaces (with ":0" the scheduler's
    # pages listened on 0.0.0.0: measured before the change, /status and /info/main/workers.html answered 200)
    with connect("local:1", quiet=True) as client:
        scheduler = client.cluster.scheduler
        port = client.scheduler_info()["services"]["dashboard"]
        assert _http_listen_hosts(scheduler) == ["127.0.0.1"]
        assert _http_status(port, "/health") == 200  # the server is up: its health route answers
        assert _http_status(port, "/status") == 404  # no dashboard page, not even the one asking for Bokeh
        assert list(client.run(_http_listen_hosts, nanny=False).values()) == [["127.0.0.1"]]  # the worker's too


def test_bad_clusters_and_paths_are_one_line_errors(folder: Path, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    def check(args: list[object], code: int, *words: str) -> None:
        capsys.readouterr()
        assert main(["analyze", str(folder), "--no-progress", *map(str, args)]) == code
        err = capsys.readouterr().err
        lines = [ln for ln in err.strip().splitlines() if "note:" not in ln]  # the truth sidecars' note
        assert len(lines) == 1 and "Traceback" not in err, err
        assert all(w in lines[0] for w in words), lines[0]

    check(["--cluster", "tcp://127.0.0.1:9", "--cluster-timeout", "1"], 8,
          "cannot reach the Dask scheduler at tcp://127.0.0.1:9", "dask scheduler")
    check(["--cluster", "local:0"], 2, "local:N")
    check(["--cluster", "local:2", "--jobs", "2"], 2, "--jobs")
    check(["--summary", tmp_path / "nowhere" / "r.parquet"], 2, "folder does not exist")
    (tmp_path / "taken.parquet").mkdir()
    check(["--summary", tmp_path / "taken.parquet"], 2, "it is a folder")
    check(["--angles-dir", folder / "rec0.csv"], 2, "cannot write the angles")


def test_workers_with_another_imu_hinge_version_are_refused(folder: Path, tmp_path: Path) -> None:
    fake = tmp_path / "site"
    info = fake / "imu_hinge-9.9.9.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: imu-hinge\nVersion: 9.9.9\n")
    c = Cluster(tmp_path, workers=1, worker_env={"PYTHONPATH": str(fake)})
    try:
        proc = run_cli("analyze", folder, "--cluster", c.address, "--summary", tmp_path / "r.csv", "--no-progress")
    finally:
        c.close()
    lines = [ln for ln in proc.stderr.strip().splitlines() if "note:" not in ln]
    assert proc.returncode == 8 and len(lines) == 1, proc.stderr
    assert "has imu-hinge 9.9.9" in lines[0] and f"install imu-hinge {installed_version()}" in lines[0]
    assert not (tmp_path / "r.csv").exists()


def test_workers_without_imu_hinge_are_refused(folder: Path, tmp_path: Path) -> None:
    """A worker whose Python has Dask but not imu-hinge (a lab's generic cluster): one line, before any work."""
    import sysconfig

    site = Path(sysconfig.get_paths()["purelib"])
    bare = tmp_path / "site-without-imu-hinge"  # this environment's packages, imu-hinge left out
    bare.mkdir()
    for entry in site.iterdir():
        if "imu_hinge" not in entry.name and not entry.name.endswith(".pth"):
            (bare / entry.name).symlink_to(entry)
    sched = _start("scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                   "--scheduler-file", str(tmp_path / "scheduler.json"))
    procs = [sched]
    try:
        address = _scheduler_address(tmp_path / "scheduler.json", sched)
        procs.append(subprocess.Popen(  # -S: no site-packages, so not the editable install's hook either
            [sys.executable, "-S", "-m", "distributed.cli.dask_worker", address, "--nthreads", "1", "--no-nanny",
             "--no-dashboard", "--name", "bare"], cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(bare)},
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True))
        proc = run_cli("analyze", folder, "--cluster", address, "--summary", tmp_path / "r.csv", "--no-progress")
    finally:
        _stop(procs[1:])
        _stop(procs[:1])
    lines = [ln for ln in proc.stderr.strip().splitlines() if "note:" not in ln]
    assert proc.returncode == 8 and len(lines) == 1, proc.stderr
    assert "1 of 1 Dask workers" in lines[0] and "has no imu-hinge" in lines[0], lines[0]
    assert f"pip install 'imu-hinge[dask]=={installed_version()}'" in lines[0]
    assert not (tmp_path / "r.csv").exists()


def test_a_summary_that_cannot_be_written_at_the_end_keeps_the_rows(folder: Path, tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str],
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    import errno

    import imu_hinge.batch.parquet_io as bp

    def disk_full(df: object, path: Path) -> None:  # the disk fills up after the analyses
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(bp, "_write_parquet_atomic", disk_full)
    out = tmp_path / "res.parquet"
    assert main(["analyze", str(folder), "--summary", str(out), "--no-progress", "--quiet"]) == 3
    err = [ln for ln in capsys.readouterr().err.splitlines() if "note:" not in ln and "failed: " not in ln]
    assert len(err) == 1 and "No space left on device" in err[0], err
    rescued = Path(err[0].split("rows are in ")[1].split(" and ")[0])
    assert not out.exists() and rescued.suffix == ".csv"
    assert len(pd.read_csv(companion_path(rescued))) == 9  # every row, the failed one too


def test_chunks_cover_every_pair_once_large_first_and_end_in_single_pairs() -> None:
    from imu_hinge.batch.dask_cluster import plan_chunks

    sizes = [1.7e6] * 200  # 200 recordings of 2 min (1.7 MB each), 2 workers: the benchmark's batch
    chunks = plan_chunks(sizes, workers=2)
    assert [i for c in chunks for i in c] == list(range(200))
    lengths = [len(c) for c in chunks]
    assert lengths == sorted(lengths, reverse=True) and max(lengths) == 16 and lengths[-6:] == [1] * 6  # 7 singles
    assert 20 <= len(chunks) <= 28  # 24: a few dozen Dask tasks instead of 200
    # a long recording is a chunk of its own; a chunk stays under the byte cap; max_tasks=1: one task per pair
    mixed = [1e6] * 5 + [100e6] + [1e6] * 40
    assert range(5, 6) in plan_chunks(mixed, 2)
    assert all(sum(mixed[i] for i in c) <= 8e6 for c in plan_chunks(mixed, 2, max_bytes=8e6) if len(c) > 1)
    assert [len(c) for c in plan_chunks(sizes, 2, max_tasks=1)] == [1] * 200
    assert plan_chunks([], 2) == [] and [len(c) for c in plan_chunks([0.0] * 3, 1)] == [3]  # missing files: no work


def test_a_chunk_whose_worker_dies_is_sent_again_pair_by_pair(folder: Path, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """With allowed_failures=0 the first worker death of a Dask task is final (KilledWorker). When that task
    is a chunk of several recordings, the recordings are not failed with it: each is sent again alone, so
    only a recording that kills its workers itself would be a failed row. Here none does: all come back."""
    import imu_hinge.batch.dask_cluster as dc

    monkeypatch.setattr(dc, "CHUNKS_PER_WORKER_LEFT", 0.25)  # the whole batch in one chunk
    c = Cluster(tmp_path, workers=2, scheduler_env={"DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "0"})
    files = expand_inputs([str(folder)]).files
    found: list[tuple[int, Outcome]] = []
    killed: list[str] = []
    try:
        with connect(c.address) as client:
            client.wait_for_workers(2, timeout=60)  # connect() waits for the first only
            names = {a: w["name"] for a, w in client.scheduler_info()["workers"].items()}

            def kill_the_busy_worker() -> None:
                deadline = time.monotonic() + 60
                while not killed and time.monotonic() < deadline:
                    busy = [a for a, keys in client.processing().items() if keys]
                    if busy:
                        name = names[busy[0]]
                        os.killpg(c.workers[int(name[1:])].pid, signal.SIGKILL)
                        killed.append(name)
                    time.sleep(0.005)

            killer = threading.Thread(target=kill_the_busy_worker)
            killer.start()
            lost = run_batch_dask(files, [sweep_settings(AnalysisParams(), [])[0]], client,
                                  on_done=lambda i, o: found.append((i, o)))
            killer.join()
    finally:
        c.close()
    assert killed and lost == [] and sorted(i for i, _ in found) == list(range(len(files)))  # each once
    outcomes = [o for _, o in found]
    assert not any("died" in o.error for o in outcomes)
    assert sum(o.ok for o in outcomes) == len(files) - 1  # all but the broken file


def test_the_spool_gives_back_rows_and_outcomes_in_task_order_whatever_the_arrival(folder: Path,
                                                                                    tmp_path: Path) -> None:
    import io
    import random

    from imu_hinge.batch.runner import run_batch
    from imu_hinge.batch.tables import print_recordings, table_rows

    files = expand_inputs([str(folder)]).files
    outcomes = run_batch(files, sweep_settings(AnalysisParams(), ["threshold_deg=18,20"]))  # 18, one setting a line
    order = list(range(len(outcomes)))
    random.Random(3).shuffle(order)
    spool = OutcomeSpool(len(outcomes) + 2, tmp_path)  # two tasks never come back (a cluster lost mid-batch)
    try:
        for i in order:
            spool.add(i, outcomes[i])
        assert list(spool.table_rows()) == [table_rows(o) for o in outcomes]
        assert list(spool) == outcomes and spool.indices() == list(range(len(outcomes)))
        printed = [io.StringIO(), io.StringIO()]
        print_recordings(spool, printed[0])
        print_recordings(outcomes, printed[1])
        assert printed[0].getvalue() == printed[1].getvalue()
        assert "18 analyses, 16 ok, 2 failed" in printed[0].getvalue()  # the broken file, with each setting
    finally:
        spool.close()


def _dask_config_after(code: str) -> dict[str, Any]:
    show = "import dask, json, yaml; print(json.dumps([dask.config.config, yaml.safe_load.__module__], default=str))"
    out = subprocess.run([sys.executable, "-c", f"{code}\n{show}"], capture_output=True, text=True, check=True)
    config, loader_module = json.loads(out.stdout)
    assert loader_module == "yaml"  # PyYAML's own safe_load again after the import
    return config  # type: ignore[no-any-return]


def test_distributed_imported_with_libyaml_has_the_same_configuration() -> None:
    fast = _dask_config_after("from imu_hinge.batch.dask_cluster import import_distributed; import_distributed()")
    plain = _dask_config_after("import distributed")
    assert fast == plain and fast["distributed"]["scheduler"]["allowed-failures"] == 3
