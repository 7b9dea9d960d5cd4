"""Detector parameters (contracts §4 defaults). Parameters only: no state lives here."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RepParams:
    """Rep state machine on trunk flexion ``T`` (deg)."""

    start_deg: float = 10.0
    """T above this leaves standing: a candidate rep begins."""
    end_deg: float = 10.0
    """T back below this after the bottom ends the rep (lockout)."""
    settle_deg: float = 2.0
    """A rep starts at the last moment T was within this of its standing minimum ...
    or below ``standing_deg`` (a lean back after the last rep does not hold the start back)."""
    standing_deg: float = 3.0
    min_peak_deg: float = 30.0
    """A candidate whose peak T stays below this is not a rep ...
    unless a sensor gap may have hidden its bottom: it began after a gap, or a gap inside it could hold a T
    this deep (then it is a rep from twice ``start_deg``, marked incomplete)."""
    gap_accel_deg_s2: float = 3000.0
    """How fast T can turn (deg/s^2) inside a gap: the bound on the depth a gap could hide, from the T and the
    rates of the rows beside it. About twice the fastest turn of a kettlebell swing (the simulator's swings peak
    at 1,600; RDLs and good mornings at 240-350)."""
    seat_pelvis_deg: float = 5.0
    """A candidate that starts seated (the pelvic tilt ``P`` at or below minus this, the lumbar flexion ``L`` at or
    above it, at the most upright moment before it: sitting tips the pelvis back by 10-20 deg and the lumbar spine
    keeps the trunk upright) and ends with ``P`` at least twice this further forward, or ends seated (its last row)
    with ``P`` this much back of where it started, is the lean of rising from a seat or of sitting down, no rep (a
    rep starts and ends standing; a body leaning back whole tips ``P`` and ``T`` alike; the last row of a rep still
    holds the pelvis a few degrees forward) ..."""
    seat_max_peak_deg: float = 45.0
    """... when its peak ``T`` stays below this (the simulator's leans reach 18-30 deg, read up to 36)."""
    min_duration_s: float = 0.4
    max_duration_s: float = 20.0
    valley_fraction: float = 0.4
    """Swings that do not return to standing: a valley below this fraction of the peak ..."""
    valley_rise_deg: float = 8.0
    """... followed by T rising again by this much splits two reps at the valley."""
    bottom_band_deg: float = 5.0
    """T within this of the peak counts as the bottom (hold) phase."""


@dataclass(frozen=True)
class FaultParams:
    """Fault rules. Angles in deg, times in s."""

    lumbar_flexion_deg: float = 20.0
    """Lumbar flexion above this during a rep raises ``lumbar_flexion``."""
    lumbar_flexion_pct_lmax: float | None = None
    """When set with ``lmax_deg``, the threshold is this % of the person's calibrated maximum."""
    lmax_deg: float | None = None
    lumbar_flexion_hold_s: float = 0.04
    """L must stay above the threshold this long before the alert fires (rejects single spikes)."""
    lockout_extension_deg: float = 8.0
    """Lumbar extension beyond this (L < -value) around lockout raises ``lockout_hyperextension``."""
    lockout_window_s: tuple[float, float] = (-0.3, 1.2)
    """Window around the rep end (s before, s after) in which lockout extension is checked."""
    lumbar_led_deg: float = 10.0
    """``lumbar_led``: in the descent, L reaches this before pelvic tilt P does."""
    onset_deg: float = 5.0
    """Crossing level for the onset-lag metric (L crossing minus P crossing)."""

    @property
    def lumbar_threshold_deg(self) -> float:
        if self.lumbar_flexion_pct_lmax is not None and self.lmax_deg:
            return self.lumbar_flexion_pct_lmax / 100.0 * self.lmax_deg
        return self.lumbar_flexion_deg


@dataclass(frozen=True)
class DetectorParams:
    reps: RepParams = RepParams()
    faults: FaultParams = FaultParams()
