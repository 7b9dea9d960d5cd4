"""Parameters of the sagittal axis (no state): :class:`~.sagittal.SagittalAngle` and :class:`~.sagittal.AxisSearch`."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AxisParams:
    provisional_deg: float = 15.0
    """The first tilt beyond this (from standing) sets an unknown forward direction and starts the refinement."""
    refine_s: float = 2.0
    """The forward direction is the mean direction of this many seconds of tilts beyond ``provisional_deg``, then
    frozen."""
    refine_gate_deg: float = 45.0
    """Only tilts within this of the direction so far refine it: a hinge's stay within a few degrees of it, a side
    bend's are 90 off. Without it, the 1.7 s of a first hinge beyond 15 deg and then a side bend made up the 2 s, and
    the trunk's axis read 10 deg off (shared dev case side_bends_twists, live calibration: lumbar RMSE 2.05 deg,
    0.79 with the gate)."""
    restart_deg: float = 15.0
    """A tilt outside ``refine_gate_deg`` of the direction and deeper by this than any tilt that made it starts the
    direction over from that tilt (live: a lifter who bends back or sideways before the first hinge, 20-35 deg;
    hinges reach 45-90 deg at the trunk, 25-70 at the pelvis). A direction from the whole recording never starts
    over."""


@dataclass(frozen=True)
class AxisSearchParams:
    min_rate_rad_s: float = 0.3
    """Smoothed angular rate across gravity above this is a deliberate movement, not sway (< ~0.15)."""
    min_tilt_deg: float = 5.0
    """... and gravity must have tipped at least this far, in the forward direction the gyro implies."""
    smooth_s: float = 0.1
    timeout_s: float = 8.0
    """Give up waiting for the trunk's first movement after this long past the stance."""
