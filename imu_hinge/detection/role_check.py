"""Sensor roles swapped? Told from the motion alone.

In a hinge the upper segment tilts more than the lower one: the thorax rides on the pelvis and
the lumbar spine adds its own flexion, so peak trunk flexion ``T`` exceeds peak pelvic tilt ``P``
on practically every rep (lumbar flexion ``L = T - P`` is rarely below zero at the bottom). With
the sacrum sensor worn high and the thoracic one low, the streams are swapped and ``P > T``
on almost every rep.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from imu_hinge.detection.rep_events import Rep

MIN_REPS = 2
"""Fewer reps than this never give a verdict."""
SHARE = 0.8
"""Share of reps on which ``P`` must exceed ``T`` (by ``MARGIN_DEG``)."""
MARGIN_DEG = 0.5
"""Peak P must exceed peak T by more than this (deg) for a rep to count (noise guard)."""

SWAP_WARNING = ("sensor roles look swapped: the 'sacrum' sensor tilted more than the 'thoracic' one on almost "
                "every rep; check that the sacrum sensor is worn low (S1/S2) and the thoracic one high (T12/L1)")


def roles_look_swapped(result_or_reps: Any | Sequence[Rep]) -> bool:
    """True when peak pelvic tilt exceeds peak trunk flexion on almost every rep (>= 80 %, >= 2 reps).

    Takes the reps, or anything with a ``reps`` attribute (an analysis result)."""
    reps: Sequence[Rep] = getattr(result_or_reps, "reps", result_or_reps)
    pairs = [(r.peak_pelvic_tilt_deg, r.peak_trunk_flexion_deg) for r in reps
             if math.isfinite(r.peak_pelvic_tilt_deg) and math.isfinite(r.peak_trunk_flexion_deg)]
    if len(pairs) < MIN_REPS:
        return False
    n_swapped = sum(1 for p, t in pairs if p > t + MARGIN_DEG)
    return n_swapped >= SHARE * len(pairs)


__all__ = ["SWAP_WARNING", "roles_look_swapped"]
