"""Non-hinge movements: side bends, twists, backward bends, sitting down, walking and stair bouts.

None of them is a rep in the truth. Each adds minimum-jerk knots to the session's
:class:`MoveCurves` (segment angles in deg: sagittal ones are part of the truth, lateral bends
and axial twists are not; hip joint translations in m) or a bout to the script's walking/stair
lists, and returns the time the movement is over. Amplitudes (typical adult ranges):

- ``side_bend``: thorax lateral bend 20..35 deg to a random side, the pelvis 15..30 % of it
  (3..8 % seated), a slight forward lean of the trunk (0..3 deg);
- ``twist``: thorax axial rotation 25..45 deg, the pelvis 20..35 % of it (5..10 % seated);
- ``back_bend``: trunk extension 12..22 deg over a pelvis tilting back 4..9 deg, hips forward
  3..6 cm (seated: 8..15 deg over 0.5..2 deg, hips still);
- ``sit_down``: onto a chair behind: hips back 12..20 cm and down 40..50 cm while the trunk
  leans forward 20..30 deg; seated, the pelvis tilts back 8..14 deg and the lumbar spine
  flexes 5..12 deg; 2..4 s later the reverse; lumbar flexion stays below 16 deg throughout;
- ``walk``: a 5..8 s walking bout with a turn; ``stairs``: a 6..9 s stair bout (up, turn, down).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from imu_hinge.simulation.exercise_styles import uniform
from imu_hinge.simulation.trajectory import KnotCurve


@dataclass
class MoveCurves:
    """The planned non-hinge movements: curves in deg and m, and the list (kind, start_s, end_s)."""

    pelvis_deg: KnotCurve = field(default_factory=KnotCurve)
    trunk_deg: KnotCurve = field(default_factory=KnotCurve)
    pelvis_bend_deg: KnotCurve = field(default_factory=KnotCurve)
    thorax_bend_deg: KnotCurve = field(default_factory=KnotCurve)
    pelvis_twist_deg: KnotCurve = field(default_factory=KnotCurve)
    thorax_twist_deg: KnotCurve = field(default_factory=KnotCurve)
    hip_fwd_m: KnotCurve = field(default_factory=KnotCurve)
    hip_up_m: KnotCurve = field(default_factory=KnotCurve)
    moves: list[tuple[str, float, float]] = field(default_factory=list)


def _path(curve: KnotCurve, knots: list[tuple[float, float]]) -> None:
    """Hold the curve until the first knot's time, then pass through the knots (rest at each)."""
    curve.hold(knots[0][0])
    for time_s, value in knots[1:]:
        curve.add(time_s, value)


def _pulse(curve: KnotCurve, t0: float, go_s: float, hold_s: float, back_s: float, value: float) -> None:
    """0 -> ``value`` -> hold -> 0, minimum-jerk moves."""
    _path(curve, [(t0, 0.0), (t0 + go_s, value), (t0 + go_s + hold_s, value), (t0 + go_s + hold_s + back_s, 0.0)])


def add_move(curves: MoveCurves, walks: list[tuple[float, float]], stairs: list[tuple[float, float]], kind: str,
             t0: float, seated: bool, rng: np.random.Generator) -> float:
    """Plan one movement ``kind`` starting at ``t0``; returns its end time (s)."""
    if kind in ("walk", "stairs"):
        end = t0 + (uniform(rng, (5.0, 8.0)) if kind == "walk" else uniform(rng, (6.0, 9.0)))
        (walks if kind == "walk" else stairs).append((t0, end))
        curves.moves.append((kind, t0, end))
        return end
    go, hold, back = uniform(rng, (1.0, 1.6)), uniform(rng, (0.3, 0.8)), uniform(rng, (1.0, 1.6))
    end = t0 + go + hold + back
    side = float(rng.choice([-1.0, 1.0]))
    if kind == "side_bend":
        amp = side * uniform(rng, (20.0, 35.0))
        _pulse(curves.thorax_bend_deg, t0, go, hold, back, amp)
        _pulse(curves.pelvis_bend_deg, t0, go, hold, back, amp * uniform(rng, (0.03, 0.08) if seated else (0.15, 0.3)))
        _pulse(curves.trunk_deg, t0, go, hold, back, uniform(rng, (0.0, 3.0)))
    elif kind == "twist":
        amp = side * uniform(rng, (25.0, 45.0))
        _pulse(curves.thorax_twist_deg, t0, go, hold, back, amp)
        _pulse(curves.pelvis_twist_deg, t0, go, hold, back, amp * uniform(rng, (0.05, 0.1) if seated else (0.2, 0.35)))
        _pulse(curves.trunk_deg, t0, go, hold, back, uniform(rng, (0.0, 2.0)))
    elif kind == "back_bend":
        trunk = -uniform(rng, (8.0, 15.0) if seated else (12.0, 22.0))
        pelvis = -uniform(rng, (0.5, 2.0) if seated else (4.0, 9.0))
        _pulse(curves.trunk_deg, t0, go, hold, back, trunk)
        _pulse(curves.pelvis_deg, t0, go, hold, back, pelvis)
        if not seated:
            _pulse(curves.hip_fwd_m, t0, go, hold, back, uniform(rng, (0.03, 0.06)))
    elif kind == "sit_down":
        down, sit, up = uniform(rng, (1.3, 1.9)), uniform(rng, (2.0, 4.0)), uniform(rng, (1.2, 1.8))
        lean = uniform(rng, (14.0, 22.0))  # pelvis, forward, mid-way down (hip flexion)
        lean_lumbar = uniform(rng, (4.0, 8.0))
        seat_pelvis = -uniform(rng, (8.0, 14.0))
        seat_lumbar = uniform(rng, (5.0, 12.0))
        t_mid, t_seat = t0 + 0.45 * down, t0 + down
        t_rise, t_mid_up = t_seat + sit, t_seat + sit + 0.5 * up
        end = t_seat + sit + up
        _path(curves.pelvis_deg, [(t0, 0.0), (t_mid, lean), (t_seat, seat_pelvis), (t_rise, seat_pelvis),
                                  (t_mid_up, lean), (end, 0.0)])
        _path(curves.trunk_deg, [(t0, 0.0), (t_mid, lean + lean_lumbar), (t_seat, seat_pelvis + seat_lumbar),
                                 (t_rise, seat_pelvis + seat_lumbar), (t_mid_up, lean + lean_lumbar), (end, 0.0)])
        back_m, drop_m = -uniform(rng, (0.12, 0.20)), -uniform(rng, (0.40, 0.50))
        _path(curves.hip_fwd_m, [(t0, 0.0), (t_seat, back_m), (t_rise, back_m), (end, 0.0)])
        _path(curves.hip_up_m, [(t0, 0.0), (t_seat, drop_m), (t_rise, drop_m), (end, 0.0)])
    else:
        raise ValueError(f"unknown move {kind!r}")
    curves.moves.append((kind, t0, end))
    return end
