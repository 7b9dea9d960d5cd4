"""Crash safety of the session writer: SIGKILL at random moments keeps every sample older than
1 s and a readable file; disk full (injected ENOSPC, or a real file-size limit) stops the writer
with one clear line and a readable file holding what it had."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from imu_hinge.errors import RecordingWriteError
from imu_hinge.recording import SessionWriter, build_metadata, read_session, sensor_metadata
from imu_hinge.recording import session_writer as writer_module

from .helpers import REPO

# Paced like a live session: each sensor's samples become due at RATE_HZ on the monotonic clock
# (shared by all processes) and are written in notifications of PER samples with fsync on.
CHILD = r"""
import sys, time
import numpy as np
from imu_hinge.protocol import SensorInfo
from imu_hinge.recording import SessionWriter, build_metadata, sensor_metadata
path, rate_hz, per = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
roles = ("sacrum", "thoracic")
meta = build_metadata({r: sensor_metadata(SensorInfo.lsm6ds3(role=r, rate_hz=rate_hz)) for r in roles})
w = SessionWriter(flush_interval_s=0.5).open(path, meta)
t0 = time.monotonic()
print("start", repr(t0), flush=True)
n, synced = 0, 0
while True:
    due = int((time.monotonic() - t0) * rate_hz)
    while n + per <= due:
        seq = n + np.arange(per)
        raw = (seq[:, None] * 7 + np.arange(6) * 1000) % 65536 - 32768
        for j, role in enumerate(roles):
            w.write_samples(role, seq / rate_hz + 0.001 * j, seq=n, raw=raw, device_time_us=seq * 5000,
                            host_time_s=time.monotonic() - t0)
        n += per
        print("gen", n, flush=True)
    if w.samples_on_disk != synced:
        synced = w.samples_on_disk
        print("synced", synced, flush=True)
    w.flush_if_due()
    time.sleep(0.002)
