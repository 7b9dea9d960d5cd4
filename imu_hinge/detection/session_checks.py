"""What a session's angles say about how it was recorded: the warnings analyze, replay and train add at its end.

- a sensor that moved on the body mid-set (:mod:`.mount_check`);
- two sensors not stamped on one clock (:mod:`.sync_check`).
"""

from __future__ import annotations

from typing import Any

from imu_hinge.detection.mount_check import sensor_moves
from imu_hinge.detection.sync_check import clock_lag


def session_warnings(result: Any) -> list[str]:
    """One line per finding, for an analysis result (``time_s``, the three angles, ``reps``, ``calibration``)."""
    warnings = [move.message() for move in sensor_moves(result)]
    lag = clock_lag(result)
    if lag is not None:
        warnings.append(lag.message())
    return warnings


__all__ = ["session_warnings"]
