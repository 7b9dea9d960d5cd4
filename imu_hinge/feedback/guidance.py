"""Calibration guidance and live warnings for ``train``, driven by the pipeline's state and events.

The core calibrates from the data (docs/detector.md, "Calibration"): a quiet stance sets the
standing references, then the onset of the first hinge gives each segment's sagittal axis, and
:class:`~imu_hinge.detection.rep_events.CalibrationDone` is raised. :class:`CalibrationGuide` tells the
lifter what to do at each step, in words (``say``: the terminal) and on screen (``show``: the
window), from :attr:`HingePipeline.calibration_phase <imu_hinge.analysis.pipeline.HingePipeline.calibration_phase>`
(polled with :meth:`CalibrationGuide.poll` between batches) and the events it receives as a sink.
It also warns, once and as soon as the motion shows it, when the sensor roles look swapped.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from imu_hinge.analysis.pipeline import TRUNK, HingePipeline
from imu_hinge.detection.rep_events import CalibrationDone, Event, Rep, RepCompleted
from imu_hinge.detection.role_check import SWAP_WARNING, roles_look_swapped
from imu_hinge.feedback.policy import Cue

STAND_STILL = "stand still, upright, for about 3 s: calibrating the standing posture"
ONE_HINGE = "calibrated standing: now one slow hinge (hips back, chest down) to find the sagittal axis"
MOVED_EARLY = "moved too early: stand still again, upright, for about 3 s"
GO = "axis found: go, this hinge counts (reps are counted from here)"
GO_WITHOUT_AXIS = "no hinge seen yet: the axis will be learnt from your first rep; go"
REMIND_EVERY_S = 10.0
"""A phase that lasts this long (data time) gets its instruction again."""


class CalibrationGuide:
    """Guidance lines at the right moments; a sink (``on_event``) polled between batches (``poll``)."""

    name = "guidance"

    def __init__(self, pipeline: HingePipeline, say: Callable[[str], None],
                 show: Callable[[str], None] | None = None) -> None:
        self.pipeline = pipeline
        self._say = say
        self.show = show
        """Where the lines are also shown (the window), or None."""
        self.phase = ""
        self._since_s = math.nan
        self._reminded_s = math.nan
        self._reps: list[Rep] = []
        self._restarts = 0
        self.swap_warned = False
        self.lines: list[tuple[float, str]] = []
        """Every guidance line given, with its data time (s)."""

    def tell(self, time_s: float, text: str) -> None:
        self.lines.append((time_s, text))
        self._say(text)
        if self.show is not None:
            self.show(text)

    def start(self, time_s: float = 0.0) -> None:
        """The sensors stream: first instruction."""
        self.phase, self._since_s, self._reminded_s = "stance", time_s, time_s
        self.tell(time_s, STAND_STILL)

    def poll(self, time_s: float) -> None:
        """Check the pipeline's calibration phase (call between batches, with the latest data time)."""
        if not self.phase:
            self.start(time_s)
        phase = self.pipeline.calibration_phase
        if phase == "stance" and self.pipeline.calibration_restarts > self._restarts:
            self._restarts = self.pipeline.calibration_restarts
            self._since_s = self._reminded_s = time_s
            self.tell(time_s, MOVED_EARLY)
        if phase == "axis" and self.phase == "stance":
            self.phase, self._since_s, self._reminded_s = "axis", time_s, time_s
            self.tell(time_s, ONE_HINGE)
        elif phase == self.phase and phase in ("stance", "axis") and time_s - self._reminded_s >= REMIND_EVERY_S:
            self._reminded_s = time_s
            self.tell(time_s, f"still waiting ({time_s - self._since_s:.0f} s): "
                              + (STAND_STILL if phase == "stance" else ONE_HINGE))

    # -- sink interface ---------------------------------------------------------------------
    def on_event(self, event: Event) -> None:
        if isinstance(event, CalibrationDone):
            if self.phase == "stance":  # stance and first hinge in the same batch
                self.tell(event.time_s, ONE_HINGE)
            self.phase = "running"
            tracker = self.pipeline.trackers.get(TRUNK)
            found = tracker is not None and tracker.angle is not None and tracker.angle.forward is not None
            self.tell(event.time_s, GO if found else GO_WITHOUT_AXIS)
        elif isinstance(event, RepCompleted):
            self._reps.append(event.rep)
            if not self.swap_warned and roles_look_swapped(self._reps):
                self.swap_warned = True
                self.tell(event.time_s, f"warning: {SWAP_WARNING}")

    def on_cue(self, cue: Cue) -> None:
        """Cues are the feedback sinks' business."""

    async def aclose(self) -> None:
        """Nothing buffered."""


__all__ = ["GO", "GO_WITHOUT_AXIS", "MOVED_EARLY", "ONE_HINGE", "STAND_STILL", "CalibrationGuide"]
