"""The calibration's public results against the simulator's truth (written against ``analyze`` so that
they hold whatever the stance finder does inside)."""

from __future__ import annotations

import numpy as np
import pytest

from imu_hinge.analysis.pipeline import analyze
from imu_hinge.simulation import SimConfig, SimResult, simulate


@pytest.fixture(scope="module")
def swaying() -> list[SimResult]:
    """Six short sessions whose quiet stance sways 2 deg and ends off-centre (the pelvis is 0.7-3.5 deg
    away from where it started); constant gyro biases of 0.25-0.5 deg/s per axis."""
    return [simulate(SimConfig(seed=seed, exercise="rdl", n_reps=2, sway_deg=2.0, wobble_deg=0.0, heading_deg=0.0,
                               gyro_bias_walk_dps_rt_s=0.0)) for seed in range(6)]


def test_stance_gyro_bias_is_the_true_bias_despite_the_sway(swaying: list[SimResult]) -> None:
    """The mean gyro over a swaying stance holds the sway's net rotation too: the calibration takes the net
    rotation the accelerometer saw out. Without that, median 0.50 and max 1.13 deg/s off on these sessions."""
    errs = []
    for sim in swaying:
        res = analyze(sim.recording)
        for role in ("sacrum", "thoracic"):
            est = np.array(res.calibration["sensors"][role]["gyr_bias_rad_s"])
            errs.append(float(np.degrees(np.linalg.norm(est - sim.realisations[role].gyro_bias_rad_s))))
    assert np.median(errs) <= 0.45, errs  # measured 0.30 deg/s
    assert max(errs) <= 0.9, errs  # measured 0.65 deg/s


@pytest.fixture(scope="module")
def faulty() -> SimResult:
    """Four reps: back-first + rounded, rounded + arched lockout, back-first + arched, clean."""
    return simulate(SimConfig(seed=5, exercise="rdl", n_reps=4, rounding_frac=0.5, lockout_arch_frac=0.5,
                              back_first_frac=0.5))


def test_rep_metrics_end_to_end_against_the_truth(faulty: SimResult) -> None:
    """From the two sensors' samples: rep boundaries, peaks and faults against the simulator's truth."""
    sim = faulty
    res = analyze(sim.recording)
    t, trunk = sim.truth_time_s, sim.truth_trunk_flexion_deg
    assert len(res.reps) == len(sim.reps) == 4
    for rep, truth in zip(res.reps, sim.reps, strict=True):
        bottom = truth["bottom_s"]
        start = t[np.flatnonzero((t < bottom) & (trunk <= 3.0))[-1]]  # last moment T within 3 deg of standing
        end = t[np.flatnonzero((t > bottom) & (trunk < 10.0))[0]]  # first moment T back below 10 deg
        assert abs(rep.start_s - start) <= 0.03  # measured <= 0.019 s
        assert abs(rep.bottom_s - bottom) <= 0.13  # measured <= 0.089 s (a flat bottom)
        assert abs(rep.end_s - end) <= 0.017  # measured <= 0.011 s
        assert abs(rep.ascent_s - (end - bottom)) <= 0.14 and abs(rep.descent_s - (bottom - start)) <= 0.14
        assert abs(rep.peak_trunk_flexion_deg - truth["peak_trunk_flexion_deg"]) <= 0.36  # measured <= 0.24
        assert abs(rep.peak_pelvic_tilt_deg - truth["peak_pelvic_tilt_deg"]) <= 0.5  # measured <= 0.35
        assert abs(rep.peak_lumbar_flexion_deg - truth["peak_lumbar_flexion_deg"]) <= 0.85  # measured <= 0.58
        assert sorted(rep.faults) == sorted(f for f, label in truth["labels"].items() if label)


def test_lumbar_alert_waits_the_hold_time_end_to_end(faulty: SimResult) -> None:
    res = analyze(faulty.recording)
    alerts = [a for a in res.alerts if a.fault == "lumbar_flexion"]
    assert [a.rep_index for a in alerts] == [1, 2]
    for a in alerts:
        recent = res.time_s > a.time_s - 2.0
        over = res.time_s[np.flatnonzero(recent & (res.lumbar_flexion_deg > 20.0))[0]]
        # hold 40 ms, plus up to one sample: the hold counts from the sample where L is over, measured
        # 0.040 and 0.050 s (100 Hz with jitter)
        assert 0.04 - 1e-9 <= a.time_s - over <= 0.055
        true_over = faulty.truth_time_s[np.flatnonzero((faulty.truth_time_s > a.time_s - 2.0)
                                                       & (faulty.truth_lumbar_flexion_deg > 20.0))[0]]
        assert 0.04 <= a.time_s - true_over <= 0.075  # measured 0.051 s after the true L crossed 20 deg


def test_live_calibration_angles_follow_the_truth_from_the_first_descent(rounding_session: SimResult) -> None:
    """Calibrated as a live session is (stance, then the forward axis from the gyro at the onset of the first
    hinge): the angles match the simulator's truth over the session and already during the first descent,
    before the axis is refined (a wrong provisional axis put 26-30 deg of error there, 1.3 deg of RMSE)."""
    from imu_hinge.analysis.pipeline import LIVE_CALIBRATION
    from imu_hinge.samples import Recording

    sim = rounding_session
    rec = Recording(sim.recording.streams, {**sim.recording.metadata, "calibration": LIVE_CALIBRATION})
    res = analyze(rec)
    first = sim.reps[0]
    # column: (RMSE bound, measured), (max error over the first descent bound, measured)
    bounds = {"trunk_flexion_deg": ((0.37, 0.24), (0.36, 0.24)),
              "pelvic_tilt_deg": ((0.31, 0.21), (0.75, 0.50)),
              "lumbar_flexion_deg": ((0.39, 0.26), (1.0, 0.68))}
    for col, ((rmse_max, _), (descent_max, _)) in bounds.items():
        est = getattr(res, col)
        err = np.abs(est - np.interp(res.time_s, sim.truth_time_s, getattr(sim, "truth_" + col)))
        ok = np.isfinite(est)
        descent = ok & (res.time_s >= first["start_s"]) & (res.time_s <= first["bottom_s"])
        assert np.count_nonzero(descent) > 100  # measured 162 rows
        assert float(np.sqrt(np.mean(err[ok] ** 2))) < rmse_max, col
        assert float(err[descent].max()) < descent_max, col
