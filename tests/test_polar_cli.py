"""Polar Verity Senses in the commands: ``train --emulate REC --emulate-kind polar,polar`` against ``analyze`` of the
same recording at the Polars' 52 Hz, ``scan``/``sensors`` showing brands, ``sensors assign``, one-line refusals."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest

from imu_hinge.cli import main
from imu_hinge.recording import load_recording
from imu_hinge.sources.movesense_protocol import DEG

DEMO = Path(__file__).resolve().parents[1] / "recordings" / "demo_rdl_session.csv"


def _resampled(out: Path, rates_hz: dict[str, float]) -> Path:
    """The demo as sensors at ``rates_hz`` see it: at each k / rate s, the recorded row nearest that time (what the
    emulated Polar and Movesense measure: a recording's rows are never interpolated). Other roles keep their rows."""
    rec = load_recording(DEMO)
    lines = ["time_s,sensor,acc_x,acc_y,acc_z,gyr_x,gyr_y,gyr_z"]
    for role in ("sacrum", "thoracic"):
        s = rec[role]
        rate = round(s.nominal_rate_hz)
        new_rate = rates_hz.get(role, rate)
        k = np.arange(int((len(s) - 1) / rate * new_rate) + 1)
        rows = np.minimum(np.rint(k * rate / new_rate).astype(int), len(s) - 1)
        for t, i in zip(k / new_rate, rows, strict=True):
            a, g = s.acc_m_s2[i], s.gyr_rad_s[i]
            lines.append(f"{t:.6f},{role}," + ",".join(f"{v:.9g}" for v in (*a, *g)))
    out.write_text("\n".join(lines) + "\n")
    return out


def _at_52_hz(out: Path) -> Path:
    return _resampled(out, {"sacrum": 52.0, "thoracic": 52.0})


def test_train_on_two_emulated_polars_gives_the_reps_and_flags_of_analyze_at_52_hz(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    live_json, batch_json = tmp_path / "live.json", tmp_path / "batch.json"
    assert main(["train", "--emulate", str(DEMO), "--emulate-kind", "polar,polar", "--emulate-speed", "max",
                 "--no-gui", "--no-audio", "--out", str(tmp_path / "s.ihr.csv"), "--json", str(live_json)]) == 0
    out = capsys.readouterr().out
    assert out.count("has no vibration motor imu-hinge can drive: cues go to sound and screen") == 1
    assert main(["analyze", str(_at_52_hz(tmp_path / "demo52.csv")), "--json", str(batch_json)]) == 0
    live, batch = json.loads(live_json.read_text()), json.loads(batch_json.read_text())
    assert live["link"]["sacrum"]["brand"] == live["link"]["thoracic"]["brand"] == "polar"
    meta = load_recording(tmp_path / "s.ihr.csv").metadata["sensors"]
    assert meta["thoracic"]["brand"] == "polar" and meta["thoracic"]["firmware"] == "2.1.0"  # type: ignore[index]
    assert live["link"]["thoracic"]["rate_hz"] == 52.0 and live["link"]["thoracic"]["missing"] == 0
    assert len(live["reps"]) == len(batch["reps"]) == 8
    assert [sorted(r["faults"]) for r in live["reps"]] == [sorted(r["faults"]) for r in batch["reps"]]
    for name in ("peak_trunk_flexion_deg", "peak_lumbar_flexion_deg", "peak_pelvic_tilt_deg"):
        diff = max(abs(a[name] - b[name]) for a, b in zip(live["reps"], batch["reps"], strict=True))
        assert diff < 1.0, f"{name}: live and batch differ by {diff:.2f} deg"  # measured 0.15 T, 0.11 L, 0.05 P deg
    assert live["feedback"] and live["emulated_sensors"]["thoracic"]["haptic_received"] == []  # nothing to buzz


def test_train_on_a_polar_and_a_movesense_gives_the_reps_and_flags_of_analyze_at_their_rates(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Brands mixed (issue 18): a Polar on the sacrum, a Movesense at T12, playing the 100 Hz demo.

    Compared: ``train --emulate DEMO --emulate-kind polar,movesense`` against ``analyze`` of the demo taken as the
    two devices sample it (the recorded row nearest each 1/52 s for the Polar, each 1/104 s for the Movesense:
    the rates the devices really run at, reported by the link and written in the recording's metadata). Equal:
    the number of reps and each rep's set of faults. Within 1 deg: each rep's peak trunk, lumbar and pelvic angles
    (the devices' sample instants are offset from the k/rate grid by their start phase). The recording keeps the
    Movesense's float32 values as sent (no int16 rounding): each recorded thoracic sample is, bit for bit, the
    float32 of one demo row, taken in order."""
    live_json, batch_json = tmp_path / "live.json", tmp_path / "batch.json"
    assert main(["train", "--emulate", str(DEMO), "--emulate-kind", "polar,movesense", "--emulate-speed", "max",
                 "--no-gui", "--no-audio", "--out", str(tmp_path / "s.ihr.csv"), "--json", str(live_json)]) == 0
    out = capsys.readouterr().out
    assert out.count("Movesense 224630000102") >= 1 and out.count("has no vibration motor imu-hinge can drive") == 1
    at_rates = _resampled(tmp_path / "demo_mixed.csv", {"sacrum": 52.0, "thoracic": 104.0})
    assert main(["analyze", str(at_rates), "--json", str(batch_json)]) == 0
    live, batch = json.loads(live_json.read_text()), json.loads(batch_json.read_text())
    assert (live["link"]["sacrum"]["brand"], live["link"]["thoracic"]["brand"]) == ("polar", "movesense")
    assert (live["link"]["sacrum"]["rate_hz"], live["link"]["thoracic"]["rate_hz"]) == (52.0, 104.0)
    assert live["link"]["sacrum"]["missing"] == live["link"]["thoracic"]["missing"] == 0
    assert len(live["reps"]) == len(batch["reps"]) == 8
    assert [sorted(r["faults"]) for r in live["reps"]] == [sorted(r["faults"]) for r in batch["reps"]]
    for name in ("peak_trunk_flexion_deg", "peak_lumbar_flexion_deg", "peak_pelvic_tilt_deg"):
        diff = max(abs(a[name] - b[name]) for a, b in zip(live["reps"], batch["reps"], strict=True))
        assert diff < 1.0, f"{name}: live and batch differ by {diff:.2f} deg"
    assert live["emulated_sensors"]["thoracic"]["haptic_received"] == []  # nothing to buzz
    # the recording: the Movesense's real rate, and its floats as sent
    recorded = load_recording(tmp_path / "s.ihr.csv")
    assert recorded.metadata["sensors"]["thoracic"]["rate_hz"] == 104.0  # type: ignore[index]
    demo = load_recording(DEMO)["thoracic"]
    rows = {tuple(v): i for i, v in enumerate(np.hstack([demo.acc_m_s2, demo.gyr_rad_s / DEG]).astype(np.float32)
                                               .tolist())}  # acc m/s^2 and gyro deg/s as the Movesense sends them
    th = recorded["thoracic"]
    sent = np.hstack([th.acc_m_s2, th.gyr_rad_s / DEG]).astype(np.float32)
    which = np.array([rows.get(tuple(v), -1) for v in sent.tolist()])
    assert len(which) > 50 * 104 and np.all(which >= 0)  # every sample is one demo row, to the float32 sent
    steps = np.diff(which) % len(demo)  # a sample taken just before the motion's start measures its last row
    assert set(steps.tolist()) == {0, 1} and np.mean(steps == 0) < 0.05  # in order; 104 per 100 rows (measured 0.04)


def test_scan_and_sensors_show_brand_model_battery_firmware_rates(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan", "--emulate", "--emulate-kind", "polar,imu-hinge", "--emulate-speed", "5"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].split() == ["role", "address", "battery", "rssi", "state", "brand", "name"]
    assert lines[1].split()[5:] == ["polar", "Polar", "Sense", "0A1B2C3D"] and lines[2].split()[5] == "imu-hinge"
    assert main(["sensors", "--emulate", "--emulate-kind", "polar", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["role"] for r in rows} == {"sacrum", "thoracic"}
    for r in rows:
        assert r["brand"] == "Polar Verity Sense" and r["model"] == "Polar Verity Sense"
        assert r["battery_percent"] == 87 and r["firmware"] == "2.1.0" and r["rates_hz"] == [52]
        assert r["has_motor"] is False


def test_sensors_shows_a_movesense_beside_a_polar(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sensors", "--emulate", "--emulate-kind", "movesense,polar", "--json"]) == 0
    rows = {r["role"]: r for r in json.loads(capsys.readouterr().out)}
    ms = rows["sacrum"]
    assert (ms["brand"], ms["battery_percent"], ms["firmware"], ms["has_motor"]) == ("Movesense", 87, "2.2.1", False)
    assert ms["rates_hz"] == [13, 26, 52, 104, 208] and ms["rate_hz"] == 104.0
    assert rows["thoracic"]["brand"] == "Polar Verity Sense"


def test_sensors_assign_remembers_the_role_per_device(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = str(tmp_path / "store.sqlite3")
    assert main(["sensors", "assign", "a0:9e:1a:00:00:01", "sacrum", "--db", db]) == 0
    assert main(["sensors", "assign", "A0:9E:1A:00:00:02", "thoracic", "--db", db]) == 0
    assert main(["sensors", "assign", "A0:9E:1A:00:00:03", "sacrum", "--db", db]) == 0  # takes the role over
    roles = json.loads((tmp_path / "sensor-roles.json").read_text())
    assert roles == {"A0:9E:1A:00:00:02": "thoracic", "A0:9E:1A:00:00:03": "sacrum"}
    assert main(["sensors", "assign", "A0:9E:1A:00:00:03", "hip", "--db", db]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "sacrum|thoracic" in err


@pytest.mark.parametrize("argv, words", [
    (["scan", "--emulate", "--emulate-kind", "acme"], "unknown sensor brand 'acme'"),
    (["scan", "--emulate-kind", "polar"], "--emulate-kind needs --emulate"),
    (["scan", "--emulate", "--emulate-kind", "polar,polar,polar"], "one brand or one per role"),
])
def test_emulate_kind_refusals_are_one_line(argv: list[str], words: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert words in err and err.count("\n") == 1


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("answers, swapped", [("2\n1\n", True)])  # the right way round: the test above
def test_train_asks_which_sensor_plays_a_role_and_the_swap_check_warns(
        answers: str, swapped: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from imu_hinge.emulation.emulator import Emulator

    monkeypatch.setattr(Emulator, "assignments", property(lambda self: {}))  # nothing assigned yet
    monkeypatch.setattr("sys.stdin", _Terminal(answers))
    out_json = tmp_path / "live.json"
    assert main(["train", "--emulate", str(DEMO), "--emulate-kind", "polar", "--emulate-speed", "max", "--no-gui",
                 "--no-audio", "--duration", "25", "--out", str(tmp_path / "s.ihr.csv"), "--json", str(out_json)]) == 0
    out = capsys.readouterr()
    assert "which sensor is on the sacrum? 1) Polar Sense 0A1B2C3D" in out.out + out.err
    live = json.loads(out_json.read_text())
    assert live["roles_look_swapped"] is swapped
    assert ("swapped" in (out.out + out.err).lower()) is swapped


def test_train_on_a_polar_without_gyroscope_streaming_is_one_line_and_no_traceback(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from imu_hinge.emulation.polar_emulated import BumblePolar, PolarFaults

    emulate = BumblePolar.emulate.__func__  # type: ignore[attr-defined]

    def old_firmware(cls: type, *args: object, **kwargs: object) -> BumblePolar:
        kwargs["faults"] = PolarFaults(gyro=False) if kwargs.get("index") == 1 else None
        return emulate(cls, *args, **kwargs)  # type: ignore[no-any-return]

    monkeypatch.setattr(BumblePolar, "emulate", classmethod(old_firmware))
    out = tmp_path / "s.ihr.csv"
    assert main(["train", "--emulate", str(DEMO), "--emulate-kind", "imu-hinge,polar", "--emulate-speed", "max",
                 "--no-gui", "--no-audio", "--out", str(out)]) == 5
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("imu-hinge: error: Polar Sense 0A1B2C3E") and "does not stream the gyroscope" in err
    assert "Polar Flow" in err


def test_train_on_a_movesense_without_the_sensordata_service_is_one_line_and_no_traceback(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from imu_hinge.emulation import movesense_emulator

    emulate = movesense_emulator.emulate_movesense

    def without_app(*args: object, **kwargs: object) -> object:
        return emulate(*args, **{**kwargs, "sensordata_service": False})  # type: ignore[arg-type]

    monkeypatch.setattr(movesense_emulator, "emulate_movesense", without_app)
    assert main(["train", "--emulate", str(DEMO), "--emulate-kind", "imu-hinge,movesense", "--emulate-speed", "max",
                 "--no-gui", "--no-audio", "--out", str(tmp_path / "s.ihr.csv")]) == 5
    err = capsys.readouterr().err
    assert "Traceback" not in err
    line = err.strip().splitlines()[-1]
    assert line.startswith("imu-hinge: error: Movesense 224630000102 (") and "no Movesense GATT SensorData" in line
    assert "install Movesense's gatt_sensordata_app" in line
