"""Range calibration (Lmax / Lext) on simulated recordings, through the core pipeline and the CLI.

The simulator makes the maximum forward bend hold by itself (``long_hold`` with one rounded
rep of a chosen lumbar flexion). It has no extension hold, so the flexion + extension
recording is composed: a hand-written motion script (the simulator's own knot curves) fed
to the simulator's body, sensor and clock models in place of its exercise planner.
"""

from __future__ import annotations

import json
from pathlib import Path
from unittest import mock

import pytest

from imu_hinge.analysis.pipeline import analyze
from imu_hinge.commands.calibrate import SUBCOMMANDS
from imu_hinge.errors import CalibrationError
from imu_hinge.rehab.range_calibration import RangeParams, find_range
from imu_hinge.simulation import SimConfig, SimResult, simulate, write_case
from imu_hinge.simulation.motion_plan import RepPlan, Script
from imu_hinge.simulation.trajectory import KnotCurve
from imu_hinge.store import Store

from .store_fakes import cli
from .test_cli_bad_input import assert_one_line_error


def max_bend_hold(seed: int = 1, lumbar_deg: float = 45.0) -> SimResult:
    """Stand 4 s, bend to ~100 deg trunk with ``lumbar_deg`` lumbar flexion, hold 5-12 s, stand up."""
    return simulate(SimConfig(seed=seed, exercise="long_hold", n_reps=1, rounding_frac=1.0,
                              rounding_lumbar_deg=(lumbar_deg, lumbar_deg), peak_trunk_deg=(100.0, 100.0)))


def range_script(lmax_deg: float = 40.0, trunk_deg: float = 95.0, hold_s: float = 3.5, lext_deg: float = 15.0,
                 ext_hold_s: float = 3.0) -> Script:
    """Stand, maximum forward bend held ``hold_s``, stand, lean back into ``lext_deg`` extension held, stand."""
    s = Script(duration_s=0.0, stand_start_s=4.0)
    s.hip_back_m, s.hip_down_m = KnotCurve(0.22), KnotCurve(0.05)
    pel, lum = s.pelvis_deg, s.lumbar_deg
    t = 4.0
    pel.add(t, 0.0).add(t + 2.5, trunk_deg - lmax_deg)
    lum.add(t + 0.5, 0.0).add(t + 2.5, lmax_deg)
    t += 2.5 + hold_s
    pel.add(t, trunk_deg - lmax_deg).add(t + 2.5, 0.0)
    lum.add(t, lmax_deg).add(t + 2.5, 0.0)
    s.reps.append(RepPlan(1, 1, "long_hold", "long_hold", (), (4.0, t + 2.5), lmax_deg, trunk_deg))
    t += 5.0
    pelvis_ext = -8.0 + lext_deg  # trunk leans back 8 deg while the lumbar spine extends
    pel.add(t, 0.0).add(t + 1.5, pelvis_ext)
    lum.add(t, 0.0).add(t + 1.5, -lext_deg)
    t += 1.5 + ext_hold_s
    pel.add(t, pelvis_ext).add(t + 1.5, 0.0)
    lum.add(t, -lext_deg).add(t + 1.5, 0.0)
    s.duration_s = t + 1.5 + 3.0
    return s


def flexion_and_extension(seed: int = 0, **kw: float) -> SimResult:
    script = range_script(**kw)
    with mock.patch("imu_hinge.simulation.simulator.build_script", lambda cfg, rng, *more: script):
        return simulate(SimConfig(seed=seed, exercise="long_hold", n_reps=1))


@pytest.mark.parametrize("seed", [1, 2])
def test_lmax_from_a_simulated_max_bend_hold(seed: int) -> None:
    sim = max_bend_hold(seed)
    found = find_range(analyze(sim.recording))
    truth = sim.reps[0]["peak_lumbar_flexion_deg"]
    assert found.lmax_deg == pytest.approx(truth, abs=2.0)
    assert found.flexion_hold.duration_s >= 2.0
    assert found.flexion_hold.trunk_deg > 80
    assert found.lext_deg is None and found.extension_hold is None


@pytest.mark.parametrize("seed", [0, 3])
def test_lmax_and_lext_from_a_composed_recording(seed: int) -> None:
    sim = flexion_and_extension(seed, lmax_deg=38.0, lext_deg=14.0)
    found = find_range(analyze(sim.recording))
    assert found.lmax_deg == pytest.approx(38.0, abs=1.5)
    assert found.lext_deg == pytest.approx(14.0, abs=1.5)
    assert found.extension_hold is not None and found.extension_hold.start_s > found.flexion_hold.end_s
    assert found.warnings == []


