"""The simulator's physics, truth and files: checks that could fail if the model were wrong."""

from __future__ import annotations

import argparse
import json
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from scipy.spatial.transform import Rotation

import imu_hinge.simulation as simulation
from imu_hinge.commands import simulate as simulate_cmd
from imu_hinge.errors import UsageError
from imu_hinge.simulation import SCENARIOS, SimConfig, simulate, write_case
from imu_hinge.simulation.trajectory import KnotCurve

G = 9.81
NOISELESS = dict(gyro_bias_dps=0.0, gyro_bias_walk_dps_rt_s=0.0, gyro_noise_rad_s=0.0, acc_noise_m_s2=0.0,
                 acc_bias_m_s2=0.0, scale_error=0.0, misalignment_deg=0.0, adc_bits=0, jitter_s=0.0, clock_ppm=0.0)
SHARED_REP_KEYS = {"index", "kind", "start_s", "bottom_s", "end_s", "peak_pelvic_tilt_deg", "peak_lumbar_flexion_deg",
                   "peak_trunk_flexion_deg", "lockout_extension_deg"}


@pytest.fixture(scope="module")
def ideal():
    """Noise-free sensors, odd mountings, two sets of RDLs with every fault."""
    return simulate(SimConfig(seed=4, exercise="rdl", n_reps=4, mount_sacrum=(20.0, -70.0, 35.0),
                              mount_thoracic="upside_down", rounding_frac=0.25, back_first_frac=0.25,
                              lockout_arch_frac=0.25, **NOISELESS))


def test_public_api() -> None:
    for name in simulation.__all__:
        assert hasattr(simulation, name)
    assert {"SimConfig", "simulate", "write_case", "SCENARIOS", "SimResult"} <= set(simulation.__all__)


def test_quiet_standing_reads_one_g(ideal) -> None:
    for role in ("sacrum", "thoracic"):
        s = ideal.recording[role]
        quiet = s.time_s < ideal.stand_start_s - 0.3
        norm = np.linalg.norm(s.acc_m_s2[quiet], axis=1)
        assert abs(norm.mean() - G) < 0.01 and np.abs(norm - G).max() < 0.05
        assert np.abs(s.gyr_rad_s[quiet]).max() < np.radians(3.0)


def _sagittal_deg(orientation: Rotation, fixed: Rotation, heading_deg: float) -> np.ndarray:
    """Inclination of the segment's superior axis in the heading's sagittal plane."""
    sup = (orientation * fixed.inv()).as_matrix()[:, :, 0]
    fwd = np.array([np.cos(np.radians(heading_deg)), np.sin(np.radians(heading_deg)), 0.0])
    return np.degrees(np.arctan2(sup @ fwd, sup[:, 2]))


def test_integrated_gyro_reproduces_truth_orientation(ideal) -> None:
    for role, truth in (("sacrum", ideal.truth_pelvic_tilt_deg), ("thoracic", ideal.truth_trunk_flexion_deg)):
        s, ss = ideal.recording[role], ideal.sensors[role]
        true_rot = Rotation.from_quat(ss.orientation_wxyz[:, [1, 2, 3, 0]])
        steps = Rotation.from_rotvec(s.gyr_rad_s[1:] * np.diff(s.time_s)[:, None])
        quats = np.empty((len(s), 4))
        cur = true_rot[0]
        quats[0] = cur.as_quat()
        for k in range(len(steps)):
            cur = cur * steps[k]
            quats[k + 1] = cur.as_quat()
        est = Rotation.from_quat(quats)
        assert np.degrees((est.inv() * true_rot).magnitude()).max() < 0.05
        surface = ideal.geometry.sacrum_surface_deg if role == "sacrum" else ideal.geometry.thoracic_surface_deg
        fixed = Rotation.from_euler("y", surface, degrees=True) * ideal.realisations[role].mount
        sag = _sagittal_deg(est, fixed, ideal.heading_deg)
        ref = np.interp(ss.true_time_s, ideal.truth_time_s, truth)
        assert np.abs((sag - sag[0]) - (ref - ref[0])).max() < 0.3
        assert np.ptp(ref) > 30  # the check covered real hinges


