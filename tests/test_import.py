"""`imu-hinge import`: foreign exports -> interchange CSV, with the worked examples of docs/import.md."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from imu_hinge.analysis.pipeline import analyze
from imu_hinge.errors import RecordingFormatError, UsageError
from imu_hinge.importing.import_spec import ImportSpec, SensorSpec, apply_axes, parse_axes
from imu_hinge.importing.importer import import_recording
from imu_hinge.recording import read_interchange_csv
from imu_hinge.recording.time_order import spread_packet_times
from imu_hinge.samples import Recording
from imu_hinge.simulation import SimConfig, simulate

from .helpers import REPO, run_cli

G = 9.80665
DOC = (REPO / "docs" / "import.md").read_text(encoding="utf-8")


def _block(lang: str) -> str:
    m = re.search(rf"```{lang}\n(.*?)```", DOC, re.S)
    assert m, f"no {lang} block in docs/import.md"
    return m.group(1)


@pytest.fixture(scope="module")
def original() -> Recording:
    return simulate(SimConfig(seed=3, n_reps=4, rounding_frac=0.5, stand_start_s=3.0)).recording


def _movesense(rec: Recording, folder: Path, packet: int = 1) -> None:
    """Per-sensor files: Timestamp (ms, one stamp per `packet` samples), acc in g, gyr in deg/s."""
    for role, name in (("sacrum", "pelvis.csv"), ("thoracic", "t12.csv")):
        s = rec[role]
        stamps = np.round(s.time_s * 1000 + 5_000_000).astype(np.int64)
        stamps = stamps[(np.arange(len(stamps)) // packet) * packet]
        frame = pd.DataFrame({"Timestamp": stamps})
        for j, axis in enumerate("XYZ"):
            frame[f"Acc{axis}"] = s.acc_m_s2[:, j] / G
        for j, axis in enumerate("XYZ"):
            frame[f"Gyro{axis}"] = np.degrees(s.gyr_rad_s[:, j])
        frame.to_csv(folder / name, index=False, float_format="%.7f")


def _single(rec: Recording, path: Path) -> None:
    """One ;-separated file: time (s), Location Pelvis/T12 (and a Thigh unit), mg and mdps."""
    parts = []
    for role, label in (("sacrum", "Pelvis"), ("thoracic", "T12"), ("sacrum", "Thigh")):
        s = rec[role]
        frame = pd.DataFrame({"time": s.time_s, "Location": label})
        for j, axis in enumerate("xyz"):
            frame[f"a{axis}"] = s.acc_m_s2[:, j] / G * 1000
        for j, axis in enumerate("xyz"):
            frame[f"g{axis}"] = np.degrees(s.gyr_rad_s[:, j]) * 1000
        parts.append(frame)
    pd.concat(parts).sort_values("time", kind="stable").to_csv(path, index=False, sep=";", float_format="%.5f")


def _assert_same(imported: Path, rec: Recording) -> None:
    back = read_interchange_csv(imported, acc_unit="si", gyr_unit="si")
    t0 = min(float(rec[r].time_s[0]) for r in rec.streams)
    for role in ("sacrum", "thoracic"):
        a, b = rec[role], back[role]
        assert len(a) == len(b)
        np.testing.assert_allclose(b.time_s, a.time_s - t0, atol=1.1e-3)  # ms stamps
        np.testing.assert_allclose(b.acc_m_s2, a.acc_m_s2, atol=1e-4)
        np.testing.assert_allclose(b.gyr_rad_s, a.gyr_rad_s, atol=1e-4)


def test_example_1_per_sensor_files_with_options_and_toml(original: Recording, tmp_path: Path) -> None:
    _movesense(original, tmp_path)
    out = tmp_path / "session.csv"
    proc = run_cli("import", "--sacrum", tmp_path / "pelvis.csv", "--thoracic", tmp_path / "t12.csv",
                   "--time-unit", "ms", "--acc-unit", "g", "--gyr-unit", "deg/s", out)
    assert proc.returncode == 0, proc.stderr
    assert "wrote" in proc.stdout
    _assert_same(out, original)
    (tmp_path / "movesense.toml").write_text(_block("toml"), encoding="utf-8")
    out2 = tmp_path / "session2.csv"
    proc = run_cli("import", "--mapping", tmp_path / "movesense.toml", out2)
    assert proc.returncode == 0, proc.stderr
    _assert_same(out2, original)
    reps = analyze(read_interchange_csv(out2)).reps
    assert len(reps) == len(analyze(original).reps) == 4


def test_example_2_one_file_with_labels_options_json_and_detection(original: Recording, tmp_path: Path) -> None:
    _single(original, tmp_path / "export.csv")
    out = tmp_path / "session.csv"
    proc = run_cli("import", tmp_path / "export.csv", out, "--sensor-col", "Location", "--sacrum-label", "Pelvis",
                   "--thoracic-label", "T12", "--acc-unit", "mg", "--gyr-unit", "mdps")
    assert proc.returncode == 0, proc.stderr
    assert "thigh" in proc.stderr.lower()  # the third unit is left out, with a note
    _assert_same(out, original)
    (tmp_path / "export_mapping.json").write_text(_block("json"), encoding="utf-8")
    proc = run_cli("import", "--mapping", tmp_path / "export_mapping.json", tmp_path / "s2.csv")
    assert proc.returncode == 0, proc.stderr
    _assert_same(tmp_path / "s2.csv", original)
    detected = import_recording(ImportSpec(source=str(tmp_path / "export.csv"), acc_unit="mg", gyr_unit="mdps"),
                                tmp_path / "s3.csv")
    assert any("time unit taken as s" in n for n in detected.notes)
    _assert_same(tmp_path / "s3.csv", original)


def test_packet_stamps_rate_only_and_axes(original: Recording, tmp_path: Path) -> None:
    _movesense(original, tmp_path, packet=4)
    spec = ImportSpec(acc_unit="g", gyr_unit="deg/s",
                      sensors={"sacrum": SensorSpec(file=str(tmp_path / "pelvis.csv")),
                               "thoracic": SensorSpec(file=str(tmp_path / "t12.csv"))})
    report = import_recording(spec, tmp_path / "packets.csv")
    assert any("per packet" in n for n in report.notes)
    assert abs(report.sensors["sacrum"].rate_hz - 100.0) < 1.0
    np.testing.assert_allclose(spread_packet_times(np.array([0.0, 0.0, 1.0, 1.0])), [0.0, 0.5, 1.0, 1.5])
    spec.time_column, spec.rate_hz, spec.axes = None, 50.0, "x,z,-y"
    spec.gyr_columns = ("GyroX", "GyroY", "GyroZ")
    report = import_recording(spec, tmp_path / "rate.csv")
    s = report.sensors["thoracic"]
    assert s.time_s[1] == pytest.approx(0.02)
    np.testing.assert_allclose(s.acc_m_s2[:, 2], -original["thoracic"].acc_m_s2[:, 1], atol=1e-5)
    assert parse_axes("-x, y ,z") == ((0, -1.0), (1, 1.0), (2, 1.0))
    np.testing.assert_allclose(apply_axes(np.array([[1.0, 2.0, 3.0]]), "z,-x,y"), [[3.0, -1.0, 2.0]])
    with pytest.raises(UsageError):
        parse_axes("x,x,y")


def test_bad_mappings_give_one_line_and_write_nothing(original: Recording, tmp_path: Path) -> None:
    _movesense(original, tmp_path)
    out = tmp_path / "out.csv"
    base = ["import", "--sacrum", tmp_path / "pelvis.csv", "--thoracic", tmp_path / "t12.csv"]
    proc = run_cli(*base, "--acc-cols", "AccX,AccY,AccW", "--acc-unit", "g", "--gyr-unit", "deg/s", out)
    assert proc.returncode == 3 and "AccW" in proc.stderr and proc.stderr.count("\n") == 1
    proc = run_cli(*base, "--gyr-unit", "deg/s", out)  # acc really in g, read as m/s^2
    assert proc.returncode == 3 and "far from gravity" in proc.stderr and "--acc-unit g" in proc.stderr
    proc = run_cli(*base, "--acc-unit", "g", out)  # gyr really in deg/s, read as rad/s
    assert proc.returncode == 3 and "deg/s" in proc.stderr
    assert not out.exists() and not list(tmp_path.glob(".out.csv*"))
    out.write_text("earlier\n")
    proc = run_cli(*base, "--acc-unit", "mg", "--gyr-unit", "deg/s", out)
    assert proc.returncode == 3 and out.read_text() == "earlier\n"
    proc = run_cli("import", tmp_path / "pelvis.csv", out, "--sacrum", tmp_path / "pelvis.csv")
    assert proc.returncode == 2
    proc = run_cli(*base, "--acc-unit", "furlongs", out)
    assert proc.returncode == 2 and "unknown accelerometer unit" in proc.stderr
    proc = run_cli("import", "--sacrum", tmp_path / "missing.csv", "--thoracic", tmp_path / "t12.csv", out)
    assert proc.returncode == 3 and "missing.csv" in proc.stderr


def test_time_problems(original: Recording, tmp_path: Path) -> None:
    _single(original, tmp_path / "export.csv")
    frame = pd.read_csv(tmp_path / "export.csv", sep=";")
    frame = frame.iloc[::-1]
    frame.to_csv(tmp_path / "backwards.csv", sep=";", index=False)
    spec = ImportSpec(source=str(tmp_path / "backwards.csv"), acc_unit="mg", gyr_unit="mdps",
                      sensors={"sacrum": SensorSpec(label="Pelvis"), "thoracic": SensorSpec(label="T12")})
    with pytest.raises(RecordingFormatError, match="backwards"):
        import_recording(spec, tmp_path / "x.csv")
    frame = frame.iloc[::-1].copy()
    frame["time"] = pd.to_datetime(frame["time"], unit="s", origin="2024-05-01").dt.strftime("%Y-%m-%dT%H:%M:%S.%f")
    frame.to_csv(tmp_path / "iso.csv", sep=";", index=False)
    spec.source, spec.time_unit = str(tmp_path / "iso.csv"), "iso"
    report = import_recording(spec, tmp_path / "iso_out.csv")
    assert abs(report.sensors["thoracic"].rate_hz - 100.0) < 1.0
    assert not (tmp_path / "x.csv").exists()
