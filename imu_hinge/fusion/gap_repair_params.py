"""Parameters of the offline gap repair (:mod:`.gap_repair`) and bridge choice (:mod:`.gap_bridge`); no state."""

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
    bridge_choice: bool = True
    """Bridge each gap the filters bridge on the rate model that best predicts held-out samples next to it
    (:mod:`.gap_bridge`) instead of the live pipeline's linear rate."""
    bridge_window_s: float = 0.15
    """The ``quadratic`` bridge's parabola runs through this long each side of a gap, s (a hinge's turn at 0.5-1 Hz
    is a parabola over 0.3 s; soft-tissue wobble at 10-20 Hz averages out)."""
    bridge_checks: int = 2
    """Held-out stretches each side of a gap that choose its bridge."""
    bridge_search_s: float = 1.0
    """How far from a gap a held-out stretch without a gap of its own is looked for, s."""
