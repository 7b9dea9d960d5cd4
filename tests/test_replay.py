"""``imu-hinge replay``: same reps and alerts as ``analyze``; feedback sinks; no device, no display."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import subprocess
import sys
import time
import types
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest

from imu_hinge.analysis.pipeline import AnalysisResult, analyze, pipeline_for
from imu_hinge.cli import main
from imu_hinge.detection.role_check import roles_look_swapped
from imu_hinge.feedback.audio import AudioSink, tone
from imu_hinge.feedback.haptic import DEFAULT_PATTERN, HapticSink
from imu_hinge.feedback.policy import FeedbackPolicy, FeedbackScheduler
from imu_hinge.feedback.replay_source import ReplaySource, drop_rate
from imu_hinge.feedback.session_runner import RowRing, SessionRunner, Sink, TimeOrderMerger
from imu_hinge.protocol import decode_command, encode_command
from imu_hinge.recording import recording_to_interchange_csv
from imu_hinge.samples import ImuSample, Recording

from .helpers import REPO, run_cli


def test_replay_json_equals_analyze(rounding_csv: Path, tmp_path: Path) -> None:
    out_a, out_r = tmp_path / "a.json", tmp_path / "r.json"
    ra = run_cli("analyze", str(rounding_csv), "--json", str(out_a), "--quiet")
    rr = run_cli("replay", str(rounding_csv), "--speed", "max", "--json", str(out_r), "--no-audio")
    assert ra.returncode == 0, ra.stderr
    assert rr.returncode == 0, rr.stderr
    a, r = json.loads(out_a.read_text()), json.loads(out_r.read_text())
    assert a["alerts"] and r["reps"]
    assert r["reps"] == a["reps"]
    assert r["alerts"] == a["alerts"]
    assert r["warnings"] == a["warnings"]
    # the terminal got a verdict line per rep and a line per alert, as they happened
    assert sum(line.startswith("rep ") for line in rr.stdout.splitlines()) == len(a["reps"])
    assert sum(line.lstrip().startswith("! ") for line in rr.stdout.splitlines()) == len(a["alerts"])
    assert "set: 6 reps" in rr.stdout
    # feedback issued: one dry-run haptic command per rounding cue, with its time
    fb = r["feedback"]
    n_lf = sum(1 for x in a["alerts"] if x["fault"] == "lumbar_flexion")
    assert len(fb["haptic"]) == sum(1 for c in fb["cues"] if c["kind"] == "concurrent") == n_lf
    assert all(h["status"] == "dry_run" and h["bytes_hex"] == encode_command(DEFAULT_PATTERN).hex()
               for h in fb["haptic"])
    assert r["roles_look_swapped"] is False


def run_session(rec: Recording, sinks: list[Sink], policy: FeedbackPolicy | None = None) -> tuple[
        AnalysisResult, SessionRunner]:
    pipe, _ = pipeline_for(rec)
    runner = SessionRunner(pipe, FeedbackScheduler(policy, pipe.params.detector.faults), sinks, RowRing())
    return asyncio.run(runner.run(ReplaySource(rec, None))), runner


@pytest.mark.parametrize("policy", [FeedbackPolicy(hold_s=0.0), FeedbackPolicy()])
def test_haptic_one_command_per_lumbar_flexion_alert(rounding_rec: Recording, policy: FeedbackPolicy) -> None:
    written: list[tuple[float, bytes]] = []

    async def fake_write(data: bytes) -> None:
        await asyncio.sleep(0.001)
        written.append((time.perf_counter(), bytes(data)))

    haptic = HapticSink(fake_write)
    res, runner = run_session(rounding_rec, [haptic], policy)
    lf = [a for a in res.alerts if a.fault == "lumbar_flexion"]
    assert len(lf) >= 2
    assert len(haptic.log) == len(written) == len(lf)
    for entry, alert, (_, data) in zip(haptic.log, lf, written, strict=True):
        assert entry["status"] == "sent" and entry["write_ms"] >= 0
        assert entry["rep_index"] == alert.rep_index
        assert round(alert.time_s, 6) <= entry["time_s"] <= alert.time_s + policy.hold_s + 0.05
        assert decode_command(data) == DEFAULT_PATTERN
    # same reps and alerts as the batch analysis
    ref = analyze(rounding_rec)
    assert [r.to_dict() for r in res.reps] == [r.to_dict() for r in ref.reps]
    assert [a.to_dict() for a in res.alerts] == [a.to_dict() for a in ref.alerts]
    assert runner.feedback_json()["haptic"] is haptic.log


def test_haptic_write_failure_is_logged_and_the_session_goes_on(rounding_rec: Recording) -> None:
    async def broken_write(data: bytes) -> None:
        raise ConnectionError("sensor lost")

    haptic = HapticSink(broken_write)
    res, runner = run_session(rounding_rec, [haptic])
    assert len(res.reps) == 6
    assert haptic.log and all(e["status"].startswith("error: ConnectionError") for e in haptic.log)
    assert runner.stats.sink_errors == 0


def test_audio_without_sounddevice_is_silent(monkeypatch: pytest.MonkeyPatch, rounding_rec: Recording) -> None:
    monkeypatch.setitem(sys.modules, "sounddevice", None)  # import fails as if not installed
    audio = AudioSink("auto")
    assert audio.silent and "not installed" in audio.reason
    res, runner = run_session(rounding_rec, [audio])
    assert len(res.reps) == 6
    assert audio.log and all(e["status"].startswith("silent") for e in audio.log)
    assert runner.feedback_json()["audio_backend"] == audio.reason


def fake_sounddevice(has_output: bool, played: list[tuple[np.ndarray, int]]) -> types.ModuleType:
    mod = types.ModuleType("sounddevice")

    def query_devices(kind: str | None = None) -> dict[str, object]:
        if not has_output:
            raise ValueError("No output device matching ''")  # what PortAudio says with no sound card
        return {"name": "fake", "max_output_channels": 2}

    def play(data: np.ndarray, samplerate: int, blocking: bool = False) -> None:
        played.append((data, samplerate))

    mod.query_devices = query_devices  # type: ignore[attr-defined]
    mod.play = play  # type: ignore[attr-defined]
    return mod


def test_audio_no_output_device_and_with_one(monkeypatch: pytest.MonkeyPatch, rounding_rec: Recording) -> None:
    played: list[tuple[np.ndarray, int]] = []
    monkeypatch.setitem(sys.modules, "sounddevice", fake_sounddevice(False, played))
    silent = AudioSink("auto")
    assert silent.silent and "no output sound device" in silent.reason
    monkeypatch.setitem(sys.modules, "sounddevice", fake_sounddevice(True, played))
    audio = AudioSink("auto")
    assert not audio.silent
    run_session(rounding_rec, [silent, audio])
    assert len(audio.log) == len(silent.log) > 0
    assert all(e["status"] == "played" for e in audio.log)
    assert len(played) == len(audio.log)
    data, rate = played[0]
    assert rate == 44100 and data.dtype == np.float32 and 0.1 < len(data) / rate < 0.2
    assert np.abs(tone(880.0)).max() <= 0.31 and abs(tone(880.0)[0]) < 1e-3  # faded in: no click


def test_no_display_falls_back_to_terminal(rounding_csv: Path, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    out = tmp_path / "r.json"
    proc = subprocess.run([sys.executable, "-m", "imu_hinge", "replay", str(rounding_csv), "--speed", "max", "--gui",
                           "--json", str(out)], capture_output=True, text=True, timeout=120, cwd=REPO, env=env)
    assert proc.returncode == 0, proc.stderr
    gui_warnings = [line for line in proc.stderr.splitlines() if "--gui" in line]
    assert len(gui_warnings) == 1 and "no display" in gui_warnings[0]
    doc = json.loads(out.read_text())
    assert len(doc["reps"]) == 6 and "gui" not in doc
    assert "audio" in doc["feedback"]  # the sinks that exist still ran (audio silent or playing)


def test_roles_swapped_detected(rounding_rec: Recording, tmp_path: Path) -> None:
    swapped = Recording({"sacrum": dataclasses.replace(rounding_rec["thoracic"], sensor="sacrum"),
                         "thoracic": dataclasses.replace(rounding_rec["sacrum"], sensor="thoracic")})
    assert not roles_look_swapped(analyze(rounding_rec))
    res = analyze(swapped)
    assert len(res.reps) >= 3
    assert roles_look_swapped(res)
    assert roles_look_swapped(res.reps)
    assert not roles_look_swapped(res.reps[:1])  # one rep is not enough to say
    path = tmp_path / "swapped.csv"
    recording_to_interchange_csv(swapped, path)
    proc = run_cli("replay", str(path), "--speed", "max", "--no-audio", "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert "sensor roles look swapped" in proc.stdout


def test_replay_paces_samples() -> None:
    samples = [ImuSample(i * 0.01, "sacrum", (0.0, 0.0, 9.81), (0.0, 0.0, 0.0)) for i in range(101)]

    async def consume(speed: float | None) -> tuple[float, int]:
        t0, n = time.perf_counter(), 0
        async for batch in ReplaySource(samples, speed):
            n += len(batch)
        return time.perf_counter() - t0, n

    wall_s, n = asyncio.run(consume(4.0))
    assert n == 101 and 0.24 <= wall_s < 0.6  # 1 s of data at 4x
    wall_s, n = asyncio.run(consume(None))
    assert n == 101 and wall_s < 0.1


def test_drop_rate_from_time_gaps(rounding_rec: Recording) -> None:
    s = rounding_rec["sacrum"]
    keep = np.ones(len(s), bool)
    keep[100:150] = False  # 50 samples lost
    rec = Recording({"sacrum": dataclasses.replace(s, time_s=s.time_s[keep], acc_m_s2=s.acc_m_s2[keep],
                                                   gyr_rad_s=s.gyr_rad_s[keep], clipped=None)})
    assert drop_rate(rec, "sacrum") == pytest.approx(50 / len(s), abs=0.002)


@pytest.mark.parametrize("speed", ["0", "fast", "-4", "nan"])
def test_bad_speed(rounding_csv: Path, speed: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["replay", str(rounding_csv), "--speed", speed])
    assert exc.value.code == 2 and "speed" in capsys.readouterr().err


def test_packets_in_arrival_order_are_merged_back_in_time_order(rounding_rec: Recording) -> None:
    # BLE-like delivery: 10-sample notifications per sensor, released when their last sample is taken
    packets: list[tuple[float, list[ImuSample]]] = []
    for role in ("sacrum", "thoracic"):
        mine = [s for s in ReplaySource(rounding_rec, None).samples if s.sensor == role]
        packets += [(chunk[-1].time_s, chunk) for chunk in (mine[i:i + 10] for i in range(0, len(mine), 10))]
    packets.sort(key=lambda p: p[0])
    arrival = [s.time_s for _, chunk in packets for s in chunk]
    assert any(b < a for a, b in zip(arrival, arrival[1:], strict=False))  # not in time order across sensors

    async def source() -> AsyncIterator[list[ImuSample]]:
        for _, chunk in packets:
            yield chunk

    pipe, _ = pipeline_for(rounding_rec)
    runner = SessionRunner(pipe, FeedbackScheduler(None, pipe.params.detector.faults), merger=TimeOrderMerger())
    res = asyncio.run(runner.run(source()))
    ref = analyze(rounding_rec)
    assert [r.to_dict() for r in res.reps] == [r.to_dict() for r in ref.reps]
    assert [a.to_dict() for a in res.alerts] == [a.to_dict() for a in ref.alerts]
    assert np.array_equal(np.isnan(res.pelvic_tilt_deg), np.isnan(ref.pelvic_tilt_deg))


def test_merger_does_not_wait_forever_for_a_lost_sensor() -> None:
    merger = TimeOrderMerger(max_wait_s=0.1)
    only = [ImuSample(i * 0.01, "sacrum", (0.0, 0.0, 9.81), (0.0, 0.0, 0.0)) for i in range(50)]
    out = merger.push(only)
    assert [s.time_s for s in out] == [s.time_s for s in only if s.time_s <= 0.49 - 0.1 + 1e-12]
    assert len(out) + len(merger.flush()) == 50


def test_merger_keeps_time_order_when_one_sensor_arrives_late() -> None:
    """Packets of the thoracic sensor arrive 0.19 s after the sacrum's of the same time (a slow
    stretch of the BLE link): the merged samples are still in time order (they were not with a
    0.1 s wait, and the late rep was then marked incomplete as if a sensor had been lost)."""
    merger = TimeOrderMerger()
    rate, per_packet, late_s = 100.0, 5, 0.19
    arrivals = []
    for k in range(0, 300, per_packet):
        for role, delay in (("sacrum", 0.0), ("thoracic", late_s)):
            chunk = [ImuSample((k + i) / rate + (0.003 if role == "thoracic" else 0.0), role, (0.0, 0.0, 9.81),
                               (0.0, 0.0, 0.0)) for i in range(per_packet)]
            arrivals.append((chunk[-1].time_s + delay, chunk))
    arrivals.sort(key=lambda a: a[0])
    out: list[ImuSample] = []
    for _, chunk in arrivals:
        out.extend(merger.push(chunk))
    out.extend(merger.flush())
    times = [s.time_s for s in out]
    assert len(times) == 600 and times == sorted(times)
