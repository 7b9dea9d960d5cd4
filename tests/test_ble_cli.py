"""``imu-hinge scan / sensors / record --emulate``: the commands on emulated sensors through the real BLE path,
and a recording that goes record -> export and comes back as the samples it played."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import numpy as np
import pytest

from imu_hinge.cli import main
from imu_hinge.protocol import SensorInfo
from imu_hinge.recording import read_interchange_csv, read_session

from .helpers import joined_rows

ROLES = ("sacrum", "thoracic")


@pytest.fixture(scope="module")
def played(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 30 s simulated session at 100 Hz to play (interchange CSV)."""
    out = tmp_path_factory.mktemp("ble_cli") / "x.csv"
    assert main(["simulate", str(out), "--seed", "5", "--duration-s", "30"]) == 0
    return out


def test_record_then_export_gives_back_the_played_samples(played: Path, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    session, exported = tmp_path / "rec.ihr.csv", tmp_path / "rec.csv"
    assert main(["record", str(session), "--duration", "20", "--emulate", str(played), "--emulate-speed", "max",
                 "--quiet"]) == 0
    assert "wrote" in capsys.readouterr().out
    assert main(["export", str(session), "--csv", str(exported)]) == 0
    x, back, rec = read_interchange_csv(played), read_interchange_csv(exported), read_session(session)
    info = SensorInfo.lsm6ds3()  # the emulated sensors' default ranges: +-8 g, +-1000 deg/s
    per_packet = 19  # MTU 247
    joined = joined_rows(rec, 0.01)
    assert sorted(joined.values())[0] == 0 and sorted(joined.values())[1] < 10  # started within 0.1 s
    for role in ROLES:
        n, m0 = len(back[role]), joined[role]
        assert abs(n - 20 * 100) <= per_packet  # 20 s of a 100 Hz recording, within one packet
        np.testing.assert_array_equal(rec[role].seq, np.arange(n))  # nothing lost
        np.testing.assert_allclose(back[role].acc_m_s2, x[role].acc_m_s2[m0:m0 + n], rtol=0,
                                   atol=info.acc_m_s2_per_lsb / 2 + 1e-9)
        np.testing.assert_allclose(back[role].gyr_rad_s, x[role].gyr_rad_s[m0:m0 + n], rtol=0,
                                   atol=info.gyr_rad_s_per_lsb / 2 + 1e-9)
        assert np.all(np.diff(back[role].time_s) > 0)
        assert abs(back[role].nominal_rate_hz - 100.0) < 0.5


def test_scan_and_sensors_on_emulated_sensors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan", "--emulate", "--emulate-speed", "5", "--timeout", "5"]) == 0
    out = capsys.readouterr()
    assert "emulated sensors playing simulated hinges" in out.err
    lines = out.out.splitlines()
    assert lines[0].split()[:4] == ["role", "address", "battery", "rssi"]
    assert [ln.split()[0] for ln in lines[1:]] == ["sacrum", "thoracic"] and "87%" in lines[1]
    assert main(["sensors", "--emulate", "--emulate-mtu", "23", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["role"] for r in rows] == list(ROLES)
    assert all(r["rate_hz"] == 104.0 and r["firmware"] == "1.0.0" and r["battery_percent"] == 87
               and r["mtu"] == 23 and r["acc_range_g"] == 8 for r in rows)


def test_record_refuses_bad_options_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["record", str(tmp_path / "no" / "x.ihr.csv"), "--emulate"]) == 2
    assert main(["record", str(tmp_path / "x.ihr.csv"), "--duration", "-1", "--emulate"]) == 2
    assert main(["record", str(tmp_path / "x.ihr.csv"), "--emulate", str(tmp_path / "missing.csv")]) == 3  # as analyze
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) >= 3 and all(line.startswith("imu-hinge: error:") for line in err[-3:])


@pytest.mark.skipif(os.path.exists("/run/dbus/system_bus_socket") or os.path.exists("/var/run/dbus/system_bus_socket"),
                    reason="this machine has a system D-Bus: scanning would use its real Bluetooth")
def test_scan_without_bluetooth_says_so_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan", "--timeout", "1"]) == 5
    err = capsys.readouterr().err.strip()
    assert err.startswith("imu-hinge: error:") and "--emulate" in err and "\n" not in err


def test_record_applies_the_latest_sensor_calibration(played: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from imu_hinge.sensor_calibration.calibration_files import save
    from imu_hinge.sensor_calibration.imu_model import identity

    first = tmp_path / "a.ihr.csv"
    args = ["--duration", "3", "--emulate", str(played), "--emulate-speed", "max", "--quiet"]
    monkeypatch.setenv("IMU_HINGE_CALIBRATION_DIR", str(tmp_path / "cal"))
    assert main(["record", str(first), *args]) == 0
    meta = read_session(first).metadata["sensors"]
    assert meta["thoracic"]["calibration"] is None
    offset = (0.25, -0.1, 0.05)
    save(dataclasses.replace(identity(meta["thoracic"]["id"]), acc_offset_m_s2=offset), tmp_path / "cal")
    second = tmp_path / "b.ihr.csv"
    assert main(["record", str(second), *args]) == 0
    rec = read_session(second)
    named = rec.metadata["sensors"]["thoracic"]["calibration"]
    assert named["file"].startswith(meta["thoracic"]["id"].replace(":", "-") + "/")
    assert rec.metadata["sensors"]["sacrum"]["calibration"] is None
    same = {}  # the same rows of the played recording in both sessions (each sensor joins the motion as it starts)
    for role in ROLES:
        ja, jb = joined_rows(read_session(first), 0.01)[role], joined_rows(rec, 0.01)[role]
        xa, xb = read_session(first)[role].acc_m_s2[max(0, jb - ja):], rec[role].acc_m_s2[max(0, ja - jb):]
        n = min(len(xa), len(xb))
        assert n > 250
        same[role] = xa[:n], xb[:n]
    np.testing.assert_allclose(same["thoracic"][1], same["thoracic"][0] - np.array(offset), atol=1e-9)
    np.testing.assert_array_equal(*same["sacrum"])