def test_truth_lumbar_is_trunk_minus_pelvis(ideal) -> None:
    np.testing.assert_allclose(ideal.truth_lumbar_flexion_deg,
                               ideal.truth_trunk_flexion_deg - ideal.truth_pelvic_tilt_deg, atol=1e-9)
    dt = np.diff(ideal.truth_time_s)
    np.testing.assert_allclose(dt, 0.01, atol=1e-9)
    quiet = (ideal.truth_time_s > 0.5) & (ideal.truth_time_s < ideal.stand_start_s - 0.2)
    for trace in (ideal.truth_pelvic_tilt_deg, ideal.truth_trunk_flexion_deg):  # relative to the standing posture
        assert abs(trace[quiet].mean()) < 0.02 and np.abs(trace[quiet]).max() < 2.0


def test_mounting_changes_raw_data_not_truth() -> None:
    base = SimConfig(seed=6, exercise="rdl", n_reps=2)
    a = simulate(base)
    b = simulate(replace(base, mount_thoracic=(90.0, 30.0, -120.0)))
    assert np.abs(a.recording["thoracic"].acc_m_s2 - b.recording["thoracic"].acc_m_s2).max() > 5.0
    np.testing.assert_array_equal(a.truth_trunk_flexion_deg, b.truth_trunk_flexion_deg)
    assert a.reps == b.reps
    np.testing.assert_array_equal(a.recording["sacrum"].acc_m_s2, b.recording["sacrum"].acc_m_s2)
    rpy = b.realisations["thoracic"].mount_rpy_deg
    np.testing.assert_allclose(rpy, (90.0, 30.0, -120.0))


def test_rates_drops_and_timestamps() -> None:
    res = simulate(SimConfig(seed=2, exercise="rdl", n_reps=2, rate_hz=52.0, thoracic_rate_hz=208.0,
                             drop_fraction=0.02, jitter_s=0.0005))
    for role, rate in (("sacrum", 52.0), ("thoracic", 208.0)):
        s, ss = res.recording[role], res.sensors[role]
        assert np.all(np.diff(s.time_s) > 0)
        assert abs(s.nominal_rate_hz - rate) / rate < 0.01
        assert ss.n_dropped == round(0.02 * ss.n_generated)
        assert len(s) == ss.n_generated - ss.n_dropped
        gaps = np.diff(s.time_s) > 1.5 / rate
        assert gaps.any()  # dropped rows leave gaps, never zero-filled rows
        assert not np.any(np.all(s.gyr_rad_s == 0.0, axis=1))
    sac, tho = res.recording["sacrum"].time_s, res.recording["thoracic"].time_s
    assert len(np.intersect1d(np.round(sac, 6), np.round(tho, 6))) < 3  # not sampled at the same instants


def test_same_seed_same_output_other_seed_differs() -> None:
    cfg = SimConfig(seed=12, exercise="kb_swing", n_reps=4, drop_fraction=0.01, mount_sacrum="random")
    a, b, c = simulate(cfg), simulate(cfg), simulate(replace(cfg, seed=13))
    for role in ("sacrum", "thoracic"):
        np.testing.assert_array_equal(a.recording[role].time_s, b.recording[role].time_s)
        np.testing.assert_array_equal(a.recording[role].acc_m_s2, b.recording[role].acc_m_s2)
        np.testing.assert_array_equal(a.recording[role].gyr_rad_s, b.recording[role].gyr_rad_s)
    assert a.reps == b.reps
    assert a.reps != c.reps
    assert len(c.recording["sacrum"]) != len(a.recording["sacrum"]) or not np.array_equal(
        c.recording["sacrum"].acc_m_s2, a.recording["sacrum"].acc_m_s2)


