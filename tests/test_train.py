"""``imu-hinge train`` end to end on emulated sensors (bumble, through the real BLE path): the reps and alerts of
``analyze``, one haptic command received by the thoracic sensor per lumbar_flexion alert, a sensor lost mid-set,
swapped roles, no display and no sound, the window offscreen; the calibration guidance and the pipeline's views."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from imu_hinge.analysis.pipeline import HingePipeline
from imu_hinge.cli import main
from imu_hinge.detection.rep_events import CalibrationDone
from imu_hinge.feedback.guidance import GO, ONE_HINGE, STAND_STILL, CalibrationGuide
from imu_hinge.feedback.live_ble_source import LiveBleSource
from imu_hinge.feedback.live_window import status_text
from imu_hinge.feedback.replay_source import ReplaySource
from imu_hinge.feedback.session_runner import SensorStatus
from imu_hinge.recording import read_interchange_csv, read_session
from imu_hinge.samples import Recording
from imu_hinge.sources.link_events import LinkEvent
from imu_hinge.store import Store

from .helpers import first_sample_s

PERIOD_S = 0.01  # the simulated recording's sample period (100 Hz)


def train(*args: object) -> int:
    return main(["train", "--no-audio", *map(str, args)])


def test_train_gives_analyze_reps_and_alerts_and_one_buzz_per_rounding_alert(
        rounding_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db, a_json, t_json, rec_path = tmp_path / "s.db", tmp_path / "a.json", tmp_path / "t.json", tmp_path / "set.ihr.csv"
    with Store(db) as s:  # thresholds come from the store
        s.add_person("Ann")
        s.set_threshold("Ann", None, deg=19.0)
    a_csv = tmp_path / "a_angles.csv"
    assert main(["analyze", str(rounding_csv), "--person", "Ann", "--db", str(db), "--json", str(a_json),
                 "--angles-csv", str(a_csv), "--quiet"]) == 0
    capsys.readouterr()
    duration_s = float(read_interchange_csv(rounding_csv)["thoracic"].time_s[-1]) - 1.0  # the emulator loops at the end
    assert train("--emulate", rounding_csv, "--emulate-speed", "max", "--no-gui", "--duration", f"{duration_s:.2f}",
                 "--json", t_json, "--out", rec_path, "--person", "Ann", "--db", db) == 0
    out = capsys.readouterr().out
    a, t = json.loads(a_json.read_text()), json.loads(t_json.read_text())
    assert a["params"]["detector"]["faults"]["lumbar_flexion_deg"] == 19.0 == \
        t["params"]["detector"]["faults"]["lumbar_flexion_deg"]
    # time base: the session's clock (s since the link started); the emulated world played the recording's row 0
    # at the first sample of the sensor that started first (the other one joined the motion where it was)
    live, played = read_session(rec_path), read_interchange_csv(rounding_csv)
    first = min(("sacrum", "thoracic"), key=lambda role: first_sample_s(live[role], PERIOD_S))
    offset_s = first_sample_s(live[first], PERIOD_S) - float(played[first].time_s[0])
    assert len(t["reps"]) == len(a["reps"]) == 6
    angles = np.genfromtxt(a_csv, delimiter=",", names=True, comments="#")
    for rt, ra in zip(t["reps"], a["reps"], strict=True):
        assert rt["faults"] == ra["faults"] and rt["complete"]
        for angle in ("peak_pelvic_tilt_deg", "peak_trunk_flexion_deg", "peak_lumbar_flexion_deg"):
            assert abs(rt[angle] - ra[angle]) <= 0.5  # the same samples (stamped by the live clock fit)
        # the bottom is the argmax of T, and a bottom hold is flat to hundredths of a degree: live may pick
        # another sample of the same plateau, but it must be a bottom of analyze's own trace
        bottom_s = rt["bottom_s"] - offset_s
        assert abs(bottom_s - ra["bottom_s"]) <= 0.3
        assert np.interp(bottom_s, angles["time_s"], angles["trunk_flexion_deg"]) >= ra["peak_trunk_flexion_deg"] - 0.1
    lf_t = [x for x in t["alerts"] if x["fault"] == "lumbar_flexion"]
    lf_a = [x for x in a["alerts"] if x["fault"] == "lumbar_flexion"]
    assert [x["rep_index"] for x in lf_t] == [x["rep_index"] for x in lf_a] and len(lf_a) == 3
    assert [(x["fault"], x["rep_index"]) for x in t["alerts"]] == [(x["fault"], x["rep_index"]) for x in a["alerts"]]
    for xt, xa in zip(lf_t, lf_a, strict=True):
        assert abs(xt["time_s"] - offset_s - xa["time_s"]) <= 3 * PERIOD_S
    # the thoracic sensor received exactly one haptic command per lumbar_flexion alert, after it; the sacrum none
    received = t["emulated_sensors"]["thoracic"]["haptic_received"]
    assert len(received) == len(lf_t) and t["emulated_sensors"]["sacrum"]["haptic_received"] == []
    for got, alert in zip(received, lf_t, strict=True):
        assert alert["time_s"] < got["time_s"] < alert["time_s"] + 0.15 + 0.1  # policy hold + batching
        assert (got["intensity"], got["on_ms"], got["repeats"]) == (220, 150, 2)
    haptic = t["feedback"]["haptic"]
    assert len(haptic) == len(lf_t) and all(h["status"] == "sent" and h["write_ms"] >= 0 for h in haptic)
    # the terminal: guidance in order, a verdict line per rep, a line per alert, the summary
    lines = out.splitlines()
    assert [ln for ln in lines if ln in (STAND_STILL, ONE_HINGE, GO)] == [STAND_STILL, ONE_HINGE, GO]
    assert sum(ln.startswith("rep ") for ln in lines) == 6
    assert sum(ln.lstrip().startswith("! ") for ln in lines) == len(t["alerts"])
    assert "set: 6 reps, 3 flagged" in out and f"recorded {rec_path}" in out and "filed session #2 for Ann" in out
    # the recording: both streams whole, with the alerts and the haptic commands as events; it analyses the same
    meta: dict[str, Any] = live.metadata
    kinds = [e["kind"] for e in meta["events"]]
    assert kinds.count("alert") == len(t["alerts"]) and kinds.count("haptic") == len(lf_t)
    assert meta["end"]["status"] == "ok" and not any(k == "gap" for k in kinds)
    for role in ("sacrum", "thoracic"):
        seq = live[role].seq
        assert seq is not None and np.all(np.diff(seq) == 1) and abs(len(live[role]) - duration_s * 100) < 30
    assert main(["analyze", str(rec_path), "--threshold-deg", "19", "--json", str(a_json), "--quiet"]) == 0
    again = json.loads(a_json.read_text())
    assert [r["faults"] for r in again["reps"]] == [r["faults"] for r in t["reps"]]
    with Store(db) as s:
        kinds_filed = [x.kind for x in s.sessions("Ann")]
    assert kinds_filed == ["analyze", "train"]


def test_sensor_lost_mid_set_is_told_marks_its_reps_incomplete_and_reconnects(
        rounding_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    j = tmp_path / "lost.json"
    # sacrum away during rep 2's descent; thoracic (the time base) away just after rep 3's bottom
    assert train("--emulate", rounding_csv, "--emulate-speed", "max", "--no-gui", "--duration", "19.5", "--json", j,
                 "--out", tmp_path / "lost.ihr.csv", "--emulate-lose", "sacrum:9.5-11",
                 "--emulate-lose", "thoracic:16.7-17") == 0
    out = capsys.readouterr().out
    doc = json.loads(j.read_text())
    outages = doc["sensor_outages"]
    assert [o["sensor"] for o in outages] == ["sacrum", "thoracic"]
    for o, (lost, back) in zip(outages, [(9.5, 11.0), (16.7, 17.0)], strict=True):
        # the loss is told after it happened, the sensor is back by itself, not before it returned. How soon
        # (told within ~0.1 s, streaming again ~0.4 s after the return on an idle machine) is a latency,
        # measured by benchmarks/ble_link.py: in emulated time it stretches with the host's load (at 4x real
        # time a loaded machine's scheduling delays count four times)
        assert lost <= o["lost_s"] < o["back_s"] and back <= o["back_s"]
        assert f"{o['sensor']} sensor LOST (since {o['lost_s']:.2f} s)" in out
        assert f"{o['sensor']} sensor back (lost since {o['lost_s']:.2f} s" in out
    assert doc["link"]["sacrum"]["connects"] == 2 and doc["link"]["thoracic"]["connects"] == 2
    assert len(doc["reps"]) == 3
    for rep in doc["reps"]:
        overlaps = any(rep["start_s"] < o["back_s"] and o["lost_s"] < rep["end_s"] + 0.3 for o in outages)
        assert rep["complete"] is (not overlaps), rep
    assert [r["index"] for r in doc["reps"] if not r["complete"]] == [2, 3]
    assert "(incomplete: sensor gap)" in out and "reps marked incomplete (a sensor gap overlaps them): #2, #3" in out


def test_lost_sensor_in_the_window_status_line() -> None:
    status = {r: SensorStatus(r, connected=True, source="emulated") for r in ("sacrum", "thoracic")}
    said: list[str] = []
    live = LiveBleSource(object(), status=status, say=said.append)  # type: ignore[arg-type]
    live._link_event(LinkEvent("disconnect", "thoracic", 12.34, "thoracic: link lost"))
    assert status_text(status["thoracic"]).startswith("thoracic: DISCONNECTED (lost at 12.3 s)")
    assert said[-1].endswith("thoracic sensor LOST (since 12.34 s): the set goes on; reps while it is away are "
                             "marked incomplete; reconnecting by itself")
    live._link_event(LinkEvent("reconnect", "thoracic", 13.5, "thoracic: reconnected"))
    assert status_text(status["thoracic"]).startswith("thoracic: connected (back at 13.5 s)")
    assert live.outages == [{"sensor": "thoracic", "lost_s": 12.34, "back_s": 13.5}]


def test_swapped_roles_warned_live_without_display_or_sound(
        rounding_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    text = rounding_csv.read_text().replace(",sacrum,", ",SWAP,").replace(",thoracic,", ",sacrum,")
    swapped = tmp_path / "swapped.csv"  # the sacrum sensor worn high, the thoracic one low
    swapped.write_text(text.replace(",SWAP,", ",thoracic,"))
    for var in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setitem(sys.modules, "sounddevice", None)  # no sound library, hence no sound device
    j = tmp_path / "s.json"
    assert main(["train", "--emulate", str(swapped), "--emulate-speed", "max", "--duration", "25", "--json", str(j),
                 "--out", str(tmp_path / "s.ihr.csv")]) == 0
    cap = capsys.readouterr()
    assert "no live window: no display" in cap.err and "audio cues are silent" in cap.err
    lines = cap.out.splitlines()
    warned = next(i for i, ln in enumerate(lines) if ln.startswith("warning: sensor roles look swapped"))
    assert warned < next(i for i, ln in enumerate(lines) if ln.startswith("set: "))  # during the set
    doc = json.loads(j.read_text())
    assert doc["roles_look_swapped"] is True and any("swapped" in w for w in doc["warnings"])
    assert all(e["status"].startswith("silent") for e in doc["feedback"]["audio"])


def test_live_window_offscreen_screenshot(rounding_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    png, j = tmp_path / "train.png", tmp_path / "g.json"
    assert train("--emulate", rounding_csv, "--emulate-speed", "max", "--duration", "17.5", "--screenshot", png,
                 "--json", j, "--out", tmp_path / "g.ihr.csv") == 0
    assert "set: 3 reps" in capsys.readouterr().out
    from PySide6.QtGui import QImage

    img = QImage(str(png))
    assert not img.isNull() and img.width() >= 800 and img.height() >= 500
    img = img.convertToFormat(QImage.Format.Format_RGB32)
    rgb = np.frombuffer(img.constBits(), np.uint8).reshape(img.height(), img.bytesPerLine() // 4, 4)[..., :3]
    assert len(np.unique(rgb.reshape(-1, 3)[::7] // 16, axis=0)) >= 20  # traces, band, labels: not blank
    gui = json.loads(j.read_text())["gui"]
    assert gui["redraws"] >= 5 and 0 < gui["redraw_rate_hz"] <= 31


def test_pipeline_calibration_phase_and_rows(rounding_rec: Recording) -> None:
    pipe = HingePipeline()
    phases: list[str] = []
    n = 0
    for s in ReplaySource(rounding_rec, None).samples:
        events = pipe.push(s)
        if not phases or phases[-1] != pipe.calibration_phase:
            phases.append(pipe.calibration_phase)
        if any(isinstance(e, CalibrationDone) for e in events):
            assert pipe.calibration_phase == "running" and phases[-2] == "axis"
        new = pipe.rows_since(n)
        assert len(new) == pipe.n_rows - n and (not new or new[-1][0] <= s.time_s)
        n = pipe.n_rows
    assert phases == ["stance", "axis", "running"]
    assert pipe.rows_since(0) == pipe._rows and pipe.rows_since(0) is not pipe._rows


def test_guidance_follows_the_phases_and_reminds() -> None:
    class Pipe:
        calibration_phase = "stance"
        calibration_restarts = 0
        trackers: dict[str, object] = {}

    said: list[str] = []
    shown: list[str] = []
    pipe = Pipe()
    guide = CalibrationGuide(pipe, said.append, shown.append)  # type: ignore[arg-type]
    guide.poll(0.0)
    guide.poll(5.0)
    guide.poll(10.5)  # still standing-calibrating after 10 s: told again
    pipe.calibration_phase = "axis"
    guide.poll(11.0)
    guide.on_event(CalibrationDone(12.0, 1.0, 4.0))  # no trunk tracker: the axis is learnt from the first rep
    assert said == shown
    assert said[0] == STAND_STILL and said[1].startswith("still waiting (10 s)") and said[2] == ONE_HINGE
    assert said[3].startswith("no hinge seen yet") and [t for t, _ in guide.lines] == [0.0, 10.5, 11.0, 12.0]


def test_bad_options_are_one_line_errors(rounding_csv: Path, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    taken = tmp_path / "taken.ihr.csv"
    taken.write_text("x")
    assert train("--emulate-lose", "thoracic:1-2", "--out", tmp_path / "a.ihr.csv") == 2
    assert train("--emulate", rounding_csv, "--out", taken) == 2
    assert train("--emulate", rounding_csv, "--duration", "-1", "--out", tmp_path / "b.ihr.csv") == 2
    assert train("--emulate", rounding_csv, "--out", tmp_path / "no" / "c.ihr.csv") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 4 and all(line.startswith("imu-hinge: error:") for line in err)
    with pytest.raises(SystemExit):
        train("--emulate", rounding_csv, "--emulate-lose", "elbow:1-2")
    assert list(tmp_path.glob("*.ihr.csv")) == [taken]  # nothing written


def test_default_recording_name() -> None:
    import datetime as dt

    from imu_hinge.commands.train import default_out

    assert default_out(dt.datetime(2025, 3, 4, 5, 6, 7)) == Path("train-20250304-050607.ihr.csv")


def test_closing_the_window_ends_the_set(rounding_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    assert app is not None

    def close_all() -> None:
        for w in QApplication.topLevelWidgets():
            w.close()

    QTimer.singleShot(1500, close_all)  # real ms: mid-set at full emulation speed
    j = tmp_path / "c.json"
    assert train("--emulate", rounding_csv, "--emulate-speed", "max", "--duration", "120", "--json", j,
                 "--out", tmp_path / "c.ihr.csv") == 0
    doc = json.loads(j.read_text())
    assert capsys.readouterr().out.count("\nset: ") == 1
    assert doc["run"]["rows"] < 100 * 60 and read_session(tmp_path / "c.ihr.csv").metadata["end"]["status"] == "ok"
