"""Bad or doubtful input met by the first users (issue 16, item 14): conflicting or absurd thresholds rejected in one
line, one exit code for a missing recording whatever the command, unit warnings that name the sensor, no clock
drift estimate from a few seconds, no "-0.0"."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from imu_hinge.analysis.data_quality import stream_quality
from imu_hinge.cli import main
from imu_hinge.errors import RecordingNotFound, UsageError
from imu_hinge.recording import read_interchange_csv
from imu_hinge.samples import SensorStream

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "recordings" / "demo_rdl_session.csv"


@pytest.mark.parametrize("args,needle", [
    (["--threshold-deg", "20", "--threshold-pct", "50", "--lmax-deg", "40"], "not both"),
    (["--threshold-deg", "500"], "at most 90 deg"),
    (["--threshold-pct", "150", "--lmax-deg", "40"], "at most 100%"),
    (["--lmax-deg", "400", "--threshold-pct", "50"], "at most 90 deg"),
])
def test_absurd_or_conflicting_thresholds_are_one_line(args: list[str], needle: str,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    for command in (["analyze", str(DEMO)], ["train", "--no-gui", "--emulate", str(DEMO)]):
        assert main([*command, *args]) == UsageError.exit_code
        err = capsys.readouterr().err
        assert needle in err and err.count("\n") == 1 and "Traceback" not in err, err


def test_a_missing_recording_is_the_same_exit_code_everywhere(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope.csv"
    codes = [main(["analyze", str(missing)]), main(["train", "--no-gui", "--emulate", str(missing)]),
             main(["replay", str(missing)])]
    assert codes == [RecordingNotFound.exit_code] * 3
    assert capsys.readouterr().err.count("no such file") == 3


def test_unit_warnings_name_the_sensor(tmp_path: Path) -> None:
    t = np.arange(300) / 100.0
    rows = ["time_s,sensor,acc_x,acc_y,acc_z,gyr_x,gyr_y,gyr_z"]
    for role in ("sacrum", "thoracic"):
        rows += [f"{x:.2f},{role},0.01,0.0,1.0,0.001,0.0,0.0" for x in t]  # acc in g
    path = tmp_path / "g.csv"
    path.write_text("\n".join(rows) + "\n")
    warnings = [w for w in read_interchange_csv(path).warnings if "in g" in w]
    assert sorted(w.split(":")[0] for w in warnings) == ["sacrum", "thoracic"]


def test_no_drift_estimate_from_three_seconds() -> None:
    n = 300
    dev_us = 5_000_000 + np.arange(n) * 10_000
    rng = np.random.default_rng(3)
    host = 100.0 + np.arange(n) * 0.01 + rng.uniform(0.005, 0.025, n)  # arrival jitter of 20 ms
    s = SensorStream("sacrum", np.arange(n) * 0.01, np.zeros((n, 3)), np.zeros((n, 3)), seq=np.arange(n),
                     device_time_us=dev_us.astype(float), host_time_s=host)
    q = stream_quality(s)
    assert q["clock_offset_s"] is not None and q["clock_drift_ppm"] is None


def test_sweep_table_shows_settings_whole_and_does_not_call_the_largest_peak_lmax() -> None:
    import io

    from imu_hinge.batch.runner import Outcome
    from imu_hinge.batch.tables import print_recordings

    settings = ["filter=madgwick threshold_deg=18", "filter=vqf threshold_deg=22.5"]
    out = io.StringIO()
    print_recordings([Outcome("a.csv", s, False, error="x") for s in settings], out)
    text = out.getvalue()
    assert all(s in text for s in settings)  # "filter=madgwick threshold_de" was cut
    assert "Lmax" not in text.splitlines()[0] and "peak L" in text.splitlines()[0]  # the header