def test_case_files_round_trip(tmp_path) -> None:
    res = simulate(SimConfig(seed=1, exercise="rdl", n_reps=2, rate_hz=50.0, thoracic_rate_hz=100.0))
    csv_p, json_p, angles_p = write_case(res, tmp_path / "case.csv")
    assert (json_p.name, angles_p.name) == ("case.truth.json", "case.truth_angles.csv")
    lines = csv_p.read_text().splitlines()
    assert lines[0] == "time_s,sensor,acc_x,acc_y,acc_z,gyr_x,gyr_y,gyr_z" and lines[1].startswith("#")
    df = pd.read_csv(csv_p, comment="#")
    assert list(df.columns) == ["time_s", "sensor", "acc_x", "acc_y", "acc_z", "gyr_x", "gyr_y", "gyr_z"]
    assert set(df["sensor"]) == {"sacrum", "thoracic"} and df["time_s"].is_monotonic_increasing
    first = lines[4].split(",")
    assert len(first[0].split(".")[1]) == 6 and len(first[2].split(".")[1]) == 5
    for role in ("sacrum", "thoracic"):
        part = df[df["sensor"] == role]
        s = res.recording[role]
        np.testing.assert_allclose(part["time_s"], s.time_s, atol=1e-6)
        np.testing.assert_allclose(part[["acc_x", "acc_y", "acc_z"]], s.acc_m_s2, atol=1e-5)
        np.testing.assert_allclose(part[["gyr_x", "gyr_y", "gyr_z"]], s.gyr_rad_s, atol=1e-5)
    rows = np.genfromtxt(csv_p, delimiter=",", names=True, dtype=None, encoding=None)  # as independent readers do
    assert rows.dtype.names[:2] == ("time_s", "sensor") and len(rows) == len(df)
    truth = json.loads(json_p.read_text())
    assert {"name", "seed", "fs", "stand_start", "reps"} <= set(truth)
    assert truth["stand_start"] == pytest.approx(res.stand_start_s) and truth["stand_start"] >= 2.0
    assert all(SHARED_REP_KEYS <= set(r) for r in truth["reps"]) and len(truth["reps"]) == 2
    ang = np.genfromtxt(angles_p, delimiter=",", names=True)
    assert ang.dtype.names == ("time_s", "pelvic_tilt_deg", "trunk_flexion_deg", "lumbar_flexion_deg")
    np.testing.assert_allclose(ang["lumbar_flexion_deg"], ang["trunk_flexion_deg"] - ang["pelvic_tilt_deg"],
                               atol=2e-4)


def test_swings_put_over_one_g_of_linear_acceleration_on_the_thoracic_sensor() -> None:
    res = simulate(SimConfig(seed=8, exercise="kb_swing", n_reps=6, **NOISELESS))
    lin = np.linalg.norm(res.sensors["thoracic"].lin_acc_m_s2, axis=1)
    assert lin.max() > G
    acc = np.linalg.norm(res.recording["thoracic"].acc_m_s2, axis=1)
    assert acc.max() > 1.5 * G and acc.min() < 0.7 * G  # the accelerometer sees it, not just the truth
    starts = np.array([r["start_s"] for r in res.reps])
    assert np.all((np.diff(starts) > 0.9) & (np.diff(starts) < 1.45))  # ~1.0..1.3 s per swing, no pause


@pytest.mark.parametrize("exercise,n_reps", [("rdl", 3), ("good_morning", 2), ("kb_swing", 5), ("wall_hinge", 2),
                                             ("long_hold", 2), ("fatigue", 4)])
def test_rep_truth_count_and_boundaries(exercise, n_reps) -> None:
    res = simulate(SimConfig(seed=3, exercise=exercise, n_reps=n_reps))
    assert len(res.reps) == n_reps
    assert res.reps[0]["start_s"] == pytest.approx(res.stand_start_s) and res.stand_start_s >= 2.0
    ends = -1.0
    for r in res.reps:
        assert ends <= r["start_s"] < r["bottom_s"] < r["end_s"]
        assert 45 - 1 <= r["peak_trunk_flexion_deg"] <= 95 + 1
        ends = r["end_s"]
    if exercise == "long_hold":
        assert all(r["end_s"] - r["start_s"] > 5 for r in res.reps)


def test_injected_faults_show_in_the_truth_traces() -> None:
    res = simulate(SimConfig(seed=7, exercise="rdl", n_reps=8, rounding_frac=0.25, back_first_frac=0.25,
                             lockout_arch_frac=0.25))
    for r in res.reps:
        f, lab = set(r["injected_faults"]), r["labels"]
        if "rounding" in f:
            assert r["peak_lumbar_flexion_deg"] > 20 and lab["lumbar_flexion"] is not False
        elif "back_first" not in f:
            assert r["peak_lumbar_flexion_deg"] < 16 and lab["lumbar_flexion"] is False
        assert lab["lumbar_led"] is ("back_first" in f)
        assert lab["lockout_hyperextension"] is ("lockout_arch" in f)
        if "lockout_arch" in f:
            assert r["lockout_extension_deg"] > 11
    fatigue = simulate(SimConfig(seed=7, exercise="fatigue", n_reps=6))
    peaks = [r["peak_lumbar_flexion_deg"] for r in fatigue.reps]
    assert peaks[-1] - peaks[0] > 15 and peaks[-1] > 20


