"""estimate_orientation's public contract on its inputs (contracts §5)."""

from __future__ import annotations

import numpy as np
import pytest

from imu_hinge.errors import UsageError
from imu_hinge.fusion import estimate_orientation


def test_time_stamps_of_another_length_are_refused_with_both_counts() -> None:
    gyr = np.zeros((100, 3))
    acc = np.tile([0.0, 0.0, 9.81], (100, 1))
    with pytest.raises(UsageError, match=r"time_s must have 100 entries, got 99$"):
        estimate_orientation(gyr, acc, 100.0, time_s=np.arange(99) / 100.0)


def test_even_time_stamps_give_the_nominal_rate_result() -> None:
    """Samples exactly 1/rate apart: the same orientations as without time stamps (the same intervals)."""
    rng = np.random.default_rng(3)
    gyr = 0.3 * rng.standard_normal((200, 3))
    acc = np.tile([0.0, 0.0, 9.81], (200, 1)) + 0.2 * rng.standard_normal((200, 3))
    plain = estimate_orientation(gyr, acc, 100.0)
    stamped = estimate_orientation(gyr, acc, 100.0, time_s=np.arange(200) / 100.0)
    np.testing.assert_allclose(stamped, plain, atol=1e-9)
