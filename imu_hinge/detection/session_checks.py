"""What a session's angles say about how it was recorded: the warnings analyze, replay and train add at its end.

- a sensor that moved on the body mid-set (:mod:`.mount_check`);
- two sensors not stamped on one clock (:mod:`.sync_check`).
"""

from __future__ import annotations

from typing import Any

from imu_hinge.detection.mount_check import SensorMove, sensor_moves
from imu_hinge.detection.sync_check import clock_lag


def session_warnings(result: Any, moves: list[SensorMove] | None = None, corrected: bool = False) -> list[str]:
    """One line per finding, for an analysis result (``time_s``, the three angles, ``reps``, ``calibration``);
    ``moves``: the sensor moves already found in it (None: look for them), ``corrected``: taken out of its angles."""
    moves = sensor_moves(result) if moves is None else moves
    warnings = [move.message(corrected) for move in moves]
    lag = clock_lag(result)
    if lag is not None:
        warnings.append(lag.message())
    return warnings


__all__ = ["session_warnings"]