def test_walking_between_sets_is_not_a_hinge() -> None:
    res = simulate(SimConfig(seed=5, exercise="rdl", n_reps=2, n_sets=2, walk_between_sets=True, rest_s=10.0))
    assert len(res.reps) == 4 and len(res.walks) == 1
    start, end = res.walks[0]
    walking = (res.truth_time_s > start) & (res.truth_time_s < end)
    assert np.abs(res.truth_trunk_flexion_deg[walking]).max() < 20
    s = res.recording["sacrum"]
    during = (s.time_s > start + 1.5) & (s.time_s < end - 1.5)
    assert np.ptp(np.linalg.norm(s.acc_m_s2[during], axis=1)) > 3.0  # steps


def test_range_clipping_is_flagged() -> None:
    res = simulate(SimConfig(seed=8, exercise="kb_swing", n_reps=4, acc_range_g=2.0))
    s = res.recording["thoracic"]
    assert s.clipped is not None and s.clipped.any()
    assert np.abs(s.acc_m_s2).max() <= 2.0 * G + 1e-9


def test_duration_pads_and_truncates() -> None:
    res = simulate(SimConfig(seed=1, exercise="rdl", n_reps=50, duration_s=25.0))
    assert res.truth_time_s[-1] == pytest.approx(25.0)
    assert 2 <= len(res.reps) < 50 and res.reps[-1]["end_s"] < 25.0


def test_all_scenarios_run() -> None:
    assert {"rdl_good", "rdl_rounding", "back_first", "lockout_arch", "kb_swings", "long_holds", "fatigue_set",
            "good_morning", "wall_hinge", "walk_between", "mixed_mount", "high_bias", "cheap_sensor",
            "low_rate_drops", "unequal_rates", "rate_25hz", "rate_400hz", "mixed"} <= set(SCENARIOS)
    for name, cfg in SCENARIOS.items():
        res = simulate(replace(cfg, duration_s=14.0))
        assert res.duration_s == pytest.approx(14.0), name
        assert all(len(res.recording[r]) > 100 for r in ("sacrum", "thoracic")), name


@pytest.mark.parametrize("changes", [dict(exercise="yoga"), dict(rate_hz=5000.0), dict(mount_sacrum="diagonal"),
                                     dict(drop_fraction=0.9), dict(n_reps=-1), dict(stand_start_s=0.5)])
def test_bad_parameters_raise_usage_error(changes) -> None:
    with pytest.raises(UsageError) as exc:
        simulate(replace(SimConfig(), **changes))
    assert "\n" not in str(exc.value)


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser()
    simulate_cmd.register(ap.add_subparsers(dest="command"))
    return ap


def test_cli_writes_a_case(tmp_path, capsys) -> None:
    out = tmp_path / "s.csv"
    args = _parser().parse_args(["simulate", str(out), "--scenario", "unequal_rates", "--reps", "2", "--seed", "4",
                                 "--mount-sacrum", "random", "--mount-thoracic", "10,-20,30", "--drops", "0.01"])
    assert args.func(args) == 0
    printed = capsys.readouterr().out.strip().splitlines()
    assert len(printed) == 1 and str(out) in printed[0]
    truth = json.loads((tmp_path / "s.truth.json").read_text())
    assert truth["name"] == "s" and truth["seed"] == 4 and len(truth["reps"]) == 2
    assert truth["fs"] == 52.0 and truth["fs_thoracic"] == 208.0 and truth["mount_thoracic"] == [10.0, -20.0, 30.0]
    for bad in (["--mount-thoracic", "1,2"], ["--scenario", "nope"], ["--rate-hz", "3"]):
        args = _parser().parse_args(["simulate", str(tmp_path / "x.csv"), *bad])
        with pytest.raises(UsageError):
            args.func(args)
    args = _parser().parse_args(["simulate", str(tmp_path / "x.txt")])
    with pytest.raises(UsageError, match=r"\.csv"):
        args.func(args)


def test_knot_curve_is_c2_and_its_derivatives_are_right() -> None:
    c = KnotCurve().add(1.0, 40.0).add(1.6, 10.0, 0.0, 300.0).add(2.5, 0.0)
    t = np.linspace(0.0, 3.0, 30001)
    x, v, a = (c.evaluate(t, k) for k in range(3))
    np.testing.assert_allclose(np.gradient(x, t)[1:-1], v[1:-1], atol=2e-2)
    np.testing.assert_allclose(np.gradient(v, t)[5:-5], a[5:-5], atol=0.5)
    assert np.abs(np.diff(a)).max() < 1.0  # no acceleration steps at the knots
    assert c.value_at(1.6) == pytest.approx(10.0) and c.evaluate(np.array([1.6]), 2)[0] == pytest.approx(300.0)
