"""Accuracy against ground truth over many scenario kinds of the project's simulator.

The issue's goals, checked on fresh simulated sessions (seeds not used for tuning):
median lumbar RMSE <= 0.8 deg, worst <= 2.0 deg; every rep found, none extra; peak lumbar
error median <= 1.0 deg; rounding reps flagged, clearly clean reps never alerted.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from imu_hinge.analysis.pipeline import analyze
from imu_hinge.simulation import SCENARIOS, simulate

KINDS = ["rdl_rounding", "back_first", "lockout_arch", "kb_swings", "long_holds", "good_morning", "mixed_mount",
         "high_bias", "cheap_sensor", "low_rate_drops", "unequal_rates", "rate_25hz", "walk_between"]


@pytest.fixture(scope="module")
def results():
    out = {}
    for kind in KINDS:
        cfg = SCENARIOS[kind]
        sim = simulate(type(cfg)(**{**cfg.__dict__, "seed": 900 + KINDS.index(kind)}))
        out[kind] = (sim, analyze(sim.recording))
    return out


def rmse(sim, res, col: str) -> float:
    """RMSE (deg) of one angle column against the truth, from 1 s before the first rep."""
    truth = np.interp(res.time_s, sim.truth_time_s, getattr(sim, "truth_" + col))
    est = getattr(res, col)
    m = np.isfinite(est) & (res.time_s > sim.stand_start_s - 1.0)
    return float(np.sqrt(np.mean((est[m] - truth[m]) ** 2)))


def lumbar_rmse(sim, res) -> float:
    return rmse(sim, res, "lumbar_flexion_deg")


def test_lumbar_rmse_goals(results) -> None:
    rmse = {k: lumbar_rmse(*v) for k, v in results.items()}
    assert np.median(list(rmse.values())) <= 0.67, rmse  # measured 0.45 (the goal: 0.8)
    assert max(rmse.values()) <= 1.87, rmse  # measured 1.25 (cheap sensor; goal 2.0)


def test_every_rep_found_and_peaks_accurate(results) -> None:
    errors = []
    for kind, (sim, res) in results.items():
        assert len(res.reps) == len(sim.reps), kind
        for truth, rep in zip(sim.reps, res.reps, strict=True):
            assert truth["start_s"] <= rep.bottom_s <= truth["end_s"], kind
            errors.append(abs(rep.peak_lumbar_flexion_deg - truth["peak_lumbar_flexion_deg"]))
    assert np.median(errors) <= 0.73  # measured 0.49
    assert np.percentile(errors, 95) <= 2.0  # measured 1.35


def test_faults_against_truth_labels(results) -> None:
    for kind, (sim, res) in results.items():
        for truth, rep in zip(sim.reps, res.reps, strict=True):
            peak = truth["peak_lumbar_flexion_deg"]
            if peak > 24:
                assert "lumbar_flexion" in rep.faults, (kind, rep.index)
            elif peak < 16:
                assert "lumbar_flexion" not in rep.faults, (kind, rep.index)
            lockout = truth["lockout_extension_deg"]
            if lockout > 11:
                assert "lockout_hyperextension" in rep.faults, (kind, rep.index)
            elif lockout < 5:
                assert "lockout_hyperextension" not in rep.faults, (kind, rep.index)


def _segment_rmse(sim, res) -> list[float]:
    return [rmse(sim, res, col) for col in ("pelvic_tilt_deg", "trunk_flexion_deg")]


def test_standing_sway_is_not_taken_for_gyro_bias() -> None:
    """Quiet standing sways at a few deg/s; vqf's rest detection takes it for rest and learns the
    sway as bias (about 1 deg of tilt until the next stand). The pipeline turns it off for a body:
    with it, the issue's segment goal (<= 1.0 deg) is missed on some of these sessions."""
    from imu_hinge.analysis.analysis_params import AnalysisParams
    from imu_hinge.simulation import SimConfig

    errs = {True: [], False: []}
    for seed in range(4):
        sim = simulate(SimConfig(seed=seed, exercise="rdl", n_reps=8, gyro_bias_dps=0.8, gyro_noise_rad_s=0.004,
                                 acc_noise_m_s2=0.03, acc_bias_m_s2=0.08, scale_error=0.01, wobble_deg=2.0))
        for rest in (True, False):  # the quiet-window estimator (it replaces rest detection) kept out
            options = {"rest_bias_est_enabled": rest, "quiet_bias_est_enabled": False}
            errs[rest] += _segment_rmse(sim, analyze(sim.recording, AnalysisParams(fusion_options=options)))
    assert max(errs[False]) <= 1.0, errs  # measured 0.85: the segment goal, kept as the bound
    assert max(errs[True]) > 1.0, errs  # the effect is real on these sessions, not a no-op
    assert np.median(errs[False]) < np.median(errs[True]), errs


def test_user_fusion_options_override_the_body_worn_defaults() -> None:
    from imu_hinge.analysis.analysis_params import AnalysisParams

    assert AnalysisParams().filter_options() == {"rest_bias_est_enabled": False, "quiet_bias_est_enabled": True}
    assert AnalysisParams(fusion_options={"rest_bias_est_enabled": True, "tau_acc_s": 2.0}).filter_options() == {
        "rest_bias_est_enabled": True, "quiet_bias_est_enabled": True, "tau_acc_s": 2.0}
    assert AnalysisParams(fusion_method="madgwick").filter_options() == {}


def test_quiet_windows_follow_a_drifting_gyro_bias() -> None:
    """A gyro bias that wanders by tenths of a deg/s over a session (warm-up on the skin) tilts
    the angles by bias x tau_acc. Learning it from gravity in the quiet moments between reps keeps
    every session's lumbar RMSE low against the truth (the default); without it some session is off by > 1 deg."""
    from imu_hinge.analysis.analysis_params import AnalysisParams

    off = AnalysisParams(fusion_options={"quiet_bias_est_enabled": False})
    lumbar = {True: [], False: []}
    for name in ("rdl_good", "fatigue_set"):
        for seed in (100, 101):
            sim = simulate(dataclasses.replace(SCENARIOS[name], seed=seed, gyro_bias_walk_dps_rt_s=0.04))
            lumbar[True].append(rmse(sim, analyze(sim.recording), "lumbar_flexion_deg"))
            lumbar[False].append(rmse(sim, analyze(sim.recording, off), "lumbar_flexion_deg"))
    assert max(lumbar[True]) <= 0.7, lumbar  # measured 0.48
    assert max(lumbar[False]) > 1.0, lumbar  # the drift is real on these sessions