def test_no_hold_is_refused_with_what_was_seen() -> None:
    sim = simulate(SimConfig(seed=4, exercise="rdl", n_reps=3))  # reps, but never a 2 s still bend
    with pytest.raises(CalibrationError, match=r"no 2 s hold at maximum forward bend found \(deepest lumbar"):
        find_range(analyze(sim.recording))


def test_a_shorter_hold_than_asked_is_refused() -> None:
    sim = flexion_and_extension(1, hold_s=0.3, ext_hold_s=0.3)  # still ~1.5 s within 4 deg of the peak
    res = analyze(sim.recording)
    with pytest.raises(CalibrationError, match="no 2 s hold"):
        find_range(res)
    assert find_range(res, RangeParams(hold_s=1.0)).lmax_deg == pytest.approx(40.0, abs=2.5)


def test_calibrate_group_has_a_place_for_sensor() -> None:
    assert "range" in SUBCOMMANDS and callable(SUBCOMMANDS["range"])


def test_cli_calibrate_range_then_thresholds_as_pct_of_lmax(tmp_path: Path) -> None:
    db = tmp_path / "store.db"
    cal_csv, _, _ = write_case(flexion_and_extension(2, lmax_deg=40.0, lext_deg=15.0), tmp_path / "range.csv")
    session_csv, _, _ = write_case(simulate(SimConfig(seed=5, exercise="rdl", n_reps=4, rounding_frac=0.5)),
                                   tmp_path / "rdl.csv")
    assert cli("people", "add", "Alex", "--db", db).returncode == 0
    dry = cli("calibrate", "range", cal_csv, "--person", "alex", "--db", db, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    with Store(db) as s:
        assert s.range_calibration("Alex") is None
    out_json = tmp_path / "range.json"
    proc = cli("calibrate", "range", cal_csv, "--person", "alex", "--db", db, "--json", out_json)
    assert proc.returncode == 0, proc.stderr
    assert "Lmax" in proc.stdout and "Lext" in proc.stdout and "stored" in proc.stdout
    with Store(db) as s:
        cal = s.range_calibration("Alex")
    assert cal is not None and cal.lmax_deg == pytest.approx(40.0, abs=1.5)
    assert cal.lext_deg == pytest.approx(15.0, abs=1.5) and cal.source == str(cal_csv.resolve())
    assert json.loads(out_json.read_text())["lmax_deg"] == pytest.approx(cal.lmax_deg, abs=1e-3)
    shown = cli("people", "show", "Alex", "--db", db)
    assert f"Lmax {cal.lmax_deg:.1f} deg" in shown.stdout

    assert cli("people", "set", "Alex", "--exercise", "rdl", "--threshold-pct", "50", "--db", db).returncode == 0
    out = tmp_path / "a.json"
    proc = cli("analyze", session_csv, "--person", "Alex", "--exercise", "rdl", "--db", db, "--json", out)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(out.read_text())
    faults = doc["params"]["detector"]["faults"]
    assert faults["lmax_deg"] == pytest.approx(cal.lmax_deg) and faults["lumbar_flexion_pct_lmax"] == 50.0
    assert all(r["peak_lumbar_pct_lmax"] is not None for r in doc["reps"])
    with Store(db) as s:
        [sess] = s.sessions("Alex")
        assert sess.threshold_deg == pytest.approx(cal.lmax_deg / 2)
        assert s.session(sess.id)["range_calibration_id"] == cal.id


def test_cli_refusals_write_nothing(tmp_path: Path) -> None:
    db = tmp_path / "store.db"
    reps_csv, _, _ = write_case(simulate(SimConfig(seed=6, exercise="rdl", n_reps=2)), tmp_path / "reps.csv")
    assert cli("people", "add", "Alex", "--db", db).returncode == 0
    assert_one_line_error(cli("calibrate", "range", reps_csv, "--person", "Alex", "--db", db),
                          CalibrationError.exit_code, "no 2 s hold")
    assert_one_line_error(cli("calibrate", "range", reps_csv, "--person", "Nobody", "--db", db), 6,
                          "unknown person 'Nobody'")
    missing = cli("calibrate", "range", reps_csv, "--db", db)  # argparse: usage + one error line
    assert missing.returncode == 2 and "--person" in missing.stderr and "Traceback" not in missing.stderr
    with Store(db) as s:
        assert s.counts()["calibrations"] == 0
