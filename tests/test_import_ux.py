"""`imu-hinge import` as the first users met it (issue 16, item 13): a DateTime column is read as ISO date-times (no
numpy warning, no "never increases"), and an existing output is refused unless --force, as record and train refuse."""

from __future__ import annotations

import datetime as dt
import warnings
from pathlib import Path

import pytest

from imu_hinge.cli import main
from imu_hinge.errors import UsageError
from imu_hinge.recording import read_interchange_csv


def _datetime_export(path: Path, n: int = 300) -> Path:
    t0 = dt.datetime(2025, 3, 1, 10, 0, 0)
    rows = ["DateTime,Sensor,AccX,AccY,AccZ,GyrX,GyrY,GyrZ"]
    for i in range(n):
        stamp = (t0 + dt.timedelta(milliseconds=10 * i)).isoformat(timespec="milliseconds")
        a, b = 0.01 * (i % 7), 0.01 * (i % 5)  # sensor noise: a constant stream is refused as flat-lined
        rows += [f"{stamp},Pelvis,{0.1 + a:.3f},0.0,9.8,0.01,{b:.3f},0.0",
                 f"{stamp},T12,0.0,{0.1 + b:.3f},9.8,{a:.3f},0.01,0.0"]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_a_datetime_column_is_read_as_iso_times(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src, out = _datetime_export(tmp_path / "export.csv"), tmp_path / "out.csv"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the All-NaN RuntimeWarning leaked here
        assert main(["import", str(src), str(out), "--sensor-col", "Sensor", "--sacrum-label", "Pelvis",
                     "--thoracic-label", "T12"]) == 0
    assert "read as ISO 8601" in capsys.readouterr().err
    rec = read_interchange_csv(out)
    assert rec.streams["sacrum"].time_s[0] == 0.0 and abs(rec.streams["sacrum"].time_s[-1] - 2.99) < 1e-9


def test_an_existing_output_is_refused_unless_force(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src, out = _datetime_export(tmp_path / "export.csv"), tmp_path / "out.csv"
    out.write_text("precious\n", encoding="utf-8")
    args = ["import", str(src), str(out), "--sensor-col", "Sensor", "--sacrum-label", "Pelvis",
            "--thoracic-label", "T12", "--quiet"]
    assert main(args) == UsageError.exit_code
    err = capsys.readouterr().err
    assert "exists" in err and "--force" in err and err.count("\n") == 1
    assert out.read_text(encoding="utf-8") == "precious\n"  # nothing lost
    assert main([*args, "--force"]) == 0 and out.read_text(encoding="utf-8").startswith("time_s,sensor")
