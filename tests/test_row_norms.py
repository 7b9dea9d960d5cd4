"""``row_norms`` is ``np.linalg.norm(x, axis=1)`` to the bit (the stance search, the unit checks and the
forward directions switched to it: their results must not move), on every layout an array comes in."""

from __future__ import annotations

import numpy as np
import pytest

from imu_hinge.samples import row_norms

RNG = np.random.default_rng(5)


@pytest.mark.parametrize("x", [
    RNG.normal(size=(20000, 3)) * 10,
    np.asfortranarray(RNG.normal(size=(20000, 3))),
    RNG.normal(size=(20000, 6))[:, 1:4],
    RNG.normal(size=(40000, 3))[::2],
    RNG.uniform(-1e-3, 1e3, (20000, 3)),
    np.array([[np.nan, 1.0, 2.0], [np.inf, 0.0, 0.0], [0.0, 0.0, 0.0], [-0.0, 3.0, 4.0]]),
], ids=["c", "fortran", "column-slice", "row-step", "wide-range", "special"])
def test_row_norms_equal_numpy_to_the_bit(x: np.ndarray) -> None:
    want = np.linalg.norm(x, axis=1)
    # the other association, x0^2 + (x1^2 + x2^2), differs in ~11 % of random rows: the test can tell
    assert row_norms(x).tobytes() == want.tobytes()


@pytest.mark.parametrize("center", [np.array([0.3, -0.2, 0.25]), np.zeros(3), np.array([1e3, -1e-3, 7.0])])
def test_row_norms_about_a_center_equal_numpy_to_the_bit(center: np.ndarray) -> None:
    """The norm of ``x - center`` a column at a time (no (N, 3) temporary) is numpy's of the difference."""
    x = RNG.normal(size=(20000, 3)) * 2
    want = np.linalg.norm(x - center, axis=1)
    assert row_norms(x, center).tobytes() == want.tobytes()
    assert row_norms(np.asfortranarray(x), center).tobytes() == want.tobytes()
