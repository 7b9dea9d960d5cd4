"""The calibration's public results against the simulator's truth (written against ``analyze`` so that
they hold whatever the stance finder does inside)."""

from __future__ import annotations

import numpy as np
import pytest

from imu_hinge.pipeline import analyze
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
