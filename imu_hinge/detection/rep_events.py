"""Events the core emits. Everything a user sees (terminal lines, buzz, plot, report) is
derived from these; sinks never call back into the core."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

FAULTS: tuple[str, ...] = ("lumbar_flexion", "lockout_hyperextension", "lumbar_led")


@dataclass
class Rep:
    """One completed rep with its metrics (angles in deg, times in s on the recording clock)."""

    index: int
    start_s: float
    bottom_s: float
    end_s: float
    peak_pelvic_tilt_deg: float
    peak_trunk_flexion_deg: float
    peak_lumbar_flexion_deg: float
    min_lumbar_flexion_deg: float
    hinge_share: float
    """P / T at the bottom (target >= 0.65)."""
    onset_lag_s: float | None
    """Time L crosses the onset level minus time P does; positive is good; None if L never does."""
    descent_s: float
    bottom_hold_s: float
    ascent_s: float
    time_above_threshold_s: float
    lockout_extension_deg: float = 0.0
    """Largest lumbar extension (positive deg) in the lockout window."""
    peak_lumbar_pct_lmax: float | None = None
    faults: list[str] = field(default_factory=list)
    complete: bool = True
    """False when a sensor gap overlaps the rep: its numbers are then not trusted."""
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        d = asdict(self)
        for k, v in d.items():
            if isinstance(v, float):
                d[k] = round(v, 4)
        return d


@dataclass(frozen=True)
class RepStarted:
    time_s: float
    index: int


@dataclass(frozen=True)
class RepCompleted:
    time_s: float
    rep: Rep


@dataclass(frozen=True)
class FaultRaised:
    """An alert, raised causally at the sample ``time_s``."""

    time_s: float
    fault: str
    value_deg: float
    rep_index: int

    def to_dict(self) -> dict[str, object]:
        return {"time_s": round(self.time_s, 6), "fault": self.fault, "value_deg": round(self.value_deg, 3),
                "rep_index": self.rep_index}


@dataclass(frozen=True)
class CalibrationDone:
    time_s: float
    stand_start_s: float
    stand_end_s: float


@dataclass(frozen=True)
class Notice:
    """Something the user should know (sensor gap, axis found, role swap suspected...)."""

    time_s: float
    message: str


Event = RepStarted | RepCompleted | FaultRaised | CalibrationDone | Notice
