"""The six-pose procedure as steps: what the user does, in order, and for how long.

Poses are named by the sensor axis that points *up* (``"+z"``: the z arrow points at the
ceiling; at rest the accelerometer then reads about +9.81 m/s^2 on z). The guided run prints
these steps; the six-pose fit (:mod:`.six_pose`) does not depend on their order or timing —
it finds the still holds in the recording and names each by the axis closest to up.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

POSES: tuple[str, ...] = ("+x", "-x", "+y", "-y", "+z", "-z")
"""The six poses, each named by the sensor axis pointing up."""


def pose_vector(pose: str) -> np.ndarray:
    """The unit vector (sensor axes) pointing up in ``pose`` (``"+x"`` -> (1, 0, 0))."""
    if pose not in POSES:
        raise ValueError(f"unknown pose {pose!r}; poses are {', '.join(POSES)}")
    v = np.zeros(3)
    v["xyz".index(pose[1])] = 1.0 if pose[0] == "+" else -1.0
    return v


def describe(pose: str) -> str:
    """``"+x up"``."""
    return f"{pose} up"


@dataclass(frozen=True)
class GuideStep:
    """One step: turn the sensor into ``pose`` (transition), then hold it still ``hold_s`` seconds."""

    pose: str
    hold_s: float
    text: str


GUIDE: tuple[GuideStep, ...] = (
    GuideStep("+z", 5.0, "Place the sensor flat on a table, logo up (+z up). Hands off: rest 5 s (gyro bias)."),
    GuideStep("-z", 3.0, "Turn it over, logo down (+z pointing at the table). Hands off: hold 3 s."),
    GuideStep("+x", 3.0, "Stand it on its end, the +x arrow pointing at the ceiling; steady it against a box "
                         "edge, then hands off: hold 3 s."),
    GuideStep("-x", 3.0, "Stand it on the opposite end, +x pointing at the table (-x up). Hold 3 s."),
    GuideStep("+y", 3.0, "Lay it on its long side, the +y arrow pointing at the ceiling. Hold 3 s."),
    GuideStep("-y", 3.0, "Roll it onto the other long side, +y pointing at the table (-y up). Hold 3 s."),
    GuideStep("+z", 3.0, "Back to flat, logo up (+z up). Hold 3 s: the first pose again, as a check."),
)
"""The guided procedure: a rest (logo up), the other five faces, and the first face again."""

TRANSITION_S = 2.5
"""Time allowed to turn the sensor between two holds, s."""


@dataclass(frozen=True)
class TimedStep:
    """A step on the clock of a guided run: turning from ``start_s``, holding ``hold_from_s``..``hold_to_s``."""

    step: GuideStep
    start_s: float
    hold_from_s: float
    hold_to_s: float


def timeline(steps: tuple[GuideStep, ...] = GUIDE, transition_s: float = TRANSITION_S,
             lead_in_s: float = 1.0) -> list[TimedStep]:
    """The steps on one clock (s from the start of the run); the first needs only ``lead_in_s`` to settle."""
    out: list[TimedStep] = []
    t = 0.0
    for i, step in enumerate(steps):
        hold_from = t + (lead_in_s if i == 0 else transition_s)
        out.append(TimedStep(step, t, hold_from, hold_from + step.hold_s))
        t = hold_from + step.hold_s
    return out
