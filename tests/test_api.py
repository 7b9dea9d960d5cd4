"""The Python API (`imu_hinge.api`, re-exported by `imu_hinge`) and the README example that shows it."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import imu_hinge
import imu_hinge.api as api
from imu_hinge.errors import UsageError

from .helpers import REPO

DEMO = REPO / "recordings" / "demo_rdl_session.csv"


def readme_python_block(heading: str = "Python API") -> str:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = re.search(rf"^## {re.escape(heading)}\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert section, f"README.md has no '## {heading}' section"
    block = re.search(r"```python\n(.*?)```", section.group(1), re.S)
    assert block, f"no fenced python block under '## {heading}'"
    return block.group(1)


def test_readme_python_api_example_runs() -> None:
    code = readme_python_block()
    proc = subprocess.run([sys.executable, "-W", "error", "-c", code], capture_output=True, text=True, cwd=REPO,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "reps" in proc.stdout and "peak lumbar flexion" in proc.stdout


def test_api_exported_from_package() -> None:
    for name in ("load", "run", "simulate", "Analysis", "SimConfig", "api"):
        assert name in imu_hinge.__all__ and getattr(imu_hinge, name) is not None
    assert imu_hinge.run is api.run and imu_hinge.api is api
    with pytest.raises(AttributeError):
        _ = imu_hinge.no_such_thing  # type: ignore[attr-defined]


def test_run_matches_cli_json_and_tables(tmp_path: Path) -> None:
    from .helpers import run_cli

    out = tmp_path / "a.json"
    proc = run_cli("analyze", DEMO, "--json", out, "--threshold-deg", "18", "--quiet")
    assert proc.returncode == 0, proc.stderr
    cli = json.loads(out.read_text())
    analysis = api.run(api.load(DEMO), threshold_deg=18)
    mine = json.loads(analysis.to_json())
    assert mine["reps"] == cli["reps"] and mine["alerts"] == cli["alerts"] and mine["params"] == cli["params"]
    reps = analysis.reps_df()
    assert list(reps["rep"]) == [r["index"] for r in cli["reps"]]
    assert reps["lumbar_flexion"].dtype == bool
    assert list(reps["faults"]) == [r["faults"] for r in cli["reps"]]
    alerts = analysis.alerts_df()
    assert list(alerts.columns) == ["time_s", "fault", "value_deg", "rep_index"] and len(alerts) == len(cli["alerts"])
    angles = analysis.angles_df()
    assert list(angles.columns) == ["time_s", "pelvic_tilt_deg", "trunk_flexion_deg", "lumbar_flexion_deg"]
    assert len(angles) > 1000 and angles["time_s"].is_monotonic_increasing


def test_run_parameters_and_empty_tables() -> None:
    sim = api.simulate(api.SimConfig(seed=2, exercise="walk", n_reps=0, duration_s=20.0))
    analysis = api.run(sim, filter="madgwick", min_peak_deg=35, detector__faults__lockout_extension_deg=6.5)
    assert analysis.params.fusion_method == "madgwick"
    assert analysis.params.detector.reps.min_peak_deg == 35.0
    assert analysis.params.detector.faults.lockout_extension_deg == 6.5
    assert isinstance(analysis.reps_df(), pd.DataFrame) and "peak_lumbar_flexion_deg" in analysis.reps_df()
    assert analysis.alerts_df().empty
    with pytest.raises(UsageError, match="did you mean"):
        api.run(sim, threshhold_deg=18)
    with pytest.raises(UsageError, match="unknown filter"):
        api.run(sim, filter="kalman9000")
