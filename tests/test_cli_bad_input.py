"""Every user mistake listed in the issues, through the real CLI: one line, the right exit code,
no traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from imu_hinge.errors import CalibrationError, InputError, UsageError

from .helpers import run_cli, standing_rows, write_rows


def assert_one_line_error(proc, code: int, *needles: str) -> None:
    assert proc.returncode == code, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("imu-hinge: error: ")
    for n in needles:
        assert n in lines[0], lines[0]


def test_missing_file(tmp_path: Path) -> None:
    assert_one_line_error(run_cli("analyze", tmp_path / "nope.csv"), InputError.exit_code, "no such file")


def test_empty_file(tmp_path: Path) -> None:
    p = tmp_path / "empty.csv"
    p.write_text("")
    assert_one_line_error(run_cli("analyze", p), InputError.exit_code, "empty")


def test_only_comments(tmp_path: Path) -> None:
    p = tmp_path / "c.csv"
    p.write_text("# just a comment\n# another\n")
    assert_one_line_error(run_cli("analyze", p), InputError.exit_code, "no data rows")


def test_wrong_columns(tmp_path: Path) -> None:
    p = write_rows(tmp_path / "cols.csv", ["0.0,sacrum,1,2,3"], header="time,sensor,ax,ay,az")
    assert_one_line_error(run_cli("analyze", p), InputError.exit_code, "missing column", "time_s")


def test_unknown_sensor(tmp_path: Path) -> None:
    rows = [r.replace("thoracic", "shoulder") for r in standing_rows(3)]
    assert_one_line_error(run_cli("analyze", write_rows(tmp_path / "u.csv", rows)), InputError.exit_code,
                          "unknown sensor", "shoulder")


def test_missing_sensor(tmp_path: Path) -> None:
    rows = [r for r in standing_rows(3) if "thoracic" not in r]
    assert_one_line_error(run_cli("analyze", write_rows(tmp_path / "m.csv", rows)), InputError.exit_code,
                          "thoracic", "both sensors")


def test_time_going_backwards(tmp_path: Path) -> None:
    rows = standing_rows(4)
    rows[300], rows[302] = rows[302], rows[300]  # two samples of one sensor out of order
    assert_one_line_error(run_cli("analyze", write_rows(tmp_path / "b.csv", rows)), InputError.exit_code,
                          "time goes backwards")


def test_no_quiet_standing(tmp_path: Path) -> None:
    p = write_rows(tmp_path / "moving.csv", standing_rows(6, moving=True))
    assert_one_line_error(run_cli("analyze", p), CalibrationError.exit_code, "never still")


def test_mostly_non_numeric(tmp_path: Path) -> None:
    rows = [r.replace("9.8", "x9.8") for r in standing_rows(3)]
    assert_one_line_error(run_cli("analyze", write_rows(tmp_path / "nn.csv", rows)), InputError.exit_code,
                          "non-numeric")


def test_nan_rows_and_truncated_last_line_are_warned_not_fatal(tmp_path: Path) -> None:
    rows = standing_rows(12)
    rows[500] = rows[500].rsplit(",", 2)[0] + ",nan,nan"
    rows.append("11.99,thoracic,9.8,0.0")  # truncated last line
    out = tmp_path / "o.json"
    proc = run_cli("analyze", write_rows(tmp_path / "w.csv", rows), "--json", out)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "dropped" in proc.stderr
    doc = json.loads(out.read_text())
    assert doc["reps"] == [] and any("dropped" in w for w in doc["warnings"])


def test_accelerometer_in_g_is_converted_with_a_warning(tmp_path: Path) -> None:
    p = write_rows(tmp_path / "g.csv", standing_rows(12, acc_scale=1 / 9.81))
    proc = run_cli("analyze", p)
    assert proc.returncode == 0, proc.stderr
    assert "in g" in proc.stderr and "converted" in proc.stderr


def test_accelerometer_in_nonsense_units(tmp_path: Path) -> None:
    p = write_rows(tmp_path / "mg.csv", standing_rows(3, acc_scale=1000 / 9.81))
    assert_one_line_error(run_cli("analyze", p), InputError.exit_code, "accelerometer")


@pytest.mark.parametrize("args,needle", [
    (["--filter", "kalman9"], "invalid choice"),
    (["--threshold-deg", "-3"], "positive"),
    (["--threshold-pct", "50"], "--lmax-deg"),
])
def test_bad_options(tmp_path: Path, args: list[str], needle: str) -> None:
    p = write_rows(tmp_path / "s.csv", standing_rows(3))
    proc = run_cli("analyze", p, *args)
    assert proc.returncode == UsageError.exit_code
    assert "Traceback" not in proc.stderr and needle in proc.stderr


def test_bad_config_file(tmp_path: Path) -> None:
    p = write_rows(tmp_path / "s.csv", standing_rows(3))
    cfg = tmp_path / "c.toml"
    cfg.write_text("[detector.faults]\nlumbar_flexion_degs = 3\n")
    assert_one_line_error(run_cli("analyze", p, "--config", cfg), UsageError.exit_code, "unknown setting")
    cfg.write_text("[detector.faults\n")
    assert_one_line_error(run_cli("analyze", p, "--config", cfg), UsageError.exit_code, "not valid TOML")


def test_output_folder_missing(tmp_path: Path) -> None:
    p = write_rows(tmp_path / "s.csv", standing_rows(3))
    assert_one_line_error(run_cli("analyze", p, "--json", tmp_path / "no" / "x.json"), UsageError.exit_code,
                          "does not exist")
