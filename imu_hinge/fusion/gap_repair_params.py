"""Parameters of the offline gap repair (:mod:`.gap_repair`; no state)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class GapRepairParams:
    enabled: bool = True
    """Repair the spans after gaps in ``analyze`` (False: its angles and reps are the live pipeline's)."""
    min_gap_s: float = 0.15
    """A gap longer than this starts a span (shorter holes, bridged on a linear rate, err by < 1 deg in a swing)."""
    span_s: float = 12.0
    """The backward run starts this long after the gap (4 x ``tau_s``: the causal error left there is 2 %)."""
    tau_s: float = 3.0
    """How fast the filter forgets an error in its "up" (vqf's accelerometer time constant ``tau_acc_s``), s."""
    noise_deg: float = 1.0
    """Typical error of either estimate with no gap to blame (the filter's own, in motion), deg."""
    harmless_deg: float = 3.0
    """The causal and backward estimates differing by less than this right after the gap: nothing to repair."""