"""


def _expected_raw(seq: np.ndarray) -> np.ndarray:
    return (seq[:, None] * 7 + np.arange(6) * 1000) % 65536 - 32768


def _kill_run(path: Path, delay_s: float, rate_hz: float = 200.0, per: int = 4) -> dict[str, float]:
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(path), str(rate_hz), str(per)], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stderr is not None
    try:
        first = proc.stdout.readline()
        assert first.startswith("start"), proc.stderr.read()
        t0 = float(first.split()[1])
        time.sleep(delay_s)
        t_kill = time.monotonic()
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=10)
    log = proc.stdout.read().split()
    proc.stdout.close()
    proc.stderr.close()
    generated = max([int(log[i + 1]) for i in range(len(log)) if log[i] == "gen"], default=0)
    synced = max([int(log[i + 1]) for i in range(len(log)) if log[i] == "synced"], default=0)
    rec = read_session(path)  # never raises: every file stays readable (a torn last line, which a kill
    # inside a multi-page write can leave, is dropped with a warning)
    assert any("not closed" in w for w in rec.warnings), rec.warnings
    old_enough = min(generated, int((t_kill - 1.0 - t0) * rate_hz) + 1) if t_kill - 1.0 > t0 else 0
    lost_s = []
    for role in ("sacrum", "thoracic"):
        s = rec[role]
        n = len(s)
        assert np.array_equal(s.seq, np.arange(n)), "samples on file must be a prefix, without holes"
        assert np.array_equal(np.rint(s.acc_m_s2 / rec.metadata["sensors"][role]["acc_m_s2_per_lsb"]),
                              _expected_raw(s.seq)[:, :3])
        assert n >= old_enough, f"{role}: {n} samples on file, {old_enough} were older than 1 s at the kill"
        lost_s.append(t_kill - t0 - n / rate_hz)  # age of the oldest sample not on file
    assert sum(len(s) for s in rec.streams.values()) >= synced, "fewer samples on file than the writer synced"
    return {"delay_s": delay_s, "generated": generated, "on_file": min(len(rec[r]) for r in rec.streams),
            "lost_samples": generated - min(len(rec[r]) for r in rec.streams), "lost_age_s": max(lost_s)}


def test_sigkill_at_random_moments_keeps_everything_older_than_one_second(tmp_path: Path) -> None:
    rng = np.random.default_rng(2026)
    delays = [0.1, *rng.uniform(0.3, 2.6, 5)]  # the first kill comes before anything was flushed
    results = [_kill_run(tmp_path / f"kill{k}.ihr.csv", float(d)) for k, d in enumerate(delays)]
    print("\nSIGKILL runs (2 sensors x 200 Hz, flush_interval_s 0.5):")
    for r in results:
        print("  " + json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in r.items()}))
    assert max(r["lost_age_s"] for r in results) < 1.0


def _meta() -> dict:
    from imu_hinge.protocol import SensorInfo
    return build_metadata({r: sensor_metadata(SensorInfo.lsm6ds3(role=r)) for r in ("sacrum", "thoracic")})


def _fill(w: SessionWriter, packets: int) -> None:
    for k in range(packets):
        for j, role in enumerate(("sacrum", "thoracic")):
            seq = k * 4 + np.arange(4)
            w.write_samples(role, seq / 104 + 0.001 * j, seq=int(seq[0]), raw=_expected_raw(seq))


@pytest.mark.parametrize("partial", [True, False])
def test_disk_full_stops_cleanly_with_a_readable_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      partial: bool) -> None:
    path = tmp_path / "full.ihr.csv"
    w = SessionWriter(flush_interval_s=0.05).open(path, _meta())
    real_write, target = os.write, w.fileno()
    budget = {"bytes": 60_000}

    def full_disk(fd: int, data: bytes) -> int:  # the disk fills up after `budget` more bytes
        if fd != target:
            return real_write(fd, data)
        if budget["bytes"] <= 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        n = min(len(data), budget["bytes"]) if partial else (len(data) if len(data) <= budget["bytes"] else 0)
        if n == 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        budget["bytes"] -= n
        return real_write(fd, data[:n])

    monkeypatch.setattr(writer_module.os, "write", full_disk)
    with pytest.raises(RecordingWriteError) as info:
        _fill(w, 2000)
    monkeypatch.undo()
    err = info.value
    msg = str(err)
    assert "\n" not in msg and str(path) in msg and "disk full" in msg and f"{err.samples_kept} sample" in msg
    assert err.exit_code == 7 and w.closed and w.error is err
    with pytest.raises(RecordingWriteError):  # every later call says the same
        _fill(w, 1)
    w.close()  # a no-op after the error
    data = path.read_bytes()
    assert data.endswith(b"\n")
    rec = read_session(path)
    assert sum(len(s) for s in rec.streams.values()) == err.samples_kept > 0
    assert not any("torn" in x for x in rec.warnings)
    for s in rec.streams.values():
        assert np.array_equal(s.seq, np.arange(len(s)))


def test_fsync_error_is_reported_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "eio.ihr.csv"
    w = SessionWriter(flush_interval_s=0.05).open(path, _meta())
    _fill(w, 3)
    w.flush()

    def broken(fd: int) -> None:
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr(writer_module.os, "fsync", broken)
    with pytest.raises(RecordingWriteError, match="write error .*Input/output error") as info:
        _fill(w, 200)
    monkeypatch.undo()
    rec = read_session(path)
    assert sum(len(s) for s in rec.streams.values()) == info.value.samples_kept >= 24


def test_disk_full_while_creating_the_file_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def full(fd: int, data: bytes) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(writer_module.os, "write", full)
    with pytest.raises(RecordingWriteError, match="disk full"):
        SessionWriter().open(tmp_path / "new.ihr.csv", _meta())
    monkeypatch.undo()
    assert not (tmp_path / "new.ihr.csv").exists()


FSIZE_CHILD = r"""
import resource, signal, sys
import numpy as np
from imu_hinge.errors import RecordingWriteError
from imu_hinge.recording import SessionWriter, build_metadata, sensor_metadata
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (40_000, 40_000))
meta = build_metadata({"sacrum": sensor_metadata(rate_hz=100.0), "thoracic": sensor_metadata(rate_hz=100.0)})
w = SessionWriter(flush_interval_s=0.2).open(sys.argv[1], meta)
try:
    for k in range(100000):
        for role in ("sacrum", "thoracic"):
            w.write_samples(role, [k / 100], seq=k, acc_m_s2=[[0.1, 0.2, 9.8]], gyr_rad_s=[[0.0, 0.01, k / 1e5]])
except RecordingWriteError as exc:
    print(exc.samples_kept, exc, sep="\n")
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_FSIZE semantics checked on Linux")
def test_a_real_file_size_limit_is_handled_like_a_full_disk(tmp_path: Path) -> None:
    path = tmp_path / "limit.ihr.csv"
    proc = subprocess.run([sys.executable, "-c", FSIZE_CHILD, str(path)], capture_output=True, text=True,
                          timeout=60, cwd=REPO)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    kept, msg = proc.stdout.strip().split("\n")
    assert "file size limit" in msg
    assert path.stat().st_size <= 40_000
    rec = read_session(path)
    assert sum(len(s) for s in rec.streams.values()) == int(kept) > 100
