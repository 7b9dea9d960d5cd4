"""Feedback policy: which cues a lifter gets, and when (pure, synchronous, no I/O).

The core raises alerts (:class:`~imu_hinge.detection.rep_events.FaultRaised`) on fixed rules; the
policy decides which of them become *cues* for the sinks (haptic buzz, audio tone, window flash),
following the motor-learning practice a physiotherapist sets (docs/detector.md, "Feedback"):

- **mode** ``concurrent``: a rounding (``lumbar_flexion``) cue fires during the rep, as soon as
  the rule below holds; the other faults are told at the end of the rep. ``end_of_rep``: every
  cue waits for the rep to complete (knowledge of results).
- **schedule** ``every`` rep; ``faded``: only reps 1, 1+n, 1+2n, ... (``fade_every_n``, default
  every other rep); ``summary``: no per-rep cues, one summary cue every ``summary_every_n`` reps.
- **bandwidth** ``bandwidth_deg``: only errors beyond the threshold by more than this tolerance
  are cued (lumbar flexion above ``threshold + bandwidth``; lockout extension beyond its limit
  by more than ``bandwidth``).
- **hold** ``hold_s`` (~150 ms): lumbar flexion must stay beyond ``threshold + bandwidth`` this
  long, *and* the core must have raised its ``lumbar_flexion`` alert for the rep, before a cue.
- **hysteresis** ``hysteresis_deg``: once beyond the level, lumbar flexion must fall below
  ``level - hysteresis`` to count as back in range; dips smaller than that neither restart the
  hold timer nor re-arm a second cue (at most ``max_cues_per_rep`` per rep).

:class:`FeedbackScheduler` consumes the core's events and its angle rows ``(time_s, P, T, L)``
in deg, in order, and returns :class:`Cue` s stamped with the recording time of the row or event
that triggered them. The same rule flags a rep for ``lumbar_flexion`` in both modes; the mode
only decides when it is told.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field

from imu_hinge.detection.detector_params import FaultParams
from imu_hinge.detection.rep_events import Event, FaultRaised, Rep, RepCompleted, RepStarted
from imu_hinge.errors import UsageError

MODES: tuple[str, ...] = ("concurrent", "end_of_rep")
SCHEDULES: tuple[str, ...] = ("every", "faded", "summary")
CUE_KINDS: tuple[str, ...] = ("concurrent", "end_of_rep", "summary")
Row = tuple[float, float, float, float]
"""One output row of the core: time_s, pelvic tilt, trunk flexion, lumbar flexion (deg)."""

_FAULT_WORDS = {"lumbar_flexion": "rounded", "lockout_hyperextension": "arched at lockout",
                "lumbar_led": "back moved first"}


@dataclass(frozen=True)
class FeedbackPolicy:
    """Feedback settings (parameters only). Angles in deg, times in s."""

    mode: str = "concurrent"
    schedule: str = "every"
    fade_every_n: int = 2
    summary_every_n: int = 5
    bandwidth_deg: float = 0.0
    hold_s: float = 0.15
    hysteresis_deg: float = 3.0
    max_cues_per_rep: int = 1

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise UsageError(f"feedback mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        if self.schedule not in SCHEDULES:
            raise UsageError(f"feedback schedule must be one of {', '.join(SCHEDULES)}, got {self.schedule!r}")
        for name in ("fade_every_n", "summary_every_n", "max_cues_per_rep"):
            if int(getattr(self, name)) < 1:
                raise UsageError(f"feedback {name} must be >= 1, got {getattr(self, name)}")
        for name in ("bandwidth_deg", "hold_s", "hysteresis_deg"):
            v = float(getattr(self, name))
            if not (math.isfinite(v) and v >= 0):
                raise UsageError(f"feedback {name} must be a number >= 0, got {v}")

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class Cue:
    """One piece of feedback to give. ``time_s`` is on the recording clock."""

    time_s: float
    kind: str
    """``concurrent`` (during the rep), ``end_of_rep`` or ``summary``."""
    rep_index: int
    faults: tuple[str, ...]
    value_deg: float | None = None
    message: str = ""

    def to_dict(self) -> dict[str, object]:
        return {"time_s": round(self.time_s, 6), "kind": self.kind, "rep_index": self.rep_index,
                "faults": list(self.faults),
                "value_deg": None if self.value_deg is None else round(self.value_deg, 3), "message": self.message}


def rep_verdict(rep: Rep) -> str:
    """Short verdict of a rep for people: ``good`` or the faults in words."""
    return ", ".join(_FAULT_WORDS.get(f, f) for f in rep.faults) if rep.faults else "good"


@dataclass
class _Excursion:
    """Lumbar flexion beyond the cue level, with hysteresis."""

    since_s: float | None = None
    cued: bool = False


@dataclass
class _Block:
    first_rep: int = 0
    reps: list[Rep] = field(default_factory=list)


class FeedbackScheduler:
    """Turns core events + angle rows into cues under a :class:`FeedbackPolicy`.

    ``faults`` gives the thresholds the core uses (lumbar flexion level, lockout extension limit).
    Feed with :meth:`feed` in time order; call :meth:`finish` at the end of the data. All cues
    issued so far are in :attr:`cues`.
    """

    def __init__(self, policy: FeedbackPolicy | None = None, faults: FaultParams | None = None) -> None:
        self.policy = policy or FeedbackPolicy()
        self.faults = faults or FaultParams()
        self.cues: list[Cue] = []
        self._exc = _Excursion()
        self._alert_rep: int | None = None
        self._cues_in_rep: dict[int, int] = {}
        self._qualified: dict[int, float] = {}
        self._block = _Block()
        self._last_t = math.nan

    @property
    def level_deg(self) -> float:
        """Lumbar flexion (deg) beyond which a rounding cue can fire: threshold + bandwidth."""
        return self.faults.lumbar_threshold_deg + self.policy.bandwidth_deg

    def scheduled(self, rep_index: int) -> bool:
        """Does this rep get per-rep feedback under the schedule?"""
        p = self.policy
        if p.schedule == "summary":
            return False
        return p.schedule == "every" or (rep_index - 1) % p.fade_every_n == 0

    # -- input ---------------------------------------------------------------------------
    def feed(self, rows: Sequence[Row], events: Iterable[Event]) -> list[Cue]:
        """Consume new rows and the events raised with them; return the cues issued now.

        An event is handled right after the last row whose time is <= the event's time."""
        pending = sorted(events, key=lambda e: e.time_s)
        out: list[Cue] = []
        k = 0
        for row in rows:
            self._row(row, out)
            while k < len(pending) and pending[k].time_s <= row[0]:
                self._event(pending[k], out)
                k += 1
        for ev in pending[k:]:
            self._event(ev, out)
        self.cues.extend(out)
        return out

    def finish(self) -> list[Cue]:
        """End of the data: the summary of an unfinished block (summary schedule)."""
        out: list[Cue] = []
        if self.policy.schedule == "summary" and self._block.reps:
            self._summary(self._last_t, out)
        self.cues.extend(out)
        return out

    # -- rows: the hold / hysteresis rule ------------------------------------------------
    def _row(self, row: Row, out: list[Cue]) -> None:
        t, lum = row[0], row[3]
        self._last_t = t
        if math.isnan(lum):
            return
        level = self.level_deg
        exc = self._exc
        if lum > level:
            if exc.since_s is None:
                exc.since_s = t
        elif lum < level - self.policy.hysteresis_deg:
            exc.since_s, exc.cued = None, False
        self._check(t, lum, out)

    def _check(self, t: float, lum: float, out: list[Cue]) -> None:
        exc, rep = self._exc, self._alert_rep
        if rep is None or exc.since_s is None or exc.cued or t - exc.since_s < self.policy.hold_s - 1e-9:
            return
        n = self._cues_in_rep.get(rep, 0)
        if n >= self.policy.max_cues_per_rep:
            return
        exc.cued = True
        self._cues_in_rep[rep] = n + 1
        self._qualified[rep] = max(self._qualified.get(rep, -math.inf), lum)
        if self.policy.mode == "concurrent" and self.scheduled(rep):
            out.append(Cue(t, "concurrent", rep, ("lumbar_flexion",), lum, f"rounding: lumbar {lum:.0f} deg"))

    # -- events --------------------------------------------------------------------------
    def _event(self, ev: Event, out: list[Cue]) -> None:
        if isinstance(ev, RepStarted):
            self._alert_rep = None
        elif isinstance(ev, FaultRaised) and ev.fault == "lumbar_flexion":
            self._alert_rep = ev.rep_index
            self._check(ev.time_s, ev.value_deg, out)
        elif isinstance(ev, RepCompleted):
            self._rep_done(ev.time_s, ev.rep, out)

    def _told_faults(self, rep: Rep) -> list[str]:
        """The rep's faults that are beyond the bandwidth (lumbar flexion: by the hold rule)."""
        told = []
        for f in rep.faults:
            if f == "lumbar_flexion":
                if rep.index in self._qualified:
                    told.append(f)
            elif f == "lockout_hyperextension":
                if rep.lockout_extension_deg - self.faults.lockout_extension_deg > self.policy.bandwidth_deg:
                    told.append(f)
            else:
                told.append(f)
        return told

    def _rep_done(self, t: float, rep: Rep, out: list[Cue]) -> None:
        if self.policy.schedule == "summary":
            if not self._block.reps:
                self._block.first_rep = rep.index
            self._block.reps.append(rep)
            if len(self._block.reps) >= self.policy.summary_every_n:
                self._summary(t, out)
            return
        if not self.scheduled(rep.index):
            return
        told = self._told_faults(rep)
        if self.policy.mode == "concurrent" and "lumbar_flexion" in told:
            told.remove("lumbar_flexion")
        if told:
            words = ", ".join(_FAULT_WORDS.get(f, f) for f in told)
            value = self._qualified.get(rep.index) if "lumbar_flexion" in told else None
            out.append(Cue(t, "end_of_rep", rep.index, tuple(told), value, f"rep {rep.index}: {words}"))

    def _summary(self, t: float, out: list[Cue]) -> None:
        reps, first = self._block.reps, self._block.first_rep
        counts: dict[str, int] = {}
        for rep in reps:
            for f in self._told_faults(rep):
                counts[f] = counts.get(f, 0) + 1
        span = f"reps {first}-{reps[-1].index}"
        if counts:
            words = ", ".join(f"{n} {_FAULT_WORDS.get(f, f)}" for f, n in counts.items())
            msg = f"{span}: {words}"
        else:
            msg = f"{span}: all within tolerance"
        out.append(Cue(t, "summary", reps[-1].index, tuple(counts), None, msg))
        self._block = _Block()


__all__ = ["CUE_KINDS", "MODES", "SCHEDULES", "Cue", "FeedbackPolicy", "FeedbackScheduler", "Row", "rep_verdict"]
