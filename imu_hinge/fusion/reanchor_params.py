"""Parameters of :class:`~.reanchor.Reanchor` (no state): when a gap is long and when the filter has settled."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ReanchorParams:
    gap_s: float = 0.5
    """A gap longer than this is not bridged: the filter restarts on gravity when the sensor is back."""
    quiet_gyr_rad_s: float = 0.35
    """Still: gyro (bias removed) under this and ..."""
    quiet_acc_m_s2: float = 1.5
    """... |acc| within this of gravity ..."""
    quiet_s: float = 0.3
    """... for this long."""
    max_settle_s: float = 4.0
    """Angles count again this long after the return even without stillness (about tau_acc x 1.3)."""
