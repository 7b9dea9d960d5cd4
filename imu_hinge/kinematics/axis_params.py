"""Parameters of the sagittal axis (no state): :class:`~.sagittal.SagittalAngle` and :class:`~.sagittal.AxisSearch`."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AxisParams:
    provisional_deg: float = 15.0
    refine_s: float = 2.0


@dataclass(frozen=True)
class AxisSearchParams:
    min_rate_rad_s: float = 0.3
    """Smoothed angular rate across gravity above this is a deliberate movement, not sway (< ~0.15)."""
    min_tilt_deg: float = 5.0
    """... and gravity must have tipped at least this far, in the forward direction the gyro implies."""
    smooth_s: float = 0.1
    timeout_s: float = 8.0
    """Give up waiting for the trunk's first movement after this long past the stance."""
