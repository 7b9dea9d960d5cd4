"""The public API users' scripts rely on (contracts §5) and the exception tree."""

from __future__ import annotations

import inspect

import numpy as np

import imu_hinge.errors as errors
from imu_hinge.fusion import METHODS, estimate_orientation
from imu_hinge.fusion.base import up_in_sensor


def test_fusion_contract_signature_and_methods() -> None:
    params = list(inspect.signature(estimate_orientation).parameters)
    assert params[:4] == ["gyr_rad_s", "acc_m_s2", "rate_hz", "method"]
    assert {"vqf", "madgwick", "mahony", "ekf"} <= set(METHODS)
    rng = np.random.default_rng(0)
    acc = np.tile([0.0, 9.81, 0.0], (200, 1)) + rng.normal(0, 0.01, (200, 3))  # y axis up
    gyr = rng.normal(0, 0.001, (200, 3))
    for method in ("vqf", "madgwick", "mahony", "ekf"):
        q = estimate_orientation(gyr, acc, 100.0, method=method)
        assert q.shape == (200, 4)
        np.testing.assert_allclose(np.linalg.norm(q, axis=1), 1.0, atol=1e-6)
        assert up_in_sensor(q[-1]) @ np.array([0.0, 1.0, 0.0]) > 0.99, method  # earth z up found


def test_every_error_has_a_distinct_exit_code_family() -> None:
    classes = [c for c in vars(errors).values() if isinstance(c, type) and issubclass(c, errors.ImuHingeError)]
    assert set(errors.__all__) == {c.__name__ for c in classes}
    for c in classes:
        assert c.exit_code >= 1
        assert c.__name__ in (errors.__doc__ or ""), f"{c.__name__} missing from the tree in the docstring"
